// atipay-agent, the CLI: direct mode (self-signed tokens, in-memory repo) and PDS mode (login,
// writes on the PDS, proxied calls), output and exit statuses.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "agent/test_server.h"
#include "auth/jwt.h"
#include "devid/devid.h"
#include "support/temp_dir.h"

namespace atipay::agent {
namespace {

namespace json = boost::json;
using test::HttpReply;
using test::HttpRequest;
using test::TestServer;

struct ToolRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() {
    devid::NewIdentityOptions options;
    options.handle = "alice.test";
    auto id = devid::NewIdentity(options);
    did_ = id->did;
    key_file_ = (dir_ / "alice.key").string();
    EXPECT_EQ(devid::WriteKeyFile(key_file_, *id), "");
  }

  ToolRun Tool(const std::string& args) {
    ToolRun run;
    const auto err = dir_ / "stderr";
    std::string command = std::string(ATIPAY_AGENT) + " " + args + " 2>" + err.string();
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
    int status = pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = ReadFile(err);
    return run;
  }

  test_support::TempDir temp_{"atipay-agent-cli"};
  const std::filesystem::path dir_ = temp_.path();
  std::string did_;
  std::string key_file_;
};

// The claims of the bearer token on a request (signature not checked here).
json::object Claims(const HttpRequest& r) {
  std::string auth = r.Header("authorization");
  if (!auth.starts_with("Bearer ")) return {};
  auto decoded = atipay::auth::DecodeJwt(auth.substr(7));
  if (!std::holds_alternative<atipay::auth::DecodedJwt>(decoded)) return {};
  return json::parse(std::get<atipay::auth::DecodedJwt>(decoded).payload_json).as_object();
}

HttpReply Json(const json::value& v, int status = 200) { return {status, json::serialize(v)}; }

// A payment service: item.create in one round; x.raise raises; x.missing is a 400; cart.get a
// query answering its params.
HttpReply Service(const HttpRequest& r, const std::string& did, std::vector<json::object>* claims) {
  claims->push_back(Claims(r));
  std::string path = r.target.substr(0, r.target.find('?'));
  if (path == "/xrpc/com.atiproto.payment.cart.get") {
    return Json(json::object{{"target", r.target}, {"method", r.method}});
  }
  if (path == "/xrpc/x.missing.thing") {
    return Json(json::object{{"error", "CartNotFound"}, {"message", "Cart not found: at://x"}},
                400);
  }
  json::object in = json::parse(r.body).as_object();
  if (path == "/xrpc/x.raise.thing") {
    return Json(json::object{
        {"workflow",
         json::object{{"intent", "no"},
                      {"actions", json::array{json::object{{"$type", "com.atiproto.actions#raise"},
                                                           {"message", "Cart is open"},
                                                           {"code", "CartOpen"}}}}}}});
  }
  if (!in.contains("workflow")) {
    json::object create{
        {"$type", "com.atiproto.actions#create"},
        {"repo", did},
        {"name", "item"},
        {"collection", "com.atiproto.item"},
        {"rkey", "3kaaaaaaaaaa2"},
        {"record", json::object{{"$type", "com.atiproto.item"}, {"amount", in.at("amount")}}}};
    return Json(json::object{
        {"workflow", json::object{{"intent", "one"}, {"actions", json::array{create}}}}});
  }
  return Json(
      json::object{{"itemUri", in.at("workflow").at("responses").at(0).at("result").at("uri")},
                   {"amount", in.at("amount")},
                   {"workflow", json::object{{"intent", "done"}, {"actions", json::array{}}}}});
}

TEST_F(CliTest, DirectProcedure) {
  std::mutex mu;
  std::vector<json::object> claims;
  TestServer server([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    return Service(r, did_, &claims);
  });
  const std::string base =
      "direct --url " + server.url() + " --key-file " + key_file_ + " --aud did:web:pay.example ";
  ToolRun run =
      Tool(base + "call com.atiproto.payment.item.create --input '{\"amount\":250}' --verbose");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(json::parse(run.out),
            (json::object{{"itemUri", "at://" + did_ + "/com.atiproto.item/3kaaaaaaaaaa2"},
                          {"amount", 250}}));
  EXPECT_NE(run.out.find("\n  \"amount\": 250"), std::string::npos) << run.out;  // pretty
  EXPECT_NE(run.err.find("round 1"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("createRecord at://" + did_), std::string::npos) << run.err;
  std::lock_guard lock(mu);
  ASSERT_EQ(claims.size(), 2u);
  for (const auto& c : claims) {
    EXPECT_EQ(c.at("iss").as_string(), did_);
    EXPECT_EQ(c.at("aud").as_string(), "did:web:pay.example");
    EXPECT_EQ(c.at("lxm").as_string(), "com.atiproto.payment.item.create");
  }
  EXPECT_NE(claims[0].at("jti"), claims[1].at("jti"));
}

TEST_F(CliTest, DirectQueryRaiseAndErrors) {
  std::mutex mu;
  std::vector<json::object> claims;
  TestServer server([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    return Service(r, did_, &claims);
  });
  const std::string base =
      "direct --url " + server.url() + " --key-file " + key_file_ + " --aud did:web:pay.example ";
  ToolRun query =
      Tool(base + "call com.atiproto.payment.cart.get --params uri=at://a/b/c tag=1 tag=2");
  ASSERT_EQ(query.status, 0) << query.err;
  EXPECT_EQ(json::parse(query.out).at("target").as_string(),
            "/xrpc/com.atiproto.payment.cart.get?uri=at%3A%2F%2Fa%2Fb%2Fc&tag=1&tag=2");
  EXPECT_EQ(json::parse(query.out).at("method").as_string(), "GET");
  // A .get NSID is a query even without params.
  EXPECT_EQ(
      json::parse(Tool(base + "call com.atiproto.payment.cart.get").out).at("method").as_string(),
      "GET");

  ToolRun raised = Tool(base + "call x.raise.thing --input '{}'");
  EXPECT_EQ(raised.status, 3);
  EXPECT_EQ(raised.err, "raised: CartOpen: Cart is open\n");
  EXPECT_EQ(raised.out, "");

  ToolRun missing = Tool(base + "call x.missing.thing");
  EXPECT_EQ(missing.status, 2);
  EXPECT_EQ(missing.err, "400 CartNotFound: Cart not found: at://x\n");

  EXPECT_EQ(Tool(base + "call x.raise.thing --input '[1]'").status, 1);
  EXPECT_EQ(Tool(base + "call 'not an nsid'").status, 1);
  EXPECT_EQ(Tool(base).status, 1);
  EXPECT_EQ(Tool(base + "call a.b.c --input '{}' --params a=1").status, 1);
  EXPECT_EQ(Tool(base + "call a.b.c --max-rounds 0").status, 1);
  EXPECT_EQ(Tool("direct --url " + server.url() + " call a.b.c").status, 1);
  EXPECT_EQ(Tool("--pds http://x call a.b.c").status, 1);
  EXPECT_EQ(Tool("call a.b.c --frobnicate").status, 1);
  ToolRun help = Tool("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("atipay-agent direct"), std::string::npos);
}

// Numbers are whole and bounded: "3x" was read as 3, and a --timeout-ms of 0, below 0, or past
// the steady clock's range (where now + timeout wraps) timed out every call at once.
TEST_F(CliTest, NumericOptionsAreCheckedWhole) {
  TestServer server([](const HttpRequest&) { return Json(json::object{{"ok", true}}); });
  const std::string base = "direct --url " + server.url() + " --key-file " + key_file_ +
                           " --aud did:web:pay.example call a.b.c --input '{}' ";
  for (const char* bad :
       {"--max-rounds 3x", "--max-rounds 0", "--max-rounds 1001", "--max-rounds 99999999999",
        "--timeout-ms 0", "--timeout-ms -1", "--timeout-ms 10000000000000", "--timeout-ms 5000ms",
        "--timeout-ms ''"}) {
    SCOPED_TRACE(bad);
    ToolRun run = Tool(base + bad);
    EXPECT_EQ(run.status, 1) << run.err;
    EXPECT_EQ(server.requests(), 0);
  }
  ToolRun ok = Tool(base + "--max-rounds 1000 --timeout-ms 86400000");
  EXPECT_EQ(ok.status, 0) << ok.err;
}

// A URL the HTTP client cannot use is a usage error (1), not an XRPC error (2) of no server.
TEST_F(CliTest, BadUrlsAreUsageErrors) {
  EXPECT_EQ(Tool("direct --url notaurl --key-file " + key_file_ +
                 " --aud did:web:pay.example call a.b.c --input '{}'")
                .status,
            1);
  EXPECT_EQ(Tool("direct --url ftp://127.0.0.1:1 --key-file " + key_file_ +
                 " --aud did:web:pay.example call a.b.c --input '{}'")
                .status,
            1);
  EXPECT_EQ(Tool("--pds notaurl --identifier alice.test --password pw --service "
                 "did:web:pay.example#payments call a.b.c --input '{}'")
                .status,
            1);
}

// A #raise without a code prints "raised: <message>", as RunResult::Describe, not "raised: : ".
TEST_F(CliTest, RaiseWithoutCode) {
  TestServer server([](const HttpRequest&) {
    return Json(json::object{
        {"workflow",
         json::object{{"intent", "no"},
                      {"actions", json::array{json::object{{"$type", "com.atiproto.actions#raise"},
                                                           {"message", "Nope"}}}}}}});
  });
  ToolRun run = Tool("direct --url " + server.url() + " --key-file " + key_file_ +
                     " --aud did:web:pay.example call a.b.c --input '{}'");
  EXPECT_EQ(run.status, 3);
  EXPECT_EQ(run.err, "raised: Nope\n");
}

TEST_F(CliTest, ThroughAPds) {
  std::mutex mu;
  std::vector<HttpRequest> seen;
  std::vector<json::object> claims;
  const std::string did = "did:plc:alicealicealicealicealic";
  TestServer pds([&](const HttpRequest& r) -> HttpReply {
    std::lock_guard lock(mu);
    seen.push_back(r);
    if (r.target == "/xrpc/com.atproto.server.createSession") {
      if (json::parse(r.body).at("password") != "pw") {
        return Json(json::object{{"error", "AuthenticationRequired"},
                                 {"message", "Invalid identifier or password"}},
                    401);
      }
      return Json(json::object{
          {"accessJwt", "acc"}, {"refreshJwt", "ref"}, {"handle", "alice.test"}, {"did", did}});
    }
    if (r.target == "/xrpc/com.atproto.repo.createRecord") {
      json::object in = json::parse(r.body).as_object();
      return Json(json::object{{"uri", "at://" + std::string(in.at("repo").as_string()) + "/" +
                                           std::string(in.at("collection").as_string()) + "/" +
                                           std::string(in.at("rkey").as_string())},
                               {"cid", "bafyreiabc"}});
    }
    if (r.Header("atproto-proxy") != "did:web:pay.example#payments" ||
        r.Header("authorization") != "Bearer acc") {
      return Json(json::object{{"error", "InvalidRequest"}, {"message", "No service configured"}},
                  400);
    }
    return Service(r, did, &claims);
  });
  const std::string base =
      "--pds " + pds.url() + " --identifier alice.test --service did:web:pay.example#payments ";
  ToolRun bad =
      Tool(base + "--password nope call com.atiproto.payment.item.create --input '{\"amount\":1}'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "401 AuthenticationRequired: Invalid identifier or password\n");

  ToolRun run =
      Tool(base + "--password pw call com.atiproto.payment.item.create --input '{\"amount\":7}'");
  ASSERT_EQ(run.status, 0) << run.err;
  // The same login from a file (its first line), which no process listing shows.
  const std::string password_file = (dir_ / "password").string();
  { std::ofstream(password_file) << "pw\nnot the password\n"; }
  ToolRun from_file = Tool(base + "--password-file " + password_file +
                           " call com.atiproto.payment.item.create --input '{\"amount\":7}'");
  EXPECT_EQ(from_file.status, 0) << from_file.err;
  EXPECT_EQ(from_file.out, run.out);
  EXPECT_EQ(Tool(base + "--password pw --password-file " + password_file + " call a.b.c").status,
            1);
  EXPECT_EQ(Tool(base + "--password-file " + (dir_ / "missing").string() + " call a.b.c").status,
            1);
  EXPECT_EQ(json::parse(run.out).at("itemUri").as_string(),
            "at://" + did + "/com.atiproto.item/3kaaaaaaaaaa2");
  std::lock_guard lock(mu);
  // failed login; login, call, createRecord, callback; the same again from the file
  ASSERT_EQ(seen.size(), 9u);
  EXPECT_EQ(seen[3].target, "/xrpc/com.atproto.repo.createRecord");
  EXPECT_EQ(seen[3].Header("authorization"), "Bearer acc");
  EXPECT_EQ(seen[3].Header("atproto-proxy"), "");
  EXPECT_EQ(json::parse(seen[4].body)
                .at("workflow")
                .at("responses")
                .at(0)
                .at("result")
                .at("cid")
                .as_string(),
            "bafyreiabc");
}

}  // namespace
}  // namespace atipay::agent
