// HttpXrpcCaller against a tiny in-test HTTP server on 127.0.0.1: requests on the wire,
// keep-alive reuse, reconnects, error mapping and timeouts; and RunMethod over HTTP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "agent/agent.h"
#include "agent/test_server.h"
#include "auth/test_http_server.h"

namespace atipay::agent {
namespace {

namespace json = boost::json;
using test::HttpReply;
using test::HttpRequest;
using test::TestServer;

// Echoes the request back as JSON.
HttpReply Echo(const HttpRequest& r) {
  json::object headers;
  for (const auto& [name, value] : r.headers) headers[name] = value;
  return HttpReply{200,
                   json::serialize(json::object{{"method", r.method},
                                                {"target", r.target},
                                                {"headers", std::move(headers)},
                                                {"body", r.body}}),
                   false, "application/json"};
}

HttpCallerOptions Options(std::string url) {
  HttpCallerOptions options;
  options.base_url = std::move(url);
  return options;
}

PdsSessionOptions Session(std::string url, std::string password) {
  PdsSessionOptions options;
  options.pds_url = std::move(url);
  options.identifier = "alice.test";
  options.password = std::move(password);
  options.service = "did:web:pay#payments";
  return options;
}

int UnusedPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

TEST(HttpXrpcCaller, SendsProceduresAndQueries) {
  TestServer server(Echo);
  std::vector<std::string> asked;
  HttpCallerOptions options = Options(server.url());
  options.token_source = [&](std::string_view nsid) {
    asked.emplace_back(nsid);
    return "tok-" + std::string(nsid);
  };
  options.proxy = "did:web:pay.example#payments";
  options.headers = {{"x-extra", "1"}};
  HttpXrpcCaller caller(options);
  XrpcResult r = caller.Call("com.example.doThing", true, {{"a", 1}, {"b", "two"}});
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(r.body.at("method").as_string(), "POST");
  EXPECT_EQ(r.body.at("target").as_string(), "/xrpc/com.example.doThing");
  EXPECT_EQ(json::parse(r.body.at("body").as_string()), (json::object{{"a", 1}, {"b", "two"}}));
  const json::object& h = r.body.at("headers").as_object();
  EXPECT_EQ(h.at("authorization").as_string(), "Bearer tok-com.example.doThing");
  EXPECT_EQ(h.at("atproto-proxy").as_string(), "did:web:pay.example#payments");
  EXPECT_EQ(h.at("content-type").as_string(), "application/json");
  EXPECT_EQ(h.at("x-extra").as_string(), "1");
  EXPECT_EQ(h.at("host").as_string(), "127.0.0.1:" + std::to_string(server.port()));

  XrpcResult q = caller.Call("com.example.get", false,
                             {{"uri", "at://did:plc:x/a.b.c/1"},
                              {"limit", 5},
                              {"flag", true},
                              {"tag", json::array{"a", "b c"}},
                              {"skip", nullptr}});
  ASSERT_EQ(q.status, 200);
  EXPECT_EQ(q.body.at("method").as_string(), "GET");
  EXPECT_EQ(
      q.body.at("target").as_string(),
      "/xrpc/"
      "com.example.get?uri=at%3A%2F%2Fdid%3Aplc%3Ax%2Fa.b.c%2F1&limit=5&flag=true&tag=a&tag=b%20c");
  EXPECT_EQ(q.body.at("body").as_string(), "");
  EXPECT_EQ(asked, (std::vector<std::string>{"com.example.doThing", "com.example.get"}));

  EXPECT_EQ(caller.Call("a.b.c", false, {{"o", json::object{}}}).ErrorName(), "InvalidRequest");
}

TEST(HttpXrpcCaller, KeepsTheConnectionAlive) {
  TestServer server(Echo);
  HttpXrpcCaller caller(Options(server.url()));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(caller.Call("a.b.c", i % 2 == 0, {{"i", i}}).status, 200);
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests(), 20);
  EXPECT_EQ(caller.connects(), 1);
  // No token source: no Authorization header.
  EXPECT_FALSE(
      caller.Call("a.b.c", true, {}).body.at("headers").as_object().contains("authorization"));
}

TEST(HttpXrpcCaller, ReconnectsWhenTheServerClosedTheConnection) {
  TestServer server(Echo);
  HttpXrpcCaller caller(Options(server.url()));
  ASSERT_EQ(caller.Call("a.b.c", true, {}).status, 200);
  server.CloseAllConnections();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  XrpcResult r = caller.Call("a.b.c", true, {{"after", "close"}});
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(json::parse(r.body.at("body").as_string()), (json::object{{"after", "close"}}));
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(caller.connects(), 2);
  EXPECT_EQ(server.requests(), 2);  // the request was sent once

  // Closed right after the call, with no pause: the next call still gets through.
  for (int i = 0; i < 5; ++i) {
    server.CloseAllConnections();
    ASSERT_EQ(caller.Call("a.b.c", true, {}).status, 200);
  }
  EXPECT_EQ(server.requests(), 7);
}

TEST(HttpXrpcCaller, ResendsOnceWhenAReusedConnectionDiesUnanswered) {
  std::atomic<int> drop{0};
  TestServer server([&](const HttpRequest& r) {
    HttpReply reply = Echo(r);
    if (drop > 0) {
      --drop;
      reply.drop = true;
    }
    return reply;
  });
  HttpXrpcCaller caller(Options(server.url()));
  ASSERT_EQ(caller.Call("a.b.c", true, {}).status, 200);
  // The server drops the next request on the kept-alive connection without a byte of
  // answer (as when it closed the idle connection just as we wrote): sent again, once.
  drop = 1;
  XrpcResult r = caller.Call("a.b.c", true, {{"n", 2}});
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 2);
  // On a fresh connection there is no second try.
  drop = 2;
  HttpXrpcCaller fresh(Options(server.url()));
  XrpcResult failed = fresh.Call("a.b.c", true, {});
  EXPECT_EQ(failed.status, 0);
  EXPECT_EQ(failed.ErrorName(), "ConnectionFailed");
  EXPECT_EQ(drop.load(), 1);
  // Twice in a row on a reused connection: the error reaches the caller.
  drop = 2;
  EXPECT_EQ(caller.Call("a.b.c", true, {}).ErrorName(), "ConnectionFailed");
  EXPECT_EQ(drop.load(), 0);
  EXPECT_EQ(caller.Call("a.b.c", true, {}).status, 200);
}

TEST(HttpXrpcCaller, HonoursConnectionClose) {
  TestServer server([](const HttpRequest& r) {
    HttpReply reply = Echo(r);
    reply.close = true;
    return reply;
  });
  HttpXrpcCaller caller(Options(server.url()));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(caller.Call("a.b.c", true, {}).status, 200);
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(caller.connects(), 3);
}

TEST(HttpXrpcCaller, MapsErrors) {
  TestServer server([](const HttpRequest& r) -> HttpReply {
    if (r.target == "/xrpc/x.named") {
      return {400, R"({"error":"CartNotFound","message":"Cart not found: at://x"})", false,
              "application/json"};
    }
    if (r.target == "/xrpc/x.html") return {502, "<html>bad gateway</html>", false, "text/html"};
    if (r.target == "/xrpc/x.garbage") return {200, "not json", false, "text/plain"};
    if (r.target == "/xrpc/x.empty") return {200, "", false, "application/json"};
    return {500, "", false, "application/json"};
  });
  HttpXrpcCaller caller(Options(server.url() + "/"));
  XrpcResult named = caller.Call("x.named", true, {});
  EXPECT_EQ(named.status, 400);
  EXPECT_FALSE(named.ok());
  EXPECT_EQ(named.ErrorName(), "CartNotFound");
  EXPECT_EQ(named.ErrorMessage(), "Cart not found: at://x");
  XrpcResult html = caller.Call("x.html", true, {});
  EXPECT_EQ(html.status, 502);
  EXPECT_EQ(html.ErrorName(), "UpstreamFailure");
  EXPECT_EQ(html.ErrorMessage(), "<html>bad gateway</html>");
  XrpcResult garbage = caller.Call("x.garbage", true, {});
  EXPECT_EQ(garbage.status, 0);
  EXPECT_EQ(garbage.ErrorName(), "InvalidResponse");
  XrpcResult empty = caller.Call("x.empty", true, {});
  EXPECT_EQ(empty.status, 200);
  EXPECT_TRUE(empty.body.is_null());
  EXPECT_EQ(caller.Call("x.other", true, {}).ErrorName(), "InternalServerError");
  EXPECT_EQ(caller.connects(), 1);  // errors do not cost the connection

  HttpXrpcCaller nowhere(Options("http://127.0.0.1:" + std::to_string(UnusedPort())));
  XrpcResult refused = nowhere.Call("a.b.c", true, {});
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(refused.ErrorName(), "ConnectionFailed");

  HttpXrpcCaller bad(Options("ftp://example.com"));
  EXPECT_EQ(bad.Call("a.b.c", true, {}).ErrorName(), "ConnectionFailed");
}

TEST(HttpXrpcCaller, TimesOut) {
  // The slow call is held until this test lets it go (at most 10 s, so that a caller that
  // never times out fails rather than hangs): only the caller's own timer can end it sooner.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> slow_done{false};
  TestServer server([&](const HttpRequest& r) {
    if (r.target == "/xrpc/x.slow") {
      released.wait_for(std::chrono::seconds(10));
      slow_done = true;
    }
    return Echo(r);
  });
  HttpCallerOptions options = Options(server.url());
  options.request_timeout = std::chrono::milliseconds(150);
  HttpXrpcCaller caller(options);
  auto start = std::chrono::steady_clock::now();
  XrpcResult r = caller.Call("x.slow", true, {});
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.ErrorName(), "Timeout");
  EXPECT_GE(elapsed, options.request_timeout);
  EXPECT_FALSE(slow_done.load()) << "the call ended with the server's answer, not its timeout";
  release.set_value();
  // The next call gets a fresh connection once the server (one thread) is free again.
  for (int i = 0; i < 1000 && !slow_done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(slow_done.load());
  XrpcResult next = caller.Call("x.fast", true, {});
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(caller.connects(), 2);
}

TEST(HttpXrpcCaller, CallsAreFastOnKeepAlive) {
  // Guards against an operation waiting on a timer (a call would then take as long as the
  // request timeout).
  TestServer server(Echo);
  HttpXrpcCaller caller(Options(server.url()));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(caller.Call("a.b.c", true, {}).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpXrpcCaller, Https) {
  atipay::test::TestPki pki = atipay::test::MakeTestPki("127.0.0.1");
  const std::string ca =
      ::testing::TempDir() + "/agent-test-ca-" + std::to_string(::getpid()) + ".pem";
  {
    std::ofstream out(ca);
    out << pki.ca_cert_pem;
  }
  atipay::test::TestHttpServer server(
      [](const std::string& target) {
        return atipay::test::Reply{200, R"({"target":")" + target + "\"}"};
      },
      &pki.leaf);
  HttpCallerOptions options = Options("https://127.0.0.1:" + std::to_string(server.port()));
  options.extra_ca_file = ca;
  HttpXrpcCaller caller(options);
  for (int i = 0; i < 2; ++i) {  // the test server closes after each answer: reconnects
    XrpcResult r = caller.Call("a.b.c", false, {{"q", "1"}});
    ASSERT_EQ(r.status, 200) << json::serialize(r.body);
    EXPECT_EQ(r.body.at("target").as_string(), "/xrpc/a.b.c?q=1");
  }
  // Without the private CA the certificate is refused.
  HttpXrpcCaller untrusting(Options("https://127.0.0.1:" + std::to_string(server.port())));
  XrpcResult refused = untrusting.Call("a.b.c", true, {});
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(refused.ErrorName(), "ConnectionFailed");
  EXPECT_NE(refused.ErrorMessage().find("TLS handshake"), std::string::npos)
      << refused.ErrorMessage();
  std::remove(ca.c_str());
}

// A workflow server over HTTP: one create, then a final answer.
TEST(HttpXrpcCaller, RunMethodOverHttp) {
  TestServer server([&](const HttpRequest& r) -> HttpReply {
    json::object in = json::parse(r.body).as_object();
    if (!in.contains("workflow")) {
      json::object create{{"$type", "com.atiproto.actions#create"},
                          {"repo", "did:plc:abcdefghijklmnopqrstuvwx"},
                          {"name", "item"},
                          {"collection", "com.atiproto.item"},
                          {"record", json::object{{"amount", 1}}}};
      return {200,
              json::serialize(json::object{
                  {"workflow", json::object{{"intent", "one"}, {"actions", json::array{create}}}}}),
              false, "application/json"};
    }
    const json::object& wf = in.at("workflow").as_object();
    return {
        200,
        json::serialize(json::object{{"itemUri", wf.at("responses").at(0).at("result").at("uri")},
                                     {"echo", in.at("x")}}),
        false, "application/json"};
  });
  HttpXrpcCaller caller(Options(server.url()));
  MemoryRepo repo;
  RunResult r = RunMethod(caller, repo, "com.atiproto.payment.item.create", true, {{"x", 7}});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.rounds, 2);
  EXPECT_EQ(r.output.at("echo"), 7);
  EXPECT_TRUE(repo.Get(r.output.at("itemUri").as_string()));
  EXPECT_EQ(server.connections(), 1);
}

// createSession, then repo writes with the access token and proxied calls.
TEST(PdsSession, LogsInWritesAndProxies) {
  std::mutex mu;
  std::vector<HttpRequest> seen;
  TestServer pds([&](const HttpRequest& r) -> HttpReply {
    {
      std::lock_guard lock(mu);
      seen.push_back(r);
    }
    if (r.target == "/xrpc/com.atproto.server.createSession") {
      json::object in = json::parse(r.body).as_object();
      if (in.at("password") != "hunter2") {
        return {401,
                R"({"error":"AuthenticationRequired","message":"Invalid identifier or password"})"};
      }
      return {
          200,
          R"({"accessJwt":"acc","refreshJwt":"ref","handle":"alice.test","did":"did:plc:alice"})"};
    }
    if (r.target == "/xrpc/com.atproto.repo.createRecord") {
      return {200, R"({"uri":"at://did:plc:alice/com.atiproto.item/3kaaaaaaaaaa2","cid":"bafyx"})"};
    }
    if (r.target == "/xrpc/com.atproto.repo.deleteRecord") return {200, "{}"};
    return {200, R"({"proxied":true})"};
  });
  XrpcResult error;
  EXPECT_EQ(PdsSession::Login(Session(pds.url(), "nope"), &error), nullptr);
  EXPECT_EQ(error.status, 401);
  EXPECT_EQ(error.ErrorMessage(), "Invalid identifier or password");

  auto session = PdsSession::Login(Session(pds.url(), "hunter2"), &error);
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->did(), "did:plc:alice");
  EXPECT_EQ(session->handle(), "alice.test");
  WriteResult w = session->repo().Write({.op = WriteOp::kCreate,
                                         .repo = "did:plc:alice",
                                         .collection = "com.atiproto.item",
                                         .rkey = std::nullopt,
                                         .record = {{"amount", 1}},
                                         .swap_commit = "bafycommit"});
  ASSERT_TRUE(w.ok()) << w.message;
  EXPECT_EQ(w.cid, "bafyx");
  EXPECT_TRUE(session->repo()
                  .Write({.op = WriteOp::kDelete,
                          .repo = "did:plc:alice",
                          .collection = "com.atiproto.item",
                          .rkey = "3kaaaaaaaaaa2",
                          .record = {},
                          .swap_commit = std::nullopt})
                  .ok());
  EXPECT_EQ(session->service().Call("com.atiproto.payment.cart.get", false, {{"uri", "u"}}).body,
            (json::object{{"proxied", true}}));

  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[1].Header("authorization"), "");
  EXPECT_EQ(seen[2].Header("authorization"), "Bearer acc");
  EXPECT_EQ(seen[2].Header("atproto-proxy"), "");
  EXPECT_EQ(json::parse(seen[2].body), (json::object{{"repo", "did:plc:alice"},
                                                     {"collection", "com.atiproto.item"},
                                                     {"record", json::object{{"amount", 1}}},
                                                     {"swapCommit", "bafycommit"}}));
  EXPECT_EQ(json::parse(seen[3].body), (json::object{{"repo", "did:plc:alice"},
                                                     {"collection", "com.atiproto.item"},
                                                     {"rkey", "3kaaaaaaaaaa2"}}));
  EXPECT_EQ(seen[4].Header("authorization"), "Bearer acc");
  EXPECT_EQ(seen[4].Header("atproto-proxy"), "did:web:pay#payments");
  EXPECT_EQ(seen[4].target, "/xrpc/com.atiproto.payment.cart.get?uri=u");
}

}  // namespace
}  // namespace atipay::agent
