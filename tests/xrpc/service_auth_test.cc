// atipay-server's service auth as installed on a router (app::ServiceAuth): what a flood of
// tokens naming unresolvable DIDs can and cannot do. Tokens need no valid signature to make
// us resolve their issuer, so the waiting is what is bounded.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/config.h"
#include "app/service_auth.h"
#include "lex/encoding.h"
#include "support/temp_dir.h"
#include "tests/xrpc/test_support.h"
#include "tools/devid/devid.h"

namespace atipay {
namespace {

using testing::Fetch;
using testing::TestServer;

// A host that takes connections and never answers: a did:web on it stalls its resolution
// until the fetch times out, or until Close(). Connections wait in the listen backlog, never
// accepted; closing the listener resets them (and refuses new ones), so the fetches fail at
// once: the test decides how long a resolution stalls, without waiting out a timeout.
class SilentHost {
 public:
  SilentHost() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentHost() { Close(); }
  int port() const { return port_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Claims that pass every check before the issuer's key is needed; the signature is junk.
std::string UnsignedToken(const std::string& iss, const std::string& aud, std::string_view lxm) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  static std::atomic<int> counter{0};  // calls come from several threads
  boost::json::object header{{"alg", "ES256K"}, {"typ", "JWT"}};
  boost::json::object claims{{"iss", iss},      {"aud", aud},       {"lxm", lxm},
                             {"iat", now},      {"exp", now + 60},
                             {"jti", "t" + std::to_string(++counter)}};
  return lex::EncodeBase64Url(boost::json::serialize(header)) + "." +
         lex::EncodeBase64Url(boost::json::serialize(claims)) + "." +
         lex::EncodeBase64Url(std::string(64, '\x01'));
}

// The value of one series (name and labels, as written) in Prometheus text.
std::optional<double> Sample(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

// Polls /metrics until the series `name` has `value`; false if it never does within `within`.
bool SampleReaches(std::uint16_t port, const std::string& name, double value,
                   std::chrono::milliseconds within = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (true) {
    auto metrics = Fetch(port, "GET", "/metrics");
    if (metrics && Sample(metrics->body, name) == value) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Pending(const std::future<std::optional<testing::Reply>>& call) {
  return call.wait_for(std::chrono::seconds(0)) == std::future_status::timeout;
}

constexpr char kWebResolving[] = R"(atipay_auth_resolving{lane="web"})";

// A did:plc identity whose document sits in a fresh dev DID directory (removed at the end).
class DevIdentity {
 public:
  DevIdentity() : dir_("atipay-service-auth") {
    devid::NewIdentityOptions options;
    options.handle = "alice.test";
    auto identity = devid::NewIdentity(options);
    if (!identity.ok()) {
      ADD_FAILURE() << identity.error().message;
      return;
    }
    identity_.emplace(std::move(identity).value());
    EXPECT_EQ(devid::WriteDidDocument(dir(), *identity_), "");
  }
  std::string dir() const { return dir_.path().string(); }
  std::string Token(const std::string& aud) const {
    return identity_ ? devid::MintToken(*identity_, aud, "com.atiproto.payment.cart.clone") : "";
  }

 private:
  test_support::TempDir dir_;
  std::optional<devid::Identity> identity_;
};

std::optional<testing::Reply> CallClone(std::uint16_t port, const std::string& token,
                                        const std::string& client = "") {
  const std::string body = "{\"uri\":\"" + std::string(testing::kCart0) + "\"}";
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"},
                                                              {"Authorization", "Bearer " + token}};
  if (!client.empty()) headers.emplace_back("X-Forwarded-For", client);
  return Fetch(port, "POST", testing::kCloneTarget, body, headers);
}

// A test server whose clone method requires service auth, with atipay-server's ServiceAuth
// built from `config` installed on it.
class AuthedServer {
 public:
  explicit AuthedServer(const app::Config& config,
                        xrpc::ServerOptions options = TestServer::DefaultOptions()) {
    auto created = app::ServiceAuth::Create(config);
    if (!created.ok()) {
      ADD_FAILURE() << created.error().message;
      return;
    }
    auth_ = std::move(created).value();
    server_ = std::make_unique<TestServer>(
        options, testing::FakeServiceOptions{.clone_auth = xrpc::AuthPolicy::kRequired},
        [this](xrpc::Router& router) { auth_->Install(router); });
  }
  bool ok() const { return server_ != nullptr; }
  std::uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<app::ServiceAuth> auth_;
  std::unique_ptr<TestServer> server_;  // stops before auth_ goes
};

TEST(ServiceAuthTest, CallsWaitingForTheirDidAreCappedAndTheRestGet503) {
  SilentHost host;
  app::Config config;
  config.service_did = "did:web:atipay.test";
  config.dev_allow_http_did_web = true;  // a did:web on 127.0.0.1 over http
  config.did_resolve_timeout_ms = 5000;  // the host's Close() ends the stall before that
  config.auth_max_waiting = 1;
  AuthedServer server(config);
  ASSERT_TRUE(server.ok());

  auto call = [&](const std::string& iss) {
    return CallClone(server.port(),
                     UnsignedToken(iss, config.service_did, "com.atiproto.payment.cart.clone"));
  };
  const std::string port = std::to_string(host.port());
  auto first = std::async(std::launch::async, [&] { return call("did:web:127.0.0.1%3A" + port); });
  // Until the first call's resolution ends, it holds the one waiting place.
  ASSERT_TRUE(SampleReaches(server.port(), kWebResolving, 1));
  auto second = call("did:web:localhost%3A" + port);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503) << second->body;
  EXPECT_EQ(second->Error(), "NotEnoughResources");
  EXPECT_TRUE(Pending(first)) << "refused at once, not after waiting its turn";
  auto metrics = Fetch(server.port(), "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(Sample(metrics->body, R"(atipay_auth_resolve_refused_total{lane="web",reason="full"})"),
            1);

  host.Close();
  auto stalled = first.get();
  ASSERT_TRUE(stalled);
  EXPECT_EQ(stalled->status, 502) << stalled->body;
  EXPECT_EQ(stalled->Error(), "UpstreamFailure");
  // The DID alone: nothing of what happened at the host (a reset connection, here).
  EXPECT_EQ(stalled->Message(), "could not resolve iss did: did:web:127.0.0.1%3A" + port);

  // The place is free again: the next caller is resolved (and fails, from memory, at once).
  auto again = call("did:web:127.0.0.1%3A" + port);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 502);
}

TEST(ServiceAuthTest, ASilentDidWebHostDoesNotHoldUpDidPlcCallers) {
  SilentHost host;
  DevIdentity alice;
  app::Config config;
  config.service_did = "did:web:atipay.test";
  config.dev_did_dir = alice.dir();
  config.dev_allow_http_did_web = true;
  config.did_resolve_timeout_ms = 5000;  // the host's Close() ends the stall before that
  AuthedServer server(config);
  ASSERT_TRUE(server.ok());

  // More stalled did:web callers than there are threads to resolve them (a call waiting for
  // another's fetch of the same DID holds a thread too).
  const std::string port = std::to_string(host.port());
  std::vector<std::future<std::optional<testing::Reply>>> stalled;
  for (int i = 0; i < 12; ++i) {
    const std::string did =
        "did:web:" + std::string(i % 2 ? "localhost" : "127.0.0.1") + "%3A" + port;
    stalled.push_back(std::async(std::launch::async, [&, did] {
      return CallClone(server.port(), UnsignedToken(did, config.service_did,
                                                    "com.atiproto.payment.cart.clone"));
    }));
  }
  ASSERT_TRUE(SampleReaches(server.port(), kWebResolving, 12));
  // A did:plc caller seen for the first time is resolved while they all still wait.
  auto plc = CallClone(server.port(), alice.Token(config.service_did));
  ASSERT_TRUE(plc);
  EXPECT_NE(plc->status, 401) << plc->body;
  EXPECT_NE(plc->status, 503) << plc->body;
  for (const auto& call : stalled) {
    EXPECT_TRUE(Pending(call)) << "the did:plc caller waited behind the did:web ones";
  }
  host.Close();
  for (auto& call : stalled) {
    auto reply = call.get();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 502) << reply->body;
  }
}

TEST(ServiceAuthTest, OneAddressGetsAtMostItsShareOfTheWaitingPlaces) {
  SilentHost host;
  app::Config config;
  config.service_did = "did:web:atipay.test";
  config.dev_allow_http_did_web = true;
  config.did_resolve_timeout_ms = 5000;  // the host's Close() ends the stall before that
  config.auth_max_waiting = 4;
  config.auth_max_waiting_per_address = 2;
  xrpc::ServerOptions options = TestServer::DefaultOptions();
  options.trust_x_forwarded_for = true;  // each call says which client it comes from
  AuthedServer server(config, options);
  ASSERT_TRUE(server.ok());

  const std::string port = std::to_string(host.port());
  // Two DIDs on the silent host; a DID that failed is answered from memory for 30 s, so the
  // last call names the one not tried yet.
  auto stall = [&](const std::string& host_name, const std::string& client) {
    const std::string did = "did:web:" + host_name + "%3A" + port;
    return std::async(std::launch::async, [&, did, client] {
      return CallClone(server.port(),
                       UnsignedToken(did, config.service_did, "com.atiproto.payment.cart.clone"),
                       client);
    });
  };
  auto first = stall("127.0.0.1", "203.0.113.7");
  auto second = stall("127.0.0.1", "203.0.113.7");
  ASSERT_TRUE(SampleReaches(server.port(), kWebResolving, 2));
  // The same address again: refused at once.
  auto refused = stall("127.0.0.1", "203.0.113.7").get();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(refused->Error(), "NotEnoughResources");
  EXPECT_NE(refused->Message().find("this address"), std::string::npos) << refused->Message();
  {
    auto metrics = Fetch(server.port(), "GET", "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(Sample(metrics->body, kWebResolving), 2);
    EXPECT_EQ(Sample(metrics->body, R"(atipay_auth_resolve_refused_total{lane="web",reason="address"})"),
              1);
    EXPECT_EQ(Sample(metrics->body, R"(atipay_auth_resolve_refused_total{lane="web",reason="full"})"),
              0);
  }
  // Another address still gets its place, and waits for the host as the first two do.
  auto other = stall("127.0.0.1", "198.51.100.9");
  ASSERT_TRUE(SampleReaches(server.port(), kWebResolving, 3));
  EXPECT_TRUE(Pending(first) && Pending(second) && Pending(other));
  host.Close();
  for (auto* call : {&first, &second, &other}) {
    auto reply = call->get();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 502) << reply->body;
  }
  // Places are given back: the first address may wait again.
  auto again = stall("localhost", "203.0.113.7").get();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 502) << again->body;
}

TEST(ServiceAuthTest, MetricsShowTheReplayCacheAndDidResolution) {
  DevIdentity alice;
  app::Config config;
  config.service_did = "did:web:atipay.test";
  config.dev_did_dir = alice.dir();
  config.auth_replay_cache_size = 4096;
  AuthedServer server(config);
  ASSERT_TRUE(server.ok());
  auto metrics = [&] {
    auto reply = Fetch(server.port(), "GET", "/metrics");
    EXPECT_TRUE(reply && reply->status == 200);
    return reply ? reply->body : std::string();
  };
  const std::string before = metrics();
  EXPECT_EQ(Sample(before, "atipay_auth_replay_pairs"), 0);
  EXPECT_EQ(Sample(before, "atipay_auth_replay_capacity"), 4096);
  EXPECT_EQ(Sample(before, "atipay_identity_cache_entries"), 0);
  EXPECT_EQ(Sample(before, "atipay_identity_fetches_total"), 0);
  EXPECT_EQ(Sample(before, R"(atipay_auth_resolving{lane="plc"})"), 0);
  EXPECT_EQ(Sample(before, R"(atipay_auth_resolving{lane="web"})"), 0);
  const double idle_bytes = Sample(before, "atipay_auth_replay_bytes").value_or(-1);
  EXPECT_GE(idle_bytes, 0);

  auto call = [&](const std::string& token) { return CallClone(server.port(), token); };
  const std::string first = alice.Token(config.service_did);
  auto accepted = call(first);
  ASSERT_TRUE(accepted);
  EXPECT_NE(accepted->status, 401) << accepted->body;
  auto another = call(alice.Token(config.service_did));
  ASSERT_TRUE(another);
  EXPECT_NE(another->status, 401) << another->body;
  auto replayed = call(first);
  ASSERT_TRUE(replayed);
  EXPECT_EQ(replayed->status, 401) << replayed->body;
  const std::string after = metrics();
  // Two tokens accepted and remembered; the replay of the first was refused, not remembered.
  EXPECT_EQ(Sample(after, "atipay_auth_replay_pairs"), 2);
  EXPECT_GT(Sample(after, "atipay_auth_replay_bytes").value_or(0), idle_bytes);
  EXPECT_EQ(Sample(after, "atipay_identity_cache_entries"), 1);
  EXPECT_EQ(Sample(after, "atipay_identity_fetches_total"), 1);
  EXPECT_EQ(Sample(after, "atipay_identity_refreshes_refused_total"), 0);
  EXPECT_EQ(Sample(after, "atipay_auth_replay_full_total"), 0);
  EXPECT_EQ(Sample(after, R"(atipay_auth_resolving{lane="plc"})"), 0);
}

}  // namespace
}  // namespace atipay
