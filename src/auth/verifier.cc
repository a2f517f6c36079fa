#include "auth/verifier.h"

#include <utility>

namespace atipay::auth {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool KeyMatches(const IssuerKey& issuer, Curve alg, const Sha256Digest& digest,
                std::string_view signature) {
  // alg is the signer's claim; a key of the other curve cannot have made this signature.
  return issuer.key.curve() == alg && issuer.key.VerifyDigest(digest, signature);
}

}  // namespace

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  authorization = Trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || !IsSpace(authorization[kScheme.size()])) {
    return std::nullopt;
  }
  // The auth scheme is case-insensitive (RFC 9110 §11.1).
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view token = Trim(authorization.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

std::optional<KeyResolver::Result> KeyResolver::ResolveKeyCached(std::string_view) {
  return std::nullopt;
}

void StaticKeyResolver::Set(std::string did, PublicKey key, std::string pds_endpoint) {
  auto issuer =
      std::make_shared<const IssuerKey>(IssuerKey{std::move(key), std::move(pds_endpoint), {}});
  std::lock_guard<std::mutex> lock(mu_);
  keys_[std::move(did)] = std::move(issuer);
}

KeyResolver::Result StaticKeyResolver::ResolveKey(std::string_view did, bool force_refresh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (force_refresh) ++force_refresh_count_;
  auto it = keys_.find(std::string(did));
  if (it == keys_.end()) {
    return AuthError(kAuthenticationRequired, "could not resolve iss did: unknown DID");
  }
  return it->second;
}

std::optional<KeyResolver::Result> StaticKeyResolver::ResolveKeyCached(std::string_view did) {
  return ResolveKey(did, false);  // a table lookup: never blocks
}

int StaticKeyResolver::force_refresh_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return force_refresh_count_;
}

ServiceAuthVerifier::ServiceAuthVerifier(ServiceAuthOptions options, KeyResolver& keys,
                                         const Clock& clock)
    : options_(std::move(options)),
      keys_(keys),
      clock_(clock),
      // Pairs are kept until exp + skew, and exp is at most now + max_lifetime + skew.
      replay_(options_.replay_cache_size,
              options_.max_lifetime.count() + 2 * options_.clock_skew.count(),
              options_.replay_per_issuer) {}

ServiceAuthVerifier::Result ServiceAuthVerifier::Verify(std::string_view authorization,
                                                        std::string_view nsid) {
  if (Trim(authorization).empty()) {
    return AuthError(kAuthenticationRequired, "Authentication Required");
  }
  std::optional<std::string_view> token = BearerToken(authorization);
  if (!token) return AuthError(kAuthenticationRequired, "Bearer token required");
  return VerifyToken(*token, nsid);
}

ServiceAuthVerifier::Result ServiceAuthVerifier::VerifyToken(std::string_view token,
                                                             std::string_view nsid) {
  return *Run(token, nsid, /*may_block=*/true);
}

std::optional<ServiceAuthVerifier::Result> ServiceAuthVerifier::TryVerify(
    std::string_view authorization, std::string_view nsid, std::string* unresolved_did) {
  if (Trim(authorization).empty()) {
    return AuthError(kAuthenticationRequired, "Authentication Required");
  }
  std::optional<std::string_view> token = BearerToken(authorization);
  if (!token) return AuthError(kAuthenticationRequired, "Bearer token required");
  return Run(*token, nsid, /*may_block=*/false, unresolved_did);
}

std::optional<ServiceAuthVerifier::Result> ServiceAuthVerifier::Run(std::string_view token,
                                                                    std::string_view nsid,
                                                                    bool may_block,
                                                                    std::string* unresolved_did) {
  auto decoded = DecodeJwt(token);
  if (auto* error = std::get_if<xrpc::XrpcError>(&decoded)) return std::move(*error);
  DecodedJwt& jwt = std::get<DecodedJwt>(decoded);

  auto parsed_or = ParseJwtJson(jwt.header_json, jwt.payload_json);
  if (auto* error = std::get_if<xrpc::XrpcError>(&parsed_or)) return std::move(*error);
  ParsedJwt& parsed = std::get<ParsedJwt>(parsed_or);

  const std::int64_t now = clock_.NowSeconds();
  ClaimRules rules{.service_did = options_.service_did,
                   .service_ids = options_.service_ids,
                   .lxm = nsid,
                   .now = now,
                   .clock_skew = options_.clock_skew.count(),
                   .max_lifetime = options_.max_lifetime.count()};
  if (auto error = CheckClaims(parsed, rules)) return std::move(*error);

  // Decided before any network access: DER or truncated signatures are never valid.
  if (jwt.signature.size() != 64) {
    return AuthError(kBadJwtSignature, "jwt signature is not a 64-byte compact signature");
  }

  const std::string_view did = IssuerDid(parsed.claims.iss);
  std::optional<KeyResolver::Result> resolved =
      may_block ? keys_.ResolveKey(did, /*force_refresh=*/false) : keys_.ResolveKeyCached(did);
  if (!resolved) {
    if (unresolved_did != nullptr) *unresolved_did = did;
    return std::nullopt;
  }
  if (auto* error = std::get_if<xrpc::XrpcError>(&*resolved)) return std::move(*error);
  std::shared_ptr<const IssuerKey> issuer = std::get<0>(std::move(*resolved));

  const Sha256Digest digest = Sha256(jwt.signing_input);
  const Curve alg = parsed.header.alg;
  if (!KeyMatches(*issuer, alg, digest, jwt.signature)) {
    if (!may_block) {
      if (unresolved_did != nullptr) *unresolved_did = did;
      return std::nullopt;
    }
    // The key may have rotated since we cached it: look again, once (as the reference does).
    KeyResolver::Result fresh = keys_.ResolveKey(did, /*force_refresh=*/true);
    if (auto* error = std::get_if<xrpc::XrpcError>(&fresh)) return std::move(*error);
    std::shared_ptr<const IssuerKey> fresh_issuer = std::get<0>(std::move(fresh));
    if (fresh_issuer->key == issuer->key ||
        !KeyMatches(*fresh_issuer, alg, digest, jwt.signature)) {
      return AuthError(kBadJwtSignature, "jwt signature does not match jwt issuer");
    }
    issuer = std::move(fresh_issuer);
  }

  // Only a correctly signed token may take a replay-cache slot.
  const std::int64_t keep_until = parsed.claims.exp + options_.clock_skew.count();
  switch (replay_.CheckAndInsert(did, *parsed.claims.jti, keep_until, now)) {
    case ReplayCache::Outcome::kFresh:
      break;
    case ReplayCache::Outcome::kReplay:
      return AuthError(kNonceNotUnique, "jwt jti already used");
    case ReplayCache::Outcome::kIssuerFull:
      // This issuer alone is over its share: the others are not locked out with it.
      return xrpc::XrpcError{429, "RateLimitExceeded",
                             "too many unexpired service tokens from this issuer; retry later"};
    case ReplayCache::Outcome::kFull:
      // Forgetting a live jti would allow a replay: refuse instead, until tokens expire.
      return xrpc::XrpcError::NotEnoughResources(
          "too many unexpired service tokens to remember; retry with a new token later");
    case ReplayCache::Outcome::kTooLate:
      // CheckClaims bounds exp, so this does not happen; refuse rather than forget early.
      return AuthError(kJwtTooOld, "jwt outlives the replay window");
    case ReplayCache::Outcome::kExpired:
      // The clock stepped back: by the latest time seen the token has expired, and its jti
      // may already have been forgotten.
      return AuthError(kJwtExpired, "jwt expired");
  }

  VerifiedCaller caller;
  caller.did = std::string(did);
  caller.iss = std::move(parsed.claims.iss);
  caller.lxm = std::move(*parsed.claims.lxm);
  caller.jti = std::move(*parsed.claims.jti);
  caller.iat = *parsed.claims.iat;
  caller.exp = parsed.claims.exp;
  caller.alg = alg;
  caller.pds_endpoint = issuer->pds_endpoint;
  caller.handle = issuer->handle;
  return caller;
}

}  // namespace atipay::auth
