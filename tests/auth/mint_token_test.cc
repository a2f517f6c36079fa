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

#include "auth/auth.h"
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
