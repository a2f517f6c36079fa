#include "lex/validate.h"

#include <string>

#include "lex/text.h"

namespace atipay::lex {

namespace {

std::string JoinEnum(std::span<const std::string_view> values) {
  std::string out = "must be one of (";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back('|');
    out.append(values[i]);
  }
  out.push_back(')');
  return out;
}

std::string JoinEnum(std::span<const std::int64_t> values) {
  std::string out = "must be one of (";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back('|');
    out += std::to_string(values[i]);
  }
  out.push_back(')');
  return out;
}

bool IsCompoundShaped(const boost::json::object& obj) {
  if (obj.contains("$bytes") || obj.contains("$link")) return true;
  auto it = obj.find("$type");
  return it != obj.end() && it->value().is_string() && it->value().get_string() == "blob";
}

}  // namespace

std::string_view UnknownUnionMember::type() const {
  auto it = value.find("$type");
  if (it == value.end() || !it->value().is_string()) return {};
  return it->value().get_string();
}

bool ParseBoolean(const boost::json::value& v, bool& out, std::optional<bool> const_value,
                  const Path& path, Errors& errors) {
  if (!v.is_bool()) return errors.Fail(path, "must be a boolean");
  out = v.get_bool();
  if (const_value && out != *const_value) {
    return errors.Fail(path, *const_value ? "must be true" : "must be false");
  }
  return true;
}

bool CheckInteger(std::int64_t value, const IntegerConstraints& c, const Path& path,
                  Errors& errors) {
  if (c.const_value && value != *c.const_value) {
    return errors.Fail(path, "must be " + std::to_string(*c.const_value));
  }
  if (c.enum_values) {
    bool found = false;
    for (std::int64_t e : *c.enum_values) found = found || e == value;
    if (!found) return errors.Fail(path, JoinEnum(*c.enum_values));
  }
  if (c.maximum && value > *c.maximum) {
    return errors.Fail(path, "can not be greater than " + std::to_string(*c.maximum));
  }
  if (c.minimum && value < *c.minimum) {
    return errors.Fail(path, "can not be less than " + std::to_string(*c.minimum));
  }
  return true;
}

bool ParseInteger(const boost::json::value& v, std::int64_t& out, const IntegerConstraints& c,
                  const Path& path, Errors& errors) {
  if (!v.is_number()) return errors.Fail(path, "must be an integer");
  std::optional<std::int64_t> value = JsonToInt64(v);
  if (!value) return errors.Fail(path, "must be an integer");
  out = *value;
  return CheckInteger(out, c, path, errors);
}

bool CheckString(std::string_view value, const StringConstraints& c, const Path& path,
                 Errors& errors) {
  if (c.const_value && value != *c.const_value) {
    return errors.Fail(path, "must be " + std::string(*c.const_value));
  }
  if (c.enum_values) {
    bool found = false;
    for (std::string_view e : *c.enum_values) found = found || e == value;
    if (!found) return errors.Fail(path, JoinEnum(*c.enum_values));
  }
  const auto bytes = static_cast<std::int64_t>(value.size());
  if (c.max_length && bytes > *c.max_length) {
    return errors.Fail(path,
                       "must not be longer than " + std::to_string(*c.max_length) + " characters");
  }
  if (c.min_length && bytes < *c.min_length) {
    return errors.Fail(path,
                       "must not be shorter than " + std::to_string(*c.min_length) + " characters");
  }
  if (c.max_graphemes || c.min_graphemes) {
    std::size_t counted = 0;
    if (!CheckGraphemes(value, c.min_graphemes, c.max_graphemes, &counted)) {
      const auto n = static_cast<std::int64_t>(counted);
      if (c.max_graphemes && n > *c.max_graphemes) {
        return errors.Fail(path, "must not be longer than " + std::to_string(*c.max_graphemes) +
                                     " graphemes");
      }
      return errors.Fail(path, "must not be shorter than " +
                                   std::to_string(c.min_graphemes.value_or(0)) + " graphemes");
    }
  }
  if (c.format && !IsValidFormat(*c.format, value)) {
    return errors.Fail(path, StringFormatError(*c.format));
  }
  return true;
}

bool ParseString(const boost::json::value& v, std::string& out, const StringConstraints& c,
                 const Path& path, Errors& errors) {
  const boost::json::string* s = v.if_string();
  if (s == nullptr) return errors.Fail(path, "must be a string");
  if (!CheckString(*s, c, path, errors)) return false;
  out.assign(s->data(), s->size());
  return true;
}

bool ParseBytes(const boost::json::value& v, Bytes& out, const BytesConstraints& c,
                const Path& path, Errors& errors) {
  if (!ParseBytes(v, out, path, errors)) return false;
  const auto size = static_cast<std::int64_t>(out.data.size());
  if (c.max_length && size > *c.max_length) {
    return errors.Fail(path,
                       "must not be larger than " + std::to_string(*c.max_length) + " bytes");
  }
  if (c.min_length && size < *c.min_length) {
    return errors.Fail(path,
                       "must not be smaller than " + std::to_string(*c.min_length) + " bytes");
  }
  return true;
}

bool MimeTypeAccepted(std::string_view mime, std::span<const std::string_view> accept) {
  for (std::string_view pattern : accept) {
    if (pattern == "*/*" || pattern == mime) return true;
    if (pattern.size() >= 2 && pattern.ends_with("/*") &&
        mime.starts_with(pattern.substr(0, pattern.size() - 1))) {
      return true;
    }
  }
  return false;
}

bool ParseBlob(const boost::json::value& v, Blob& out, const BlobConstraints& c, const Path& path,
               Errors& errors) {
  if (!ParseBlob(v, out, path, errors)) return false;
  if (!c.accept.empty() && !MimeTypeAccepted(out.mime_type, c.accept)) {
    std::string what = "mime type must be one of ";
    for (std::size_t i = 0; i < c.accept.size(); ++i) {
      if (i > 0) what += ", ";
      what.append(c.accept[i]);
    }
    return errors.Fail(path, what);
  }
  if (c.max_size && out.size > *c.max_size) {
    return errors.Fail(path, "is too big (max " + std::to_string(*c.max_size) + " bytes)");
  }
  return true;
}

bool CheckUnknown(const boost::json::value& v, const Path& path, Errors& errors) {
  const boost::json::object* obj = v.if_object();
  if (obj == nullptr || IsCompoundShaped(*obj)) return errors.Fail(path, "must be an object");
  return CheckDataModel(v, path, errors);
}

bool ParseUnknown(const boost::json::value& v, boost::json::object& out, const Path& path,
                  Errors& errors) {
  if (!CheckUnknown(v, path, errors)) return false;
  out = v.get_object();
  return true;
}

const boost::json::object* ExpectObject(const boost::json::value& v, const Path& path,
                                        Errors& errors) {
  if (path.depth() > kMaxValidationDepth) {
    errors.Fail(path, "is nested too deeply");
    return nullptr;
  }
  const boost::json::object* obj = v.if_object();
  if (obj == nullptr) errors.Fail(path, "must be an object");
  return obj;
}

bool CheckArrayLength(std::size_t size, const ArrayConstraints& c, const Path& path,
                      Errors& errors) {
  const auto n = static_cast<std::int64_t>(size);
  if (c.max_length && n > *c.max_length) {
    return errors.Fail(path, "must not have more than " + std::to_string(*c.max_length) + " elements");
  }
  if (c.min_length && n < *c.min_length) {
    return errors.Fail(path, "must not have fewer than " + std::to_string(*c.min_length) + " elements");
  }
  return true;
}

boost::json::value WithType(boost::json::value object, std::string_view type) {
  if (boost::json::object* obj = object.if_object()) obj->insert_or_assign("$type", type);
  return object;
}

const boost::json::array* ExpectArray(const boost::json::value& v, const ArrayConstraints& c,
                                      const Path& path, Errors& errors) {
  if (path.depth() > kMaxValidationDepth) {
    errors.Fail(path, "is nested too deeply");
    return nullptr;
  }
  const boost::json::array* array = v.if_array();
  if (array == nullptr) {
    errors.Fail(path, "must be an array");
    return nullptr;
  }
  return CheckArrayLength(array->size(), c, path, errors) ? array : nullptr;
}

std::optional<std::string_view> UnionType(const boost::json::value& v, const Path& path,
                                          Errors& errors) {
  if (const boost::json::object* obj = v.if_object()) {
    auto it = obj->find("$type");
    if (it != obj->end() && it->value().is_string() && !it->value().get_string().empty()) {
      const std::string_view type = it->value().get_string();
      // The reference reads it as a lexicon URI, which throws for either; tolerating them here
      // would let one side strip a "#main" while the other took an unknown member.
      if (type.find('#') != type.rfind('#')) {
        errors.Fail(path.Key("$type"), "can only have one hash segment");
        return std::nullopt;
      }
      if (type.front() == '#') {
        errors.Fail(path.Key("$type"), "must be an NSID, not a bare #fragment");
        return std::nullopt;
      }
      return type;
    }
  }
  errors.Fail(path, "must be an object which includes the \"$type\" property");
  return std::nullopt;
}

bool UnionTypeMatches(std::string_view type, std::string_view ref) {
  if (type == ref) return true;
  constexpr std::string_view kMain = "#main";
  if (type.ends_with(kMain)) return type.substr(0, type.size() - kMain.size()) == ref;
  if (ref.ends_with(kMain)) return ref.substr(0, ref.size() - kMain.size()) == type;
  return false;
}

bool FailClosedUnion(std::span<const std::string_view> refs, const Path& path, Errors& errors) {
  std::string what = "$type must be one of ";
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (i > 0) what += ", ";
    what.append(refs[i]);
  }
  return errors.Fail(path, what);
}

bool CheckRecordType(const boost::json::object& obj, std::string_view nsid, const Path& path,
                     Errors& errors) {
  auto it = obj.find("$type");
  if (it == obj.end() || !it->value().is_string()) {
    return errors.Fail(path.Key("$type"), "must be a string");
  }
  std::string_view type = it->value().get_string();
  if (type != nsid) {
    return errors.FailMessage("Invalid $type: must be " + std::string(nsid) + ", got " +
                              std::string(type));
  }
  return true;
}

}  // namespace atipay::lex
