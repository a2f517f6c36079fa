// Lexicon string formats (atproto syntax): hand-written scanners, no regex and no
// allocation, because they run on every formatted string a validator sees.
//
// The rules follow SPEC-NOTES §d. Where the TypeScript and Go references disagree with
// the interop vectors, the variant that passes every vector wins (Go for `uri` and
// `cid`; strict TS parsing for `datetime` and `language`).
#ifndef ATIPAY_LEX_FORMATS_H_
#define ATIPAY_LEX_FORMATS_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace atipay::lex {

enum class StringFormat : std::uint8_t {
  kAtIdentifier,
  kAtUri,
  kCid,
  kDatetime,
  kDid,
  kHandle,
  kLanguage,
  kNsid,
  kRecordKey,
  kTid,
  kUri,
};

// Lexicon names: "at-identifier", "at-uri", "cid", "datetime", "did", "handle", "language",
// "nsid", "record-key", "tid", "uri". Unknown names give nullopt.
std::optional<StringFormat> StringFormatFromName(std::string_view name);
std::string_view StringFormatName(StringFormat f);

// The reference's wording after the path, e.g. "must be a valid at-uri", so an error reads
// "Input/uri must be a valid at-uri".
std::string_view StringFormatError(StringFormat f);

bool IsValidFormat(StringFormat f, std::string_view s);

bool IsValidAtIdentifier(std::string_view s);
// Restricted Lexicon form: at://AUTHORITY[/NSID[/RKEY]][#/json-pointer], no query, no
// trailing slash, at most 8192 bytes.
bool IsValidAtUri(std::string_view s);
// Syntax only (Go rule): 8-256 of [A-Za-z0-9+=], not CIDv0 ("Qmb..."). No decoding.
bool IsValidCidString(std::string_view s);
// Strict RFC 3339 / ISO 8601 intersection, with a real calendar check.
bool IsValidDatetime(std::string_view s);
bool IsValidDid(std::string_view s);
bool IsValidHandle(std::string_view s);
// Well-formed BCP 47 with the strict extras: lower-case 2-3 letter primary language, no
// repeated variant or extension singleton.
bool IsValidLanguage(std::string_view s);
bool IsValidNsid(std::string_view s);
bool IsValidRecordKey(std::string_view s);
bool IsValidTid(std::string_view s);
// Go rule: ^[a-z][a-z.-]{0,80}:[[:graph:]]+$, at most 8192 bytes.
bool IsValidUri(std::string_view s);

// An AT-URI split into its parts; collection and rkey are empty when absent. The views
// point into the parsed string. Any fragment is validated but not returned.
struct AtUriParts {
  std::string_view authority;
  std::string_view collection;
  std::string_view rkey;
};

// Validates like IsValidAtUri and splits; nullopt when the URI is invalid.
std::optional<AtUriParts> ParseAtUri(std::string_view s);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_FORMATS_H_
