// DAG-CBOR decoding. Oracle: the decoder is strict (one canonical encoding per value), so
// whatever it accepts must re-encode to exactly the same bytes, and hash to the CID of those
// bytes.
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "lex/cbor.h"
#include "lex/cid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay::lex;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = DecodeDagCbor(bytes);
  if (!decoded.ok()) return 0;
  std::string again;
  std::string error;
  FUZZ_CHECK(EncodeDagCbor(*decoded, again, &error), "accepted but cannot re-encode: %s (%s)",
             error.c_str(), boost::json::serialize(*decoded).c_str());
  FUZZ_CHECK(again == bytes, "re-encoding differs (%zu bytes, was %zu): %s", again.size(),
             bytes.size(), boost::json::serialize(*decoded).c_str());
  if (decoded->is_object()) {
    const std::string cid = ComputeRecordCid(*decoded, &error);
    FUZZ_CHECK(cid == ComputeDagCborCid(bytes).ToString(), "record CID differs: %s", cid.c_str());
  }
  return 0;
}
