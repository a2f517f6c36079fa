// The atproto JSON form of the data model, as records arrive in requests. Oracle: whatever
// CheckDataModel accepts encodes to DAG-CBOR, decodes back, and re-encodes to the same bytes
// (so the CID we compute for a record is the CID of what a PDS would store).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "lex/cbor.h"
#include "lex/data_model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay::lex;
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 128;
  const boost::json::value value = boost::json::parse(
      std::string_view(reinterpret_cast<const char*>(data), size), ec, {}, options);
  if (ec) return 0;
  Errors errors;
  if (!CheckDataModel(value, Path("Record"), errors)) return 0;
  std::string bytes;
  std::string error;
  FUZZ_CHECK(EncodeDagCbor(value, bytes, &error), "valid data model, no encoding: %s (%s)",
             error.c_str(), boost::json::serialize(value).c_str());
  auto decoded = DecodeDagCbor(bytes);
  FUZZ_CHECK(decoded.ok(), "own encoding refused: %s (%s)", decoded.error().message.c_str(),
             boost::json::serialize(value).c_str());
  std::string again;
  FUZZ_CHECK(EncodeDagCbor(*decoded, again, &error), "decoded value cannot re-encode: %s",
             error.c_str());
  FUZZ_CHECK(again == bytes, "encoding is not stable: %s", boost::json::serialize(value).c_str());
  return 0;
}
