// ServiceAuthVerifier against a fixed key table: valid tokens, and every broken or forged
// token getting its 401 name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "auth/auth.h"
#include "auth/flat_json.h"
#include "auth/replay_cache.h"
#include "lex/encoding.h"
#include "lex/formats.h"
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

// A lenient decoder ignores the unused low bits of a part's last character, so one token would
// have several spellings (the reference's header and payload decoding does): each part must be
// the one canonical spelling of its bytes.
TEST_F(VerifierTest, NonCanonicalBase64UrlIsRefused) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int mutated = 0;
  for (int n = 0; n < 8; ++n) {
    // Payloads of varied lengths, so that the header, payload and signature parts all end in a
    // character with unused bits in some token.
    const std::string token = Mint([&](auto&, auto& p) { p["pad"] = std::string(n, 'x'); });
    ASSERT_NE(Ok(Check(token)), nullptr);
    std::size_t start = 0;
    for (int part = 0; part < 3; ++part) {
      const std::size_t end = std::min(token.find('.', start), token.size());
      const std::size_t slack = (end - start) % 4 == 2 ? 0xf : (end - start) % 4 == 3 ? 0x3 : 0;
      if (slack != 0) {
        std::string bad = token;
        const std::size_t i = alphabet.find(bad[end - 1]);
        bad[end - 1] = alphabet[i | 1];  // same bytes for a lenient decoder
        SCOPED_TRACE(part);
        EXPECT_THAT(Check(bad), IsAuthError("BadJwt"));
        ++mutated;
      }
      start = end + 1;
    }
  }
  EXPECT_GE(mutated, 8);
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

using Outcome = ReplayCache::Outcome;

TEST(ReplayCache, RemembersUntilExpiryInclusive) {
  ReplayCache cache(1000, 360);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "a", 100, 50), Outcome::kFresh);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "a", 100, 99), Outcome::kReplay);
  // expires_at is the last second the token could still pass: still remembered then.
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "a", 100, 100), Outcome::kReplay);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "a", 200, 101), Outcome::kFresh);
  // The same jti from another issuer is another pair; so is an issuer/jti split elsewhere.
  EXPECT_EQ(cache.CheckAndInsert("did:plc:y", "a", 200, 101), Outcome::kFresh);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "", 200, 101), Outcome::kFresh);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:", "xa", 200, 101), Outcome::kFresh);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "a", 200, 150), Outcome::kReplay);
}

TEST(ReplayCache, FullRefusesInsteadOfForgetting) {
  ReplayCache cache(32, 360);
  ASSERT_EQ(cache.capacity(), 32u);
  std::vector<std::string> accepted;
  int full = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string jti = "jti" + std::to_string(i);
    Outcome o = cache.CheckAndInsert("did:plc:x", jti, 300, 10);
    if (o == Outcome::kFresh) accepted.push_back(jti);
    if (o == Outcome::kFull) ++full;
    ASSERT_TRUE(o == Outcome::kFresh || o == Outcome::kFull) << i;
  }
  EXPECT_LE(accepted.size(), 32u);
  EXPECT_EQ(accepted.size() + static_cast<std::size_t>(full), 1000u);
  EXPECT_EQ(cache.full_rejections(), static_cast<std::uint64_t>(full));
  EXPECT_EQ(cache.size(), accepted.size());
  // Nothing accepted was forgotten to make room: every one is still a replay, full or not.
  for (const std::string& jti : accepted) {
    EXPECT_EQ(cache.CheckAndInsert("did:plc:x", jti, 300, 200), Outcome::kReplay) << jti;
  }
  // Once they expire there is room again.
  for (const std::string& jti : accepted) {
    EXPECT_EQ(cache.CheckAndInsert("did:plc:x", jti, 500, 301), Outcome::kFresh) << jti;
  }
  EXPECT_EQ(cache.size(), accepted.size());
}

TEST(ReplayCache, RefusesWhatItCouldNotKeepLongEnough) {
  ReplayCache cache(1000, 360);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "a", 1000 + 360, 1000), Outcome::kFresh);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "b", 1000 + 100000, 1000), Outcome::kTooLate);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "b", 1000 + 100, 1000), Outcome::kFresh);
}

// Against an exact model: a pair is live while its expires_at >= the latest now seen. Steady
// high-rate traffic, random replays, clock steps forwards and back, short and long horizons.
void CheckAgainstModel(std::int64_t horizon, std::int64_t lifetime, std::uint32_t seed) {
  SCOPED_TRACE("horizon " + std::to_string(horizon));
  ReplayCache cache(1 << 20, horizon);
  std::mt19937_64 rng(seed);
  std::map<std::string, std::int64_t> model;  // jti -> expires_at
  std::vector<std::string> seen;
  std::int64_t now = 1'700'000'000, latest = now;
  for (int i = 0; i < 60000; ++i) {
    if (i % 50 == 0) now += 1;                             // 50 tokens a second
    if (rng() % 5000 == 0) now += rng() % (3 * lifetime);  // idle gaps
    if (rng() % 5000 == 0) now -= rng() % 20;              // the clock steps back a little
    latest = std::max(latest, now);
    std::string jti;
    if (!seen.empty() && rng() % 4 == 0) {
      jti = seen[rng() % seen.size()];  // a replay attempt, of any age
    } else {
      jti = std::to_string(rng());
      seen.push_back(jti);
    }
    const std::int64_t expires_at = now + static_cast<std::int64_t>(rng() % (lifetime + 1));
    auto it = model.find(jti);
    const bool live = it != model.end() && it->second >= latest;
    Outcome o = cache.CheckAndInsert("did:plc:x", jti, expires_at, now);
    if (live) {
      ASSERT_EQ(o, Outcome::kReplay) << "forgot a live jti at step " << i;
    } else if (o == Outcome::kExpired) {
      // Only after the clock stepped back, for what the latest time has passed.
      ASSERT_LT(expires_at, latest) << "step " << i;
      ASSERT_LT(now, latest) << "step " << i;
    } else if (o == Outcome::kReplay) {
      // Allowed only shortly after it expired (refusing a token seen before is safe): within a
      // (coarse) wheel slot, plus one second around the slot boundary. And when the clock has
      // stepped back, a shard nothing touched since has only been brought up to `now`, not to
      // `latest`, so its pairs that expired in between are still there (the cache keeps time
      // per shard); this is rare, as each shard sees about 3 tokens a second here, and depends
      // on shard placement, which the cache's random hash key decides.
      ASSERT_NE(it, model.end()) << "step " << i;
      ASSERT_LE(latest - it->second, (latest - now) + horizon / 4096 + 2) << "step " << i;
    } else {
      ASSERT_EQ(o, Outcome::kFresh) << "step " << i;
      model[jti] = expires_at;
    }
  }
  // Expiry kept up: only pairs live at `latest` (plus at most one slot's worth) remain.
  std::size_t live = 0;
  for (const auto& [jti, exp] : model) live += exp >= latest;
  EXPECT_GE(cache.size(), live);
  EXPECT_LE(cache.size(), live + static_cast<std::size_t>(50 * (horizon / 4096 + 2)));
}

TEST(ReplayCache, MatchesAnExactModel) {
  CheckAgainstModel(360, 360, 1);
  CheckAgainstModel(90, 90, 2);
  CheckAgainstModel(100000, 2000, 3);  // slots of 25 s
}

// The two tests below are single-threaded loads of a million-pair cache: ThreadSanitizer has
// nothing to find in them and runs them 30 times slower (31 s for the first), so a TSan build
// runs them at a tenth of the scale, where the same bounds hold; other builds at full scale.
#if defined(__SANITIZE_THREAD__)
constexpr int kReplayLoadDivisor = 10;
#else
constexpr int kReplayLoadDivisor = 1;
#endif

TEST(ReplayCache, SteadyHighRateStaysBoundedWithoutRefusals) {
  // 10,000 tokens/s kept 90 s (60 s tokens, 30 s skew) for 5 simulated minutes: ~900,000 live
  // pairs; a capacity sized for it never refuses and never grows past its bound.
  constexpr int kRate = 10'000 / kReplayLoadDivisor;
  ReplayCache cache(100 * kRate, 360);
  std::int64_t now = 1'700'000'000;
  std::size_t peak = 0;
  for (int second = 0; second < 300; ++second, ++now) {
    for (int i = 0; i < kRate; ++i) {
      std::string jti = std::to_string(second) + "." + std::to_string(i);
      ASSERT_EQ(cache.CheckAndInsert("did:plc:x", jti, now + 90, now), Outcome::kFresh);
    }
    peak = std::max(peak, cache.size());
  }
  EXPECT_EQ(cache.full_rejections(), 0u);
  EXPECT_LE(peak, static_cast<std::size_t>(kRate * 91));
  EXPECT_GE(peak, static_cast<std::size_t>(kRate * 90));
  // The last 90 s are all still remembered; older ones have gone.
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "299.0", now + 90, now), Outcome::kReplay);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "210." + std::to_string(kRate - 1), now + 90, now),
            Outcome::kReplay);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "100.0", now + 90, now), Outcome::kFresh);
}

TEST(ReplayCache, ReportsTheMemoryItHolds) {
  constexpr std::size_t kCapacity = 1'000'000 / kReplayLoadDivisor,
                        kPairs = 200'000 / kReplayLoadDivisor;
  ReplayCache plain(kCapacity, 360);
  ReplayCache bounded(kCapacity, 360, /*per_issuer=*/kPairs);
  const std::size_t idle = plain.memory_bytes();
  EXPECT_LT(idle, 300u * 1024) << "an idle cache takes under 300 KiB";
  const std::int64_t now = 1'700'000'000;
  for (std::size_t i = 0; i < kPairs; ++i) {
    const std::string jti = std::to_string(i);
    ASSERT_EQ(plain.CheckAndInsert("did:plc:x", jti, now + 90, now), Outcome::kFresh);
    ASSERT_EQ(bounded.CheckAndInsert("did:plc:x", jti, now + 90, now), Outcome::kFresh);
  }
  // Each pair: a table slot at load <= 1/2 (>= 16 bytes) and a wheel node (12), plus its
  // issuer hash (8) when issuers are bounded; never more than 52 bytes a pair of capacity.
  const std::size_t held = plain.memory_bytes();
  EXPECT_GE(held, idle + kPairs * (16 + 12));
  EXPECT_GE(bounded.memory_bytes(), held + kPairs * 8);
  EXPECT_LE(bounded.memory_bytes(), idle + kCapacity * 52);
}

TEST_F(VerifierTest, ClockSteppingBackDoesNotReopenAReplay) {
  std::string token = Mint(alice_);  // exp now + 60: remembered until now + 90
  EXPECT_NE(Ok(Check(token)), nullptr);
  // Time passes beyond exp + skew (the jti is forgotten), then the clock steps back to where
  // the token would pass the expiry check again: it must not be accepted a second time.
  clock_.Advance(std::chrono::seconds(100));
  for (int i = 0; i < 64; ++i) {  // traffic that moves every shard's clock on
    EXPECT_NE(Ok(Check(Mint([this](auto&, auto& p) {
                p["iat"] = clock_.NowSeconds();
                p["exp"] = clock_.NowSeconds() + 60;
              }))),
              nullptr);
  }
  clock_.Advance(std::chrono::seconds(-20));
  // Expired by the latest time seen (or, in a shard nothing moved on, still remembered).
  auto again = Check(token);
  ASSERT_TRUE(std::holds_alternative<xrpc::XrpcError>(again));
  EXPECT_THAT(std::get<xrpc::XrpcError>(again).name,
              ::testing::AnyOf("JwtExpired", "NonceNotUnique"));
  EXPECT_EQ(std::get<xrpc::XrpcError>(again).status, 401);
}

TEST_F(VerifierTest, FullReplayCacheRefusesWith503AndNeverAcceptsAReplay) {
  options_.replay_cache_size = 16;  // one pair per shard
  std::vector<std::string> accepted;
  int refused = 0;
  for (int i = 0; i < 64; ++i) {
    std::string token = Mint(alice_);
    auto r = Check(token);
    if (std::holds_alternative<VerifiedCaller>(r)) {
      accepted.push_back(token);
      continue;
    }
    const auto& error = std::get<xrpc::XrpcError>(r);
    EXPECT_EQ(error.status, 503);
    EXPECT_EQ(error.name, "NotEnoughResources");
    ++refused;
  }
  EXPECT_GT(refused, 0);
  EXPECT_LE(accepted.size(), 16u);
  // Full or not, an accepted token stays used.
  for (const std::string& token : accepted) {
    EXPECT_THAT(Check(token), IsAuthError("NonceNotUnique"));
  }
  // When the remembered tokens have expired (exp + skew), new tokens pass again.
  clock_.Advance(std::chrono::seconds(91));
  EXPECT_NE(Ok(verifier().Verify("Bearer " + Mint([this](auto&, auto& p) {
                                   p["iat"] = clock_.NowSeconds();
                                   p["exp"] = clock_.NowSeconds() + 60;
                                 }),
                                 kNsid)),
            nullptr);
}

TEST(ReplayCache, AnIssuerOverItsShareIsRefusedAlone) {
  ReplayCache cache(1000, 360, /*per_issuer=*/10);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(cache.CheckAndInsert("did:plc:x", "x" + std::to_string(i), 100, 10), Outcome::kFresh);
  }
  EXPECT_EQ(cache.IssuerCount("did:plc:x"), 10u);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "x10", 100, 10), Outcome::kIssuerFull);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "x11", 100, 11), Outcome::kIssuerFull);
  EXPECT_EQ(cache.issuer_rejections(), 2u);
  EXPECT_EQ(cache.full_rejections(), 0u);
  // Nothing was kept for the refused ones, and a replay is still named a replay.
  EXPECT_EQ(cache.size(), 10u);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "x3", 100, 12), Outcome::kReplay);
  // Other issuers are not held back by x.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(cache.CheckAndInsert("did:plc:y", "x" + std::to_string(i), 100, 12), Outcome::kFresh);
  }
  EXPECT_EQ(cache.IssuerCount("did:plc:y"), 10u);
  EXPECT_EQ(cache.IssuerCount("did:plc:z"), 0u);
  // Once x's tokens have expired, x has its share back (and its old jtis are forgotten).
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "x" + std::to_string(i), 300, 101), Outcome::kFresh);
  }
  EXPECT_EQ(cache.IssuerCount("did:plc:x"), 10u);
  EXPECT_EQ(cache.CheckAndInsert("did:plc:x", "x10", 300, 101), Outcome::kIssuerFull);
}

TEST(ReplayCache, IssuerCountsFollowExpiryUnderConcurrentChurn) {
  // Threads insert for 24 issuers with time moving on, so that expiry (which releases issuer
  // counts under a pair shard's lock) runs beside inserts (which take a pair shard's lock, then
  // an issuer's). A lock-order mistake deadlocks here; a lost release leaves a count behind.
  constexpr int kThreads = 4, kIssuers = 24, kPerThread = 30'000, kShare = 200;
  ReplayCache cache(1 << 16, 360, kShare);
  std::atomic<std::int64_t> clock{1'700'000'000};
  std::atomic<int> fresh{0}, issuer_full{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPerThread; ++i) {
        if (i % 500 == 0) clock.fetch_add(1);
        const std::int64_t now = clock.load();
        const std::string issuer = "did:plc:issuer" + std::to_string(rng() % kIssuers);
        const std::string jti = std::to_string(t) + "." + std::to_string(i);
        switch (cache.CheckAndInsert(issuer, jti, now + 5 + static_cast<int>(rng() % 20), now)) {
          case Outcome::kFresh: ++fresh; break;
          case Outcome::kIssuerFull: ++issuer_full; break;
          // A thread preempted while others moved the clock on may come back with a time its
          // shard has passed: refused as expired, which is right.
          case Outcome::kExpired: break;
          default: ++other; break;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(fresh.load(), 0);
  EXPECT_GT(issuer_full.load(), 0);  // ~7,500 live pairs were offered at a time: > 24 x 200
  EXPECT_EQ(cache.issuer_rejections(), static_cast<std::uint64_t>(issuer_full.load()));
  std::size_t counted = 0;
  for (int i = 0; i < kIssuers; ++i) {
    const std::size_t n = cache.IssuerCount("did:plc:issuer" + std::to_string(i));
    EXPECT_LE(n, static_cast<std::size_t>(kShare));
    counted += n;
  }
  EXPECT_EQ(counted, cache.size());
  // Far past every expiry, with traffic reaching every shard: everything is released.
  const std::int64_t later = clock.load() + 1000;
  for (int i = 0; i < 2000; ++i) {
    cache.CheckAndInsert("did:plc:late", "late" + std::to_string(i), later + 10, later);
  }
  EXPECT_EQ(cache.size(), cache.IssuerCount("did:plc:late"));
  for (int i = 0; i < kIssuers; ++i) {
    EXPECT_EQ(cache.IssuerCount("did:plc:issuer" + std::to_string(i)), 0u) << i;
  }
}

TEST_F(VerifierTest, OneIssuerOverItsShareGets429AndOthersPass) {
  options_.replay_per_issuer = 4;
  for (int i = 0; i < 4; ++i) ASSERT_NE(Ok(Check(Mint(alice_))), nullptr) << i;
  auto refused = Check(Mint(alice_));
  ASSERT_TRUE(std::holds_alternative<xrpc::XrpcError>(refused));
  EXPECT_EQ(std::get<xrpc::XrpcError>(refused).status, 429);
  EXPECT_EQ(std::get<xrpc::XrpcError>(refused).name, "RateLimitExceeded");
  EXPECT_NE(Ok(Check(Mint(bob_, kBob))), nullptr);
  // When alice's tokens have expired (exp + skew), she has her share back.
  clock_.Advance(std::chrono::seconds(91));
  EXPECT_NE(Ok(Check(Mint([this](auto&, auto& p) {
              p["iat"] = clock_.NowSeconds();
              p["exp"] = clock_.NowSeconds() + 60;
            }))),
            nullptr);
}

// ---- ParseJwtJson's own JSON reader, checked against boost::json ----

// The boost::json DOM version of ParseJwtJson that flat_json replaced, kept as the oracle.
std::optional<std::int64_t> OraclePositiveInt(const json::value& v) {
  if (v.is_int64() && v.get_int64() > 0 && v.get_int64() <= (std::int64_t{1} << 53)) {
    return v.get_int64();
  }
  return std::nullopt;
}

std::variant<ParsedJwt, xrpc::XrpcError> OracleParseJwtJson(std::string_view header_json,
                                                            std::string_view payload_json) {
  auto bad = [](std::string m) { return AuthError(kBadJwt, std::move(m)); };
  ParsedJwt out;
  json::error_code ec;
  json::value h = json::parse(header_json, ec);
  if (ec || !h.is_object()) return bad("jwt header is not a JSON object");
  const json::object& header = h.get_object();
  const json::value* alg = header.if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return bad("jwt header has no alg");
  std::optional<Curve> curve = CurveFromJwtAlg(alg->get_string());
  if (!curve) {
    return bad("unsupported jwt alg \"" +
               std::string(std::string_view(alg->get_string()).substr(0, 32)) + "\"");
  }
  out.header.alg = *curve;
  if (const json::value* typ = header.if_contains("typ")) {
    if (!typ->is_string()) return bad("jwt typ is not a string");
    out.header.typ = typ->get_string();
    std::string lower = out.header.typ;
    for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != "jwt") {
      return AuthError(kBadJwtType, "Invalid jwt type \"" + out.header.typ.substr(0, 32) + "\"");
    }
  }
  if (const json::value* kid = header.if_contains("kid")) {
    if (!kid->is_string()) return bad("jwt kid is not a string");
    out.header.kid = kid->get_string();
  }
  if (header.contains("crit")) return bad("unsupported jwt crit header");
  json::value p = json::parse(payload_json, ec);
  if (ec || !p.is_object()) return bad("jwt payload is not a JSON object");
  const json::object& claims = p.get_object();
  const json::value* iss = claims.if_contains("iss");
  const json::value* aud = claims.if_contains("aud");
  const json::value* exp = claims.if_contains("exp");
  if (iss == nullptr || !iss->is_string() || aud == nullptr || !aud->is_string() ||
      exp == nullptr) {
    return bad("poorly formatted jwt");
  }
  std::optional<std::int64_t> exp_value = OraclePositiveInt(*exp);
  if (!exp_value) return bad("jwt exp is not a positive integer");
  out.claims.exp = *exp_value;
  for (auto [name, slot] : {std::pair{"iat", &out.claims.iat}, std::pair{"nbf", &out.claims.nbf}}) {
    if (const json::value* v = claims.if_contains(name)) {
      *slot = OraclePositiveInt(*v);
      if (!*slot) return bad(std::string("jwt ") + name + " is not a positive integer");
    }
  }
  for (auto [name, slot] : {std::pair{"lxm", &out.claims.lxm}, std::pair{"jti", &out.claims.jti}}) {
    if (const json::value* v = claims.if_contains(name)) {
      if (!v->is_string()) return bad(std::string("jwt ") + name + " is not a string");
      *slot = std::string(v->get_string());
    }
  }
  out.claims.iss = iss->get_string();
  out.claims.aud = aud->get_string();
  if (!lex::IsValidDid(IssuerDid(out.claims.iss))) {
    // (The fragment rules are shared code; only the verdict's name matters here.)
    return AuthError(kBadJwtIss, "jwt iss is not a valid DID");
  }
  return out;
}

// A random JSON object: values of every kind, escapes, non-ASCII text, numbers of every shape.
std::string RandomJson(std::mt19937& rng, int depth) {
  static const char* const kStrings[] = {"\"JWT\"",
                                         "\"ES256K\"",
                                         "\"ES256\"",
                                         "\"did:plc:aliceaaaaaaaaaaaaaaaaaaa\"",
                                         "\"\"",
                                         "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
                                         "\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"",
                                         "\"h\xc3\xa9llo \xf0\x9f\x98\x80 \xe2\x82\xac\"",
                                         "\"\\u0000\"",
                                         "\"\x7f\"",
                                         "\"com.atiproto.cart.get\"",
                                         "\"#atproto\""};
  static const char* const kNumbers[] = {"0",
                                         "-0",
                                         "1",
                                         "1700000060",
                                         "9007199254740992",
                                         "9007199254740993",
                                         "-5",
                                         "1.5",
                                         "1e3",
                                         "1E+2",
                                         "2.5e-3",
                                         "18446744073709551616",
                                         "1e999",
                                         "0.0",
                                         "1e2147483647",
                                         "1e2147483648",
                                         "1e-2147483648",
                                         "12345678901234567890123e2147483630",
                                         "0.12345678901234567890e-2147483630",
                                         "-9223372036854775809e2147483640"};
  static const char* const kKeys[] = {"alg", "typ", "kid", "crit",      "iss",
                                      "aud", "exp", "iat", "nbf",       "lxm",
                                      "jti", "x",   "",    "\\u0069ss", "ex\\u0070"};
  switch (depth == 0 ? 5 : rng() % (depth > 3 ? 4 : 6)) {  // an object at the top
    case 0:
      return kStrings[rng() % std::size(kStrings)];
    case 1:
      return kNumbers[rng() % std::size(kNumbers)];
    case 2:
      return std::vector<std::string>{"true", "false", "null"}[rng() % 3];
    case 3:
      return kStrings[rng() % std::size(kStrings)];
    case 4: {
      std::string out = "[";
      for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i) {
        out += (i ? "," : "") + RandomJson(rng, depth + 1);
      }
      return out + "]";
    }
    default: {
      std::string out = "{";
      for (int i = 0, n = static_cast<int>(rng() % 5); i < n; ++i) {
        out += std::string(i ? ", " : "") + "\"" + kKeys[rng() % std::size(kKeys)] +
               "\" : " + RandomJson(rng, depth + 1);
      }
      return out + "}";
    }
  }
}

std::string Mutate(std::string text, std::mt19937& rng) {
  static const std::string kBytes =
      std::string("{}[]:,\"\\/ \t\n\r0123456789.-+eEuabfnrtx") +
      "\x00\x01\x1f\x7f\x80\xbf\xc0\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff" + std::string(1, '\0');
  for (int e = 0, edits = 1 + static_cast<int>(rng() % 3); e < edits && !text.empty(); ++e) {
    std::size_t pos = rng() % text.size();
    char c = kBytes[rng() % kBytes.size()];
    switch (rng() % 3) {
      case 0:
        text[pos] = c;
        break;
      case 1:
        text.erase(pos, 1);
        break;
      default:
        text.insert(pos, 1, c);
        break;
    }
  }
  return text;
}

std::string Describe(const std::variant<ParsedJwt, xrpc::XrpcError>& r) {
  if (const auto* e = std::get_if<xrpc::XrpcError>(&r)) return e->name + ": " + e->message;
  const ParsedJwt& p = std::get<ParsedJwt>(r);
  auto opt = [](const auto& o) {
    if (!o) return std::string("-");
    std::ostringstream s;
    s << *o;
    return s.str();
  };
  return "alg=" + std::string(JwtAlg(p.header.alg)) + " typ=" + p.header.typ +
         " kid=" + p.header.kid + " iss=" + p.claims.iss + " aud=" + p.claims.aud +
         " lxm=" + opt(p.claims.lxm) + " jti=" + opt(p.claims.jti) +
         " exp=" + std::to_string(p.claims.exp) + " iat=" + opt(p.claims.iat) +
         " nbf=" + opt(p.claims.nbf);
}

TEST(FlatJson, AcceptsExactlyWhatBoostAccepts) {
  std::mt19937 rng(7);
  std::vector<std::string> seeds = {
      R"({"typ":"JWT","alg":"ES256K"})",
      R"({"iat":1700000000,"iss":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","aud":"did:web:pay.example.com","exp":1700000060,"lxm":"com.atiproto.cart.get","jti":"0123456789abcdef"})",
      " {\"a\" : [1, -2.5e+3, {\"b\": null, \"c\": [true, false]}], \"d\": "
      "\"\\ud83d\\ude00\\u00e9\"}\n",
      "{\"k\xc3\xa9y\":\"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"}",
      "{\"a\":" + std::string(31, '[') + std::string(31, ']') + "}",
      "{\"a\":" + std::string(32, '[') + std::string(32, ']') + "}",
      "{}",
      "[]",
      "\"s\"",
      "1",
      "",
  };
  for (int i = 0; i < 3000; ++i) seeds.push_back(RandomJson(rng, 0));
  int accepted = 0, total = 0;
  for (const std::string& seed : seeds) {
    for (int m = 0; m < 8; ++m) {
      const std::string text = m == 0 ? seed : Mutate(seed, rng);
      json::error_code ec;
      json::value doc = json::parse(text, ec);
      const bool boost_ok = !ec && doc.is_object();
      flat_json::Wanted wanted[] = {{"alg", {}}, {"iss", {}}, {"exp", {}},
                                    {"x", {}},   {"", {}},    {"a", {}}};
      const bool ours = flat_json::ParseObject(text, wanted);
      ++total;
      ASSERT_EQ(ours, boost_ok) << json::serialize(json::string(text))
                                << " boost: " << ec.message();
      if (!ours) continue;
      ++accepted;
      for (const flat_json::Wanted& w : wanted) {
        const json::value* v = doc.get_object().if_contains(w.name);
        ASSERT_EQ(v != nullptr, w.value.has_value()) << w.name << " in " << text;
        if (v == nullptr) continue;
        using Kind = flat_json::Value::Kind;
        ASSERT_EQ(v->is_string(), w.value->kind == Kind::kString) << w.name << " in " << text;
        ASSERT_EQ(v->is_number(), w.value->kind == Kind::kNumber) << w.name << " in " << text;
        if (v->is_string()) {
          EXPECT_EQ(flat_json::DecodeString(*w.value), std::string_view(v->get_string()))
              << w.name << " in " << text;
        }
        EXPECT_EQ(flat_json::PositiveInteger(*w.value), OraclePositiveInt(*v))
            << w.name << " in " << text;
      }
    }
  }
  // Both sides of the line were exercised.
  EXPECT_GT(accepted, total / 10);
  EXPECT_LT(accepted, total * 9 / 10);
}

TEST(FlatJson, ParseJwtJsonAgreesWithTheDomVersion) {
  std::mt19937 rng(11);
  const std::string header = R"({"typ":"JWT","alg":"ES256K","kid":"#atproto"})";
  const std::string payload =
      R"({"iat":1700000000,"iss":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","aud":"did:web:pay.example.com#atipay","exp":1700000060,"nbf":1700000000,"lxm":"com.atiproto.cart.get","jti":"0123456789abcdef"})";
  std::vector<std::pair<std::string, std::string>> cases = {
      {header, payload},
      {R"({"alg":"ES256","typ":"jwt"})", R"({"iss":"did:web:a.com","aud":"x","exp":5})"},
      {R"({"alg":"ES256K","alg":"none"})", payload},
      {R"({"alg":"none","alg":"ES256K"})", payload},
      {R"({"alg":"ES256K","typ":"at+jwt"})", payload},
      {R"({"alg":"ES256K","crit":null})", payload},
      {R"({"\u0061lg":"ES\u0032\u0035\u0036K","typ":"\u004aWT"})",
       R"({"iss":"did:plc:aliceaaaaaaaaaaaaaaaaaaa","\u0061ud":"b","exp":1,"exp":2,"jti":"\ud83d\ude00"})"},
  };
  for (int i = 0; i < 4000; ++i) {
    cases.emplace_back(rng() % 3 == 0 ? Mutate(header, rng) : header,
                       rng() % 3 == 0 ? payload : Mutate(payload, rng));
  }
  for (const auto& [h, p] : cases) {
    ASSERT_EQ(Describe(ParseJwtJson(h, p)), Describe(OracleParseJwtJson(h, p)))
        << json::serialize(json::string(h)) << " " << json::serialize(json::string(p));
  }
}

TEST(Jwt, DecodeIsStrictBase64Url) {
  // Every length and tail, and bytes from all over the alphabet and outside it, against the
  // reference decoder in lex.
  std::mt19937 rng(5);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .\n\x80";
  for (int i = 0; i < 20000; ++i) {
    std::string part;
    for (std::size_t n = rng() % 14; n > 0; --n) {
      part += rng() % 10 == 0 ? alphabet[rng() % alphabet.size()] : alphabet[rng() % 64];
    }
    const std::string token = "e30." + part + ".e30";
    auto decoded = DecodeJwt(token);
    std::optional<std::string> expected = lex::DecodeBase64Url(part);
    if (!expected || part.empty()) {
      EXPECT_TRUE(std::holds_alternative<xrpc::XrpcError>(decoded)) << part;
    } else {
      ASSERT_TRUE(std::holds_alternative<DecodedJwt>(decoded)) << part;
      EXPECT_EQ(std::get<DecodedJwt>(decoded).payload_json, *expected) << part;
      EXPECT_EQ(std::get<DecodedJwt>(decoded).header_json, "{}");
    }
  }
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
