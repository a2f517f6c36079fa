// The dev flow end to end: atipay-mint-token creates an identity and mints a token; the
// verifier, trusting the dev DID directory, accepts it. Also PLC registration on a fake PLC.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "auth/auth.h"
#include "auth/jwt.h"
#include "identity/identity.h"
#include "lex/cbor.h"
#include "lex/encoding.h"
#include "support/run_tool.h"
#include "support/temp_dir.h"
#include "test_http_server.h"

namespace atipay {
namespace {

namespace json = boost::json;

constexpr char kService[] = "did:web:localhost%3A8080";
constexpr char kNsid[] = "com.atiproto.cart.get";

using test_support::ToolRun;

// Runs the tool with `args` (already shell-quoted): its stdout without trailing newlines.
ToolRun Tool(const std::string& args) {
  ToolRun run = test_support::RunTool(ATIPAY_MINT_TOKEN, args);
  while (!run.out.empty() && run.out.back() == '\n') run.out.pop_back();
  return run;
}

class MintTokenTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return temp_.File(name); }

  test_support::TempDir temp_{"atipay-mint"};
  const std::filesystem::path dir_ = temp_.path();
};

TEST_F(MintTokenTest, HelpAndErrors) {
  ToolRun help = Tool("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("Usage"), std::string::npos);
  EXPECT_NE(help.out.find("--exp-seconds"), std::string::npos);
  EXPECT_NE(Tool("").status, 0);
  EXPECT_NE(Tool("frobnicate").status, 0);
  EXPECT_NE(Tool("mint --key-file " + Path("missing.key") + " --aud x --lxm a.b.c").status, 0);
  ASSERT_EQ(Tool("init --key-file " + Path("a.key")).status, 0);
  EXPECT_NE(Tool("init --key-file " + Path("a.key")).status, 0);  // no silent overwrite
  EXPECT_NE(Tool("mint --key-file " + Path("a.key") + " --aud " + kService).status, 0);
  EXPECT_NE(Tool("mint --key-file " + Path("a.key") + " --lxm " + kNsid).status, 0);
  EXPECT_NE(Tool("mint --key-file " + Path("a.key") + " --aud " + kService + " --lxm " + kNsid +
                 " --exp-seconds soon")
                .status,
            0);
}

// A mistyped option is refused, not dropped: `--exp 600` would otherwise mint a token for the
// default 60 s, and `--didir` write no DID document, both with exit 0.
TEST_F(MintTokenTest, UnknownOptionsAreRefused) {
  ASSERT_EQ(Tool("init --key-file " + Path("a.key")).status, 0);
  const std::string mint =
      "mint --key-file " + Path("a.key") + " --aud " + kService + " --lxm " + kNsid;
  EXPECT_EQ(Tool(mint + " --exp 600").status, 1);
  EXPECT_EQ(Tool(mint + " --exp=600").status, 1);
  EXPECT_EQ(Tool(mint + " --force").status, 1);  // init's, not mint's
  EXPECT_EQ(Tool("init --key-file " + Path("b.key") + " --didir " + Path("dids")).status, 1);
  EXPECT_FALSE(std::filesystem::exists(Path("b.key")));
  EXPECT_EQ(Tool("init --key-file " + Path("b.key") + " --jti x").status, 1);  // mint's
  EXPECT_EQ(Tool(mint + " --exp-seconds 600").status, 0);
  EXPECT_EQ(Tool("mint --help").status, 0);
}

// The lifetime is a whole number of seconds up to a year: past the int64 range, iat + lifetime
// wrapped to a negative exp, printed with exit 0.
TEST_F(MintTokenTest, ExpSecondsIsBounded) {
  ASSERT_EQ(Tool("init --key-file " + Path("a.key")).status, 0);
  const std::string mint = "mint --key-file " + Path("a.key") + " --aud " + kService + " --lxm " +
                           kNsid + " --exp-seconds ";
  for (const char* bad : {"9223372036854775807", "31536001", "0", "-5", "60s", "1e3", "' 60'"}) {
    SCOPED_TRACE(bad);
    ToolRun run = Tool(mint + bad);
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.out, "");
  }
  ToolRun year = Tool(mint + "31536000");
  ASSERT_EQ(year.status, 0);
  auto decoded = auth::DecodeJwt(year.out);
  ASSERT_TRUE(std::holds_alternative<auth::DecodedJwt>(decoded));
  json::object claims = json::parse(std::get<auth::DecodedJwt>(decoded).payload_json).as_object();
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 31536000);
}

// The key is written before anything that names it: a key file that cannot be written leaves
// no DID document (nor a DID registered on a PLC) whose private key nobody has.
TEST_F(MintTokenTest, AKeyThatCannotBeWrittenLeavesNoIdentityBehind) {
  test::TestHttpServer plc([](const std::string&) { return test::Reply{200, ""}; });
  ToolRun run = Tool("init --key-file " + Path("no-such-dir") + "/a.key --did-dir " + Path("dids") +
                     " --plc-url http://127.0.0.1:" + std::to_string(plc.port()));
  EXPECT_EQ(run.status, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "dids"));
  EXPECT_EQ(plc.last_request().method, "");  // nothing registered

  // A PLC that refuses: no key file, no temporary one, and --force keeps the old key.
  test::TestHttpServer refusing([](const std::string&) { return test::Reply{400, "{}"}; });
  ASSERT_EQ(Tool("init --key-file " + Path("k.key")).status, 0);
  std::ifstream before_in(Path("k.key"));
  std::stringstream before;
  before << before_in.rdbuf();
  EXPECT_EQ(Tool("init --force --key-file " + Path("k.key") +
                 " --plc-url http://127.0.0.1:" + std::to_string(refusing.port()))
                .status,
            1);
  std::ifstream after_in(Path("k.key"));
  std::stringstream after;
  after << after_in.rdbuf();
  EXPECT_EQ(after.str(), before.str());
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
  struct stat st {};
  ASSERT_EQ(::stat(Path("k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(MintTokenTest, DevIdentityTokenVerifies) {
  for (const char* curve : {"k256", "p256"}) {
    SCOPED_TRACE(curve);
    const std::string key = Path(std::string(curve) + ".key");
    ToolRun init = Tool("init --key-file " + key + " --did-dir " + Path("dids") + " --curve " +
                        curve + " --handle alice.test");
    ASSERT_EQ(init.status, 0);
    const std::string did = init.out;
    EXPECT_TRUE(identity::IsValidPlcDid(did)) << did;
    EXPECT_TRUE(std::filesystem::exists(dir_ / "dids" / (did + ".json")));
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600);

    ToolRun mint = Tool("mint --key-file " + key + " --aud " + kService + " --lxm " + kNsid);
    ASSERT_EQ(mint.status, 0);

    identity::IdentityOptions options;
    options.dev_did_dir = Path("dids");
    options.plc_url = "http://127.0.0.1:" + std::to_string(test::UnusedPort());
    auto resolver = identity::MakeIdentityResolver(options);
    ASSERT_TRUE(resolver.ok()) << resolver.error().message;
    auth::ServiceAuthVerifier verifier(auth::ServiceAuthOptions(kService), **resolver);
    auto r = verifier.Verify("Bearer " + mint.out, kNsid);
    ASSERT_TRUE(std::holds_alternative<auth::VerifiedCaller>(r))
        << std::get<xrpc::XrpcError>(r).name << ": " << std::get<xrpc::XrpcError>(r).message;
    EXPECT_EQ(std::get<auth::VerifiedCaller>(r).did, did);
    EXPECT_EQ(std::get<auth::VerifiedCaller>(r).handle, "alice.test");
    // The same token again is a replay; another method is refused.
    EXPECT_EQ(std::get<xrpc::XrpcError>(verifier.Verify("Bearer " + mint.out, kNsid)).name,
              "NonceNotUnique");
    ToolRun other = Tool("mint --key-file " + key + " --aud " + kService + " --lxm " + kNsid +
                         " --exp-seconds 3600");
    ASSERT_EQ(other.status, 0);
    EXPECT_EQ(std::get<xrpc::XrpcError>(verifier.Verify("Bearer " + other.out, kNsid)).name,
              "JwtTooOld");
  }
}

TEST_F(MintTokenTest, ExplicitDidWeb) {
  const std::string did = "did:web:localhost%3A9999";
  ToolRun init =
      Tool("init --key-file " + Path("w.key") + " --did-dir " + Path("dids") + " --did " + did);
  ASSERT_EQ(init.status, 0);
  EXPECT_EQ(init.out, did);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "dids" / (did + ".json")));
  EXPECT_NE(Tool("init --key-file " + Path("x.key") + " --did not-a-did").status, 0);
}

TEST_F(MintTokenTest, RegistersGenesisOperationOnPlc) {
  test::TestHttpServer plc([](const std::string&) { return test::Reply{200, ""}; });
  ToolRun init = Tool("init --key-file " + Path("p.key") + " --plc-url http://127.0.0.1:" +
                      std::to_string(plc.port()) + " --handle bob.test --pds https://pds.example");
  ASSERT_EQ(init.status, 0);
  const std::string did = init.out;
  test::TestHttpServer::Request posted = plc.last_request();
  EXPECT_EQ(posted.method, "POST");
  EXPECT_EQ(posted.target, "/" + did);
  json::object op = json::parse(posted.body).as_object();
  EXPECT_EQ(op.at("type").as_string(), "plc_operation");
  EXPECT_TRUE(op.at("prev").is_null());
  EXPECT_EQ(op.at("alsoKnownAs").as_array().at(0).as_string(), "at://bob.test");
  EXPECT_EQ(op.at("services").at("atproto_pds").at("endpoint").as_string(), "https://pds.example");
  // The DID is derived from the signed operation, and the signature covers the rest of it.
  std::string signed_cbor;
  ASSERT_TRUE(lex::EncodeDagCbor(op, signed_cbor));
  auth::Sha256Digest hash = auth::Sha256(signed_cbor);
  EXPECT_EQ(did, "did:plc:" + lex::EncodeBase32(
                                  std::string_view(reinterpret_cast<const char*>(hash.data()), 32))
                                  .substr(0, 24));
  auto sig = lex::DecodeBase64Url(op.at("sig").as_string());
  ASSERT_TRUE(sig);
  op.erase("sig");
  std::string unsigned_cbor;
  ASSERT_TRUE(lex::EncodeDagCbor(op, unsigned_cbor));
  auto rotation = auth::ParseDidKey(op.at("rotationKeys").as_array().at(0).as_string());
  ASSERT_TRUE(rotation);
  EXPECT_TRUE(rotation->Verify(unsigned_cbor, *sig));
  // A PLC that refuses the operation makes init fail; a non-loopback http URL is refused.
  test::TestHttpServer refusing([](const std::string&) { return test::Reply{400, "{}"}; });
  EXPECT_NE(Tool("init --key-file " + Path("q.key") +
                 " --plc-url http://127.0.0.1:" + std::to_string(refusing.port()))
                .status,
            0);
  EXPECT_NE(Tool("init --key-file " + Path("r.key") + " --plc-url http://plc.example.com").status,
            0);
}

}  // namespace
}  // namespace atipay
