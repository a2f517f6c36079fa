// base64, base64url, base32, base58btc and hex. Oracle (encoding.h): a text a strict decoder
// accepts is the canonical encoding of its bytes (base64, which ignores trailing bits, at
// least re-encodes to a text of the same length and bytes); any bytes survive encoding and
// decoding.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "lex/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay::lex;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto bytes = DecodeBase64(input)) {
    const bool padded = input.find('=') != std::string_view::npos;
    const std::string text = padded ? EncodeBase64(*bytes) : EncodeBase64Unpadded(*bytes);
    FUZZ_CHECK(text.size() == input.size() && DecodeBase64(text) == bytes,
               "base64 text does not re-encode: %s", text.c_str());
  }
  if (auto bytes = DecodeBase64Url(input)) {
    FUZZ_CHECK(EncodeBase64Url(*bytes) == input, "base64url text is not canonical");
  }
  if (auto bytes = DecodeBase32(input)) {
    FUZZ_CHECK(EncodeBase32(*bytes) == input, "base32 text is not canonical");
  }
  if (auto bytes = DecodeBase58Btc(input)) {
    FUZZ_CHECK(EncodeBase58Btc(*bytes) == input, "base58btc text is not canonical");
  }
  if (auto bytes = DecodeHex(input)) {
    std::string lower(input);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    FUZZ_CHECK(EncodeHex(*bytes) == lower, "hex text is not canonical");
  }

  if (size <= 4096) {  // base58 is quadratic
    FUZZ_CHECK(DecodeBase58Btc(EncodeBase58Btc(input)) == std::string(input),
               "base58btc lost bytes");
  }
  FUZZ_CHECK(DecodeBase64(EncodeBase64(input)) == std::string(input), "base64 lost bytes");
  FUZZ_CHECK(DecodeBase64(EncodeBase64Unpadded(input)) == std::string(input), "base64 lost bytes");
  FUZZ_CHECK(DecodeBase64Url(EncodeBase64Url(input)) == std::string(input), "base64url lost bytes");
  FUZZ_CHECK(DecodeBase32(EncodeBase32(input)) == std::string(input), "base32 lost bytes");
  FUZZ_CHECK(DecodeHex(EncodeHex(input)) == std::string(input), "hex lost bytes");
  return 0;
}
