#include "auth/jwt.h"

#include <openssl/rand.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <utility>

#include "lex/encoding.h"
#include "lex/formats.h"

namespace atipay::auth {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxJtiBytes = 256;
// Timestamps beyond 2^53 (JavaScript's exact integers) mean nothing and would let skew
// arithmetic overflow.
constexpr std::int64_t kMaxTimestamp = std::int64_t{1} << 53;

// Parses into a stack buffer: claims are small, and this keeps the hot path off the heap
// for everything but the strings we keep.
class SmallJson {
 public:
  SmallJson() : value_(json::storage_ptr(&resource_)) {}
  bool Parse(std::string_view text) {
    json::error_code ec;
    value_ = json::parse(text, ec, &resource_);
    return !ec;
  }
  const json::value& value() const { return value_; }

 private:
  unsigned char buffer_[4096];
  json::monotonic_resource resource_{buffer_, sizeof(buffer_)};
  // Same storage as the parse result, so assignment moves instead of copying to the heap.
  json::value value_;
};

std::optional<std::int64_t> PositiveInt(const json::value& v) {
  if (v.is_int64() && v.get_int64() > 0 && v.get_int64() <= kMaxTimestamp) return v.get_int64();
  return std::nullopt;  // uint64 values are all above kMaxTimestamp
}

bool IsFragmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool IsValidIss(std::string_view iss) {
  std::size_t hash = iss.find('#');
  if (!lex::IsValidDid(iss.substr(0, hash))) return false;
  if (hash == std::string_view::npos) return true;
  std::string_view fragment = iss.substr(hash + 1);
  if (fragment.empty() || fragment.size() > 128) return false;
  for (char c : fragment) {
    if (!IsFragmentChar(c)) return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

xrpc::XrpcError Malformed(std::string message) { return AuthError(kBadJwt, std::move(message)); }

}  // namespace

xrpc::XrpcError AuthError(std::string_view name, std::string message) {
  return {401, std::string(name), std::move(message)};
}

std::variant<DecodedJwt, xrpc::XrpcError> DecodeJwt(std::string_view token) {
  if (token.empty()) return Malformed("empty jwt");
  if (token.size() > kMaxTokenBytes) return Malformed("jwt too large");
  std::size_t first = token.find('.');
  std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Malformed("poorly formatted jwt");
  }
  std::string_view header = token.substr(0, first);
  std::string_view payload = token.substr(first + 1, second - first - 1);
  std::string_view signature = token.substr(second + 1);
  if (header.empty() || payload.empty() || signature.empty()) {
    return Malformed("poorly formatted jwt");
  }
  if (header.size() > kMaxHeaderBytes) return Malformed("jwt header too large");
  DecodedJwt out;
  out.signing_input = token.substr(0, second);
  std::optional<std::string> h = lex::DecodeBase64Url(header);
  std::optional<std::string> p = lex::DecodeBase64Url(payload);
  std::optional<std::string> s = lex::DecodeBase64Url(signature);
  if (!h || !p || !s) return Malformed("jwt is not valid base64url");
  out.header_json = std::move(*h);
  out.payload_json = std::move(*p);
  out.signature = std::move(*s);
  return out;
}

std::variant<ParsedJwt, xrpc::XrpcError> ParseJwtJson(std::string_view header_json,
                                                      std::string_view payload_json) {
  ParsedJwt out;
  {
    SmallJson doc;
    if (!doc.Parse(header_json) || !doc.value().is_object()) {
      return Malformed("jwt header is not a JSON object");
    }
    const json::object& header = doc.value().get_object();
    const json::value* alg = header.if_contains("alg");
    if (alg == nullptr || !alg->is_string()) return Malformed("jwt header has no alg");
    std::optional<Curve> curve = CurveFromJwtAlg(alg->get_string());
    if (!curve) {
      // Covers "none", HS*, RS*, PS*, EdDSA: only the two atproto curves are accepted.
      return Malformed("unsupported jwt alg \"" +
                       std::string(std::string_view(alg->get_string()).substr(0, 32)) + "\"");
    }
    out.header.alg = *curve;
    if (const json::value* typ = header.if_contains("typ")) {
      if (!typ->is_string()) return Malformed("jwt typ is not a string");
      out.header.typ = typ->get_string();
      // at+jwt, refresh+jwt, dpop+jwt (refused by name in the reference) and anything else
      // that is not a plain JWT.
      if (!EqualsIgnoreCase(out.header.typ, "JWT")) {
        return AuthError(kBadJwtType, "Invalid jwt type \"" + out.header.typ.substr(0, 32) + "\"");
      }
    }
    if (const json::value* kid = header.if_contains("kid")) {
      if (!kid->is_string()) return Malformed("jwt kid is not a string");
      out.header.kid = kid->get_string();
    }
    // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
    if (header.contains("crit")) return Malformed("unsupported jwt crit header");
  }
  SmallJson doc;
  if (!doc.Parse(payload_json) || !doc.value().is_object()) {
    return Malformed("jwt payload is not a JSON object");
  }
  const json::object& claims = doc.value().get_object();
  const json::value* iss = claims.if_contains("iss");
  const json::value* aud = claims.if_contains("aud");
  const json::value* exp = claims.if_contains("exp");
  if (iss == nullptr || !iss->is_string() || aud == nullptr || !aud->is_string() ||
      exp == nullptr) {
    return Malformed("poorly formatted jwt");
  }
  std::optional<std::int64_t> exp_value = PositiveInt(*exp);
  if (!exp_value) return Malformed("jwt exp is not a positive integer");
  out.claims.exp = *exp_value;
  for (auto [name, slot] : {std::pair{"iat", &out.claims.iat}, std::pair{"nbf", &out.claims.nbf}}) {
    if (const json::value* v = claims.if_contains(name)) {
      *slot = PositiveInt(*v);
      if (!*slot) return Malformed(std::string("jwt ") + name + " is not a positive integer");
    }
  }
  for (auto [name, slot] : {std::pair{"lxm", &out.claims.lxm}, std::pair{"jti", &out.claims.jti}}) {
    if (const json::value* v = claims.if_contains(name)) {
      if (!v->is_string()) return Malformed(std::string("jwt ") + name + " is not a string");
      *slot = std::string(v->get_string());
    }
  }
  out.claims.iss = iss->get_string();
  out.claims.aud = aud->get_string();
  if (!IsValidIss(out.claims.iss)) return AuthError(kBadJwtIss, "jwt iss is not a valid DID");
  return out;
}

std::string_view IssuerDid(std::string_view iss) { return iss.substr(0, iss.find('#')); }

std::optional<xrpc::XrpcError> CheckClaims(const ParsedJwt& jwt, const ClaimRules& rules) {
  const JwtClaims& c = jwt.claims;
  // No skew beyond `clock_skew`; the reference allows none at all.
  if (rules.now > c.exp + rules.clock_skew) return AuthError(kJwtExpired, "jwt expired");

  std::string_view aud = c.aud;
  bool aud_ok = aud == rules.service_did;
  if (!aud_ok && aud.size() > rules.service_did.size() + 1 && aud.starts_with(rules.service_did) &&
      aud[rules.service_did.size()] == '#') {
    std::string_view fragment = aud.substr(rules.service_did.size() + 1);
    aud_ok = rules.service_ids.empty();
    for (const std::string& id : rules.service_ids) aud_ok = aud_ok || fragment == id;
  }
  if (!aud_ok) return AuthError(kBadJwtAudience, "jwt audience does not match service did");

  if (!c.lxm) {
    return AuthError(kBadJwtLexiconMethod,
                     "missing jwt lexicon method (\"lxm\"). must match: " + std::string(rules.lxm));
  }
  if (*c.lxm != rules.lxm) {
    return AuthError(kBadJwtLexiconMethod,
                     "bad jwt lexicon method (\"lxm\"). must match: " + std::string(rules.lxm));
  }

  if (!c.iat) return Malformed("jwt has no iat");
  if (*c.iat > rules.now + rules.clock_skew) {
    return AuthError(kJwtNotYetValid, "jwt issued in the future");
  }
  if (c.nbf && *c.nbf > rules.now + rules.clock_skew) {
    return AuthError(kJwtNotYetValid, "jwt not yet valid");
  }
  // Long-lived tokens would defeat the bounded replay cache.
  if (rules.now - *c.iat > rules.max_lifetime + rules.clock_skew ||
      c.exp - rules.now > rules.max_lifetime + rules.clock_skew) {
    return AuthError(kJwtTooOld,
                     "jwt lifetime exceeds " + std::to_string(rules.max_lifetime) + " seconds");
  }

  if (!c.jti || c.jti->empty()) return Malformed("jwt has no jti");
  if (c.jti->size() > kMaxJtiBytes) return Malformed("jwt jti too long");

  // Only the #atproto key is ever resolved; a token naming another key is not for us.
  if (!jwt.header.kid.empty()) {
    std::string_view kid = jwt.header.kid;
    std::string_view did = IssuerDid(c.iss);
    if (kid.starts_with(did)) kid.remove_prefix(did.size());
    if (kid != "#atproto") return Malformed("unsupported jwt kid");
  }
  return std::nullopt;
}

std::string RandomJti() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return {};
  return lex::EncodeHex(std::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

std::string SignJwt(const PrivateKey& key, std::string_view header_json,
                    std::string_view payload_json) {
  std::string token = lex::EncodeBase64Url(header_json);
  token += '.';
  token += lex::EncodeBase64Url(payload_json);
  std::string signature = key.Sign(token);
  if (signature.empty()) return {};
  token += '.';
  token += lex::EncodeBase64Url(signature);
  return token;
}

std::string CreateServiceJwt(const PrivateKey& key, const ServiceJwtParams& params) {
  std::int64_t iat = params.iat;
  if (iat == 0) {
    iat = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  }
  std::string jti = params.jti.empty() ? RandomJti() : params.jti;
  if (jti.empty()) return {};
  json::object header;
  header["typ"] = "JWT";
  header["alg"] = JwtAlg(key.curve());
  json::object payload;
  payload["iat"] = iat;
  payload["iss"] = params.iss;
  payload["aud"] = params.aud;
  payload["exp"] = params.exp == 0 ? iat + 60 : params.exp;
  if (!params.lxm.empty()) payload["lxm"] = params.lxm;
  payload["jti"] = jti;
  return SignJwt(key, json::serialize(header), json::serialize(payload));
}

}  // namespace atipay::auth
