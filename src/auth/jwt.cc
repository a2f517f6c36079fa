#include "auth/jwt.h"

#include <openssl/rand.h>

#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <tuple>
#include <utility>

#include "auth/flat_json.h"
#include "lex/encoding.h"
#include "lex/formats.h"

namespace atipay::auth {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxJtiBytes = 256;

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

// base64url character -> its 6 bits already shifted into place for each of the four positions
// of a group, so that a group is four lookups and three ORs. Bit 31 marks everything outside
// the alphabet ('=' included: JWTs are unpadded).
constexpr std::uint32_t kBad = 0x80000000u;
using Base64Table = std::array<std::uint32_t, 256>;
constexpr std::array<Base64Table, 4> kBase64UrlTables = [] {
  std::array<Base64Table, 4> t{};
  for (Base64Table& table : t) table.fill(kBad);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (std::uint32_t i = 0; i < kAlphabet.size(); ++i) {
    const auto c = static_cast<unsigned char>(kAlphabet[i]);
    t[0][c] = i << 18;
    t[1][c] = i << 12;
    t[2][c] = i << 6;
    t[3][c] = i;
  }
  return t;
}();

// Unpadded base64url, strictly (as lex::DecodeBase64Url): only the alphabet, no lone final
// character, unused tail bits zero. Straight into `out`, without per-byte appends.
bool DecodeBase64Url(std::string_view text, std::string& out) {
  const std::size_t groups = text.size() / 4;
  const std::size_t tail = text.size() % 4;
  if (tail == 1) return false;
  out.resize(groups * 3 + (tail == 0 ? 0 : tail - 1));
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const auto& [t0, t1, t2, t3] = kBase64UrlTables;
  std::uint32_t bad = 0;
  for (std::size_t g = 0; g < groups; ++g, in += 4, o += 3) {
    const std::uint32_t v = t0[in[0]] | t1[in[1]] | t2[in[2]] | t3[in[3]];
    bad |= v;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
  }
  if (tail >= 2) {
    const std::uint32_t v = t0[in[0]] | t1[in[1]] | (tail == 3 ? t2[in[2]] : 0);
    bad |= v;
    o[0] = static_cast<unsigned char>(v >> 16);
    if (tail == 3) o[1] = static_cast<unsigned char>(v >> 8);
    // Bits past the last whole byte must be zero, or two texts would decode alike.
    if ((v & (tail == 2 ? 0xffffu : 0xffu)) != 0) return false;
  }
  return (bad & kBad) == 0;
}

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
  if (!DecodeBase64Url(header, out.header_json) || !DecodeBase64Url(payload, out.payload_json) ||
      !DecodeBase64Url(signature, out.signature)) {
    return Malformed("jwt is not valid base64url");
  }
  return out;
}

std::variant<ParsedJwt, xrpc::XrpcError> ParseJwtJson(std::string_view header_json,
                                                      std::string_view payload_json) {
  using flat_json::Value;
  auto is_string = [](const std::optional<Value>& v) {
    return v && v->kind == Value::Kind::kString;
  };
  ParsedJwt out;
  {
    enum { kAlg, kTyp, kKid, kCrit };
    flat_json::Wanted header[] = {{"alg", {}}, {"typ", {}}, {"kid", {}}, {"crit", {}}};
    if (!flat_json::ParseObject(header_json, header)) {
      return Malformed("jwt header is not a JSON object");
    }
    if (!is_string(header[kAlg].value)) return Malformed("jwt header has no alg");
    const std::string alg = flat_json::DecodeString(*header[kAlg].value);
    std::optional<Curve> curve = CurveFromJwtAlg(alg);
    if (!curve) {
      // Covers "none", HS*, RS*, PS*, EdDSA: only the two atproto curves are accepted.
      return Malformed("unsupported jwt alg \"" + alg.substr(0, 32) + "\"");
    }
    out.header.alg = *curve;
    if (const std::optional<Value>& typ = header[kTyp].value) {
      if (!is_string(typ)) return Malformed("jwt typ is not a string");
      out.header.typ = flat_json::DecodeString(*typ);
      // at+jwt, refresh+jwt, dpop+jwt (refused by name in the reference) and anything else
      // that is not a plain JWT.
      if (!EqualsIgnoreCase(out.header.typ, "JWT")) {
        return AuthError(kBadJwtType, "Invalid jwt type \"" + out.header.typ.substr(0, 32) + "\"");
      }
    }
    if (const std::optional<Value>& kid = header[kKid].value) {
      if (!is_string(kid)) return Malformed("jwt kid is not a string");
      out.header.kid = flat_json::DecodeString(*kid);
    }
    // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
    if (header[kCrit].value) return Malformed("unsupported jwt crit header");
  }
  enum { kIss, kAud, kExp, kIat, kNbf, kLxm, kJti };
  flat_json::Wanted claims[] = {{"iss", {}}, {"aud", {}}, {"exp", {}}, {"iat", {}},
                                {"nbf", {}}, {"lxm", {}}, {"jti", {}}};
  if (!flat_json::ParseObject(payload_json, claims)) {
    return Malformed("jwt payload is not a JSON object");
  }
  if (!is_string(claims[kIss].value) || !is_string(claims[kAud].value) || !claims[kExp].value) {
    return Malformed("poorly formatted jwt");
  }
  std::optional<std::int64_t> exp_value = flat_json::PositiveInteger(*claims[kExp].value);
  if (!exp_value) return Malformed("jwt exp is not a positive integer");
  out.claims.exp = *exp_value;
  for (auto [name, index, slot] :
       {std::tuple{"iat", kIat, &out.claims.iat}, std::tuple{"nbf", kNbf, &out.claims.nbf}}) {
    if (const std::optional<Value>& v = claims[index].value) {
      *slot = flat_json::PositiveInteger(*v);
      if (!*slot) return Malformed(std::string("jwt ") + name + " is not a positive integer");
    }
  }
  for (auto [name, index, slot] :
       {std::tuple{"lxm", kLxm, &out.claims.lxm}, std::tuple{"jti", kJti, &out.claims.jti}}) {
    if (const std::optional<Value>& v = claims[index].value) {
      if (!is_string(v)) return Malformed(std::string("jwt ") + name + " is not a string");
      *slot = flat_json::DecodeString(*v);
    }
  }
  out.claims.iss = flat_json::DecodeString(*claims[kIss].value);
  out.claims.aud = flat_json::DecodeString(*claims[kAud].value);
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
