// The request pipeline beyond the reference rows: params decoding, the auth hook and its place
// in the order, asynchronous and blocking handlers, errors, output validation, service
// endpoints, CORS, metrics and the access log.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "support/temp_dir.h"
#include "tests/xrpc/lexicons.h"
#include "tests/xrpc/test_support.h"

namespace atipay::testing {
namespace {

namespace json = boost::json;

constexpr std::string_view kParams = "/xrpc/com.example.xrpc.params";

json::object Echo(const Reply& reply) {
  auto v = reply.Json();
  EXPECT_TRUE(v.is_object()) << reply.body;
  if (!v.is_object() || !v.get_object().contains("echo")) return {};
  return v.get_object().at("echo").get_object();
}

TEST(XrpcParams, StrictDecodingArraysAndDefaults) {
  TestServer server;
  auto reply = Fetch(server.port(), "GET",
                     std::string(kParams) + "?name=x%20y&flag=true&n=-42&tags=a&tags=b+c&empty=");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200) << reply->body;
  auto echo = Echo(*reply);
  EXPECT_EQ(echo.at("name"), "x y");
  EXPECT_EQ(echo.at("flag"), true);
  EXPECT_EQ(echo.at("n"), -42);
  EXPECT_EQ(echo.at("tags"), (json::array{"a", "b c"}));

  auto defaults = Fetch(server.port(), "GET", "/xrpc/com.atiproto.payment.cart.list");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->status, 200) << defaults->body;
  EXPECT_EQ(defaults->Json().at("cursor"), "limit=20");  // the lexicon default, filled in
}

TEST(XrpcParams, RejectsLooseValues) {
  TestServer server;
  struct Case {
    std::string query;
    std::string message;
  } cases[] = {
      {"?name=a&n=1.5", "Params/n must be an integer"},
      {"?name=a&n=12abc", "Params/n must be an integer"},
      {"?name=a&flag=1", "Params/flag must be a boolean"},
      {"?name=a&flag=TRUE", "Params/flag must be a boolean"},
      {"?flag=true", "Params must have the property \"name\""},
      {"?name=a&name=b", "Params/name must be a string"},
  };
  for (const auto& c : cases) {
    auto reply = Fetch(server.port(), "GET", std::string(kParams) + c.query);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 400) << c.query;
    EXPECT_EQ(reply->Error(), "InvalidRequest") << c.query;
    EXPECT_EQ(reply->Message(), c.message) << c.query;
  }
  auto limit = Fetch(server.port(), "GET", "/xrpc/com.atiproto.payment.cart.list?limit=101");
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->status, 400);
  EXPECT_EQ(limit->Message(), "Params/limit can not be greater than 100");
}

TEST(XrpcParams, QueryWithBodyIsRejected) {
  TestServer server;
  auto reply = Fetch(server.port(), "GET", std::string(kParams) + "?name=a", "{}",
                     {{"Content-Type", "application/json"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400);
  EXPECT_EQ(reply->Message(), "A request body was provided when none was expected");
}

TEST(XrpcQuery, HeadAndPostOnAQuery) {
  TestServer server;
  auto get = Fetch(server.port(), "GET", "/xrpc/com.atiproto.repo.item.count");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "{\"count\":3}");
  auto head = Fetch(server.port(), "HEAD", "/xrpc/com.atiproto.repo.item.count");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(head->raw[boost::beast::http::field::content_length], "11");
  auto post = Fetch(server.port(), "POST", "/xrpc/com.atiproto.repo.item.count", "{}",
                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 400);
  EXPECT_EQ(post->Message(), "Incorrect HTTP method (POST) expected GET");
  auto bad = Fetch(server.port(), "GET", "/xrpc/com.atiproto.repo.item.count?subject=nope");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->Message(), "Params/subject must be a valid did");
}

TEST(XrpcAuth, RequiredPolicyAndOrder) {
  std::atomic<int> hook_calls{0};
  TestServer server(TestServer::DefaultOptions(), {.clone_auth = xrpc::AuthPolicy::kRequired},
                    [&](xrpc::Router& router) {
                      router.SetAuthHook([&](const xrpc::AuthRequest& request) -> xrpc::AuthResult {
                        ++hook_calls;
                        EXPECT_EQ(request.request->Header("x-test"), "1");
                        if (request.authorization == "Bearer good") {
                          return xrpc::AuthContext{"did:plc:caller", {}};
                        }
                        return xrpc::XrpcError{401, "BadJwt", "bad token"};
                      });
                    });
  // No credentials: 401 from the hook, before the body is looked at.
  auto anonymous = Fetch(server.port(), "POST", kCloneTarget, "not json",
                         {{"Content-Type", "application/json"}, {"x-test", "1"}});
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->Error(), "BadJwt");
  EXPECT_EQ(anonymous->raw[boost::beast::http::field::www_authenticate], "Bearer");
  // Good credentials: then the input is validated.
  auto bad_input = Fetch(server.port(), "POST", kCloneTarget, "{}",
                         {{"Content-Type", "application/json"},
                          {"Authorization", "Bearer good"},
                          {"x-test", "1"}});
  ASSERT_TRUE(bad_input);
  EXPECT_EQ(bad_input->status, 400);
  EXPECT_EQ(bad_input->Message(), "Input must have the property \"uri\"");
  auto ok = Fetch(server.port(), "POST", kCloneTarget, "{\"uri\":\"" + std::string(kCart0) + "\"}",
                  {{"Content-Type", "application/json"},
                   {"Authorization", "Bearer good"},
                   {"x-test", "1"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(hook_calls.load(), 3);
}

TEST(XrpcAuth, ParamsBeforeAuthAndOptionalPolicy) {
  std::atomic<int> hook_calls{0};
  TestServer server(TestServer::DefaultOptions(), {}, [&](xrpc::Router& router) {
    // Completes later, from another thread, as a DID-resolving verifier would.
    router.SetAsyncAuthHook([&](const xrpc::AuthRequest& request,
                                std::function<void(xrpc::AuthResult)> done) {
      ++hook_calls;
      std::string authorization(request.authorization);
      std::thread([authorization, done] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (authorization == "Bearer good") {
          done(xrpc::AuthContext{"did:plc:caller", {}});
        } else {
          done(xrpc::XrpcError::AuthRequired("bad token"));
        }
      }).detach();
    });
  });
  // A bad param and bad credentials: 400, as the reference (params come first).
  auto both = Fetch(server.port(), "GET", std::string(kParams) + "?n=x",
                    std::nullopt, {{"Authorization", "Bearer bad"}});
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 400);
  EXPECT_EQ(hook_calls.load(), 0);
  // Optional policy: no header, no hook call, anonymous.
  auto anonymous = Fetch(server.port(), "GET", std::string(kParams) + "?name=a");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 200);
  EXPECT_EQ(Echo(*anonymous).at("did"), "");
  EXPECT_EQ(hook_calls.load(), 0);
  auto authed = Fetch(server.port(), "GET", std::string(kParams) + "?name=a", std::nullopt,
                      {{"Authorization", "Bearer good"}});
  ASSERT_TRUE(authed);
  EXPECT_EQ(authed->status, 200);
  EXPECT_EQ(Echo(*authed).at("did"), "did:plc:caller");
  auto rejected = Fetch(server.port(), "GET", std::string(kParams) + "?name=a", std::nullopt,
                        {{"Authorization", "Bearer bad"}});
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 401);
  EXPECT_EQ(rejected->Error(), "AuthenticationRequired");
}

TEST(XrpcAuth, RequiredWithoutHookIs401) {
  TestServer server(TestServer::DefaultOptions(), {.clone_auth = xrpc::AuthPolicy::kRequired});
  auto reply = PostJson(server.port(), kCloneTarget, "{\"uri\":\"" + std::string(kCart0) + "\"}");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 401);
  EXPECT_EQ(reply->Error(), "AuthenticationRequired");
}

TEST(XrpcErrors, DeclaredExceptionAndOutputValidation) {
  TestServer server;
  auto declared = Fetch(server.port(), "GET", std::string(kParams) + "?name=demo");
  ASSERT_TRUE(declared);
  EXPECT_EQ(declared->status, 400);
  EXPECT_EQ(declared->Error(), "DemoError");
  EXPECT_EQ(declared->Message(), "demo failure");

  auto thrown = Fetch(server.port(), "GET", std::string(kParams) + "?name=throw");
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(thrown->body, "{\"error\":\"InternalServerError\",\"message\":\"Internal Server Error\"}");
  EXPECT_EQ(thrown->body.find("secret"), std::string::npos);

  auto bad_output = Fetch(server.port(), "GET", std::string(kParams) + "?name=badoutput");
  ASSERT_TRUE(bad_output);
  EXPECT_EQ(bad_output->status, 500);
  EXPECT_EQ(bad_output->Error(), "InternalServerError");
}

TEST(XrpcErrors, OutputValidationCanBeSwitchedOff) {
  auto options = TestServer::DefaultOptions();
  options.validate_output = false;
  TestServer server(options);
  auto reply = Fetch(server.port(), "GET", std::string(kParams) + "?name=badoutput");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "{\"echo\":42}");
}

TEST(XrpcErrors, AsyncReplyDroppedBecomes500) {
  namespace count = lexicons::com::atiproto::repo::item::count;
  xrpc::Router router;
  router.Add<count::Method>([](xrpc::Request<count::Method>&, xrpc::Reply<count::Output> reply) {
    (void)reply;  // never called
  });
  auto options = TestServer::DefaultOptions();
  xrpc::Server server(options, router);
  ASSERT_FALSE(server.Start());
  auto reply = Fetch(server.port(), "GET", "/xrpc/com.atiproto.repo.item.count");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  server.Shutdown();
  server.Wait();
}

TEST(XrpcHandlers, BlockingHandlersDoNotStallTheLoop) {
  auto options = TestServer::DefaultOptions();
  options.threads = 1;
  options.blocking_threads = 2;
  TestServer server(options);
  // A handler held on the blocking pool for as long as this test needs; meanwhile the one
  // event-loop thread serves. Were it run on that thread, nothing else would be answered until
  // its release, which comes only after the other calls (or their client's timeout).
  auto held = std::async(std::launch::async, [&] {
    return Fetch(server.port(), "GET", std::string(kParams) + "?name=hold");
  });
  struct ReleaseAtExit {
    Hold& hold;
    ~ReleaseAtExit() { hold.Release(); }
  } release_at_exit{server.hold()};  // before `held` waits for its call, whatever failed
  ASSERT_TRUE(server.hold().WaitHeld(1)) << "the held call never reached its handler";
  for (int i = 0; i < 20; ++i) {
    Client client(server.port(), std::chrono::milliseconds(5000));
    auto reply = client.Call("GET", "/xrpc/com.atiproto.repo.item.count");
    ASSERT_TRUE(reply) << "call " << i << " was not answered while a blocking handler ran";
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_EQ(server.hold().held(), 1) << "still held: the calls above were answered beside it";
  server.hold().Release();
  auto reply = held.get();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST(XrpcHandlers, RawInputAndOutput) {
  TestServer server;
  auto reply = Fetch(server.port(), "POST", "/xrpc/com.example.xrpc.upload", "raw\x01bytes",
                     {{"Content-Type", "image/png"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->content_type, "application/octet-stream");
  EXPECT_EQ(reply->body, "raw\x01bytes");
  // Content-Length: 0 is allowed for a non-JSON input; a missing body is not.
  auto empty = Fetch(server.port(), "POST", "/xrpc/com.example.xrpc.upload", "",
                     {{"Content-Type", "image/png"}});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 200);
  auto missing = Fetch(server.port(), "POST", "/xrpc/com.example.xrpc.upload");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
}

TEST(XrpcService, HealthDidDocumentAndMetrics) {
  TestServer server;
  auto health = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->Json().at("version").as_string(), xrpc::ServerVersion());
  auto post_health = Fetch(server.port(), "POST", "/xrpc/_health", "{}");
  ASSERT_TRUE(post_health);
  EXPECT_EQ(post_health->status, 400);  // not an NSID, as on the reference PDS

  auto did = Fetch(server.port(), "GET", "/.well-known/did.json");
  ASSERT_TRUE(did);
  ASSERT_EQ(did->status, 200);
  auto doc = did->Json().as_object();
  EXPECT_EQ(doc.at("id"), "did:web:127.0.0.1%3A2585");
  auto service = doc.at("service").as_array().at(0).as_object();
  EXPECT_EQ(service.at("id"), "#payments");
  EXPECT_EQ(service.at("type"), "AtiprotoPaymentService");
  EXPECT_EQ(service.at("serviceEndpoint"), "http://127.0.0.1:2585");

  ASSERT_TRUE(PostJson(server.port(), kCloneTarget, "{}"));
  // A request is counted once its answer has been written, which may be just after the client
  // has read it: ask again for a moment (on another event-loop thread the count can lag).
  const std::string counted =
      "atipay_xrpc_requests_total{method=\"com.atiproto.payment.cart.clone\",status=\"400\"} 1";
  std::optional<Reply> metrics;
  for (int attempt = 0; attempt < 100; ++attempt) {
    metrics = Fetch(server.port(), "GET", "/metrics");
    ASSERT_TRUE(metrics);
    if (metrics->body.find(counted) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->content_type.find("text/plain"), std::string::npos);
  const std::string& text = metrics->body;
  EXPECT_NE(text.find(counted), std::string::npos) << text;
  EXPECT_NE(text.find("atipay_xrpc_request_duration_seconds_bucket{method=\"com.atiproto.payment."
                      "cart.clone\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("atipay_xrpc_requests_in_flight 1"), std::string::npos);  // this one
  EXPECT_NE(text.find("atipay_http_connections_open "), std::string::npos);
}

// Parts the server core does not know (the store) add their lines to /metrics through the
// router; a source that throws loses its own lines only.
TEST(XrpcService, MetricsSourcesFollowTheServersOwn) {
  int scrapes = 0;
  TestServer server(TestServer::DefaultOptions(), {}, [&scrapes](xrpc::Router& router) {
    router.AddMetrics([]() -> std::string { throw std::runtime_error("broken gauge"); });
    router.AddMetrics([]() -> std::string { throw 42; });
    router.AddMetrics([&scrapes] {
      ++scrapes;
      return "# TYPE test_scrapes_total counter\ntest_scrapes_total " + std::to_string(scrapes) +
             "\n";
    });
  });
  for (int expected = 1; expected <= 2; ++expected) {
    auto metrics = Fetch(server.port(), "GET", "/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    const std::string& text = metrics->body;
    const std::string line = "test_scrapes_total " + std::to_string(expected) + "\n";
    auto own = text.find("atipay_http_connections_open ");
    auto added = text.find(line);
    ASSERT_NE(added, std::string::npos) << text;
    EXPECT_LT(own, added) << "the server's own metrics come first";
    EXPECT_EQ(text.find("broken gauge"), std::string::npos);
  }
}

// Pages outside /xrpc: the decoded query in, a whole reply out, off the event loop; an
// exception is a plain 500 that says nothing of it.
TEST(XrpcService, PagesAnswerGetAndHeadAndTurnExceptionsInto500) {
  TestServer server(TestServer::DefaultOptions(), {}, [](xrpc::Router& router) {
    router.AddPage("/hello", [](const lex::ParamList& params) {
      xrpc::HttpReply reply;
      reply.content_type = "text/plain; charset=utf-8";
      reply.body = "hello";
      for (const auto& [key, value] : params) reply.body += " " + key + "=" + value;
      return reply;
    });
    router.AddPage("/broken", [](const lex::ParamList&) -> xrpc::HttpReply {
      throw std::runtime_error("secret detail");
    });
    router.AddPage("/odd", [](const lex::ParamList&) -> xrpc::HttpReply { throw 42; });
  });
  auto hello = Fetch(server.port(), "GET", "/hello?name=a%20b&x=1");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(hello->body, "hello name=a b x=1");
  auto head = Fetch(server.port(), "HEAD", "/hello");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  auto broken = Fetch(server.port(), "GET", "/broken");
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 500);
  EXPECT_EQ(broken->body.find("secret"), std::string::npos) << broken->body;
  auto odd = Fetch(server.port(), "GET", "/odd");  // not a std::exception: still a 500
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->status, 500);
  auto missing = Fetch(server.port(), "GET", "/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(XrpcService, Cors) {
  TestServer server;
  auto preflight = Fetch(server.port(), "OPTIONS", kCloneTarget, std::nullopt,
                         {{"Origin", "https://app.example"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "content-type,authorization"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->raw[boost::beast::http::field::access_control_allow_origin], "*");
  EXPECT_EQ(preflight->raw[boost::beast::http::field::access_control_allow_headers],
            "content-type,authorization");
  EXPECT_NE(preflight->raw[boost::beast::http::field::access_control_allow_methods].find("POST"),
            std::string::npos);
  auto simple = Fetch(server.port(), "GET", "/xrpc/_health", std::nullopt,
                      {{"Origin", "https://app.example"}});
  ASSERT_TRUE(simple);
  EXPECT_EQ(simple->raw[boost::beast::http::field::access_control_allow_origin], "*");
  auto no_origin = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(no_origin);
  EXPECT_EQ(no_origin->raw.count(boost::beast::http::field::access_control_allow_origin), 0u);
}

TEST(XrpcService, KeepAliveAndRequestIds) {
  TestServer server;
  Client client(server.port());
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto reply = client.Call("GET", "/xrpc/com.atiproto.repo.item.count");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    ids.insert(std::string(reply->raw["X-Request-Id"]));
  }
  EXPECT_EQ(ids.size(), 5u);
  auto mine = client.Call("GET", std::string(kParams) + "?name=a", std::nullopt,
                          {{"X-Request-Id", "trace-123"}});
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->raw["X-Request-Id"], "trace-123");
  EXPECT_EQ(Echo(*mine).at("requestId"), "trace-123");
  // Pipelined requests are answered in order on the same connection.
  ASSERT_TRUE(client.SendRaw(
      "GET /xrpc/com.atiproto.repo.item.count HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /xrpc/_health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = client.Read();
  auto second = client.Read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "{\"count\":3}");
  EXPECT_NE(second->body.find("version"), std::string::npos);
}

// The lines of an access log, as written.
std::vector<std::string> LogLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

TEST(XrpcService, AccessLogLines) {
  test_support::TempDir dir;
  const std::string path = dir.File("access.log");
  {
    auto options = TestServer::DefaultOptions();
    options.access_log = path;
    TestServer server(options, {}, [](xrpc::Router& router) {
      router.SetAuthHook([](const xrpc::AuthRequest&) -> xrpc::AuthResult {
        return xrpc::AuthContext{"did:plc:logged", {}};
      });
    });
    ASSERT_TRUE(Fetch(server.port(), "GET", std::string(kParams) + "?name=a", std::nullopt,
                      {{"Authorization", "Bearer x"}, {"X-Request-Id", "rid-1"}}));
    ASSERT_TRUE(PostJson(server.port(), kCloneTarget, "{}"));
  }
  std::vector<json::object> lines;
  for (const std::string& line : LogLines(path)) lines.push_back(json::parse(line).as_object());
  ASSERT_EQ(lines.size(), 2u);
  // A line is written once its reply has gone out, so the client may see the first reply, and
  // send the second request, before the first line is written: the order is not the calls'.
  if (lines[0].at("nsid") != "com.example.xrpc.params") std::swap(lines[0], lines[1]);
  EXPECT_EQ(lines[0].at("nsid"), "com.example.xrpc.params");
  EXPECT_EQ(lines[0].at("status"), 200);
  EXPECT_EQ(lines[0].at("did"), "did:plc:logged");
  EXPECT_EQ(lines[0].at("request_id"), "rid-1");
  EXPECT_TRUE(lines[0].contains("time"));
  EXPECT_TRUE(lines[0].at("duration_ms").is_double());
  EXPECT_EQ(lines[1].at("status"), 400);
  EXPECT_EQ(lines[1].at("error"), "InvalidRequest");
  EXPECT_FALSE(lines[1].contains("did"));
}

TEST(XrpcService, AccessLogLinesStayJsonWhateverThePathHolds) {
  test_support::TempDir dir;
  const std::string path = dir.File("access.log");
  {
    auto options = TestServer::DefaultOptions();
    options.access_log = path;
    TestServer server(options);
    // Bytes that are not UTF-8 in the target: the line must still be JSON (which is UTF-8).
    auto reply = Fetch(server.port(), "GET", "/\xff\xfe/x");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 404);
  }
  std::vector<std::string> lines = LogLines(path);
  ASSERT_EQ(lines.size(), 1u);
  json::error_code ec;
  json::value entry = json::parse(lines[0], ec);
  ASSERT_FALSE(ec) << lines[0];
  EXPECT_EQ(entry.at("path"), "/\xEF\xBF\xBD\xEF\xBF\xBD/x");
}

}  // namespace
}  // namespace atipay::testing
