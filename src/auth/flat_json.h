// flat_json: the JSON reader behind ParseJwtJson. A JWT header or claims set is one small
// object of which only a few top-level members matter; this checks every byte of the text as
// strictly as boost::json::parse with default options (RFC 8259 grammar, well-formed UTF-8,
// escapes and surrogate pairs, nesting at most 32 deep, nothing after the object but
// whitespace) without building a document: the members asked for come back as views into the
// text, the rest are only validated. Several times faster than a DOM for a ~200-byte claims
// set, and allocation-free. tests/auth/verifier_test.cc checks it against boost::json.
#ifndef ATIPAY_AUTH_FLAT_JSON_H_
#define ATIPAY_AUTH_FLAT_JSON_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace atipay::auth::flat_json {

struct Value {
  enum class Kind : std::uint8_t { kString, kNumber, kOther };  // kOther: literal, array, object
  Kind kind = Kind::kOther;
  // kString: the bytes between the quotes, escapes not yet decoded; kNumber: the literal.
  std::string_view raw;
  bool escaped = false;  // kString: raw contains backslash escapes
};

// A top-level member to capture. When a name occurs more than once the last one counts, as
// with boost::json (and JavaScript's JSON.parse).
struct Wanted {
  std::string_view name;
  std::optional<Value> value;
};

// True when `text` is exactly one JSON object; fills in the wanted members found in it.
bool ParseObject(std::string_view text, std::span<Wanted> wanted);

// The decoded string of a kString value from ParseObject.
std::string DecodeString(const Value& value);

// A kNumber value that is a plain positive integer literal no larger than 2^53; nullopt for
// any other value (fractions, exponents, negatives, zero, larger numbers, other kinds).
std::optional<std::int64_t> PositiveInteger(const Value& value);

}  // namespace atipay::auth::flat_json

#endif  // ATIPAY_AUTH_FLAT_JSON_H_
