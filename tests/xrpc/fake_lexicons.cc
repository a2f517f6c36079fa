#include "tests/xrpc/fake_lexicons.h"

#include <regex>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace fake_formats {

bool IsNsid(std::string_view s) {
  static const std::regex kNsid(
      "^[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+"
      "(?:\\.[a-zA-Z](?:[a-zA-Z0-9]{0,62})?)$");
  return s.size() <= 317 && std::regex_match(s.begin(), s.end(), kNsid);
}

bool IsDid(std::string_view s) {
  static const std::regex kDid("^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$");
  return s.size() <= 2048 && std::regex_match(s.begin(), s.end(), kDid);
}

bool IsHandle(std::string_view s) {
  static const std::regex kHandle(
      "^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$");
  return s.size() <= 253 && std::regex_match(s.begin(), s.end(), kHandle);
}

bool IsRecordKey(std::string_view s) {
  static const std::regex kRkey("^[a-zA-Z0-9_~.:-]{1,512}$");
  return s != "." && s != ".." && std::regex_match(s.begin(), s.end(), kRkey);
}

bool IsAtUri(std::string_view s) {
  static const std::regex kChars("^[a-zA-Z0-9._~:@!$&'()*+,;=%/\\[\\]#?-]*$");
  static const std::regex kFragment("^/[a-zA-Z0-9._~:@!$&')(*+,;=%\\[\\]/-]*$");
  if (s.size() > 8192 || !std::regex_match(s.begin(), s.end(), kChars)) return false;
  if (s.substr(0, 5) != "at://") return false;
  std::string_view rest = s.substr(5);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) {
    std::string_view fragment = rest.substr(hash + 1);
    if (!std::regex_match(fragment.begin(), fragment.end(), kFragment)) return false;
    rest = rest.substr(0, hash);
  }
  if (rest.find('?') != std::string_view::npos) return false;
  std::vector<std::string_view> parts;
  while (true) {
    auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() > 3) return false;
  for (auto part : parts) {
    if (part.empty()) return false;  // trailing or doubled slash
  }
  if (!IsDid(parts[0]) && !IsHandle(parts[0])) return false;
  if (parts.size() >= 2 && !IsNsid(parts[1])) return false;
  if (parts.size() == 3 && !IsRecordKey(parts[2])) return false;
  return true;
}

bool IsUri(std::string_view s) {
  static const std::regex kUri("^[a-z][a-z.-]{0,80}:[!-~]+$");
  return !s.empty() && s.size() <= 8192 && std::regex_match(s.begin(), s.end(), kUri);
}

bool IsDatetime(std::string_view s) {
  static const std::regex kDatetime(
      "^[0-9]{4}-(0[1-9]|1[012])-([0-2][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
      "(\\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$");
  return s.size() <= 64 && std::regex_match(s.begin(), s.end(), kDatetime) &&
         s.substr(s.size() - 6) != "-00:00";
}

}  // namespace fake_formats

namespace {

// Some helpers serve only the atiproto stand-ins, unused when the generated code replaces them.
#pragma GCC diagnostic ignored "-Wunused-function"

using atipay::lex::Errors;
using atipay::lex::ParamList;
using atipay::lex::Path;
namespace json = boost::json;

// As @atproto/lexicon's object(): anything but an object fails, except that a JS array is an
// object too (it then lacks every property).
const json::object* AsObject(const json::value& value, const Path& path, Errors& errors) {
  static const json::object kEmpty;
  if (value.is_object()) return &value.get_object();
  if (value.is_array()) return &kEmpty;
  errors.Fail(path, "must be an object");
  return nullptr;
}

enum class Format { kNone, kAtUri, kUri, kDid, kDatetime };

bool CheckFormat(const std::string& s, Format format, const Path& path, Errors& errors) {
  switch (format) {
    case Format::kNone:
      return true;
    case Format::kAtUri:
      return fake_formats::IsAtUri(s) || errors.Fail(path, "must be a valid at-uri");
    case Format::kUri:
      return fake_formats::IsUri(s) || errors.Fail(path, "must be a uri");
    case Format::kDid:
      return fake_formats::IsDid(s) || errors.Fail(path, "must be a valid did");
    case Format::kDatetime:
      return fake_formats::IsDatetime(s) ||
             errors.Fail(path, "must be an valid atproto datetime (both RFC-3339 and ISO-8601)");
  }
  return true;
}

// Reads obj[key] as a string. Returns false on error; `present` tells whether it was there.
bool ReadString(const json::object& obj, std::string_view key, bool required, Format format,
                const Path& path, Errors& errors, std::optional<std::string>& out) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) {
      return errors.Fail(path, "must have the property \"" + std::string(key) + "\"");
    }
    return true;
  }
  Path at = path.Key(key);
  if (!it->value().is_string()) return errors.Fail(at, "must be a string");
  std::string s(it->value().get_string());
  if (!CheckFormat(s, format, at, errors)) return false;
  out = std::move(s);
  return true;
}

bool ReadRequiredString(const json::object& obj, std::string_view key, Format format,
                        const Path& path, Errors& errors, std::string& out) {
  std::optional<std::string> value;
  if (!ReadString(obj, key, true, format, path, errors, value)) return false;
  out = std::move(*value);
  return true;
}

bool ReadInteger(const json::object& obj, std::string_view key, bool required, const Path& path,
                 Errors& errors, std::optional<std::int64_t>& out) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) {
      return errors.Fail(path, "must have the property \"" + std::string(key) + "\"");
    }
    return true;
  }
  const json::value& v = it->value();
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= INT64_MAX) {
    out = static_cast<std::int64_t>(v.get_uint64());
  } else if (v.is_double() && v.get_double() == static_cast<double>(static_cast<std::int64_t>(v.get_double()))) {
    out = static_cast<std::int64_t>(v.get_double());
  } else {
    return errors.Fail(path.Key(key), "must be an integer");
  }
  return true;
}

bool CheckEnum(const std::string& s, std::initializer_list<std::string_view> values,
               const Path& path, Errors& errors) {
  std::string list;
  for (auto v : values) {
    if (s == v) return true;
    if (!list.empty()) list += "|";
    list += v;
  }
  return errors.Fail(path, "must be one of (" + list + ")");
}

bool CheckMaxLength(const std::string& s, std::size_t max, const Path& path, Errors& errors) {
  return s.size() <= max ||
         errors.Fail(path, "must not be longer than " + std::to_string(max) + " characters");
}

// Params: the last value of a scalar key, nullopt when absent.
const std::string* Last(const ParamList& params, std::string_view key, int* count = nullptr) {
  const std::string* found = nullptr;
  int n = 0;
  for (const auto& [k, v] : params) {
    if (k == key) {
      found = &v;
      ++n;
    }
  }
  if (count != nullptr) *count = n;
  return found;
}

bool ParamString(const ParamList& params, std::string_view key, Format format, Errors& errors,
                 std::optional<std::string>& out) {
  int count = 0;
  const std::string* value = Last(params, key, &count);
  if (value == nullptr) return true;
  Path root("Params");
  Path at = root.Key(key);
  // lex-schema collects a repeated scalar into an array, which then fails the type check.
  if (count > 1) return errors.Fail(at, "must be a string");
  if (!CheckFormat(*value, format, at, errors)) return false;
  out = *value;
  return true;
}

}  // namespace

#ifndef ATIPAY_XRPC_GENERATED_LEXICONS
namespace lexicons::com::atiproto::actions {

bool Parse(const json::value& value, InboundWorkflow& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  if (!ReadRequiredString(*obj, "intent", Format::kNone, path, errors, out.intent)) return false;
  if (!CheckMaxLength(out.intent, 64, path.Key("intent"), errors)) return false;
  auto responses = obj->find("responses");
  if (responses == obj->end()) return errors.Fail(path, "must have the property \"responses\"");
  if (!responses->value().is_array()) return errors.Fail(path.Key("responses"), "must be an array");
  const json::array& items = responses->value().get_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) return errors.Fail(path.Key("responses").Index(i), "must be an object");
    out.responses.push_back(items[i]);
  }
  if (auto error = obj->find("error"); error != obj->end()) {
    if (!error->value().is_object()) return errors.Fail(path.Key("error"), "must be an object");
    out.error = error->value();
  }
  return true;
}

json::value ToJson(const InboundWorkflow& value) {
  json::object obj;
  obj["intent"] = value.intent;
  json::array responses;
  for (const auto& r : value.responses) responses.push_back(r);
  obj["responses"] = std::move(responses);
  if (value.error) obj["error"] = *value.error;
  return obj;
}

}  // namespace lexicons::com::atiproto::actions

namespace lexicons::com::atiproto::cart {

bool Parse(const json::value& value, View& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  if (!ReadRequiredString(*obj, "uri", Format::kAtUri, path, errors, out.uri)) return false;
  auto items = obj->find("items");
  if (items == obj->end()) return errors.Fail(path, "must have the property \"items\"");
  if (!items->value().is_array()) return errors.Fail(path.Key("items"), "must be an array");
  const json::array& list = items->value().get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    Path item_path = path.Key("items").Index(i);
    const json::object* item = AsObject(list[i], item_path, errors);
    if (item == nullptr) return false;
    CartItem parsed;
    if (!ReadRequiredString(*item, "type", Format::kNone, item_path, errors, parsed.type) ||
        !CheckEnum(parsed.type, {"com.atiproto.item", "com.atiproto.subscription"},
                   item_path.Key("type"), errors) ||
        !ReadRequiredString(*item, "recordUri", Format::kAtUri, item_path, errors,
                            parsed.record_uri)) {
      return false;
    }
    out.items.push_back(std::move(parsed));
  }
  if (!ReadRequiredString(*obj, "currency", Format::kNone, path, errors, out.currency) ||
      !CheckMaxLength(out.currency, 3, path.Key("currency"), errors)) {
    return false;
  }
  std::optional<std::int64_t> total;
  if (!ReadInteger(*obj, "total", true, path, errors, total)) return false;
  out.total = *total;
  if (!ReadRequiredString(*obj, "status", Format::kNone, path, errors, out.status) ||
      !CheckEnum(out.status, {"open", "completed", "expired", "abandoned"}, path.Key("status"),
                 errors) ||
      !ReadRequiredString(*obj, "createdAt", Format::kDatetime, path, errors, out.created_at) ||
      !ReadRequiredString(*obj, "expiresAt", Format::kDatetime, path, errors, out.expires_at) ||
      !ReadString(*obj, "completedAt", false, Format::kDatetime, path, errors, out.completed_at)) {
    return false;
  }
  return true;
}

json::value ToJson(const View& value) {
  json::object obj;
  obj["uri"] = value.uri;
  json::array items;
  for (const auto& item : value.items) {
    items.push_back(json::object{{"type", item.type}, {"recordUri", item.record_uri}});
  }
  obj["items"] = std::move(items);
  obj["currency"] = value.currency;
  obj["total"] = value.total;
  obj["status"] = value.status;
  obj["createdAt"] = value.created_at;
  obj["expiresAt"] = value.expires_at;
  if (value.completed_at) obj["completedAt"] = *value.completed_at;
  return obj;
}

}  // namespace lexicons::com::atiproto::cart

namespace lexicons::com::atiproto::payment::cart::clone {

bool Parse(const ParamList&, Params&, Errors&) { return true; }

bool Parse(const json::value& value, Input& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  if (!ReadRequiredString(*obj, "uri", Format::kAtUri, path, errors, out.uri)) return false;
  if (!ReadString(*obj, "redirectUrl", false, Format::kUri, path, errors, out.redirect_url)) {
    return false;
  }
  if (auto workflow = obj->find("workflow"); workflow != obj->end()) {
    out.workflow.emplace();
    if (!actions::Parse(workflow->value(), *out.workflow, path.Key("workflow"), errors)) {
      return false;
    }
  }
  return true;
}

bool Parse(const json::value& value, Output& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  if (auto cart = obj->find("cart"); cart != obj->end()) {
    out.cart.emplace();
    if (!com::atiproto::cart::Parse(cart->value(), *out.cart, path.Key("cart"), errors)) {
      return false;
    }
  }
  return ReadString(*obj, "cartUri", false, Format::kAtUri, path, errors, out.cart_uri) &&
         ReadString(*obj, "checkoutUrl", false, Format::kUri, path, errors, out.checkout_url);
}

json::value ToJson(const Input& value) {
  json::object obj;
  obj["uri"] = value.uri;
  if (value.redirect_url) obj["redirectUrl"] = *value.redirect_url;
  if (value.workflow) obj["workflow"] = actions::ToJson(*value.workflow);
  return obj;
}

json::value ToJson(const Output& value) {
  json::object obj;
  if (value.cart) obj["cart"] = com::atiproto::cart::ToJson(*value.cart);
  if (value.cart_uri) obj["cartUri"] = *value.cart_uri;
  if (value.checkout_url) obj["checkoutUrl"] = *value.checkout_url;
  return obj;
}

}  // namespace lexicons::com::atiproto::payment::cart::clone

namespace lexicons::com::atiproto::repo::item::count {

bool Parse(const ParamList& params, Params& out, Errors& errors) {
  return ParamString(params, "recordUri", Format::kAtUri, errors, out.record_uri) &&
         ParamString(params, "subject", Format::kDid, errors, out.subject) &&
         ParamString(params, "startDate", Format::kDatetime, errors, out.start_date) &&
         ParamString(params, "endDate", Format::kDatetime, errors, out.end_date);
}

bool Parse(const json::value& value, Output& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  std::optional<std::int64_t> count;
  if (!ReadInteger(*obj, "count", true, path, errors, count)) return false;
  out.count = *count;
  return ReadInteger(*obj, "amount", false, path, errors, out.amount) &&
         ReadString(*obj, "currency", false, Format::kNone, path, errors, out.currency) &&
         (!out.currency || CheckMaxLength(*out.currency, 3, path.Key("currency"), errors));
}

json::value ToJson(const Output& value) {
  json::object obj;
  obj["count"] = value.count;
  if (value.amount) obj["amount"] = *value.amount;
  if (value.currency) obj["currency"] = *value.currency;
  return obj;
}

}  // namespace lexicons::com::atiproto::repo::item::count

namespace lexicons::com::atiproto::payment::cart::list {

bool Parse(const ParamList& params, Params& out, Errors& errors) {
  if (!ParamString(params, "subject", Format::kDid, errors, out.subject) ||
      !ParamString(params, "status", Format::kNone, errors, out.status) ||
      !ParamString(params, "cursor", Format::kNone, errors, out.cursor)) {
    return false;
  }
  if (out.status && !CheckEnum(*out.status, {"open", "completed", "expired", "abandoned"},
                               Path("Params").Key("status"), errors)) {
    return false;
  }
  int count = 0;
  if (const std::string* limit = Last(params, "limit", &count)) {
    Path root("Params");
    Path at = root.Key("limit");
    auto n = atipay::lex::DecodeIntegerParam(*limit);
    if (count > 1 || !n) return errors.Fail(at, "must be an integer");
    if (*n < 1) return errors.Fail(at, "can not be less than 1");
    if (*n > 100) return errors.Fail(at, "can not be greater than 100");
    out.limit = *n;
  }
  return true;
}

bool Parse(const json::value& value, Output& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  auto carts = obj->find("carts");
  if (carts == obj->end()) return errors.Fail(path, "must have the property \"carts\"");
  if (!carts->value().is_array()) return errors.Fail(path.Key("carts"), "must be an array");
  for (std::size_t i = 0; i < carts->value().get_array().size(); ++i) {
    const json::value& uri = carts->value().get_array()[i];
    Path at = path.Key("carts").Index(i);
    if (!uri.is_string()) return errors.Fail(at, "must be a string");
    if (!CheckFormat(std::string(uri.get_string()), Format::kAtUri, at, errors)) return false;
    out.carts.emplace_back(uri.get_string());
  }
  return ReadString(*obj, "cursor", false, Format::kNone, path, errors, out.cursor);
}

json::value ToJson(const Output& value) {
  json::object obj;
  json::array carts;
  for (const auto& c : value.carts) carts.push_back(json::string(c));
  obj["carts"] = std::move(carts);
  if (value.cursor) obj["cursor"] = *value.cursor;
  return obj;
}

}  // namespace lexicons::com::atiproto::payment::cart::list
#endif  // ATIPAY_XRPC_GENERATED_LEXICONS

namespace lexicons::com::example::xrpc::params {

bool Parse(const ParamList& list, Params& out, Errors& errors) {
  Path root("Params");
  int count = 0;
  if (const std::string* flag = Last(list, "flag", &count)) {
    auto b = atipay::lex::DecodeBooleanParam(*flag);
    if (count > 1 || !b) return errors.Fail(root.Key("flag"), "must be a boolean");
    out.flag = *b;
  }
  if (const std::string* n = Last(list, "n", &count)) {
    auto i = atipay::lex::DecodeIntegerParam(*n);
    if (count > 1 || !i) return errors.Fail(root.Key("n"), "must be an integer");
    out.n = *i;
  }
  for (const auto& [k, v] : list) {
    if (k == "tags") out.tags.push_back(v);
  }
  const std::string* name = Last(list, "name", &count);
  if (name == nullptr) return errors.Fail(root, "must have the property \"name\"");
  if (count > 1) return errors.Fail(root.Key("name"), "must be a string");
  out.required_name = *name;
  return true;
}

bool Parse(const json::value& value, Output& out, const Path& path, Errors& errors) {
  const json::object* obj = AsObject(value, path, errors);
  if (obj == nullptr) return false;
  auto echo = obj->find("echo");
  if (echo == obj->end()) return errors.Fail(path, "must have the property \"echo\"");
  if (!echo->value().is_object()) return errors.Fail(path.Key("echo"), "must be an object");
  out.echo = echo->value();
  return true;
}

json::value ToJson(const Output& value) {
  json::object obj;
  obj["echo"] = value.echo;
  return obj;
}

}  // namespace lexicons::com::example::xrpc::params

namespace lexicons::com::example::xrpc::upload {
bool Parse(const ParamList&, Params&, Errors&) { return true; }
}  // namespace lexicons::com::example::xrpc::upload
