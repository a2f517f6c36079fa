#include "lex/cbor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "lex/cid.h"
#include "lex/data_model.h"
#include "lex/encoding.h"

namespace atipay::lex {
namespace {

namespace json = boost::json;

constexpr std::uint8_t kMajorUnsigned = 0;
constexpr std::uint8_t kMajorNegative = 1;
constexpr std::uint8_t kMajorBytes = 2;
constexpr std::uint8_t kMajorText = 3;
constexpr std::uint8_t kMajorArray = 4;
constexpr std::uint8_t kMajorMap = 5;
constexpr std::uint8_t kMajorTag = 6;
constexpr std::uint8_t kMajorSimple = 7;
constexpr std::uint64_t kCidTag = 42;
constexpr std::string_view kUnsafeInteger =
    "integers beyond -9007199254740991 to 9007199254740991 (2^53-1) are not allowed in the atproto "
    "data model";
// Up to this many keys, objects sort on the stack.
constexpr std::size_t kInlineKeys = 32;

// Length-first, then bytewise: the DAG-CBOR / RFC 7049 canonical key order.
bool KeyLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return std::memcmp(a.data(), b.data(), a.size()) < 0;
}

class Encoder {
 public:
  Encoder(std::string& out, std::string* error) : out_(out), error_(error) {}

  bool Encode(const json::value& v, int depth) {
    switch (v.kind()) {
      case json::kind::null:
        out_.push_back(static_cast<char>(0xf6));
        return true;
      case json::kind::bool_:
        out_.push_back(static_cast<char>(v.get_bool() ? 0xf5 : 0xf4));
        return true;
      case json::kind::int64:
      case json::kind::uint64:
      case json::kind::double_: {
        if (v.is_double() && v.get_double() != std::trunc(v.get_double())) {
          return Fail("floats are not allowed in the atproto data model");
        }
        auto i = JsonToInt64(v);
        if (!i || !IsSafeInteger(*i)) return Fail(kUnsafeInteger);
        WriteInt(*i);
        return true;
      }
      case json::kind::string: {
        const json::string& s = v.get_string();
        WriteHead(kMajorText, s.size());
        out_.append(s.data(), s.size());
        return true;
      }
      case json::kind::array: {
        if (depth >= kMaxCborDepth) return Fail("data nested too deeply");
        const json::array& a = v.get_array();
        WriteHead(kMajorArray, a.size());
        for (const json::value& item : a) {
          if (!Encode(item, depth + 1)) return false;
        }
        return true;
      }
      case json::kind::object:
        return EncodeObject(v.get_object(), depth);
    }
    return Fail("unknown JSON value kind");
  }

 private:
  bool EncodeObject(const json::object& obj, int depth) {
    const std::size_t n = obj.size();
    const json::key_value_pair* inline_keys[kInlineKeys];
    std::unique_ptr<const json::key_value_pair*[]> heap_keys;
    const json::key_value_pair** keys = inline_keys;
    if (n > kInlineKeys) {
      heap_keys = std::make_unique<const json::key_value_pair*[]>(n);
      keys = heap_keys.get();
    }
    bool special = false;
    std::size_t i = 0;
    for (const json::key_value_pair& kv : obj) {
      keys[i++] = &kv;
      std::string_view k = kv.key();
      if (!k.empty() && k[0] == '$' && (k == "$link" || k == "$bytes")) special = true;
    }
    // $link and $bytes encode as a tag or a byte string, leaves that add no depth (as in the
    // decoder and CheckDataModel): only a real map counts against the limit.
    if (special) return EncodeSpecial(obj);
    if (depth >= kMaxCborDepth) return Fail("data nested too deeply");

    auto less = [](const json::key_value_pair* a, const json::key_value_pair* b) {
      return KeyLess(a->key(), b->key());
    };
    if (n <= 16) {
      // Insertion sort: records have few keys, and this beats std::sort's setup there.
      for (std::size_t j = 1; j < n; ++j) {
        const json::key_value_pair* cur = keys[j];
        std::size_t k = j;
        for (; k > 0 && less(cur, keys[k - 1]); --k) keys[k] = keys[k - 1];
        keys[k] = cur;
      }
    } else {
      std::sort(keys, keys + n, less);
    }

    WriteHead(kMajorMap, n);
    for (std::size_t j = 0; j < n; ++j) {
      std::string_view key = keys[j]->key();
      if (j > 0 && key == keys[j - 1]->key()) return Fail("duplicate map key");
      WriteHead(kMajorText, key.size());
      out_.append(key);
      if (!Encode(keys[j]->value(), depth + 1)) return false;
    }
    return true;
  }

  bool EncodeSpecial(const json::object& obj) {
    if (obj.size() != 1) return Fail("$link and $bytes objects must have exactly one key");
    const json::key_value_pair& kv = *obj.begin();
    if (!kv.value().is_string()) return Fail("$link and $bytes values must be strings");
    std::string_view text = kv.value().get_string();
    if (kv.key() == "$link") {
      auto cid = ParseCid(text);
      if (!cid) return Fail("invalid CID in $link");
      WriteHead(kMajorTag, kCidTag);
      WriteHead(kMajorBytes, cid->bytes().size() + 1);
      out_.push_back('\0');  // identity multibase prefix, required by DAG-CBOR
      out_.append(cid->bytes());
      return true;
    }
    auto bytes = DecodeBase64(text);
    if (!bytes) return Fail("invalid base64 in $bytes");
    WriteHead(kMajorBytes, bytes->size());
    out_.append(*bytes);
    return true;
  }

  void WriteInt(std::int64_t i) {
    if (i >= 0) {
      WriteHead(kMajorUnsigned, static_cast<std::uint64_t>(i));
    } else {
      // -1 - i without overflow for INT64_MIN.
      WriteHead(kMajorNegative, ~static_cast<std::uint64_t>(i));
    }
  }

  void WriteHead(std::uint8_t major, std::uint64_t arg) {
    char buf[9];
    const auto m = static_cast<std::uint8_t>(major << 5);
    std::size_t len;
    if (arg < 24) {
      buf[0] = static_cast<char>(m | arg);
      len = 1;
    } else if (arg <= 0xff) {
      buf[0] = static_cast<char>(m | 24);
      buf[1] = static_cast<char>(arg);
      len = 2;
    } else if (arg <= 0xffff) {
      buf[0] = static_cast<char>(m | 25);
      buf[1] = static_cast<char>(arg >> 8);
      buf[2] = static_cast<char>(arg);
      len = 3;
    } else if (arg <= 0xffffffffu) {
      buf[0] = static_cast<char>(m | 26);
      for (int k = 0; k < 4; ++k) buf[1 + k] = static_cast<char>(arg >> (24 - 8 * k));
      len = 5;
    } else {
      buf[0] = static_cast<char>(m | 27);
      for (int k = 0; k < 8; ++k) buf[1 + k] = static_cast<char>(arg >> (56 - 8 * k));
      len = 9;
    }
    out_.append(buf, len);
  }

  bool Fail(std::string_view message) {
    if (error_ != nullptr) *error_ = std::string(message);
    return false;
  }

  std::string& out_;
  std::string* error_;
};

// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF), fast on ASCII.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    std::uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((p[k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += extra + 1;
  }
  return true;
}

// The decoder reserves room for at most this many items up front, whatever a head declares.
constexpr std::uint64_t kMaxReserve = 64;

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  bool Decode(json::value& out, int depth) {
    if (pos_ >= in_.size()) return Fail("unexpected end of input");
    const auto initial = static_cast<std::uint8_t>(in_[pos_]);
    const std::uint8_t major = initial >> 5;
    if (major == kMajorSimple) {
      ++pos_;
      switch (initial) {
        case 0xf4:
          out = false;
          return true;
        case 0xf5:
          out = true;
          return true;
        case 0xf6:
          out = nullptr;
          return true;
        case 0xf9:
        case 0xfa:
        case 0xfb:
          return Fail("floats are not allowed in the atproto data model");
        default:
          return Fail("unsupported simple value");
      }
    }
    std::uint64_t arg = 0;
    if (!ReadHead(arg)) return false;
    switch (major) {
      case kMajorUnsigned:
        if (arg > static_cast<std::uint64_t>(kMaxSafeInteger)) return Fail(kUnsafeInteger);
        out = static_cast<std::int64_t>(arg);
        return true;
      case kMajorNegative:
        // -1 - arg must not pass -kMaxSafeInteger.
        if (arg >= static_cast<std::uint64_t>(kMaxSafeInteger)) return Fail(kUnsafeInteger);
        out = -1 - static_cast<std::int64_t>(arg);
        return true;
      case kMajorBytes: {
        std::string_view bytes;
        if (!ReadPayload(arg, bytes)) return false;
        json::object obj;
        obj.emplace("$bytes", EncodeBase64Unpadded(bytes));
        out = std::move(obj);
        return true;
      }
      case kMajorText: {
        std::string_view text;
        if (!ReadPayload(arg, text)) return false;
        if (!IsValidUtf8(text)) return Fail("invalid UTF-8 in text string");
        out = json::string(text);
        return true;
      }
      case kMajorArray: {
        if (depth >= kMaxCborDepth) return Fail("data nested too deeply");
        // Every item takes at least one byte: a larger count cannot be honest.
        if (arg > in_.size() - pos_) return Fail("array length exceeds input");
        // Grown as items are read: nested heads may each declare nearly the whole input, and
        // sizing every level from its count would take many times the input's size.
        json::array arr;
        arr.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(arg, kMaxReserve)));
        for (std::uint64_t i = 0; i < arg; ++i) {
          if (!Decode(arr.emplace_back(nullptr), depth + 1)) return false;
        }
        out = std::move(arr);
        return true;
      }
      case kMajorMap:
        return DecodeMap(arg, out, depth);
      case kMajorTag:
        return DecodeLink(arg, out);
    }
    return Fail("unsupported CBOR major type");
  }

  bool AtEnd() const { return pos_ == in_.size(); }
  const std::string& error() const { return error_; }
  bool Fail(std::string_view message) {
    error_ = std::string(message);
    return false;
  }

 private:
  bool DecodeMap(std::uint64_t count, json::value& out, int depth) {
    if (depth >= kMaxCborDepth) return Fail("data nested too deeply");
    if (count > (in_.size() - pos_) / 2) return Fail("map length exceeds input");
    json::object obj;
    obj.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, kMaxReserve)));
    std::string_view previous;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (pos_ >= in_.size()) return Fail("unexpected end of input");
      if ((static_cast<std::uint8_t>(in_[pos_]) >> 5) != kMajorText) {
        return Fail("map keys must be text strings");
      }
      std::uint64_t len = 0;
      if (!ReadHead(len)) return false;
      std::string_view key;
      if (!ReadPayload(len, key)) return false;
      if (!IsValidUtf8(key)) return Fail("invalid UTF-8 in map key");
      // Strictly increasing also rules out duplicates.
      if (i > 0 && !KeyLess(previous, key)) return Fail("map keys not in canonical order");
      // In the JSON form these keys mean a link or bytes: a map that holds one has no JSON form
      // (or, alone with a string, the form of a different value, so two blocks would share one).
      if (key == "$link" || key == "$bytes") return Fail("map key $link or $bytes");
      previous = key;
      json::value value;
      if (!Decode(value, depth + 1)) return false;
      obj.emplace(key, std::move(value));
    }
    out = std::move(obj);
    return true;
  }

  bool DecodeLink(std::uint64_t tag, json::value& out) {
    if (tag != kCidTag) return Fail("only CBOR tag 42 (CID) is allowed");
    if (pos_ >= in_.size()) return Fail("unexpected end of input");
    if ((static_cast<std::uint8_t>(in_[pos_]) >> 5) != kMajorBytes) {
      return Fail("tag 42 must wrap a byte string");
    }
    std::uint64_t len = 0;
    if (!ReadHead(len)) return false;
    std::string_view payload;
    if (!ReadPayload(len, payload)) return false;
    if (payload.empty() || payload[0] != '\0') return Fail("tag 42 bytes must start with 0x00");
    auto cid = ParseCidBytes(payload.substr(1));
    if (!cid) return Fail("invalid CID in tag 42");
    json::object obj;
    obj.emplace("$link", cid->ToString());
    out = std::move(obj);
    return true;
  }

  // Reads the argument of the head at pos_, enforcing the shortest form.
  bool ReadHead(std::uint64_t& arg) {
    const std::uint8_t info = static_cast<std::uint8_t>(in_[pos_++]) & 0x1f;
    if (info < 24) {
      arg = info;
      return true;
    }
    if (info == 31) return Fail("indefinite lengths are not allowed");
    if (info > 27) return Fail("reserved additional information value");
    const std::size_t size = std::size_t{1} << (info - 24);
    if (in_.size() - pos_ < size) return Fail("unexpected end of input");
    arg = 0;
    for (std::size_t k = 0; k < size; ++k) {
      arg = (arg << 8) | static_cast<std::uint8_t>(in_[pos_ + k]);
    }
    pos_ += size;
    static constexpr std::uint64_t kMinForSize[] = {24, 0x100, 0x10000, 0x100000000};
    if (arg < kMinForSize[info - 24]) return Fail("integer or length not in shortest form");
    return true;
  }

  bool ReadPayload(std::uint64_t len, std::string_view& out) {
    if (len > in_.size() - pos_) return Fail("length exceeds input");
    out = in_.substr(pos_, static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    return true;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

bool EncodeDagCbor(const json::value& v, std::string& out, std::string* error) {
  Encoder encoder(out, error);
  return encoder.Encode(v, 0);
}

Result<json::value> DecodeDagCbor(std::string_view bytes) {
  Decoder decoder(bytes);
  json::value out;
  if (!decoder.Decode(out, 0)) return Error{decoder.error()};
  if (!decoder.AtEnd()) return Error{"trailing bytes after the CBOR item"};
  return out;
}

std::string ComputeRecordCid(const json::value& record, std::string* error) {
  // One buffer per thread: after warm-up, encoding a record allocates nothing.
  thread_local std::string buffer;
  buffer.clear();
  if (!EncodeDagCbor(record, buffer, error)) return {};
  if (buffer.capacity() > (1u << 20)) {
    // Do not pin a huge buffer to the thread after an outsized record.
    std::string cid = ComputeDagCborCid(buffer).ToString();
    std::string().swap(buffer);
    return cid;
  }
  return ComputeDagCborCid(buffer).ToString();
}

}  // namespace atipay::lex
