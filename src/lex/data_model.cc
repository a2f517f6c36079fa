#include "lex/data_model.h"

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "lex/cid.h"
#include "lex/encoding.h"

namespace atipay::lex {
namespace {

namespace json = boost::json;

constexpr std::string_view kNotBytes = "must be a byte array";
constexpr std::string_view kNotCid = "must be a CID";
constexpr std::string_view kNotBlob = "should be a blob ref";

// The single string value of a one-key object {key: "..."}, or nullptr.
const json::string* SoleStringMember(const json::object& obj, std::string_view key) {
  if (obj.size() != 1) return nullptr;
  const json::key_value_pair& kv = *obj.begin();
  if (kv.key() != key) return nullptr;
  return kv.value().if_string();
}

const json::string* SoleStringMember(const json::value& v, std::string_view key) {
  const json::object* obj = v.if_object();
  return obj == nullptr ? nullptr : SoleStringMember(*obj, key);
}

std::optional<Cid> LinkCid(const json::string* text) {
  if (text == nullptr || text->size() > kMaxCidStringLength) return std::nullopt;
  return ParseCid(*text);
}

bool IsBlobShape(const json::object& obj, Blob* out) {
  if (obj.size() != 4) return false;
  const json::value* type = obj.if_contains("$type");
  if (type == nullptr || !type->is_string() || type->get_string() != "blob") return false;
  const json::value* mime = obj.if_contains("mimeType");
  if (mime == nullptr || !mime->is_string()) return false;
  std::string_view mime_type = mime->get_string();
  if (mime_type.empty() || mime_type.find('/') == std::string_view::npos) return false;
  const json::value* size_value = obj.if_contains("size");
  if (size_value == nullptr) return false;
  auto size = JsonToInt64(*size_value);
  if (!size || *size < 0) return false;
  const json::value* ref = obj.if_contains("ref");
  if (ref == nullptr) return false;
  auto cid = LinkCid(SoleStringMember(*ref, "$link"));
  if (!cid) return false;
  if (out != nullptr) {
    out->ref.cid = cid->ToString();
    out->mime_type = std::string(mime_type);
    out->size = *size;
  }
  return true;
}

class Checker {
 public:
  Checker(Errors& errors, int max_depth) : errors_(errors), max_depth_(max_depth) {}

  bool Check(const json::value& v, const Path& path, int depth) {
    switch (v.kind()) {
      case json::kind::null:
      case json::kind::bool_:
      case json::kind::string:
        return true;
      case json::kind::int64:
      case json::kind::uint64:
      case json::kind::double_: {
        if (v.is_double() && v.get_double() != std::trunc(v.get_double())) {
          return errors_.Fail(path, "must be an integer, not a float");
        }
        std::optional<std::int64_t> i = JsonToInt64(v);
        if (i && IsSafeInteger(*i)) return true;
        return errors_.Fail(path, "must be an integer from -9007199254740991 to 9007199254740991");
      }
      case json::kind::array: {
        if (depth >= max_depth_) return TooDeep(path);
        std::size_t i = 0;
        for (const json::value& item : v.get_array()) {
          if (!Check(item, path.Index(i++), depth + 1)) return false;
        }
        return true;
      }
      case json::kind::object:
        return CheckObject(v.get_object(), path, depth);
    }
    return errors_.Fail(path, "is not a JSON value");
  }

  bool CheckObject(const json::object& obj, const Path& path, int depth) {
    // $link, $bytes and blob objects are leaves of the data model, so they add no depth.
    if (obj.contains("$link")) {
      return LinkCid(SoleStringMember(obj, "$link")) ? true : errors_.Fail(path, kNotCid);
    }
    if (obj.contains("$bytes")) {
      const json::string* text = SoleStringMember(obj, "$bytes");
      return text != nullptr && DecodeBase64(*text) ? true : errors_.Fail(path, kNotBytes);
    }
    if (const json::value* type = obj.if_contains("$type")) {
      const json::string* type_name = type->if_string();
      if (type_name == nullptr || type_name->empty()) {
        return errors_.Fail(path.Key("$type"), "must be a non-empty string");
      }
      if (*type_name == "blob") {
        return IsBlobShape(obj, nullptr) ? true : errors_.Fail(path, kNotBlob);
      }
    }
    if (depth >= max_depth_) return TooDeep(path);
    for (const json::key_value_pair& kv : obj) {
      std::string_view key = kv.key();
      if (key.empty()) return errors_.Fail(path, "must not have an empty key");
      if (key.size() > kMaxObjectKeyBytes) return errors_.Fail(path, "has a key that is too long");
      if (!Check(kv.value(), path.Key(key), depth + 1)) return false;
    }
    return true;
  }

 private:
  bool TooDeep(const Path& path) {
    return errors_.Fail(path, "is nested too deeply (more than " + std::to_string(max_depth_) +
                                  " levels)");
  }

  Errors& errors_;
  int max_depth_;
};

}  // namespace

bool CheckDataModel(const json::value& v, const Path& path, Errors& errors, int max_depth) {
  const json::object* obj = v.if_object();
  // A $bytes, $link or blob object is a scalar of the data model, not an object.
  if (obj == nullptr || obj->contains("$link") || obj->contains("$bytes")) {
    return errors.Fail(path, "must be an object");
  }
  if (const json::value* type = obj->if_contains("$type");
      type != nullptr && type->is_string() && type->get_string() == "blob") {
    return errors.Fail(path, "must be an object");
  }
  return Checker(errors, max_depth).CheckObject(*obj, path, 0);
}

bool CheckDataValue(const json::value& v, const Path& path, Errors& errors, int max_depth) {
  return Checker(errors, max_depth).Check(v, path, 0);
}

bool ParseBytes(const json::value& v, Bytes& out, const Path& path, Errors& errors) {
  const json::string* text = SoleStringMember(v, "$bytes");
  if (text == nullptr) return errors.Fail(path, kNotBytes);
  auto bytes = DecodeBase64(*text);
  if (!bytes) return errors.Fail(path, kNotBytes);
  out.data = std::move(*bytes);
  return true;
}

bool ParseCidLink(const json::value& v, CidLink& out, const Path& path, Errors& errors) {
  auto cid = LinkCid(SoleStringMember(v, "$link"));
  if (!cid) return errors.Fail(path, kNotCid);
  out.cid = cid->ToString();
  return true;
}

bool ParseBlob(const json::value& v, Blob& out, const Path& path, Errors& errors) {
  const json::object* obj = v.if_object();
  if (obj == nullptr || !IsBlobShape(*obj, &out)) return errors.Fail(path, kNotBlob);
  return true;
}

json::value ToJson(const Bytes& bytes) {
  return json::object{{"$bytes", EncodeBase64Unpadded(bytes.data)}};
}

json::value ToJson(const CidLink& link) { return json::object{{"$link", link.cid}}; }

json::value ToJson(const Blob& blob) {
  return json::object{{"$type", "blob"},
                      {"ref", ToJson(blob.ref)},
                      {"mimeType", blob.mime_type},
                      {"size", blob.size}};
}

std::optional<std::int64_t> JsonToInt64(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64:
      return v.get_int64();
    case json::kind::uint64:
      if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<std::int64_t>(v.get_uint64());
    case json::kind::double_: {
      const double d = v.get_double();
      // 2^63 is exactly representable; every integral double below it in magnitude fits.
      constexpr double kLimit = 9223372036854775808.0;
      if (!std::isfinite(d) || d != std::trunc(d) || d >= kLimit || d < -kLimit) {
        return std::nullopt;
      }
      return static_cast<std::int64_t>(d);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace atipay::lex
