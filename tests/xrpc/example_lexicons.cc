#include "tests/xrpc/example_lexicons.h"

#include <boost/json/object.hpp>

namespace {

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

// Params: the last value of a key (nullptr when absent) and how many there are.
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

}  // namespace

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
