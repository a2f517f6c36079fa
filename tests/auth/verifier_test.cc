// ServiceAuthVerifier against a fixed key table: valid tokens, and every broken or forged
// token getting its 401 name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "auth/auth.h"
#include "auth/replay_cache.h"
#include "lex/encoding.h"
#include "test_util.h"

namespace atipay::auth {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr char kAlice[] = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
constexpr char kBob[] = "did:web:bob.example.com";
constexpr char kService[] = "did:web:pay.example.com";
constexpr char kNsid[] = "com.atiproto.cart.get";

using Edit = std::function<void(json::object& header, json::object& payload)>;

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest()
      : clock_(Clock::TimePoint(std::chrono::seconds(kNow))),
        alice_(*PrivateKey::Generate(Curve::kSecp256k1)),
        bob_(*PrivateKey::Generate(Curve::kP256)),
        mallory_(*PrivateKey::Generate(Curve::kSecp256k1)) {
    keys_.Set(kAlice, alice_.public_key(), "https://pds.example.com");
    keys_.Set(kBob, bob_.public_key());
  }

  ServiceAuthVerifier& verifier() {
    if (!verifier_) verifier_ = std::make_unique<ServiceAuthVerifier>(options_, keys_, clock_);
    return *verifier_;
  }

  // A good token from `iss` signed by `key`, then `edit`ed.
  std::string Mint(const PrivateKey& key, const std::string& iss = kAlice, const Edit& edit = {}) {
    json::object header{{"typ", "JWT"}, {"alg", JwtAlg(key.curve())}};
    json::object payload{{"iat", kNow},      {"iss", iss},   {"aud", kService},
                         {"exp", kNow + 60}, {"lxm", kNsid}, {"jti", RandomJti()}};
    if (edit) edit(header, payload);
    return SignJwt(key, json::serialize(header), json::serialize(payload));
  }
  std::string Mint(const Edit& edit) { return Mint(alice_, kAlice, edit); }

  ServiceAuthVerifier::Result Check(const std::string& token, std::string_view nsid = kNsid) {
    return verifier().Verify("Bearer " + token, nsid);
  }

  // Replaces the signature part of a token.
  static std::string WithSignature(const std::string& token, const std::string& sig) {
    return token.substr(0, token.rfind('.') + 1) + lex::EncodeBase64Url(sig);
  }
  static std::string SignatureOf(const std::string& token) {
    return *lex::DecodeBase64Url(token.substr(token.rfind('.') + 1));
  }

  ServiceAuthOptions options_{kService};
  ManualClock clock_;
  StaticKeyResolver keys_;
  PrivateKey alice_, bob_, mallory_;
  std::unique_ptr<ServiceAuthVerifier> verifier_;
};

MATCHER_P(IsAuthError, name, "") {
  const auto* error = std::get_if<xrpc::XrpcError>(&arg);
  if (error == nullptr) {
    *result_listener << "verified as " << std::get<VerifiedCaller>(arg).did;
    return false;
  }
  *result_listener << error->status << " " << error->name << ": " << error->message;
  return error->status == 401 && error->name == name;
}

const VerifiedCaller* Ok(const ServiceAuthVerifier::Result& r) {
  if (const auto* e = std::get_if<xrpc::XrpcError>(&r)) {
    ADD_FAILURE() << e->status << " " << e->name << ": " << e->message;
    return nullptr;
  }
  return &std::get<VerifiedCaller>(r);
}

TEST_F(VerifierTest, AcceptsGoodEs256kToken) {
  auto r = Check(Mint(alice_));
  const VerifiedCaller* caller = Ok(r);
  ASSERT_NE(caller, nullptr);
  EXPECT_EQ(caller->did, kAlice);
  EXPECT_EQ(caller->lxm, kNsid);
  EXPECT_EQ(caller->alg, Curve::kSecp256k1);
  EXPECT_EQ(caller->exp, kNow + 60);
  EXPECT_EQ(caller->pds_endpoint, "https://pds.example.com");
  EXPECT_EQ(caller->jti.size(), 32u);
}

TEST_F(VerifierTest, AcceptsGoodEs256Token) {
  auto r = Check(Mint(bob_, kBob));
  const VerifiedCaller* caller = Ok(r);
  ASSERT_NE(caller, nullptr);
  EXPECT_EQ(caller->did, kBob);
  EXPECT_EQ(caller->alg, Curve::kP256);
}

TEST_F(VerifierTest, AcceptsTokenMintedByCreateServiceJwt) {
  ServiceJwtParams params(kAlice, kService, kNsid);
  params.iat = kNow;
  params.exp = kNow + 60;
  std::string token = CreateServiceJwt(alice_, params);
  EXPECT_NE(Ok(Check(token)), nullptr);
}

TEST_F(VerifierTest, AudienceWithFragmentAndIssWithFragment) {
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) { p["aud"] = std::string(kService) + "#atipay"; }))),
            nullptr);
  auto r = Check(Mint([](auto&, auto& p) { p["iss"] = std::string(kAlice) + "#atproto"; }));
  ASSERT_NE(Ok(r), nullptr);
  EXPECT_EQ(std::get<VerifiedCaller>(r).did, kAlice);
  EXPECT_EQ(std::get<VerifiedCaller>(r).iss, std::string(kAlice) + "#atproto");
}

TEST_F(VerifierTest, AudienceFragmentCanBeRestricted) {
  options_.service_ids = {"atipay"};
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) { p["aud"] = std::string(kService) + "#atipay"; }))),
            nullptr);
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["aud"] = std::string(kService) + "#other"; })),
              IsAuthError("BadJwtAudience"));
}

TEST_F(VerifierTest, WrongAudience) {
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["aud"] = "did:web:other.example.com"; })),
              IsAuthError("BadJwtAudience"));
  // A DID that merely starts with ours.
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["aud"] = std::string(kService) + ".evil"; })),
              IsAuthError("BadJwtAudience"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["aud"] = std::string(kService) + "#"; })),
              IsAuthError("BadJwtAudience"));
}

TEST_F(VerifierTest, MissingOrBadAuthorizationHeader) {
  EXPECT_THAT(verifier().Verify("", kNsid), IsAuthError("AuthenticationRequired"));
  EXPECT_THAT(verifier().Verify("Bearer", kNsid), IsAuthError("AuthenticationRequired"));
  EXPECT_THAT(verifier().Verify("Bearer   ", kNsid), IsAuthError("AuthenticationRequired"));
  EXPECT_THAT(verifier().Verify("Basic YWRtaW46cGFzcw==", kNsid),
              IsAuthError("AuthenticationRequired"));
  EXPECT_THAT(verifier().Verify("DPoP " + Mint(alice_), kNsid),
              IsAuthError("AuthenticationRequired"));
  // The scheme is case-insensitive.
  EXPECT_NE(Ok(verifier().Verify("bearer " + Mint(alice_), kNsid)), nullptr);
}

TEST_F(VerifierTest, TryVerifyDecidesWithATableResolver) {
  auto ok = verifier().TryVerify("Bearer " + Mint(alice_), kNsid);
  ASSERT_TRUE(ok.has_value());
  EXPECT_NE(Ok(*ok), nullptr);
  auto bad = verifier().TryVerify("Bearer " + Mint(mallory_), kNsid);
  // A failed signature would need a forced re-resolution, which may block.
  EXPECT_FALSE(bad.has_value());
  EXPECT_EQ(keys_.force_refresh_count(), 0);
  auto none = verifier().TryVerify("", kNsid);
  ASSERT_TRUE(none.has_value());
  EXPECT_THAT(*none, IsAuthError("AuthenticationRequired"));
}

TEST_F(VerifierTest, SignedByAnotherKey) {
  EXPECT_THAT(Check(Mint(mallory_)), IsAuthError("BadJwtSignature"));
  // The verifier asked once for a fresh key before giving up.
  EXPECT_EQ(keys_.force_refresh_count(), 1);
}

TEST_F(VerifierTest, HighSSignatureIsRejected) {
  std::string token = Mint(alice_);
  std::string high = test::FlipS(Curve::kSecp256k1, SignatureOf(token));
  EXPECT_THAT(Check(WithSignature(token, high)), IsAuthError("BadJwtSignature"));
  std::string p256 = Mint(bob_, kBob);
  std::string p256_high = test::FlipS(Curve::kP256, SignatureOf(p256));
  EXPECT_THAT(Check(WithSignature(p256, p256_high)), IsAuthError("BadJwtSignature"));
  // The originals are fine.
  EXPECT_NE(Ok(Check(token)), nullptr);
  EXPECT_NE(Ok(Check(p256)), nullptr);
}

TEST_F(VerifierTest, DerSignatureIsRejected) {
  std::string token = Mint(alice_);
  EXPECT_THAT(Check(WithSignature(token, test::CompactToDer(SignatureOf(token)))),
              IsAuthError("BadJwtSignature"));
  std::string p256 = Mint(bob_, kBob);
  EXPECT_THAT(Check(WithSignature(p256, test::CompactToDer(SignatureOf(p256)))),
              IsAuthError("BadJwtSignature"));
  // Rejected before any key lookup.
  EXPECT_EQ(keys_.force_refresh_count(), 0);
}

TEST_F(VerifierTest, UnsupportedAlgorithms) {
  for (const char* alg : {"none", "None", "HS256", "RS256", "PS256", "EdDSA", "ES384", ""}) {
    SCOPED_TRACE(alg);
    std::string token = Mint([&](auto& h, auto&) { h["alg"] = alg; });
    EXPECT_THAT(Check(token), IsAuthError("BadJwt"));
  }
  // alg:none in its usual shape, with an empty signature part.
  std::string none = lex::EncodeBase64Url(R"({"alg":"none","typ":"JWT"})") + "." +
                     lex::EncodeBase64Url(R"({"iss":"did:plc:aliceaaaaaaaaaaaaaaaaaaa"})") + ".";
  EXPECT_THAT(Check(none), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto& h, auto&) { h.erase("alg"); })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto& h, auto&) { h["alg"] = 256; })), IsAuthError("BadJwt"));
}

TEST_F(VerifierTest, AlgMustMatchTheKeyCurve) {
  // ES256 claimed, signed with the secp256k1 key.
  EXPECT_THAT(Check(Mint([](auto& h, auto&) { h["alg"] = "ES256"; })),
              IsAuthError("BadJwtSignature"));
}

TEST_F(VerifierTest, RefusedTokenTypes) {
  for (const char* typ : {"at+jwt", "refresh+jwt", "dpop+jwt", "JWE"}) {
    SCOPED_TRACE(typ);
    EXPECT_THAT(Check(Mint([&](auto& h, auto&) { h["typ"] = typ; })), IsAuthError("BadJwtType"));
  }
  EXPECT_NE(Ok(Check(Mint([](auto& h, auto&) { h.erase("typ"); }))), nullptr);
  EXPECT_NE(Ok(Check(Mint([](auto& h, auto&) { h["typ"] = "jwt"; }))), nullptr);
}

TEST_F(VerifierTest, KeyIds) {
  EXPECT_NE(Ok(Check(Mint([](auto& h, auto&) { h["kid"] = "#atproto"; }))), nullptr);
  EXPECT_NE(Ok(Check(Mint([](auto& h, auto&) { h["kid"] = std::string(kAlice) + "#atproto"; }))),
            nullptr);
  EXPECT_THAT(Check(Mint([](auto& h, auto&) { h["kid"] = "#atproto_label"; })),
              IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto& h, auto&) { h["crit"] = json::array{"b64"}; })),
              IsAuthError("BadJwt"));
}

TEST_F(VerifierTest, Expiry) {
  EXPECT_THAT(Check(Mint([](auto&, auto& p) {
                p["iat"] = kNow - 200;
                p["exp"] = kNow - 100;
              })),
              IsAuthError("JwtExpired"));
  // Within the clock skew (30 s by default) it still passes.
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) {
              p["iat"] = kNow - 70;
              p["exp"] = kNow - 10;
            }))),
            nullptr);
  // A token that was fine expires as the clock moves on.
  std::string token = Mint(alice_);
  clock_.Advance(std::chrono::seconds(91));
  EXPECT_THAT(Check(token), IsAuthError("JwtExpired"));
}

TEST_F(VerifierTest, NotYetValid) {
  EXPECT_THAT(Check(Mint([](auto&, auto& p) {
                p["iat"] = kNow + 120;
                p["exp"] = kNow + 180;
              })),
              IsAuthError("JwtNotYetValid"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["nbf"] = kNow + 120; })),
              IsAuthError("JwtNotYetValid"));
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) {
              p["iat"] = kNow + 20;
              p["nbf"] = kNow + 20;
            }))),
            nullptr);
}

TEST_F(VerifierTest, LongLivedTokens) {
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["exp"] = kNow + 3600; })),
              IsAuthError("JwtTooOld"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iat"] = kNow - 3600; })),
              IsAuthError("JwtTooOld"));
  options_.max_lifetime = std::chrono::hours(2);
  verifier_.reset();
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) { p["exp"] = kNow + 3600; }))), nullptr);
}

TEST_F(VerifierTest, LexiconMethod) {
  EXPECT_THAT(Check(Mint(alice_), "com.atiproto.cart.put"), IsAuthError("BadJwtLexiconMethod"));
  auto missing = Check(Mint([](auto&, auto& p) { p.erase("lxm"); }));
  EXPECT_THAT(missing, IsAuthError("BadJwtLexiconMethod"));
  EXPECT_NE(std::get<xrpc::XrpcError>(missing).message.find("missing"), std::string::npos);
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["lxm"] = "*"; })),
              IsAuthError("BadJwtLexiconMethod"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["lxm"] = 5; })), IsAuthError("BadJwt"));
}

TEST_F(VerifierTest, ReplayedJti) {
  std::string token = Mint(alice_);
  EXPECT_NE(Ok(Check(token)), nullptr);
  EXPECT_THAT(Check(token), IsAuthError("NonceNotUnique"));
  // Another token with a used jti is a replay too; the same jti from another issuer is not.
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) { p["jti"] = "fixed-jti"; }))), nullptr);
  EXPECT_THAT(Check(Mint([](auto&, auto& p) {
                p["jti"] = "fixed-jti";
                p["exp"] = kNow + 30;
              })),
              IsAuthError("NonceNotUnique"));
  EXPECT_NE(Ok(Check(Mint(bob_, kBob, [](auto&, auto& p) { p["jti"] = "fixed-jti"; }))), nullptr);
}

TEST_F(VerifierTest, ForgedTokenDoesNotBurnTheJti) {
  std::string forged = Mint(mallory_, kAlice, [](auto&, auto& p) { p["jti"] = "victim"; });
  EXPECT_THAT(Check(forged), IsAuthError("BadJwtSignature"));
  EXPECT_NE(Ok(Check(Mint([](auto&, auto& p) { p["jti"] = "victim"; }))), nullptr);
}

TEST_F(VerifierTest, MissingOrMistypedClaims) {
  for (const char* claim : {"iss", "aud", "exp", "iat", "jti"}) {
    SCOPED_TRACE(claim);
    EXPECT_THAT(Check(Mint([&](auto&, auto& p) { p.erase(claim); })), IsAuthError("BadJwt"));
  }
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["exp"] = "1700000060"; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["exp"] = 1700000060.5; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["exp"] = -1; })), IsAuthError("BadJwt"));
  // Absurd timestamps are refused rather than overflowing the skew arithmetic.
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["exp"] = INT64_MAX; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["exp"] = UINT64_MAX; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iat"] = INT64_MAX; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iat"] = nullptr; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["aud"] = json::array{kService}; })),
              IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["jti"] = ""; })), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["jti"] = std::string(300, 'j'); })),
              IsAuthError("BadJwt"));
}

TEST_F(VerifierTest, BadIssuer) {
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iss"] = "alice.example.com"; })),
              IsAuthError("BadJwtIss"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iss"] = "did:plc:"; })), IsAuthError("BadJwtIss"));
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iss"] = std::string(kAlice) + "#"; })),
              IsAuthError("BadJwtIss"));
  // A well-formed DID we cannot resolve.
  EXPECT_THAT(Check(Mint([](auto&, auto& p) { p["iss"] = "did:plc:unknownaaaaaaaaaaaaaaaaa"; })),
              IsAuthError("AuthenticationRequired"));
}

TEST_F(VerifierTest, StructurallyBrokenTokens) {
  std::string token = Mint(alice_);
  std::size_t first = token.find('.');
  std::size_t last = token.rfind('.');
  // Truncations.
  EXPECT_THAT(Check(token.substr(0, last)), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(token.substr(0, first)), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(token.substr(0, last + 1)), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(token.substr(0, token.size() - 2)),
              IsAuthError("BadJwtSignature"));  // 63 bytes
  EXPECT_THAT(Check(token.substr(0, first + 5) + token.substr(last)), IsAuthError("BadJwt"));
  // Extra parts, garbage and padding.
  EXPECT_THAT(Check(token + ".e30"), IsAuthError("BadJwt"));
  EXPECT_THAT(Check("!!!.???.###"), IsAuthError("BadJwt"));
  EXPECT_THAT(Check("a.b.c"), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(token + "=="), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(token.substr(0, first) + "+" + token.substr(first)), IsAuthError("BadJwt"));
  // Valid base64url that is not JSON, or not an object.
  EXPECT_THAT(Check(lex::EncodeBase64Url("not json") + token.substr(first)), IsAuthError("BadJwt"));
  EXPECT_THAT(Check(lex::EncodeBase64Url("[1,2]") + token.substr(first)), IsAuthError("BadJwt"));
  EXPECT_THAT(
      Check(token.substr(0, first + 1) + lex::EncodeBase64Url("\"s\"") + token.substr(last)),
      IsAuthError("BadJwt"));
  // Oversized pieces are refused before decoding.
  std::string huge_header = Mint([](auto& h, auto&) { h["x"] = std::string(2000, 'x'); });
  EXPECT_THAT(Check(huge_header), IsAuthError("BadJwt"));
  std::string huge_payload = Mint([](auto&, auto& p) { p["x"] = std::string(9000, 'x'); });
  EXPECT_THAT(Check(huge_payload), IsAuthError("BadJwt"));
  // Deeply nested JSON in a payload of acceptable size.
  std::string deep = "{\"a\":" + std::string(3000, '[');
  EXPECT_THAT(Check(token.substr(0, first + 1) + lex::EncodeBase64Url(deep) + token.substr(last)),
              IsAuthError("BadJwt"));
}

TEST_F(VerifierTest, RandomMutationsAreAlways401) {
  std::mt19937 rng(42);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
  const std::set<std::string> names = {"BadJwt",
                                       "BadJwtType",
                                       "BadJwtIss",
                                       "BadJwtAudience",
                                       "BadJwtLexiconMethod",
                                       "BadJwtSignature",
                                       "JwtExpired",
                                       "JwtNotYetValid",
                                       "JwtTooOld",
                                       "NonceNotUnique",
                                       "AuthenticationRequired"};
  for (int i = 0; i < 1500; ++i) {
    std::string token = Mint(alice_);
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      std::size_t pos = rng() % token.size();
      switch (rng() % 3) {
        case 0:
          token[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          token.erase(pos, 1);
          break;
        default:
          token.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
    }
    auto r = Check(token);
    if (const auto* error = std::get_if<xrpc::XrpcError>(&r)) {
      EXPECT_EQ(error->status, 401) << token;
      EXPECT_TRUE(names.contains(error->name)) << error->name;
    } else {
      // A mutation may leave the signed bytes intact (e.g. a char dropped then re-added); the
      // result must then be the honest caller.
      EXPECT_EQ(std::get<VerifiedCaller>(r).did, kAlice);
    }
  }
}

TEST_F(VerifierTest, ManyThreadsVerifyAndReplaysSucceedOnce) {
  constexpr int kThreads = 8;
  constexpr int kTokens = 400;
  std::vector<std::string> tokens;
  for (int i = 0; i < kTokens; ++i)
    tokens.push_back(Mint(i % 2 ? alice_ : bob_, i % 2 ? kAlice : kBob));
  verifier();
  std::atomic<int> ok{0}, replays{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread tries every token: each must succeed exactly once overall.
      for (int i = 0; i < kTokens; ++i) {
        auto r = Check(tokens[(i + t * 37) % kTokens]);
        if (std::holds_alternative<VerifiedCaller>(r))
          ++ok;
        else if (std::get<xrpc::XrpcError>(r).name == "NonceNotUnique")
          ++replays;
        else
          ++other;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kTokens);
  EXPECT_EQ(replays.load(), kTokens * (kThreads - 1));
  EXPECT_EQ(other.load(), 0);
}

TEST(ReplayCache, BoundedAndExpiring) {
  ReplayCache cache(32);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(cache.CheckAndInsert("did:plc:x", "jti" + std::to_string(i), 100 + i, 10));
  }
  EXPECT_LE(cache.size(), cache.capacity());
  EXPECT_GE(cache.capacity(), 32u);
  // The most recent (latest-expiring) ones are still remembered.
  EXPECT_FALSE(cache.CheckAndInsert("did:plc:x", "jti999", 1099, 10));
  // Expired entries are forgotten.
  ReplayCache small(16);
  EXPECT_TRUE(small.CheckAndInsert("did:plc:x", "a", 100, 50));
  EXPECT_FALSE(small.CheckAndInsert("did:plc:x", "a", 100, 99));
  EXPECT_TRUE(small.CheckAndInsert("did:plc:x", "a", 200, 101));
  EXPECT_TRUE(small.CheckAndInsert("did:plc:y", "a", 200, 101));
}

TEST(Jwt, StagesSplitAsDocumented) {
  PrivateKey key = *PrivateKey::Generate(Curve::kSecp256k1);
  std::string token = CreateServiceJwt(key, ServiceJwtParams(kAlice, kService, kNsid));
  auto decoded = DecodeJwt(token);
  ASSERT_TRUE(std::holds_alternative<DecodedJwt>(decoded));
  const DecodedJwt& d = std::get<DecodedJwt>(decoded);
  EXPECT_EQ(d.signing_input, token.substr(0, token.rfind('.')));
  EXPECT_EQ(d.signature.size(), 64u);
  EXPECT_NE(d.header_json.find("\"ES256K\""), std::string::npos);
  auto parsed = ParseJwtJson(d.header_json, d.payload_json);
  ASSERT_TRUE(std::holds_alternative<ParsedJwt>(parsed));
  const ParsedJwt& p = std::get<ParsedJwt>(parsed);
  EXPECT_EQ(p.claims.iss, kAlice);
  ASSERT_TRUE(p.claims.iat.has_value());
  EXPECT_EQ(p.claims.exp, *p.claims.iat + 60);
  EXPECT_EQ(p.header.typ, "JWT");
  EXPECT_TRUE(key.public_key().Verify(d.signing_input, d.signature));
}

}  // namespace
}  // namespace atipay::auth
