#include "auth/flat_json.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace atipay::auth::flat_json {
namespace {

// boost::json's default parse_options::max_depth; the top-level object is depth 1.
constexpr int kMaxDepth = 32;

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Flags (high bit of each byte) the bytes of an 8-byte little-endian word that end a run of
// plain string characters: '"', '\\', controls below 0x20 and bytes >= 0x80. Only the lowest
// flag is exact (borrows may set higher ones), which is the one used.
std::uint64_t SpecialBytes(std::uint64_t w) {
  constexpr std::uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
  auto zero_bytes = [](std::uint64_t v) { return (v - k01) & ~v & k80; };
  return zero_bytes(w ^ (k01 * '"')) | zero_bytes(w ^ (k01 * '\\')) |
         ((w - k01 * 0x20) & ~w & k80) | (w & k80);
}

bool SameKey(std::string_view a, std::string_view b) {
  // Most names differ in their first byte: skip the memcmp call for those.
  return a.size() == b.size() && (a.empty() || (a[0] == b[0] && a == b));
}

// Four hex digits at p (which must have at least 4 bytes left) -> code unit, or -1.
long Hex4(const char* p) {
  long v = 0;
  for (int i = 0; i < 4; ++i) {
    int d = HexValue(p[i]);
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

// boost::json refuses a number whose decimal exponent, once the digits it could not keep in
// its 64-bit mantissa are counted in, leaves the int range ("exponent overflow"). Only numbers
// with an exponent part can; this retraces boost's arithmetic (basic_parser_impl.hpp,
// parse_number) so that both accept the same texts.
bool ExponentInRange(std::string_view raw) {
  std::size_t i = 0;
  const bool negative = raw[i] == '-';
  if (negative) ++i;
  std::uint64_t mant = 0;
  std::int64_t bias = 0;
  bool mant_full = false;
  if (raw[i] == '0') {
    ++i;
  } else {
    mant = static_cast<std::uint64_t>(raw[i++] - '0');
    for (; i < raw.size() && IsDigit(raw[i]); ++i) {
      const char c = raw[i];
      if (!mant_full &&
          (negative
               ? (mant > 922337203685477580ULL || (mant == 922337203685477580ULL && c > '8'))
               : (mant > 1844674407370955161ULL || (mant == 1844674407370955161ULL && c > '5')))) {
        mant_full = true;
      }
      if (mant_full) {
        ++bias;
      } else {
        mant = 10 * mant + static_cast<std::uint64_t>(c - '0');
      }
    }
  }
  if (i < raw.size() && raw[i] == '.') {
    for (++i; i < raw.size() && IsDigit(raw[i]); ++i) {
      if (!mant_full && mant <= 9007199254740991ULL) {  // 2^53 - 1
        --bias;
        mant = 10 * mant + static_cast<std::uint64_t>(raw[i] - '0');
      } else {
        mant_full = true;
      }
    }
  }
  if (i == raw.size()) return true;  // no exponent part
  ++i;                               // 'e' or 'E'
  bool exp_negative = false;
  if (raw[i] == '+' || raw[i] == '-') exp_negative = raw[i++] == '-';
  std::int64_t exp = 0;
  for (; i < raw.size(); ++i) {
    if (exp > 214748364 || (exp == 214748364 && raw[i] > '7')) return false;
    exp = 10 * exp + (raw[i] - '0');
  }
  return exp_negative ? bias >= INT32_MIN + exp : bias <= INT32_MAX - exp;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool TopObject(std::span<Wanted> wanted) {
    SkipWs();
    if (p_ == end_ || *p_ != '{') return false;
    ++p_;
    SkipWs();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
    } else {
      std::string decoded_key;
      for (;;) {
        std::string_view key;
        bool escaped = false;
        if (p_ == end_ || *p_ != '"' || !String(&key, &escaped)) return false;
        if (escaped) {
          decoded_key = DecodeString(Value{Value::Kind::kString, key, true});
          key = decoded_key;
        }
        SkipWs();
        if (p_ == end_ || *p_ != ':') return false;
        ++p_;
        SkipWs();
        if (p_ == end_) return false;
        Value value;
        if (*p_ == '"') {
          value.kind = Value::Kind::kString;
          if (!String(&value.raw, &value.escaped)) return false;
        } else if (*p_ == '-' || IsDigit(*p_)) {
          value.kind = Value::Kind::kNumber;
          if (!Number(&value.raw)) return false;
        } else if (!AnyValue(1)) {
          return false;
        }
        for (Wanted& w : wanted) {
          if (SameKey(w.name, key)) w.value = value;  // the last occurrence wins
        }
        SkipWs();
        if (p_ == end_) return false;
        if (*p_ == '}') {
          ++p_;
          break;
        }
        if (*p_ != ',') return false;
        ++p_;
        SkipWs();
      }
    }
    SkipWs();
    return p_ == end_;
  }

 private:
  void SkipWs() {
    while (p_ != end_ && IsWs(*p_)) ++p_;
  }

  // At '"'. Checks escapes and UTF-8; `raw` gets the bytes between the quotes.
  bool String(std::string_view* raw, bool* escaped) {
    ++p_;
    const char* start = p_;
    *escaped = false;
    for (;;) {
      if constexpr (std::endian::native == std::endian::little) {
        // Runs of plain characters, eight bytes at a time.
        while (end_ - p_ >= 8) {
          std::uint64_t w;
          std::memcpy(&w, p_, sizeof(w));
          const std::uint64_t special = SpecialBytes(w);
          if (special != 0) {
            p_ += std::countr_zero(special) / 8;
            break;
          }
          p_ += 8;
        }
      }
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c < 0x80 && c != '\\') {
        ++p_;
        continue;
      }
      if (c == '\\') {
        *escaped = true;
        if (end_ - p_ < 2) return false;
        const char e = p_[1];
        p_ += 2;
        switch (e) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            break;
          case 'u': {
            if (end_ - p_ < 4) return false;
            const long unit = Hex4(p_);
            if (unit < 0) return false;
            p_ += 4;
            if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a lone low surrogate
            if (unit >= 0xD800 && unit <= 0xDBFF) {
              // A high surrogate must be followed by an escaped low one.
              if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
              const long low = Hex4(p_ + 2);
              if (low < 0xDC00 || low > 0xDFFF) return false;
              p_ += 6;
            }
            break;
          }
          default:
            return false;
        }
        continue;
      }
      if (!Utf8Sequence()) return false;
    }
  }

  // At a byte >= 0x80: one well-formed UTF-8 sequence (Unicode 15, table 3-7): no overlong
  // forms, no surrogates, nothing above U+10FFFF.
  bool Utf8Sequence() {
    const auto b0 = static_cast<unsigned char>(p_[0]);
    int len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds for the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end_ - p_ < len) return false;
    const auto b1 = static_cast<unsigned char>(p_[1]);
    if (b1 < lo || b1 > hi) return false;
    for (int i = 2; i < len; ++i) {
      const auto b = static_cast<unsigned char>(p_[i]);
      if (b < 0x80 || b > 0xBF) return false;
    }
    p_ += len;
    return true;
  }

  // At '-' or a digit: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(std::string_view* raw) {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (IsDigit(*p_)) {
      while (p_ != end_ && IsDigit(*p_)) ++p_;
    } else {
      return false;
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ != end_ && IsDigit(*p_)) ++p_;
    }
    bool exponent = false;
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      exponent = true;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ != end_ && IsDigit(*p_)) ++p_;
    }
    *raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return !exponent || ExponentInRange(*raw);
  }

  bool Literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // Any value, checked and skipped. `depth` is that of the container holding it.
  bool AnyValue(int depth) {
    if (p_ == end_) return false;
    std::string_view raw;
    bool escaped;
    switch (*p_) {
      case '{':
        return depth < kMaxDepth && Object(depth + 1);
      case '[':
        return depth < kMaxDepth && Array(depth + 1);
      case '"':
        return String(&raw, &escaped);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return (*p_ == '-' || IsDigit(*p_)) && Number(&raw);
    }
  }

  bool Object(int depth) {
    ++p_;
    SkipWs();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      std::string_view key;
      bool escaped;
      if (p_ == end_ || *p_ != '"' || !String(&key, &escaped)) return false;
      SkipWs();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      SkipWs();
      if (!AnyValue(depth)) return false;
      SkipWs();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      SkipWs();
    }
  }

  bool Array(int depth) {
    ++p_;
    SkipWs();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (!AnyValue(depth)) return false;
      SkipWs();
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      SkipWs();
    }
  }

  const char* p_;
  const char* end_;
};

void AppendUtf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool ParseObject(std::string_view text, std::span<Wanted> wanted) {
  for (Wanted& w : wanted) w.value.reset();
  return Parser(text).TopObject(wanted);
}

std::string DecodeString(const Value& value) {
  std::string_view raw = value.raw;
  if (!value.escaped) return std::string(raw);
  // ParseObject has checked every escape: decode without re-checking.
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out += raw[i];
      continue;
    }
    const char e = raw[++i];
    switch (e) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        unsigned long cp = static_cast<unsigned long>(Hex4(raw.data() + i + 1));
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          const unsigned long low = static_cast<unsigned long>(Hex4(raw.data() + i + 3));
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
        AppendUtf8(out, cp);
        break;
      }
      default:  // '"', '\\', '/'
        out += e;
        break;
    }
  }
  return out;
}

std::optional<std::int64_t> PositiveInteger(const Value& value) {
  // 2^53 (JavaScript's largest exact integer) has 16 digits.
  std::string_view raw = value.raw;
  if (value.kind != Value::Kind::kNumber || raw.empty() || raw.size() > 16 || raw[0] < '1' ||
      raw[0] > '9') {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (char c : raw) {
    if (!IsDigit(c)) return std::nullopt;  // a fraction or an exponent
    v = v * 10 + (c - '0');
  }
  if (v > (std::int64_t{1} << 53)) return std::nullopt;
  return v;
}

}  // namespace atipay::auth::flat_json
