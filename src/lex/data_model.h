// The atproto data model over JSON values: whole-value checks, and the typed special values
// (bytes, cid-link, blob) that generated code uses.
//
// Error wording follows the TypeScript @atproto/lexicon validators: "<path> must be a byte
// array", "<path> must be a CID", "<path> should be a blob ref".
#ifndef ATIPAY_LEX_DATA_MODEL_H_
#define ATIPAY_LEX_DATA_MODEL_H_

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "lex/path.h"

namespace atipay::lex {

// Suggested nesting limit for records (atproto data-validation guide).
inline constexpr int kDefaultMaxDataDepth = 32;
// Object keys longer than this are rejected (indigo MAX_OBJECT_KEY_LEN).
inline constexpr std::size_t kMaxObjectKeyBytes = 8192;
// $link strings longer than this are rejected before parsing (TS lex-data).
inline constexpr std::size_t kMaxCidStringLength = 2048;

// The largest integer the data model stores: 2^53 - 1. The reference's DAG-CBOR encoder
// (@atproto/lex-cbor) refuses any number that fails Number.isSafeInteger, so a record holding an
// integer beyond ±kMaxSafeInteger cannot be written to a PDS.
inline constexpr std::int64_t kMaxSafeInteger = 9007199254740991;

inline bool IsSafeInteger(std::int64_t i) { return i >= -kMaxSafeInteger && i <= kMaxSafeInteger; }

// Whole-value data-model check, for records and `unknown` fields. The top level must be a
// plain object (not a $bytes, $link or blob object). Throughout: no non-integral numbers
// (123.0 counts as an integer), integers within ±kMaxSafeInteger, `$type` when present is a
// non-empty string, $bytes / $link / blob objects well formed, keys non-empty and at most
// kMaxObjectKeyBytes, and at most `max_depth` nested objects and arrays (the top-level object
// is depth 1). Deeper input is rejected without recursing further.
bool CheckDataModel(const boost::json::value& v, const Path& path, Errors& errors,
                    int max_depth = kDefaultMaxDataDepth);
// The same rules for a value of any shape (scalar, array, $link, ...); its outermost
// container, if any, is depth 1.
bool CheckDataValue(const boost::json::value& v, const Path& path, Errors& errors,
                    int max_depth = kDefaultMaxDataDepth);

struct Bytes {
  std::string data;  // decoded bytes
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

struct CidLink {
  std::string cid;  // canonical string form ("bafy..."), always a parseable CID
  friend bool operator==(const CidLink&, const CidLink&) = default;
};

struct Blob {
  CidLink ref;
  std::string mime_type;
  std::int64_t size = 0;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// {"$bytes": "<base64, padded or not>"} and nothing else.
bool ParseBytes(const boost::json::value& v, Bytes& out, const Path& path, Errors& errors);
// {"$link": "<cid>"} and nothing else; the CID is stored in canonical form.
bool ParseCidLink(const boost::json::value& v, CidLink& out, const Path& path, Errors& errors);
// Exactly {"$type": "blob", "ref": {"$link": ...}, "mimeType": "<type/subtype>", "size": n}
// with n >= 0. The ref codec is not enforced (valid records in the interop vectors carry
// dag-cbor refs). The legacy {"cid", "mimeType"} form is rejected.
bool ParseBlob(const boost::json::value& v, Blob& out, const Path& path, Errors& errors);

boost::json::value ToJson(const Bytes& bytes);    // unpadded base64, as the reference writes
boost::json::value ToJson(const CidLink& link);
boost::json::value ToJson(const Blob& blob);

// An integer from JSON: int64, uint64 up to INT64_MAX, or an integral double (123.0).
// Anything else, including non-numbers, gives nullopt.
std::optional<std::int64_t> JsonToInt64(const boost::json::value& v);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_DATA_MODEL_H_
