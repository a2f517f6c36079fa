// did:web hosts are the caller's choice: every address they resolve to must be public (loopback
// too in dev mode), whatever the spelling; failures answer a generic message and log the
// detail; name lookups give up at the deadline and are bounded in number; a response takes
// bounded memory. The PLC directory, configured by the operator, is not subject to the policy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "identity/identity.h"
#include "test_http_server.h"

namespace atipay::identity {
namespace {

namespace asio = boost::asio;
using test::Reply;
using test::TestHttpServer;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// A listener on 127.0.0.1 that never accepts: the kernel completes each connection in the
// backlog all the same, so Drain() counts every attempt that reached it.
class AcceptCounter {
 public:
  AcceptCounter() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    acceptor_.non_blocking(true);
  }
  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }
  int Drain() {
    int n = 0;
    for (;;) {
      asio::ip::tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return n;
      ++n;
    }
  }

 private:
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
};

// A lookup that does not come back until the test opens the gate. Held by shared_ptr: abandoned
// lookup threads outlive the request, and may outlive the test.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

// Names of our own: slow.* waits for the gate (then says 127.0.0.1), the others map to fixed
// addresses, anything else is not found.
NameLookup FakeLookup(std::map<std::string, std::vector<std::string>> names,
                      std::shared_ptr<Gate> gate = std::make_shared<Gate>()) {
  return [names = std::move(names), gate](const std::string& host) -> LookupResult {
    if (host.starts_with("slow.")) {
      std::unique_lock<std::mutex> lock(gate->mu);
      gate->cv.wait_for(lock, 10s, [&] { return gate->open; });
      return {{"127.0.0.1"}, ""};
    }
    auto it = names.find(host);
    if (it == names.end()) return {{}, "no such name in the test"};
    return {it->second, ""};
  };
}

// Collects what the resolver logs.
struct Log {
  std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::function<void(std::string_view)> Sink() const {
    return [lines = lines, mu = mu](std::string_view line) {
      std::lock_guard<std::mutex> lock(*mu);
      lines->emplace_back(line);
    };
  }
  std::string All() const {
    std::lock_guard<std::mutex> lock(*mu);
    std::string all;
    for (const std::string& line : *lines) all += line + "\n";
    return all;
  }
};

HttpClientOptions Options(const Log& log, NameLookup lookup = {}) {
  HttpClientOptions http;
  http.connect_timeout = 300ms;
  http.request_timeout = 500ms;
  http.lookup = std::move(lookup);
  http.log = log.Sink();
  return http;
}

std::string Doc(const std::string& did) { return "{\"id\":\"" + did + "\"}"; }

const ResolveError* ErrorOf(const ResolveResult& r) { return std::get_if<ResolveError>(&r); }

TEST(AddressPolicy, PublicAddresses) {
  for (const char* ip : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "11.0.0.1", "100.63.255.255",
                         "100.128.0.0", "172.15.255.255", "172.32.0.0", "169.253.255.255",
                         "223.255.255.255", "2606:4700:4700::1111", "2a00:1450:4001::200e",
                         "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_TRUE(IsPublicAddress(ip)) << ip;
  }
  for (const char* ip :
       {// IPv4: this network, private, CGNAT, loopback, link-local, special, multicast,
        // reserved and broadcast, documentation.
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
        "127.0.0.1", "127.255.255.254", "169.254.169.254", "172.16.0.1", "172.31.255.255",
        "192.0.0.8", "192.168.1.1", "198.18.0.1", "198.19.255.255", "224.0.0.1", "239.255.255.250",
        "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.51.100.1", "203.0.113.1",
        // IPv6: unspecified, loopback, IPv4-mapped, -compatible, NAT64 and 6to4 forms of
        // non-public IPv4, unique-local, link-local, site-local, multicast, discard, Teredo,
        // documentation.
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "::ffff:0.0.0.0", "::127.0.0.1", "::10.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
        "2002:7f00:1::1", "2002:a9fe:a9fe::1", "fc00::1", "fd12:3456:789a::1", "fe80::1",
        "fe80::1%1", "febf::1", "fec0::1", "ff02::1", "ff0e::1", "100::1", "2001::1", "2001:db8::1",
        "3fff::1",
        // Not address literals at all.
        "localhost", "2130706433", "127.1", "0x7f000001", ""}) {
    EXPECT_FALSE(IsPublicAddress(ip)) << ip;
  }
}

class DidWebPolicy : public ::testing::Test {
 protected:
  // A did:web on `host` at the counter's port.
  std::string Did(const std::string& host) const {
    return "did:web:" + host + "%3A" + counter_.port();
  }
  ResolveResult Resolve(const std::string& did, bool dev,
                        std::map<std::string, std::vector<std::string>> names = {}) {
    auto http = std::make_shared<const HttpClient>(
        Options(log_, names.empty() ? NameLookup{} : FakeLookup(std::move(names))));
    return WebResolver(http, dev).Resolve(did);
  }
  AcceptCounter counter_;
  Log log_;
};

TEST_F(DidWebPolicy, LoopbackSpellingsAreRefusedWithoutConnecting) {
  // Each spelling goes through the system resolver (numeric, or /etc/hosts) to 127.0.0.1 or
  // 0.0.0.0, and is refused on that address before any connection.
  for (const char* host : {"2130706433", "127.1", "127.0.1", "0x7f000001", "0177.0.0.1", "0",
                           "localhost", "127.0.0.1"}) {
    SCOPED_TRACE(host);
    const std::string did = Did(host);
    ResolveResult r = Resolve(did, /*dev=*/false);
    ASSERT_TRUE(ErrorOf(r));
    EXPECT_FALSE(ErrorOf(r)->kind == ResolveError::Kind::kTimeout);
  }
  EXPECT_EQ(counter_.Drain(), 0);
  EXPECT_THAT(log_.All(), HasSubstr("resolves to 127.0.0.1, not a public address"));
  EXPECT_THAT(log_.All(), HasSubstr("resolves to 0.0.0.0, not a public address"));
  EXPECT_THAT(log_.All(), Not(HasSubstr("cannot connect")));

  // The witness itself: in dev mode 127.1 is loopback, allowed, and reaches the listener (over
  // https, as the spelling is not a loopback name; the handshake then times out).
  ASSERT_TRUE(ErrorOf(Resolve(Did("127.1"), /*dev=*/true)));
  EXPECT_EQ(counter_.Drain(), 1);
}

TEST_F(DidWebPolicy, PrivateAndLinkLocalLiteralsAreRefusedAtOnce) {
  // A connection to any of these would take the connect timeout (or reach something); each is
  // refused on its address before any connection, in dev mode too: the log names the policy
  // for every one, and no connection attempt or timeout.
  auto http = std::make_shared<const HttpClient>(Options(log_));
  for (bool dev : {false, true}) {
    const WebResolver resolver(http, dev);
    for (const std::string host :
         {"10.0.0.1:6379", "169.254.169.254", "192.168.0.1:22", "172.16.0.1", "100.64.0.1",
          "224.0.0.1", "255.255.255.255", "0.0.0.0"}) {
      const std::string did = "did:web:" + (host.find(':') == std::string::npos
                                                ? host
                                                : host.substr(0, host.find(':')) + "%3A" +
                                                      host.substr(host.find(':') + 1));
      SCOPED_TRACE(did);
      ResolveResult r = resolver.Resolve(did);
      ASSERT_TRUE(ErrorOf(r));
      EXPECT_EQ(ErrorOf(r)->kind, ResolveError::Kind::kUpstream);
      EXPECT_EQ(ErrorOf(r)->message, did);
      EXPECT_THAT(log_.All(), HasSubstr("could not resolve " + did + " from https://" + host +
                                        "/.well-known/did.json: " + host.substr(0, host.find(':')) +
                                        ", not a public address"));
    }
  }
  EXPECT_THAT(log_.All(), Not(HasSubstr("cannot connect")));
  EXPECT_THAT(log_.All(), Not(HasSubstr("timed out")));
  EXPECT_THAT(log_.All(), HasSubstr("could not resolve did:web:10.0.0.1%3A6379 from "
                                    "https://10.0.0.1:6379/.well-known/did.json: 10.0.0.1, not "
                                    "a public address"));
}

TEST_F(DidWebPolicy, NamesResolvingToNonPublicAddressesAreRefused) {
  // Public-looking names whose addresses are not: all of them are checked, not the first.
  const std::map<std::string, std::vector<std::string>> names = {
      {"loopback.example.com", {"127.0.0.1"}},
      {"mixed.example.com", {"93.184.216.34", "10.1.2.3"}},
      {"mapped.example.com", {"::ffff:127.0.0.1"}},
      {"nat64.example.com", {"64:ff9b::7f00:1"}},
      {"unique-local.example.com", {"fd00::1"}},
      {"link-local.example.com", {"fe80::1%1"}},
      {"unspecified.example.com", {"::"}},
      {"multicast.example.com", {"ff02::1"}},
      {"cgnat.example.com", {"100.64.1.1"}},
      {"metadata.example.com", {"169.254.169.254"}},
  };
  for (const auto& [host, addresses] : names) {
    SCOPED_TRACE(host);
    ResolveResult r = Resolve(Did(host), /*dev=*/false, names);
    ASSERT_TRUE(ErrorOf(r));
    EXPECT_EQ(ErrorOf(r)->message, Did(host));
    EXPECT_THAT(log_.All(), HasSubstr(host + " resolves to "));
  }
  // Dev mode allows loopback, not the rest.
  EXPECT_TRUE(ErrorOf(Resolve(Did("mixed.example.com"), /*dev=*/true, names)));
  EXPECT_THAT(log_.All(), Not(HasSubstr("cannot connect")));
  EXPECT_EQ(counter_.Drain(), 0);

  // The system resolver's answer is checked the same way: localhost through a plain GET.
  HttpClient client(Options(log_));
  auto refused =
      client.Get(*Url::Parse("https://localhost:" + counter_.port() + "/"), AddressPolicy::kPublic);
  ASSERT_TRUE(std::holds_alternative<HttpError>(refused));
  EXPECT_EQ(std::get<HttpError>(refused).kind, HttpError::Kind::kRefusedAddress);
  EXPECT_EQ(counter_.Drain(), 0);
}

TEST(DidWebDevMode, LoopbackStillResolves) {
  std::string did;
  TestHttpServer web([&](const std::string& target) {
    if (target != "/.well-known/did.json") return Reply{404, "{}"};
    return Reply{200, Doc(did)};
  });
  Log log;
  auto http = std::make_shared<const HttpClient>(Options(log));
  WebResolver dev(http, true);
  for (const char* host : {"localhost", "127.0.0.1"}) {
    SCOPED_TRACE(host);
    did = std::string("did:web:") + host + "%3A" + std::to_string(web.port());
    ResolveResult r = dev.Resolve(did);
    ASSERT_FALSE(ErrorOf(r)) << ErrorOf(r)->message << "\n" << log.All();
    EXPECT_EQ(std::get<DidDocument>(r).id, did);
  }
  EXPECT_EQ(web.requests(), 2);
  // Outside dev mode the same DIDs are refused, before any request.
  EXPECT_TRUE(ErrorOf(WebResolver(http, false).Resolve(did)));
  EXPECT_EQ(web.requests(), 2);
}

TEST(Plc, LoopbackDirectoryIsNotSubjectToThePolicy) {
  const std::string alice = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
  TestHttpServer plc([&](const std::string& target) {
    if (target != "/" + alice) return Reply{404, "{}"};
    return Reply{200, Doc(alice)};
  });
  const std::string port = std::to_string(plc.port());
  Log log;
  // Through the system resolver (localhost) and as a literal.
  auto http = std::make_shared<const HttpClient>(Options(log));
  for (const std::string& url : {"http://localhost:" + port, "http://127.0.0.1:" + port}) {
    SCOPED_TRACE(url);
    std::string error;
    auto resolver = PlcResolver::Create(url, http, &error);
    ASSERT_TRUE(resolver) << error;
    ResolveResult r = resolver->Resolve(alice);
    ASSERT_FALSE(ErrorOf(r)) << ErrorOf(r)->message;
  }
  EXPECT_EQ(plc.requests(), 2);
}

TEST(DidWebErrors, CallerGetsOneGenericMessageAndTheLogTheDetail) {
  const std::string closed = std::to_string(test::UnusedPort());
  AcceptCounter silent;  // accepts nothing: a TLS handshake there times out
  auto gate = std::make_shared<Gate>();
  Log log;
  IdentityOptions options;
  options.http = Options(
      log, FakeLookup({{"localhost", {"127.0.0.1"}}, {"loopback.test", {"127.0.0.1"}}}, gate));
  options.dev_allow_http_loopback = true;
  auto resolver = std::move(MakeIdentityResolver(options)).value();
  // Refused by the policy, a closed port, a port that never answers, a lookup that hangs.
  const std::vector<std::string> dids = {"did:web:10.0.0.1%3A6379", "did:web:localhost%3A" + closed,
                                         "did:web:loopback.test%3A" + silent.port(),
                                         "did:web:slow.example.com%3A443"};
  for (const std::string& did : dids) {
    SCOPED_TRACE(did);
    auto r = resolver->ResolveKey(did, false);
    const auto* e = std::get_if<xrpc::XrpcError>(&r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 502);
    EXPECT_EQ(e->name, "UpstreamFailure");
    EXPECT_EQ(e->message, "could not resolve iss did: " + did);
  }
  const std::string detail = log.All();
  EXPECT_THAT(detail, HasSubstr(":6379/.well-known/did.json: 10.0.0.1, not a public address"));
  EXPECT_THAT(detail, HasSubstr("cannot connect to localhost:" + closed + ": "));
  EXPECT_THAT(detail, HasSubstr("https://loopback.test:" + silent.port() +
                                "/.well-known/did.json: timed out"));
  EXPECT_THAT(detail, HasSubstr("timed out resolving slow.example.com"));
  gate->Open();
}

TEST(NameLookup, GivesUpAtTheDeadline) {
  auto gate = std::make_shared<Gate>();
  Log log;
  HttpClientOptions options = Options(log, FakeLookup({}, gate));
  options.connect_timeout = 200ms;
  options.request_timeout = 2s;
  HttpClient client(options);
  auto start = std::chrono::steady_clock::now();
  auto r = client.Get(*Url::Parse("https://slow.example.com/"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(std::holds_alternative<HttpError>(r));
  EXPECT_EQ(std::get<HttpError>(r).kind, HttpError::Kind::kTimeout);
  EXPECT_GE(elapsed, 190ms);
  // The lookup itself is still blocked: the connect deadline ended the call, well before the
  // request's (with room for a loaded machine).
  EXPECT_LT(elapsed, 1500ms);
  gate->Open();
}

TEST(NameLookup, AbandonedLookupsAreBounded) {
  auto gate = std::make_shared<Gate>();
  Log log;
  TestHttpServer plc([](const std::string&) { return Reply{200, "{}"}; });
  HttpClientOptions options =
      Options(log, FakeLookup({{"plc.test", {"127.0.0.1"}}, {"refused.test", {"10.0.0.1"}}}, gate));
  options.connect_timeout = 100ms;
  options.max_lookups_in_flight = 2;
  HttpClient client(options);
  auto kind = [&](const std::string& url, AddressPolicy policy) {
    auto r = client.Get(*Url::Parse(url), policy);
    return std::holds_alternative<HttpError>(r) ? std::get<HttpError>(r).kind
                                                : std::optional<HttpError::Kind>();
  };
  // Two lookups abandoned at their deadline still hold their places.
  EXPECT_EQ(kind("https://slow.a.test/", AddressPolicy::kPublic), HttpError::Kind::kTimeout);
  EXPECT_EQ(kind("https://slow.b.test/", AddressPolicy::kPublic), HttpError::Kind::kTimeout);
  // A third is not started: refused at once, without a thread.
  auto start = std::chrono::steady_clock::now();
  auto full = client.Get(*Url::Parse("https://refused.test/"), AddressPolicy::kPublic);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);
  ASSERT_TRUE(std::holds_alternative<HttpError>(full));
  EXPECT_THAT(std::get<HttpError>(full).message, HasSubstr("too many name lookups"));
  // Operator URLs have places of their own.
  EXPECT_EQ(kind("http://plc.test:" + std::to_string(plc.port()) + "/", AddressPolicy::kAny),
            std::nullopt);
  // Once the stuck lookups return, their places are free again.
  gate->Open();
  std::optional<HttpError::Kind> later;
  for (int i = 0; i < 100; ++i) {
    later = kind("https://refused.test/", AddressPolicy::kPublic);
    if (later == HttpError::Kind::kRefusedAddress) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(later, HttpError::Kind::kRefusedAddress);
}

// Whoever answers (a did:web host is the caller's choice) cannot make a response take more
// memory than the body limit and a small read buffer: a chunk-size line, its extensions or the
// trailer that never end are refused once they outgrow the buffer, not read until the deadline.
TEST(HttpClientLimits, EndlessChunkLinesAndTrailersAreRefused) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string endless(1 << 20, 'a');
  const std::map<std::string, std::string> replies = {
      {"/extension", head + "1;x=" + endless},
      {"/size", head + std::string(1 << 20, '0')},
      {"/trailer", head + "1\r\na\r\n0\r\nX-Trailer: " + endless},
  };
  TestHttpServer server([&](const std::string& target) {
    return Reply{200, replies.at(target), 0ms, /*raw=*/true};
  });
  Log log;
  HttpClient client(Options(log));
  for (const auto& [target, reply] : replies) {
    SCOPED_TRACE(target);
    auto r = client.Get(*Url::Parse("http://127.0.0.1:" + std::to_string(server.port()) + target));
    ASSERT_TRUE(std::holds_alternative<HttpError>(r));
    EXPECT_EQ(std::get<HttpError>(r).kind, HttpError::Kind::kTooLarge)
        << std::get<HttpError>(r).message;
  }
}

TEST(HttpClientLimits, LargeBodiesStillPassTheBoundedBuffer) {
  // Just under the 256 KiB body limit, sent whole and in chunks larger than the read buffer.
  const std::string body(250 * 1024, 'b');
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 50 * 1024) {
    const std::string part = body.substr(at, 50 * 1024);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", part.size());
    chunked += std::string(size) + ";ext=1\r\n" + part + "\r\n";
  }
  chunked += "0\r\nX-Trailer: t\r\n\r\n";
  TestHttpServer server([&](const std::string& target) {
    return target == "/chunked" ? Reply{200, chunked, 0ms, /*raw=*/true} : Reply{200, body};
  });
  Log log;
  HttpClient client(Options(log));
  for (const std::string target : {"/whole", "/chunked"}) {
    SCOPED_TRACE(target);
    auto r = client.Get(*Url::Parse("http://127.0.0.1:" + std::to_string(server.port()) + target));
    ASSERT_TRUE(std::holds_alternative<HttpResponse>(r)) << std::get<HttpError>(r).message;
    EXPECT_EQ(std::get<HttpResponse>(r).status, 200);
    EXPECT_EQ(std::get<HttpResponse>(r).body, body);
  }
}

}  // namespace
}  // namespace atipay::identity
