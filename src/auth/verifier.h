// ServiceAuthVerifier: checks `Authorization: Bearer <service JWT>` for one XRPC call and
// names the caller. Thread-safe; the fast path (key already cached by the resolver) takes
// only the replay cache's shard lock.
#ifndef ATIPAY_AUTH_VERIFIER_H_
#define ATIPAY_AUTH_VERIFIER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "auth/clock.h"
#include "auth/jwt.h"
#include "auth/keys.h"
#include "auth/replay_cache.h"
#include "xrpc/error.h"

namespace atipay::auth {

// What a DID resolves to, as far as authentication cares. Immutable once published.
struct IssuerKey {
  PublicKey key;             // the #atproto verification method
  std::string pds_endpoint;  // #atproto_pds serviceEndpoint; empty when absent
  std::string handle;        // first at:// alsoKnownAs, unverified; empty when absent
};

class KeyResolver {
 public:
  using Result = std::variant<std::shared_ptr<const IssuerKey>, xrpc::XrpcError>;
  virtual ~KeyResolver() = default;
  // The signing key of `did` (a bare DID). `force_refresh` bypasses caches: a signature just
  // failed with the cached key, which may have rotated (implementations may rate-limit it).
  // Errors are 401 when the DID or its key cannot be had, 502 when upstream fails. Must be
  // safe to call from many threads and must not block without bound.
  virtual Result ResolveKey(std::string_view did, bool force_refresh) = 0;
  // Never blocks: the answer if it is at hand (cached), nullopt when ResolveKey would have
  // to do I/O. The default has nothing at hand.
  virtual std::optional<Result> ResolveKeyCached(std::string_view did);
};

// A fixed DID -> key table (tests, benchmarks, single-user dev setups).
class StaticKeyResolver final : public KeyResolver {
 public:
  void Set(std::string did, PublicKey key, std::string pds_endpoint = {});
  Result ResolveKey(std::string_view did, bool force_refresh) override;
  std::optional<Result> ResolveKeyCached(std::string_view did) override;
  int force_refresh_count() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const IssuerKey>> keys_;
  int force_refresh_count_ = 0;
};

struct ServiceAuthOptions {
  ServiceAuthOptions() = default;
  explicit ServiceAuthOptions(std::string did) : service_did(std::move(did)) {}

  // Our DID: `aud` must be this DID, bare or with a "#fragment".
  std::string service_did;
  // Accepted `aud` fragments (without '#', e.g. "atipay"); empty accepts any.
  std::vector<std::string> service_ids;
  // Tolerated clock difference with the caller's PDS, for exp, iat and nbf.
  std::chrono::seconds clock_skew{30};
  // Longest accepted token lifetime (exp - now, now - iat); bounds the replay window.
  std::chrono::seconds max_lifetime{300};
  // Most (issuer, jti) pairs remembered at once. A pair is kept until its token's exp + skew,
  // so at most max_lifetime + 2 x clock_skew (360 s by default); the default holds 10,000
  // tokens/s at that worst case. When full, fresh tokens get 503 NotEnoughResources: a pair
  // is never forgotten early. At most 52 bytes a pair, ~140 MiB when full (replay_cache.h).
  std::size_t replay_cache_size = 4'000'000;
  // Most of those pairs one issuer may hold (0: no bound), so that one account minting tokens
  // as fast as we verify them cannot fill the cache for everyone; beyond, that issuer gets 429
  // RateLimitExceeded until its tokens expire. 50,000 is 555 tokens/s of 60 s tokens.
  std::size_t replay_per_issuer = 50'000;
};

struct VerifiedCaller {
  std::string did;  // bare DID of the caller (iss without fragment)
  std::string iss;  // iss as sent
  std::string lxm;
  std::string jti;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  Curve alg = Curve::kSecp256k1;
  std::string pds_endpoint;
  std::string handle;
};

class ServiceAuthVerifier {
 public:
  using Result = std::variant<VerifiedCaller, xrpc::XrpcError>;

  ServiceAuthVerifier(ServiceAuthOptions options, KeyResolver& keys,
                      const Clock& clock = SystemClock::Instance());

  // `authorization` is the Authorization header value ("" when absent); `nsid` the method
  // called. Errors are 401 (see jwt.h for names), 502 when DID resolution fails upstream, or
  // 503 NotEnoughResources when the replay cache is full of unexpired tokens, or 429
  // RateLimitExceeded when the caller holds `replay_per_issuer` of them.
  Result Verify(std::string_view authorization, std::string_view nsid);
  // The same, given the bare token.
  Result VerifyToken(std::string_view token, std::string_view nsid);

  // Never blocks on I/O: the result when it can be decided from cached keys (every malformed,
  // expired or mis-addressed token, and good tokens from known callers), nullopt when a DID
  // must be resolved first; then call Verify from a thread that may block. Nothing is
  // consumed when it returns nullopt (the jti is still unused); `unresolved_did`, when given,
  // then names the DID to resolve.
  std::optional<Result> TryVerify(std::string_view authorization, std::string_view nsid,
                                  std::string* unresolved_did = nullptr);

  const ServiceAuthOptions& options() const { return options_; }
  const ReplayCache& replay_cache() const { return replay_; }

 private:
  std::optional<Result> Run(std::string_view token, std::string_view nsid, bool may_block,
                            std::string* unresolved_did = nullptr);

  ServiceAuthOptions options_;
  KeyResolver& keys_;
  const Clock& clock_;
  ReplayCache replay_;
};

// "Bearer <token>" -> token; nullopt for a missing header or another scheme.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace atipay::auth

#endif  // ATIPAY_AUTH_VERIFIER_H_
