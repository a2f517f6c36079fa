// Constraint checks shared by generated parsers and the schema-driven validator.
//
// Each check takes its lexicon constraints as a constant struct (emitted by the generator as
// constexpr data), the JSON value, the path and the error sink. Messages follow the
// TypeScript reference (@atproto/lexicon) word for word, e.g. "Input/uri must be a string".
#ifndef ATIPAY_LEX_VALIDATE_H_
#define ATIPAY_LEX_VALIDATE_H_

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lex/data_model.h"
#include "lex/formats.h"
#include "lex/path.h"

namespace atipay::lex {

struct IntegerConstraints {
  std::optional<std::int64_t> minimum;
  std::optional<std::int64_t> maximum;
  std::optional<std::int64_t> const_value;
  // A closed set when present, even an empty one (which no value is in).
  std::optional<std::span<const std::int64_t>> enum_values;
};

struct StringConstraints {
  std::optional<StringFormat> format;
  std::optional<std::int64_t> min_length;  // UTF-8 bytes
  std::optional<std::int64_t> max_length;
  std::optional<std::int64_t> min_graphemes;
  std::optional<std::int64_t> max_graphemes;
  std::optional<std::string_view> const_value;
  // A closed set when present, even an empty one; knownValues are not enforced.
  std::optional<std::span<const std::string_view>> enum_values;
};

struct BytesConstraints {
  std::optional<std::int64_t> min_length;
  std::optional<std::int64_t> max_length;
};

struct BlobConstraints {
  std::span<const std::string_view> accept;  // MIME patterns: exact, "type/*" or "*/*"
  std::optional<std::int64_t> max_size;
};

struct ArrayConstraints {
  std::optional<std::int64_t> min_length;
  std::optional<std::int64_t> max_length;
};

// An open-union member whose $type we do not know: kept verbatim so it round-trips.
struct UnknownUnionMember {
  boost::json::object value;
  std::string_view type() const;
  bool operator==(const UnknownUnionMember&) const = default;
};

// Scalars. On success `out` holds the value. Integers are int64, as the spec's "signed 64-bit"
// and @atproto/lexicon's Number.isInteger; the data model's narrower ±(2^53-1) is enforced where
// data becomes a record (CheckDataModel, EncodeDagCbor), not here.
bool ParseBoolean(const boost::json::value& v, bool& out, std::optional<bool> const_value,
                  const Path& path, Errors& errors);
bool ParseInteger(const boost::json::value& v, std::int64_t& out, const IntegerConstraints& c,
                  const Path& path, Errors& errors);
bool ParseString(const boost::json::value& v, std::string& out, const StringConstraints& c,
                 const Path& path, Errors& errors);
// The checks after the type check, for values that are already typed (params, defaults).
bool CheckInteger(std::int64_t value, const IntegerConstraints& c, const Path& path,
                  Errors& errors);
bool CheckString(std::string_view value, const StringConstraints& c, const Path& path,
                 Errors& errors);

bool ParseBytes(const boost::json::value& v, Bytes& out, const BytesConstraints& c,
                const Path& path, Errors& errors);
bool ParseBlob(const boost::json::value& v, Blob& out, const BlobConstraints& c, const Path& path,
               Errors& errors);
bool MimeTypeAccepted(std::string_view mime, std::span<const std::string_view> accept);

// `unknown`: any data-model-valid object that is not itself a $bytes, $link or blob value.
bool ParseUnknown(const boost::json::value& v, boost::json::object& out, const Path& path,
                  Errors& errors);
// The same check without keeping the value.
bool CheckUnknown(const boost::json::value& v, const Path& path, Errors& errors);

// Containers. Nesting deeper than kMaxValidationDepth is refused rather than recursed into,
// so validation stays within a bounded stack whatever value it is given.
inline constexpr int kMaxValidationDepth = 256;
const boost::json::object* ExpectObject(const boost::json::value& v, const Path& path,
                                        Errors& errors);
const boost::json::array* ExpectArray(const boost::json::value& v, const ArrayConstraints& c,
                                      const Path& path, Errors& errors);

template <class T, class ParseItem>
bool ParseArray(const boost::json::value& v, std::vector<T>& out, const ArrayConstraints& c,
                const Path& path, Errors& errors, ParseItem&& parse_item) {
  const boost::json::array* array = ExpectArray(v, c, path, errors);
  if (array == nullptr) return false;
  out.clear();
  out.resize(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    if (!parse_item((*array)[i], out[i], path.Index(i), errors)) return false;
  }
  return true;
}

// Unions: the value must be an object with a non-empty string $type, holding at most one '#'
// and not starting with one (the reference cannot resolve either).
std::optional<std::string_view> UnionType(const boost::json::value& v, const Path& path,
                                          Errors& errors);
// Whether a data $type names a union ref, tolerating "#main" either way as the reference does.
bool UnionTypeMatches(std::string_view type, std::string_view ref);
bool FailClosedUnion(std::span<const std::string_view> refs, const Path& path, Errors& errors);

// Record $type check, with the reference's messages.
bool CheckRecordType(const boost::json::object& obj, std::string_view nsid, const Path& path,
                     Errors& errors);

bool CheckArrayLength(std::size_t size, const ArrayConstraints& c, const Path& path,
                      Errors& errors);

// Serializing helpers.
template <class T, class ItemToJson>
boost::json::value ArrayToJson(const std::vector<T>& items, ItemToJson&& item_to_json) {
  boost::json::array out;
  out.reserve(items.size());
  for (const T& item : items) out.push_back(item_to_json(item));
  return out;
}
// Marks a union member with its $type.
boost::json::value WithType(boost::json::value object, std::string_view type);
inline boost::json::value ToJson(bool v) { return v; }
inline boost::json::value ToJson(std::int64_t v) { return v; }
inline boost::json::value ToJson(const std::string& v) { return boost::json::string(v); }
inline boost::json::value ToJson(const boost::json::object& v) { return v; }
inline boost::json::value ToJson(const UnknownUnionMember& v) { return v.value; }

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_VALIDATE_H_
