// CID text and binary forms. Oracle: a parsed CID prints and re-parses to itself; the
// binary form is exactly what was parsed; a v1 text parsed from base32 prints back unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "lex/cid.h"
#include "lex/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay::lex;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto cid = ParseCid(input)) {
    const std::string text = cid->ToString();
    auto again = ParseCid(text);
    FUZZ_CHECK(again && *again == *cid, "printed CID does not parse back: %s", text.c_str());
    if (cid->version() == 1 && input.starts_with('b')) {
      FUZZ_CHECK(text == input, "base32 CID prints differently: %s", text.c_str());
    }
    auto binary = ParseCidBytes(cid->bytes());
    FUZZ_CHECK(cid->version() == 0 || (binary && *binary == *cid), "binary form does not parse");
    if (cid->IsBlessed()) {
      FUZZ_CHECK(IsValidCidString(text), "blessed CID fails the cid format: %s", text.c_str());
    }
  }

  if (auto cid = ParseCidBytes(input)) {
    FUZZ_CHECK(cid->bytes() == input, "binary CID keeps other bytes than it parsed");
    auto text = ParseCid(cid->ToString());
    FUZZ_CHECK(text && *text == *cid, "binary CID does not survive its text form");
  }
  return 0;
}
