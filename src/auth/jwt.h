// Service-auth JWTs, stage by stage: DecodeJwt (split + base64url), ParseJwtJson (header and
// claims), CheckClaims (time, audience, method). ServiceAuthVerifier chains them with key
// resolution and the signature check; they are public so tests and benchmarks can time and
// probe each stage. Every failure is a 401 XrpcError named like the reference verifier's.
#ifndef ATIPAY_AUTH_JWT_H_
#define ATIPAY_AUTH_JWT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "auth/keys.h"
#include "xrpc/error.h"

namespace atipay::auth {

// Error names (HTTP 401), from @atproto/xrpc-server auth.ts and @atproto/lex-server.
inline constexpr std::string_view kAuthenticationRequired = "AuthenticationRequired";
inline constexpr std::string_view kBadJwt = "BadJwt";
inline constexpr std::string_view kBadJwtType = "BadJwtType";
inline constexpr std::string_view kBadJwtIss = "BadJwtIss";
inline constexpr std::string_view kBadJwtAudience = "BadJwtAudience";
inline constexpr std::string_view kBadJwtLexiconMethod = "BadJwtLexiconMethod";
inline constexpr std::string_view kBadJwtSignature = "BadJwtSignature";
inline constexpr std::string_view kJwtExpired = "JwtExpired";
inline constexpr std::string_view kJwtNotYetValid = "JwtNotYetValid";
inline constexpr std::string_view kJwtTooOld = "JwtTooOld";
inline constexpr std::string_view kNonceNotUnique = "NonceNotUnique";

xrpc::XrpcError AuthError(std::string_view name, std::string message);

// Size caps, checked before any decoding: a service token is a few hundred bytes.
inline constexpr std::size_t kMaxTokenBytes = 8192;
inline constexpr std::size_t kMaxHeaderBytes = 1024;  // base64url characters

// Stage 1: the three base64url parts, decoded.
struct DecodedJwt {
  std::string_view signing_input;  // "header.payload", a view into the token
  std::string header_json;
  std::string payload_json;
  std::string signature;
};
std::variant<DecodedJwt, xrpc::XrpcError> DecodeJwt(std::string_view token);

// Stage 2: header and claims, typed. Checks shapes and types, not values against time or us.
// The JSON is read by flat_json.h (as strict as boost::json, without building a DOM).
struct JwtHeader {
  Curve alg = Curve::kSecp256k1;
  std::string typ;  // empty when absent
  std::string kid;  // empty when absent
};
struct JwtClaims {
  std::string iss;  // as sent: a DID, possibly with a "#fragment" (legacy)
  std::string aud;
  std::optional<std::string> lxm;
  std::optional<std::string> jti;
  std::int64_t exp = 0;
  std::optional<std::int64_t> iat;
  std::optional<std::int64_t> nbf;
};
struct ParsedJwt {
  JwtHeader header;
  JwtClaims claims;
};
std::variant<ParsedJwt, xrpc::XrpcError> ParseJwtJson(std::string_view header_json,
                                                      std::string_view payload_json);

// The DID part of `iss` (everything before '#').
std::string_view IssuerDid(std::string_view iss);

// Stage 3: the claims against the clock, our identity and the called method.
struct ClaimRules {
  std::string_view service_did;
  // Accepted `aud` fragments (without '#'); empty accepts any fragment on service_did.
  std::span<const std::string> service_ids;
  std::string_view lxm;  // the NSID being called
  std::int64_t now = 0;  // UNIX seconds
  std::int64_t clock_skew = 30;
  std::int64_t max_lifetime = 300;  // longest accepted exp - now and now - iat
};
std::optional<xrpc::XrpcError> CheckClaims(const ParsedJwt& jwt, const ClaimRules& rules);

// Minting, for the dev tool, tests and the load generator.
struct ServiceJwtParams {
  ServiceJwtParams() = default;
  ServiceJwtParams(std::string iss_did, std::string aud_did, std::string method)
      : iss(std::move(iss_did)), aud(std::move(aud_did)), lxm(std::move(method)) {}

  std::string iss;
  std::string aud;
  std::string lxm;       // empty: no lxm claim
  std::int64_t iat = 0;  // 0: now
  std::int64_t exp = 0;  // 0: iat + 60, the reference default
  std::string jti;       // empty: 16 random bytes as hex, like the reference
};
// Header {"typ":"JWT","alg":...}; empty string if signing fails.
std::string CreateServiceJwt(const PrivateKey& key, const ServiceJwtParams& params);
// Signs arbitrary header and payload JSON (tests build broken tokens with it).
std::string SignJwt(const PrivateKey& key, std::string_view header_json,
                    std::string_view payload_json);
std::string RandomJti();

}  // namespace atipay::auth

#endif  // ATIPAY_AUTH_JWT_H_
