// Lexicon string formats. Oracle: the by-name check agrees with each format's own function,
// ParseAtUri agrees with IsValidAtUri and splits the URI back into itself, and the formats
// that contain one another do.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "lex/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay::lex;
  const std::string_view s(reinterpret_cast<const char*>(data), size);

  const bool at_identifier = IsValidAtIdentifier(s);
  const bool at_uri = IsValidAtUri(s);
  const bool cid = IsValidCidString(s);
  const bool datetime = IsValidDatetime(s);
  const bool did = IsValidDid(s);
  const bool handle = IsValidHandle(s);
  const bool language = IsValidLanguage(s);
  const bool nsid = IsValidNsid(s);
  const bool record_key = IsValidRecordKey(s);
  const bool tid = IsValidTid(s);
  const bool uri = IsValidUri(s);

  FUZZ_CHECK(IsValidFormat(StringFormat::kAtIdentifier, s) == at_identifier, "at-identifier");
  FUZZ_CHECK(IsValidFormat(StringFormat::kAtUri, s) == at_uri, "at-uri");
  FUZZ_CHECK(IsValidFormat(StringFormat::kCid, s) == cid, "cid");
  FUZZ_CHECK(IsValidFormat(StringFormat::kDatetime, s) == datetime, "datetime");
  FUZZ_CHECK(IsValidFormat(StringFormat::kDid, s) == did, "did");
  FUZZ_CHECK(IsValidFormat(StringFormat::kHandle, s) == handle, "handle");
  FUZZ_CHECK(IsValidFormat(StringFormat::kLanguage, s) == language, "language");
  FUZZ_CHECK(IsValidFormat(StringFormat::kNsid, s) == nsid, "nsid");
  FUZZ_CHECK(IsValidFormat(StringFormat::kRecordKey, s) == record_key, "record-key");
  FUZZ_CHECK(IsValidFormat(StringFormat::kTid, s) == tid, "tid");
  FUZZ_CHECK(IsValidFormat(StringFormat::kUri, s) == uri, "uri");

  FUZZ_CHECK(at_identifier == (did || handle), "at-identifier is a DID or a handle");
  FUZZ_CHECK(!tid || record_key, "a TID is a record key");
  FUZZ_CHECK(!nsid || record_key, "an NSID is a record key");

  auto parts = ParseAtUri(s);
  FUZZ_CHECK(parts.has_value() == at_uri, "ParseAtUri disagrees with IsValidAtUri");
  if (parts) {
    FUZZ_CHECK(IsValidAtIdentifier(parts->authority), "authority is not an at-identifier");
    FUZZ_CHECK(parts->collection.empty() || IsValidNsid(parts->collection), "collection");
    FUZZ_CHECK(parts->rkey.empty() || IsValidRecordKey(parts->rkey), "rkey");
    std::string rebuilt = "at://" + std::string(parts->authority);
    if (!parts->collection.empty()) rebuilt += "/" + std::string(parts->collection);
    if (!parts->rkey.empty()) rebuilt += "/" + std::string(parts->rkey);
    FUZZ_CHECK(s.starts_with(rebuilt), "parts do not rebuild the URI: %s", rebuilt.c_str());
  }
  return 0;
}
