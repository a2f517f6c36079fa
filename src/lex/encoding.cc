#include "lex/encoding.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace atipay::lex {
namespace {

constexpr std::string_view kBase64Chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64UrlChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kBase32Chars = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kBase58Chars =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kHexChars = "0123456789abcdef";

using ReverseTable = std::array<std::int8_t, 256>;

constexpr ReverseTable MakeReverse(std::string_view alphabet) {
  ReverseTable table{};
  for (auto& entry : table) entry = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr ReverseTable kBase64Reverse = MakeReverse(kBase64Chars);
constexpr ReverseTable kBase64UrlReverse = MakeReverse(kBase64UrlChars);
constexpr ReverseTable kBase32Reverse = MakeReverse(kBase32Chars);
constexpr ReverseTable kBase58Reverse = MakeReverse(kBase58Chars);

std::string EncodeBase64With(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t n = std::uint32_t{in[i]} << 16;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    std::uint32_t n = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

// `strict_tail` refuses non-zero leftover bits. The data model's $bytes is lenient, as the
// reference is (the interop vector "123" has them); JWT segments are strict, so one token has
// exactly one encoding.
std::optional<std::string> DecodeBase64With(std::string_view text, const ReverseTable& table,
                                            bool allow_padding, bool strict_tail) {
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  if (padding > 0) {
    if (!allow_padding || text.size() % 4 != 0) return std::nullopt;
    text.remove_suffix(padding);
  }
  std::size_t tail = text.size() % 4;
  // One leftover character carries only 6 bits: never a whole byte.
  if (tail == 1) return std::nullopt;
  if (padding > 0 && padding != 4 - tail) return std::nullopt;

  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    std::int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (strict_tail && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string EncodeBase64(std::string_view bytes) {
  return EncodeBase64With(bytes, kBase64Chars, true);
}

std::string EncodeBase64Unpadded(std::string_view bytes) {
  return EncodeBase64With(bytes, kBase64Chars, false);
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  return DecodeBase64With(text, kBase64Reverse, true, false);
}

std::string EncodeBase64Url(std::string_view bytes) {
  return EncodeBase64With(bytes, kBase64UrlChars, false);
}

std::optional<std::string> DecodeBase64Url(std::string_view text) {
  return DecodeBase64With(text, kBase64UrlReverse, false, true);
}

std::string EncodeBase32(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Chars[(buffer >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(kBase32Chars[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::string> DecodeBase32(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    std::int8_t v = kBase32Reverse[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // A whole leftover character, or set padding bits, means the text is not canonical.
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string EncodeBase58Btc(std::string_view bytes) {
  std::size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == '\0') ++zeros;
  // Base-58 digits, little-endian; log(256)/log(58) < 1.37.
  std::vector<std::uint8_t> digits;
  digits.reserve((bytes.size() - zeros) * 138 / 100 + 1);
  for (std::size_t i = zeros; i < bytes.size(); ++i) {
    std::uint32_t carry = static_cast<unsigned char>(bytes[i]);
    for (auto& d : digits) {
      carry += std::uint32_t{d} << 8;
      d = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<std::uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  out.reserve(zeros + digits.size());
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kBase58Chars[*it]);
  return out;
}

std::optional<std::string> DecodeBase58Btc(std::string_view text) {
  std::size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;
  // Bytes, little-endian; log(58)/log(256) < 0.74.
  std::vector<std::uint8_t> bytes;
  bytes.reserve((text.size() - ones) * 74 / 100 + 1);
  for (std::size_t i = ones; i < text.size(); ++i) {
    std::int8_t v = kBase58Reverse[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    std::uint32_t carry = static_cast<std::uint32_t>(v);
    for (auto& b : bytes) {
      carry += std::uint32_t{b} * 58;
      b = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  std::string out(ones, '\0');
  out.reserve(ones + bytes.size());
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) out.push_back(static_cast<char>(*it));
  return out;
}

std::string EncodeHex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(kHexChars[b >> 4]);
    out.push_back(kHexChars[b & 15]);
  }
  return out;
}

std::optional<std::string> DecodeHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

}  // namespace atipay::lex
