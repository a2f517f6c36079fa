// atipay-load end to end against a fake atiproto server: service tokens verified for real (the
// DID documents the tool writes, resolved through a dev directory), workflows for item.create
// and cart.clone, cart.get with an expiring status. Runs without the payment methods of the
// real server; the lead's smoke test runs the same invocation against atipay-server.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/test_server.h"
#include "auth/auth.h"
#include "identity/identity.h"
#include "lex/formats.h"
#include "lex/tid.h"
#include "support/run_tool.h"
#include "support/temp_dir.h"

namespace atipay {
namespace {

namespace json = boost::json;
using agent::test::HttpReply;
using agent::test::HttpRequest;
using agent::test::TestServer;
using Clock = std::chrono::steady_clock;

int UnusedPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

HttpReply Error(int status, std::string name, std::string message) {
  return {status, json::serialize(
                      json::object{{"error", std::move(name)}, {"message", std::move(message)}})};
}

HttpReply Json(json::object body) { return {200, json::serialize(body)}; }

json::object Workflow(std::string intent, json::array actions) {
  return json::object{
      {"workflow", json::object{{"intent", std::move(intent)}, {"actions", std::move(actions)}}}};
}

// A stand-in for the payment server: enough of item.create, cart.get and cart.clone for the
// load tool, with real service-auth verification.
class FakePaymentServer {
 public:
  struct Options {
    std::string did_dir;
    std::chrono::milliseconds cart_ttl{300};
    int broken_every = 0;  // every Nth clone answers with an item missing
  };

  explicit FakePaymentServer(Options options) : options_(std::move(options)) {
    // The service DID names the port, so the server starts first; its requests wait here until
    // everything they use is set.
    std::lock_guard lock(mu_);
    server_ = std::make_unique<TestServer>([this](const HttpRequest& r) { return Handle(r); });
    service_did_ = "did:web:127.0.0.1%3A" + std::to_string(server_->port());
    identity::IdentityOptions id;
    id.dev_did_dir = options_.did_dir;
    id.plc_url = "http://127.0.0.1:" + std::to_string(UnusedPort());
    auto resolver = identity::MakeIdentityResolver(id);
    if (!resolver.ok()) throw std::runtime_error(resolver.error().message);
    resolver_ = std::move(*resolver);
    auth::ServiceAuthOptions auth(service_did_);
    // One identity driven for seconds by a tool as fast as this fake holds more live tokens than
    // a production issuer may (50,000): 429s would then depend on the machine's speed.
    auth.replay_per_issuer = 0;
    verifier_ = std::make_unique<auth::ServiceAuthVerifier>(auth, *resolver_);
  }

  std::string url() const { return server_->url(); }
  const std::string& did() const { return service_did_; }
  int clones_done() const { return clones_done_; }
  int auth_failures() const { return auth_failures_; }

 private:
  struct Cart {
    std::string owner;
    json::array lines;  // {type, recordUri}
    Clock::time_point created;
  };

  std::string Tid() { return tids_.Next(); }

  json::object ItemRecord(std::int64_t amount, const std::string& subject) {
    return json::object{{"$type", "com.atiproto.item"},
                        {"subject", subject},
                        {"amount", amount},
                        {"currency", "USD"},
                        {"status", "pending"},
                        {"createdAt", "2026-01-01T00:00:00.000Z"}};
  }
  json::object CartRecord(json::array lines) {
    return json::object{{"$type", "com.atiproto.cart"},
                        {"items", std::move(lines)},
                        {"currency", "USD"},
                        {"total", 0},
                        {"status", "open"},
                        {"createdAt", "2026-01-01T00:00:00.000Z"},
                        {"expiresAt", "2026-01-08T00:00:00.000Z"}};
  }
  json::object Create(const std::string& did, std::string name, std::string collection,
                      std::string rkey, json::object record) {
    return json::object{{"$type", "com.atiproto.actions#create"},
                        {"repo", did},
                        {"name", std::move(name)},
                        {"collection", std::move(collection)},
                        {"rkey", std::move(rkey)},
                        {"record", std::move(record)}};
  }

  HttpReply Handle(const HttpRequest& r) {
    std::lock_guard lock(mu_);
    std::string path = r.target.substr(0, r.target.find('?'));
    if (!path.starts_with("/xrpc/")) return Error(404, "NotFound", "not found");
    const std::string nsid = path.substr(6);
    if (nsid == "_health") return Json({{"version", "fake"}});
    auto verified = verifier_->Verify(r.Header("authorization"), nsid);
    if (auto* e = std::get_if<xrpc::XrpcError>(&verified)) {
      ++auth_failures_;
      return Error(e->status, e->name, e->message);
    }
    const std::string caller = std::get<auth::VerifiedCaller>(verified).did;
    if (nsid == "com.atiproto.payment.cart.get") {
      std::string query =
          r.target.find('?') == std::string::npos ? "" : r.target.substr(r.target.find('?') + 1);
      if (!query.starts_with("uri=")) return Error(400, "InvalidRequest", "uri required");
      return CartGet(caller, PercentDecode(query.substr(4)));
    }
    json::error_code ec;
    json::value body = json::parse(r.body, ec);
    if (ec || !body.is_object()) return Error(400, "InvalidRequest", "bad body");
    json::object& in = body.as_object();
    if (nsid == "com.atiproto.payment.item.create") return ItemCreate(caller, in);
    if (nsid == "com.atiproto.payment.cart.clone") return Clone(caller, in);
    return Error(501, "MethodNotImplemented", "Method Not Implemented");
  }

  json::object View(const std::string& uri, const Cart& cart) {
    bool expired = Clock::now() - cart.created > options_.cart_ttl;
    json::object view = CartRecord(cart.lines);
    view.erase("$type");
    view["uri"] = uri;
    view["status"] = expired ? "expired" : "open";
    return view;
  }

  HttpReply CartGet(const std::string& caller, const std::string& uri) {
    auto it = carts_.find(uri);
    if (it == carts_.end() || it->second.owner != caller)
      return Error(400, "CartNotFound", "Cart not found: " + uri);
    return Json({{"uri", uri},
                 {"cart", View(uri, it->second)},
                 {"items", json::array{}},
                 {"subscriptions", json::array{}}});
  }

  HttpReply ItemCreate(const std::string& caller, json::object& in) {
    const std::string subject(in.at("subject").as_string());
    if (!in.contains("workflow")) {
      json::array actions{Create(caller, "item", "com.atiproto.item", Tid(),
                                 ItemRecord(in.at("amount").as_int64(), subject))};
      if (in.contains("cartUri")) {
        const std::string cart_uri(in.at("cartUri").as_string());
        auto it = carts_.find(cart_uri);
        if (it == carts_.end()) return Error(400, "CartNotFound", "Cart not found: " + cart_uri);
        // The cart is rewritten by the callback; no write needed for the fake.
      } else {
        actions.push_back(Create(caller, "cart", "com.atiproto.cart", Tid(), CartRecord({})));
      }
      return Json(Workflow("itemCreate", std::move(actions)));
    }
    const json::object& wf = in.at("workflow").as_object();
    if (wf.at("intent") != "itemCreate")
      return Json(Workflow("rollback", {json::object{{"$type", "com.atiproto.actions#raise"},
                                                     {"message", "item failed"},
                                                     {"code", "ItemFailed"}}}));
    std::string item_uri, cart_uri;
    for (const auto& response : wf.at("responses").as_array()) {
      if (response.at("name") == "item") item_uri = response.at("result").at("uri").as_string();
      if (response.at("name") == "cart") cart_uri = response.at("result").at("uri").as_string();
    }
    if (cart_uri.empty()) cart_uri = in.at("cartUri").as_string();
    Cart& cart = carts_[cart_uri];
    if (cart.owner.empty()) cart.owner = caller;
    cart.lines.push_back(json::object{{"type", "com.atiproto.item"}, {"recordUri", item_uri}});
    cart.created = Clock::now();
    return Json(
        {{"itemUri", item_uri}, {"cartUri", cart_uri}, {"checkoutUrl", "https://pay.example/c"}});
  }

  HttpReply Clone(const std::string& caller, json::object& in) {
    const std::string source_uri(in.at("uri").as_string());
    auto it = carts_.find(source_uri);
    if (it == carts_.end() || it->second.owner != caller) {
      return Error(400, "CartNotFound", "Cart not found: " + source_uri);
    }
    if (!in.contains("workflow")) {
      json::array actions;
      for (std::size_t i = 0; i < it->second.lines.size(); ++i) {
        actions.push_back(Create(caller, "item-" + std::to_string(i), "com.atiproto.item", Tid(),
                                 ItemRecord(100, caller)));
      }
      return Json(Workflow("cloneItems", std::move(actions)));
    }
    const json::object& wf = in.at("workflow").as_object();
    if (wf.at("intent") == "cloneItems") {
      json::array lines;
      std::vector<std::string> uris;
      for (const auto& response : wf.at("responses").as_array()) {
        lines.push_back(json::object{{"type", "com.atiproto.item"},
                                     {"recordUri", response.at("result").at("uri")}});
        uris.emplace_back(response.at("result").at("uri").as_string());
      }
      const std::string rkey = Tid();
      pending_["at://" + caller + "/com.atiproto.cart/" + rkey] = uris;
      return Json(Workflow("cloneCart",
                           {Create(caller, "cart", "com.atiproto.cart", rkey, CartRecord(lines))}));
    }
    if (wf.at("intent") == "cloneCart") {
      const std::string cart_uri(wf.at("responses").at(0).at("result").at("uri").as_string());
      auto p = pending_.find(cart_uri);
      if (p == pending_.end()) return Error(400, "InvalidWorkflow", "unknown cart " + cart_uri);
      json::array items;
      for (const auto& uri : p->second) {
        items.push_back(json::object{{"uri", uri},
                                     {"amount", 100},
                                     {"currency", "USD"},
                                     {"status", "pending"},
                                     {"createdAt", "2026-01-01T00:00:00.000Z"}});
      }
      pending_.erase(p);
      ++clones_done_;
      if (options_.broken_every > 0 && clones_done_ % options_.broken_every == 0) items.pop_back();
      return Json({{"cartUri", cart_uri},
                   {"items", std::move(items)},
                   {"subscriptions", json::array{}},
                   {"checkoutUrl", "https://pay.example/c"}});
    }
    return Json(Workflow("rollback", {json::object{{"$type", "com.atiproto.actions#raise"},
                                                   {"message", "clone failed"},
                                                   {"code", "CloneFailed"}}}));
  }

  Options options_;
  std::mutex mu_;
  std::string service_did_;
  std::unique_ptr<identity::IdentityResolver> resolver_;
  std::unique_ptr<auth::ServiceAuthVerifier> verifier_;
  lex::TidClock tids_;
  std::map<std::string, Cart> carts_;
  std::map<std::string, std::vector<std::string>> pending_;
  std::atomic<int> clones_done_{0};
  std::atomic<int> auth_failures_{0};
  std::unique_ptr<TestServer> server_;  // last: stopped before anything its requests use goes
};

FakePaymentServer::Options Fake(std::string did_dir,
                                std::chrono::milliseconds cart_ttl = std::chrono::milliseconds(300),
                                int broken_every = 0) {
  FakePaymentServer::Options options;
  options.did_dir = std::move(did_dir);
  options.cart_ttl = cart_ttl;
  options.broken_every = broken_every;
  return options;
}

using test_support::ToolRun;

ToolRun Tool(const std::string& args) {
  return test_support::RunTool(ATIPAY_LOAD, args);
}

class LoadTest : public ::testing::Test {
 protected:
  LoadTest() { std::filesystem::create_directories(dir_ / "dids"); }
  std::string DidDir() const { return (dir_ / "dids").string(); }
  // atipay-load against `server`, its identities in DidDir(), with `args` after.
  ToolRun ToolAgainst(const FakePaymentServer& server, const std::string& args) const {
    return Tool("--url " + server.url() + " --aud " + server.did() + " --did-dir " + DidDir() +
                " " + args);
  }

  test_support::TempDir temp_{"atipay-load"};
  const std::filesystem::path dir_ = temp_.path();
};

TEST_F(LoadTest, FiftyClonesComplete) {
  FakePaymentServer server(Fake(DidDir()));
  ToolRun run = ToolAgainst(server,
                     "--identities 4 --connections 4 --clones 50 --items-per-cart 2"
                     " --wait-cloneable 10s --verify-every 3 --json");
  ASSERT_EQ(run.status, 0) << run.out;
  std::cout << run.out;
  json::value out = json::parse(run.out);
  EXPECT_EQ(out.at("clones").at("complete").as_int64(), 50);
  EXPECT_EQ(out.at("clones").at("failed").as_int64(), 0);
  EXPECT_EQ(out.at("verified").at("bad").as_int64(), 0);
  EXPECT_GT(out.at("verified").at("deep").as_int64(), 0);
  EXPECT_EQ(out.at("calls").at("count").as_int64(), 150);  // 3 calls per clone
  EXPECT_EQ(out.at("call_latency").at("count").as_int64(), 150);
  EXPECT_EQ(out.at("clone_latency").at("count").as_int64(), 50);
  EXPECT_EQ(out.at("tokens").at("signed_in_window").as_int64(), 0);
  EXPECT_EQ(out.at("items_per_cart").as_int64(), 2);
  EXPECT_EQ(server.clones_done(), 50);
  EXPECT_EQ(server.auth_failures(), 0);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(DidDir()), {}), 4);
}

TEST_F(LoadTest, DurationModeAndTable) {
  FakePaymentServer server(Fake(DidDir()));
  ToolRun run = ToolAgainst(
      server, "--identities 2 --connections 3 --duration 300ms --items-per-cart 1 --tokens 30");
  ASSERT_EQ(run.status, 0) << run.out;
  std::cout << run.out;  // the table, for the log
  EXPECT_NE(run.out.find("clones complete"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("per clone"), std::string::npos) << run.out;
  EXPECT_GT(server.clones_done(), 0);
  EXPECT_EQ(server.auth_failures(), 0);  // tokens signed on demand past the pool are fine
}

TEST_F(LoadTest, BrokenClonesAreNotCounted) {
  FakePaymentServer server(Fake(DidDir(), std::chrono::milliseconds(300), 5));
  ToolRun run = ToolAgainst(server,
                     "--identities 2 --connections 2 --clones 20 --json");
  EXPECT_EQ(run.status, 4) << run.out;
  json::value out = json::parse(run.out);
  EXPECT_EQ(out.at("clones").at("complete").as_int64(), 16);
  EXPECT_EQ(out.at("verified").at("bad").as_int64(), 4);
  EXPECT_EQ(out.at("failures").at("Unverified").as_int64(), 4);
}

TEST_F(LoadTest, OpenCartsAndBadSetupFail) {
  FakePaymentServer server(Fake(DidDir(), std::chrono::hours(1)));
  const std::string base = "--url " + server.url() + " --did-dir " + DidDir();
  EXPECT_EQ(Tool(base + " --aud " + server.did() +
                 " --identities 1 --connections 1 --clones 1 --wait-cloneable 500ms")
                .status,
            2);
  // Without waiting, the open cart is cloned.
  EXPECT_EQ(Tool(base + " --aud " + server.did() +
                 " --identities 1 --connections 1 --clones 2 --wait-cloneable 0")
                .status,
            0);
  // A wrong audience fails setup (the server refuses the tokens).
  EXPECT_EQ(Tool(base + " --aud did:web:elsewhere.example --identities 1 --clones 1").status, 2);
  EXPECT_EQ(Tool("--url " + server.url() + " --aud " + server.did()).status,
            1);  // no identity source
  EXPECT_EQ(Tool("--help").status, 0);
}

// Values past what the tool can represent are usage errors, not a crash or a silent wrap:
// --tokens or --clones near 2^63 ended in std::length_error (abort), "inf" and "nan" passed as
// durations (and became an invalid exp, or an unlimited wait), a --timeout past the clock's
// range timed out every call at once.
TEST_F(LoadTest, OutOfRangeValuesAreUsageErrors) {
  const std::string base =
      "--url http://127.0.0.1:1 --aud did:web:pay.example --did-dir " + DidDir() + " ";
  for (const char* bad : {"--tokens 99999999999999999",
                          "--tokens 10000001",
                          "--clones 9223372036854775807",
                          "--clones 1000000001",
                          "--clones 0",
                          "--duration inf",
                          "--duration nan",
                          "--duration 1e3",
                          "--duration 0x10",
                          "--duration 605000s",
                          "--duration -1s",
                          "--duration 10d",
                          "--timeout 1e10",
                          "--timeout 86401",
                          "--timeout 0",
                          "--token-lifetime inf",
                          "--token-lifetime 5s",
                          "--token-lifetime 25h",
                          "--wait-cloneable nan",
                          "--wait-cloneable 25h",
                          "--identities 3x",
                          "--connections -1",
                          "--connections 100001",
                          "--verify-every ' 4'",
                          "--duration ''"}) {
    SCOPED_TRACE(bad);
    ToolRun run = Tool(base + bad);
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.out, "");
  }
  EXPECT_TRUE(std::filesystem::is_empty(DidDir()));  // refused before any identity was made
}

// A system that refuses threads (here every one: a stack limit past the address space leaves no
// room to map a thread's stack). Setup runs on the calling thread instead; the clients cannot,
// so the run ends with exit 2 and a message, where it used to end in std::terminate (134).
TEST_F(LoadTest, RefusedThreadsEndTheRunWithExitTwo) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer refuses to start under a stack limit past the address space";
#endif
  FakePaymentServer server(Fake(DidDir()));
  ToolRun run = test_support::RunTool(
      std::string("ulimit -s 200000000000 && ") + ATIPAY_LOAD,
      "--url " + server.url() + " --aud " + server.did() + " --did-dir " + DidDir() +
          " --identities 2 --connections 2 --clones 4 --items-per-cart 1 --wait-cloneable 0");
  EXPECT_EQ(run.status, 2) << run.out;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(DidDir()), {}), 2);  // set up
  EXPECT_EQ(server.clones_done(), 0);
}

// A pre-signed token is used until 5 s before it expires, so by default no more are signed than
// 3 calls x 2,000 clones/s can use in that time: 3 x 2000/s x duration for a run longer than
// the tokens live would sign tokens that expire unused (3.6 million for ten minutes).
TEST_F(LoadTest, PreSigningStopsAtWhatTheTokenLifetimeCanUse) {
  FakePaymentServer server(Fake(DidDir()));
  ToolRun run = ToolAgainst(server,
                     "--identities 1 --connections 1 --items-per-cart 1 --duration 6s"
                     " --token-lifetime 10s --json");
  ASSERT_EQ(run.status, 0) << run.out;
  json::value out = json::parse(run.out);
  // 3 x 2000 x (10 - 5) s, and a quarter more for the identity (see --tokens), not 6 s' worth.
  EXPECT_EQ(out.at("tokens").at("presigned").as_int64(), 30000 * 5 / 4 + 4);
  EXPECT_EQ(server.auth_failures(), 0);
}

}  // namespace
}  // namespace atipay
