// Service-auth verification cost with a cached key, whole and by stage.
// Budget: BM_VerifyEs256k (complete verification of an ES256K token) <= 50 us on one core.
//
// Every stage runs over the same pool of distinct, pre-signed tokens (unique jti each), in the
// order the full verification sees them: timing one token over and over lets the branch
// predictor and the caches learn secp256k1's data-dependent walk, which understates the real
// cost by several microseconds (BM_Secp256k1SameToken shows the effect). Signing happens once,
// before anything is timed.
//
//   BM_Decode              split + base64url of header, payload, signature
//   BM_Json                header and claims JSON -> typed values
//   BM_Checks              exp / iat / aud / lxm / jti rules
//   BM_Sha256              SHA-256 of the signing input
//   BM_Secp256k1           secp256k1 verify of a precomputed digest (low-S enforced)
//   BM_KeyLookup           cached DID -> key lookup in the identity cache
//   BM_ReplayCache         jti check-and-insert into a replay cache at steady state
//                          (10,000 tokens/s from 1,000 issuers, 90 s retention: ~900,000
//                          entries; the default bound per issuer)
//   BM_VerifyEs256k        all of the above through ServiceAuthVerifier + IdentityResolver
//   BM_Secp256k1SameToken  reference only: BM_Secp256k1 on one token, the old way
//   BM_SignatureP256       reference only: ES256 verify
//
// Each row also reports `insns`, user-space instructions per iteration (Linux perf counters,
// when the kernel allows them): unlike the times, it does not move with the machine's load.
//
// Run pinned and quiet:
//   taskset -c 1 build/tools/bench/bench_auth --benchmark_min_time=2
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#if defined(__linux__)
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstring>
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
constexpr std::int64_t kNow = 1'700'000'000;
// Distinct tokens: more than one timed run of BM_VerifyEs256k uses at ~45 us per token and
// --benchmark_min_time=2, so the pool rarely wraps (when it does, a fresh verifier is made
// with the timer paused).
constexpr std::size_t kPoolSize = std::size_t{1} << 16;

// Counts this thread's user-space instructions from construction to Report(), which adds the
// per-iteration average to the row. Does nothing where perf counters are unavailable.
class Instructions {
 public:
  Instructions() {
#if defined(__linux__)
    perf_event_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof(attr);
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
#endif
  }
  Instructions(const Instructions&) = delete;
  Instructions& operator=(const Instructions&) = delete;
  ~Instructions() {
#if defined(__linux__)
    if (fd_ >= 0) close(fd_);
#endif
  }

  void Report(benchmark::State& state) {
#if defined(__linux__)
    std::uint64_t count = 0;
    if (fd_ >= 0 && read(fd_, &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count))) {
      state.counters["insns"] =
          benchmark::Counter(static_cast<double>(count), benchmark::Counter::kAvgIterations);
    }
#else
    (void)state;
#endif
  }

 private:
  int fd_ = -1;
};

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
        clock(auth::Clock::TimePoint(std::chrono::seconds(kNow))) {
    identity::CacheOptions cache;
    cache.background_refresh = false;
    resolver = std::make_unique<identity::IdentityResolver>(
        std::make_unique<FixedSource>(key.public_key()), cache, clock);
    (void)resolver->ResolveKey(kIss, false);  // the key is cached, as in steady state
    // All signing happens here, before any timing. Tokens are laid out one after another in
    // memory, as a stream of requests would be.
    tokens.reserve(kPoolSize);
    for (std::size_t i = 0; i < kPoolSize; ++i) {
      auth::ServiceJwtParams params(kIss, kService, kNsid);
      params.iat = kNow;
      params.exp = kNow + 60;
      params.jti = auth::RandomJti();  // 16 random bytes: unique
      tokens.push_back("Bearer " + auth::CreateServiceJwt(key, params));
    }
  }

  // The Authorization header value, and the token in it.
  const std::string& Header(std::size_t i) const { return tokens[i % kPoolSize]; }
  std::string_view Token(std::size_t i) const {
    return std::string_view(Header(i)).substr(std::string_view("Bearer ").size());
  }

  auth::PrivateKey key;
  auth::ManualClock clock;
  std::unique_ptr<identity::IdentityResolver> resolver;
  std::vector<std::string> tokens;  // "Bearer <jwt>"
};

Fixture& F() {
  static Fixture f;
  return f;
}

// The pool, decoded / parsed ahead, for the stages that start later in the pipeline.
const std::vector<auth::DecodedJwt>& Decoded() {
  static const std::vector<auth::DecodedJwt> decoded = [] {
    std::vector<auth::DecodedJwt> out;
    for (std::size_t i = 0; i < kPoolSize; ++i) {
      out.push_back(std::get<auth::DecodedJwt>(auth::DecodeJwt(F().Token(i))));
    }
    return out;
  }();
  return decoded;
}

const std::vector<auth::ParsedJwt>& Parsed() {
  static const std::vector<auth::ParsedJwt> parsed = [] {
    std::vector<auth::ParsedJwt> out;
    for (const auth::DecodedJwt& d : Decoded()) {
      out.push_back(std::get<auth::ParsedJwt>(auth::ParseJwtJson(d.header_json, d.payload_json)));
    }
    return out;
  }();
  return parsed;
}

void BM_Decode(benchmark::State& state) {
  const Fixture& f = F();
  std::size_t i = 0;
  Instructions insns;
  for (auto _ : state) {
    auto decoded = auth::DecodeJwt(f.Token(i++));
    benchmark::DoNotOptimize(decoded);
  }
  insns.Report(state);
}
BENCHMARK(BM_Decode);

void BM_Json(benchmark::State& state) {
  const auto& decoded = Decoded();
  std::size_t i = 0;
  Instructions insns;
  for (auto _ : state) {
    const auth::DecodedJwt& d = decoded[i++ % kPoolSize];
    auto parsed = auth::ParseJwtJson(d.header_json, d.payload_json);
    benchmark::DoNotOptimize(parsed);
  }
  insns.Report(state);
}
BENCHMARK(BM_Json);

void BM_Checks(benchmark::State& state) {
  const auto& parsed = Parsed();
  auth::ClaimRules rules{.service_did = kService,
                         .service_ids = {},
                         .lxm = kNsid,
                         .now = kNow,
                         .clock_skew = 30,
                         .max_lifetime = 300};
  std::size_t i = 0;
  Instructions insns;
  for (auto _ : state) {
    auto error = auth::CheckClaims(parsed[i++ % kPoolSize], rules);
    if (error) state.SkipWithError(error->message.c_str());
    benchmark::DoNotOptimize(error);
  }
  insns.Report(state);
}
BENCHMARK(BM_Checks);

void BM_Sha256(benchmark::State& state) {
  const auto& decoded = Decoded();
  std::size_t i = 0;
  Instructions insns;
  for (auto _ : state) {
    auth::Sha256Digest digest = auth::Sha256(decoded[i++ % kPoolSize].signing_input);
    benchmark::DoNotOptimize(digest);
  }
  insns.Report(state);
}
BENCHMARK(BM_Sha256);

void BM_Secp256k1(benchmark::State& state) {
  const auto& decoded = Decoded();
  std::vector<auth::Sha256Digest> digests;
  for (const auth::DecodedJwt& d : decoded) digests.push_back(auth::Sha256(d.signing_input));
  const auth::PublicKey& key = F().key.public_key();
  std::size_t i = 0;
  Instructions insns;
  for (auto _ : state) {
    std::size_t n = i++ % kPoolSize;
    bool ok = key.VerifyDigest(digests[n], decoded[n].signature);
    if (!ok) state.SkipWithError("signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
  insns.Report(state);
}
BENCHMARK(BM_Secp256k1);

void BM_KeyLookup(benchmark::State& state) {
  auth::KeyResolver& resolver = *F().resolver;
  Instructions insns;
  for (auto _ : state) {
    auto key = resolver.ResolveKey(kIss, false);
    benchmark::DoNotOptimize(key);
  }
  insns.Report(state);
}
BENCHMARK(BM_KeyLookup);

void BM_ReplayCache(benchmark::State& state) {
  // Steady state of a load test: 10,000 tokens per second, each kept 90 s (60 s lifetime +
  // 30 s skew), so ~900,000 live entries; the clock moves on one second every 10,000 tokens.
  constexpr std::int64_t kRate = 10'000;
  constexpr std::int64_t kKeep = 90;
  const auth::ServiceAuthOptions defaults;
  auth::ReplayCache cache(defaults.replay_cache_size, 360, defaults.replay_per_issuer);
  std::vector<std::string> jtis;
  for (int i = 0; i < 1 << 16; ++i) jtis.push_back(auth::RandomJti());
  std::vector<std::string> issuers;
  for (int i = 0; i < 1000; ++i) issuers.push_back(std::string(kIss) + std::to_string(i));
  std::int64_t now = kNow;
  std::uint64_t n = 0;
  auto insert = [&] {
    // A unique jti: a random one plus the counter.
    std::string& jti = jtis[n % jtis.size()];
    jti.resize(32);
    jti += std::to_string(n);
    bool fresh =
        cache.CheckAndInsert(issuers[n % issuers.size()], jti, now + kKeep, now) ==
        auth::ReplayCache::Outcome::kFresh;
    if (++n % kRate == 0) ++now;
    return fresh;
  };
  for (std::int64_t i = 0; i < kRate * (kKeep + 2); ++i) insert();  // fill, untimed
  Instructions insns;
  for (auto _ : state) {
    bool fresh = insert();
    if (!fresh) state.SkipWithError("fresh jti rejected");
    benchmark::DoNotOptimize(fresh);
  }
  insns.Report(state);
  state.counters["entries"] = static_cast<double>(cache.size());
}
BENCHMARK(BM_ReplayCache);

void BM_VerifyEs256k(benchmark::State& state) {
  const Fixture& f = F();
  auto make = [&f] {
    return std::make_unique<auth::ServiceAuthVerifier>(auth::ServiceAuthOptions(kService),
                                                       *f.resolver, f.clock);
  };
  // Tokens are single-use: a fresh verifier (empty replay cache) per run, and again should
  // one run go through the whole pool.
  auto verifier = make();
  std::size_t i = 0;
  Instructions insns;
  for (auto _ : state) {
    if (i == kPoolSize) {
      state.PauseTiming();
      verifier = make();
      i = 0;
      state.ResumeTiming();
    }
    auto result = verifier->Verify(f.Header(i++), kNsid);
    if (!std::holds_alternative<auth::VerifiedCaller>(result)) {
      state.SkipWithError(std::get<xrpc::XrpcError>(result).message.c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  insns.Report(state);
}
BENCHMARK(BM_VerifyEs256k);

void BM_Secp256k1SameToken(benchmark::State& state) {
  const auth::DecodedJwt& d = Decoded().front();
  const auth::Sha256Digest digest = auth::Sha256(d.signing_input);
  const auth::PublicKey& key = F().key.public_key();
  Instructions insns;
  for (auto _ : state) {
    bool ok = key.VerifyDigest(digest, d.signature);
    if (!ok) state.SkipWithError("signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
  insns.Report(state);
}
BENCHMARK(BM_Secp256k1SameToken);

void BM_SignatureP256(benchmark::State& state) {
  auth::PrivateKey key = *auth::PrivateKey::Generate(auth::Curve::kP256);
  const std::string message = "header.payload";
  const std::string sig = key.Sign(message);
  Instructions insns;
  for (auto _ : state) {
    bool ok = key.public_key().Verify(message, sig);
    if (!ok) state.SkipWithError("signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
  insns.Report(state);
}
BENCHMARK(BM_SignatureP256);

}  // namespace
