// Service-auth verification cost with a cached key, whole and by stage.
// Budget: BM_VerifyEs256k (complete verification of an ES256K token) <= 50 us on one core.
//
//   BM_Decode        split + base64url of header, payload, signature
//   BM_Json          header and claims JSON -> typed values
//   BM_Checks        exp / iat / aud / lxm / jti rules
//   BM_Signature     SHA-256 of the signing input + secp256k1 verify (low-S enforced)
//   BM_KeyLookup     cached DID -> key lookup in the identity cache
//   BM_ReplayCache   jti insert into the replay cache
//   BM_VerifyEs256k  all of the above through ServiceAuthVerifier + IdentityResolver
#include <benchmark/benchmark.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "auth/replay_cache.h"
#include "identity/identity.h"

namespace {

using namespace atipay;

constexpr char kIss[] = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
constexpr char kService[] = "did:web:pay.example.com";
constexpr char kNsid[] = "com.atiproto.cart.get";

// Serves one fixed DID document without any network, so the cache is what is measured.
class FixedSource final : public identity::DidResolver {
 public:
  explicit FixedSource(const auth::PublicKey& key) {
    boost::json::object doc{{"id", kIss},
                            {"alsoKnownAs", boost::json::array{"at://alice.test"}},
                            {"verificationMethod", boost::json::array{boost::json::object{
                                                       {"id", std::string(kIss) + "#atproto"},
                                                       {"type", "Multikey"},
                                                       {"controller", kIss},
                                                       {"publicKeyMultibase", key.Multikey()}}}},
                            {"service", boost::json::array{boost::json::object{
                                            {"id", "#atproto_pds"},
                                            {"type", "AtprotoPersonalDataServer"},
                                            {"serviceEndpoint", "https://pds.example.com"}}}}};
    json_ = boost::json::serialize(doc);
  }
  identity::ResolveResult Resolve(std::string_view did) const override {
    auto doc = identity::ParseDidDocument(json_, did);
    if (!doc) return identity::ResolveError{identity::ResolveError::Kind::kBadDocument, ""};
    return std::move(doc).value();
  }

 private:
  std::string json_;
};

struct Fixture {
  Fixture()
      : key(*auth::PrivateKey::Generate(auth::Curve::kSecp256k1)),
        clock(auth::Clock::TimePoint(std::chrono::seconds(1'700'000'000))) {
    identity::CacheOptions cache;
    cache.background_refresh = false;
    resolver = std::make_unique<identity::IdentityResolver>(
        std::make_unique<FixedSource>(key.public_key()), cache, clock);
    token = Mint(0);
  }

  std::string Mint(int i) const {
    auth::ServiceJwtParams params(kIss, kService, kNsid);
    params.iat = clock.NowSeconds();
    params.exp = params.iat + 60;
    params.jti = auth::RandomJti() + std::to_string(i);
    return auth::CreateServiceJwt(key, params);
  }

  auth::PrivateKey key;
  auth::ManualClock clock;
  std::unique_ptr<identity::IdentityResolver> resolver;
  std::string token;
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_Decode(benchmark::State& state) {
  const std::string& token = F().token;
  for (auto _ : state) {
    auto decoded = auth::DecodeJwt(token);
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_Decode);

void BM_Json(benchmark::State& state) {
  auto decoded = std::get<auth::DecodedJwt>(auth::DecodeJwt(F().token));
  for (auto _ : state) {
    auto parsed = auth::ParseJwtJson(decoded.header_json, decoded.payload_json);
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_Json);

void BM_Checks(benchmark::State& state) {
  auto decoded = std::get<auth::DecodedJwt>(auth::DecodeJwt(F().token));
  auto parsed =
      std::get<auth::ParsedJwt>(auth::ParseJwtJson(decoded.header_json, decoded.payload_json));
  auth::ClaimRules rules{.service_did = kService,
                         .service_ids = {},
                         .lxm = kNsid,
                         .now = F().clock.NowSeconds(),
                         .clock_skew = 30,
                         .max_lifetime = 300};
  for (auto _ : state) {
    auto error = auth::CheckClaims(parsed, rules);
    benchmark::DoNotOptimize(error);
  }
}
BENCHMARK(BM_Checks);

void BM_Signature(benchmark::State& state) {
  auto decoded = std::get<auth::DecodedJwt>(auth::DecodeJwt(F().token));
  const auth::PublicKey& key = F().key.public_key();
  for (auto _ : state) {
    bool ok = key.VerifyDigest(auth::Sha256(decoded.signing_input), decoded.signature);
    if (!ok) state.SkipWithError("signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_Signature);

void BM_SignatureP256(benchmark::State& state) {
  auth::PrivateKey key = *auth::PrivateKey::Generate(auth::Curve::kP256);
  const std::string message = "header.payload";
  const std::string sig = key.Sign(message);
  for (auto _ : state) {
    bool ok = key.public_key().Verify(message, sig);
    if (!ok) state.SkipWithError("signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_SignatureP256);

void BM_KeyLookup(benchmark::State& state) {
  (void)F().resolver->ResolveKey(kIss, false);  // warm
  for (auto _ : state) {
    auto key = F().resolver->ResolveKey(kIss, false);
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_KeyLookup);

void BM_ReplayCache(benchmark::State& state) {
  auth::ReplayCache cache(200000);
  std::vector<std::string> jtis;
  for (int i = 0; i < 4096; ++i) jtis.push_back(auth::RandomJti());
  std::int64_t now = 1'700'000'000;
  std::size_t i = 0;
  for (auto _ : state) {
    // A new jti each time (the expiry moves on so old entries age out as in real traffic).
    bool fresh = cache.CheckAndInsert(kIss, jtis[i % jtis.size()], now + 60, now);
    benchmark::DoNotOptimize(fresh);
    if (++i % jtis.size() == 0) now += 120;
  }
}
BENCHMARK(BM_ReplayCache);

void BM_VerifyEs256k(benchmark::State& state) {
  // Tokens are single-use: mint a pool up front and start a fresh verifier (empty replay
  // cache) whenever the pool wraps around.
  static const std::vector<std::string> pool = [] {
    std::vector<std::string> tokens;
    for (int i = 0; i < 20000; ++i) tokens.push_back("Bearer " + F().Mint(i));
    return tokens;
  }();
  (void)F().resolver->ResolveKey(kIss, false);  // the key is cached, as in steady state
  auto make = [] {
    return std::make_unique<auth::ServiceAuthVerifier>(auth::ServiceAuthOptions(kService),
                                                       *F().resolver, F().clock);
  };
  auto verifier = make();
  std::size_t i = 0;
  for (auto _ : state) {
    if (i == pool.size()) {
      state.PauseTiming();
      verifier = make();
      i = 0;
      state.ResumeTiming();
    }
    auto result = verifier->Verify(pool[i++], kNsid);
    if (!std::holds_alternative<auth::VerifiedCaller>(result)) {
      state.SkipWithError(std::get<xrpc::XrpcError>(result).message.c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_VerifyEs256k);

}  // namespace
