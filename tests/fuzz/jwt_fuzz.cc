// Service-auth tokens as they arrive in the Authorization header, up to the signature check
// (which needs a key): decoding, header and claims, the claim rules. No oracle beyond the
// sanitizers and "every failure is a 401 with a name", which is what a caller sees.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "auth/jwt.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay;
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  auto decoded = auth::DecodeJwt(token);
  if (auto* error = std::get_if<xrpc::XrpcError>(&decoded)) {
    FUZZ_CHECK(error->status == 401 && !error->name.empty(), "decode error %d", error->status);
    return 0;
  }
  const auth::DecodedJwt& jwt = std::get<auth::DecodedJwt>(decoded);
  FUZZ_CHECK(token.starts_with(jwt.signing_input), "signing input is not the token's start");
  auto parsed = auth::ParseJwtJson(jwt.header_json, jwt.payload_json);
  if (auto* error = std::get_if<xrpc::XrpcError>(&parsed)) {
    FUZZ_CHECK(error->status == 401 && !error->name.empty(), "parse error %d", error->status);
    return 0;
  }
  const auth::ParsedJwt& claims = std::get<auth::ParsedJwt>(parsed);
  const std::string service_ids[] = {"atproto_pay"};
  auth::ClaimRules rules;
  rules.service_did = "did:web:pay.example";
  rules.service_ids = service_ids;
  rules.lxm = "com.atiproto.payment.cart.clone";
  rules.now = 1'800'000'000;
  if (auto error = auth::CheckClaims(claims, rules)) {
    FUZZ_CHECK(error->status == 401 && !error->name.empty(), "claims error %d", error->status);
  } else {
    FUZZ_CHECK(claims.claims.aud.starts_with("did:web:pay.example"), "accepted another audience");
    FUZZ_CHECK(claims.claims.lxm == std::string("com.atiproto.payment.cart.clone"),
               "accepted another method");
    FUZZ_CHECK(claims.claims.exp >= rules.now - rules.clock_skew, "accepted an expired token");
    FUZZ_CHECK(claims.claims.exp - rules.now <= rules.max_lifetime + rules.clock_skew,
               "accepted a token that lives too long");
  }
  (void)auth::IssuerDid(claims.claims.iss);
  return 0;
}
