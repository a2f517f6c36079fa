#include "schema/loader.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lex/formats.h"

namespace atipay::lexicon {

namespace json = boost::json;

namespace {

// Thrown only inside this file, to unwind a failed document load; never escapes it.
struct LoadError {
  std::string path;
  std::string reason;
};

std::string Child(const std::string& path, std::string_view key) {
  bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  });
  if (plain) return path + "." + std::string(key);
  return path + "[\"" + std::string(key) + "\"]";
}
std::string Index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

[[noreturn]] void Fail(const std::string& path, std::string reason) {
  throw LoadError{path, std::move(reason)};
}

const json::object& AsObject(const json::value& v, const std::string& path) {
  if (!v.is_object()) Fail(path, "must be an object");
  return v.get_object();
}

const json::value* Get(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->value();
}

std::optional<std::string> OptString(const json::object& obj, std::string_view key,
                                     const std::string& path) {
  const json::value* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) Fail(Child(path, key), "must be a string");
  return std::string(v->get_string());
}

std::string ReqString(const json::object& obj, std::string_view key, const std::string& path) {
  std::optional<std::string> s = OptString(obj, key, path);
  if (!s) Fail(Child(path, key), "is required");
  return *s;
}

std::optional<std::int64_t> AsInt(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

std::optional<std::int64_t> OptInt(const json::object& obj, std::string_view key,
                                   const std::string& path, bool non_negative = false) {
  const json::value* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  std::optional<std::int64_t> i = AsInt(*v);
  if (!i) Fail(Child(path, key), "must be an integer");
  if (non_negative && *i < 0) Fail(Child(path, key), "must not be negative");
  return i;
}

std::optional<bool> OptBool(const json::object& obj, std::string_view key,
                            const std::string& path) {
  const json::value* v = Get(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) Fail(Child(path, key), "must be a boolean");
  return v->get_bool();
}

std::vector<std::string> StringList(const json::object& obj, std::string_view key,
                                    const std::string& path, bool* present = nullptr) {
  std::vector<std::string> out;
  const json::value* v = Get(obj, key);
  if (present != nullptr) *present = v != nullptr;
  if (v == nullptr) return out;
  if (!v->is_array()) Fail(Child(path, key), "must be an array of strings");
  const json::array& a = v->get_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) Fail(Index(Child(path, key), i), "must be a string");
    out.emplace_back(a[i].get_string());
  }
  return out;
}

void CheckRange(const std::optional<std::int64_t>& min, const std::optional<std::int64_t>& max,
                const std::string& path, std::string_view what) {
  if (min && max && *min > *max) {
    Fail(path, std::string(what) + ": minimum is greater than maximum");
  }
}

bool IsValidDefName(std::string_view name) {
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool IsValidRecordKeyType(std::string_view key) {
  if (key == "tid" || key == "nsid" || key == "any") return true;
  constexpr std::string_view kLiteral = "literal:";
  return key.starts_with(kLiteral) && key.size() > kLiteral.size() &&
         lex::IsValidRecordKey(key.substr(kLiteral.size()));
}

// MIME type patterns for blob `accept`: "type/subtype", "type/*" or "*/*".
bool IsValidAcceptPattern(std::string_view p) {
  if (p == "*/*") return true;
  auto slash = p.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= p.size()) return false;
  std::string_view type = p.substr(0, slash), sub = p.substr(slash + 1);
  if (type.find('*') != std::string_view::npos) return false;
  if (sub.find('/') != std::string_view::npos) return false;
  return sub == "*" || sub.find('*') == std::string_view::npos;
}

class DocumentLoader {
 public:
  explicit DocumentLoader(std::string nsid) : nsid_(std::move(nsid)) {}

  // Normalizes a ref written in this document to "nsid#name".
  std::string NormalizeRef(std::string_view ref, const std::string& path) const {
    if (ref.empty()) Fail(path, "ref must not be empty");
    if (std::count(ref.begin(), ref.end(), '#') > 1) Fail(path, "ref has more than one '#'");
    auto hash = ref.find('#');
    std::string_view nsid = hash == std::string_view::npos ? ref : ref.substr(0, hash);
    std::string_view name = hash == std::string_view::npos ? "main" : ref.substr(hash + 1);
    if (nsid.empty()) nsid = nsid_;
    if (!lex::IsValidNsid(nsid)) Fail(path, "ref \"" + std::string(ref) + "\" has an invalid NSID");
    if (!IsValidDefName(name)) {
      Fail(path, "ref \"" + std::string(ref) + "\" has an invalid definition name");
    }
    return DefUri(nsid, name);
  }

  enum class Context { kNamedDef, kMainDef, kField, kArrayItem, kBody, kRecord };

  Node LoadNode(const json::value& v, const std::string& path, Context context) {
    const json::object& obj = AsObject(v, path);
    std::string type = ReqString(obj, "type", path);
    Node node;
    node.description = OptString(obj, "description", path).value_or("");
    const std::string type_path = Child(path, "type");

    static const std::set<std::string, std::less<>> kNamedOk = {
        "boolean", "integer", "string", "bytes", "cid-link", "blob", "array", "object", "token"};
    static const std::set<std::string, std::less<>> kPrimary = {
        "record", "query", "procedure", "subscription", "permission-set"};
    static const std::set<std::string, std::less<>> kFieldOk = {
        "boolean", "integer", "string", "bytes", "cid-link", "blob", "array",
        "object",  "ref",     "union",  "unknown"};

    switch (context) {
      case Context::kMainDef:
      case Context::kNamedDef:
        if (kPrimary.contains(type)) {
          if (context != Context::kMainDef) {
            Fail(type_path, "primary type \"" + type + "\" may only be the main definition");
          }
        } else if (!kNamedOk.contains(type)) {
          if (kFieldOk.contains(type) || type == "params" || type == "permission") {
            Fail(type_path, "type \"" + type + "\" can not be a named definition");
          }
          Fail(type_path, "unknown type \"" + type + "\"");
        }
        break;
      case Context::kField:
      case Context::kArrayItem:
        if (!kFieldOk.contains(type)) {
          Fail(type_path, "type \"" + type + "\" is not allowed here");
        }
        break;
      case Context::kBody:
        if (type != "object" && type != "ref" && type != "union") {
          Fail(type_path, "a body schema must be an object, ref or union");
        }
        break;
      case Context::kRecord:
        if (type != "object") Fail(type_path, "record must be an object");
        break;
    }

    if (type == "boolean") {
      node.kind = Kind::kBoolean;
      node.bool_default = OptBool(obj, "default", path);
      node.bool_const = OptBool(obj, "const", path);
      if (node.bool_default && node.bool_const) Fail(path, "const and default are exclusive");
    } else if (type == "integer") {
      LoadInteger(obj, path, node);
    } else if (type == "string") {
      LoadString(obj, path, node);
    } else if (type == "bytes") {
      node.kind = Kind::kBytes;
      node.min_length = OptInt(obj, "minLength", path, true);
      node.max_length = OptInt(obj, "maxLength", path, true);
      CheckRange(node.min_length, node.max_length, path, "length");
    } else if (type == "cid-link") {
      node.kind = Kind::kCidLink;
    } else if (type == "blob") {
      node.kind = Kind::kBlob;
      node.accept = StringList(obj, "accept", path, &node.has_accept);
      for (std::size_t i = 0; i < node.accept.size(); ++i) {
        if (!IsValidAcceptPattern(node.accept[i])) {
          Fail(Index(Child(path, "accept"), i), "invalid MIME type pattern");
        }
      }
      node.max_size = OptInt(obj, "maxSize", path, true);
    } else if (type == "array") {
      node.kind = Kind::kArray;
      const json::value* items = Get(obj, "items");
      if (items == nullptr) Fail(Child(path, "items"), "is required");
      node.items = std::make_unique<Node>(LoadNode(*items, Child(path, "items"), Context::kArrayItem));
      node.min_length = OptInt(obj, "minLength", path, true);
      node.max_length = OptInt(obj, "maxLength", path, true);
      CheckRange(node.min_length, node.max_length, path, "length");
    } else if (type == "object") {
      LoadObject(obj, path, node, /*params=*/false);
    } else if (type == "token") {
      node.kind = Kind::kToken;
    } else if (type == "ref") {
      node.kind = Kind::kRef;
      node.ref = NormalizeRef(ReqString(obj, "ref", path), Child(path, "ref"));
    } else if (type == "union") {
      node.kind = Kind::kUnion;
      const json::value* refs = Get(obj, "refs");
      if (refs == nullptr) Fail(Child(path, "refs"), "is required");
      for (std::string& r : StringList(obj, "refs", path)) {
        node.refs.push_back(NormalizeRef(r, Child(path, "refs")));
      }
      node.closed = OptBool(obj, "closed", path).value_or(false);
      if (node.closed && node.refs.empty()) Fail(path, "a closed union needs at least one ref");
    } else if (type == "unknown") {
      node.kind = Kind::kUnknown;
    } else if (type == "record") {
      node.kind = Kind::kRecord;
      node.record_key = ReqString(obj, "key", path);
      if (!IsValidRecordKeyType(node.record_key)) {
        Fail(Child(path, "key"), "must be tid, nsid, any or literal:<record-key>");
      }
      const json::value* record = Get(obj, "record");
      if (record == nullptr) Fail(Child(path, "record"), "is required");
      node.record = std::make_unique<Node>(LoadNode(*record, Child(path, "record"), Context::kRecord));
    } else if (type == "query" || type == "procedure" || type == "subscription") {
      LoadMethod(obj, path, type, node);
    } else if (type == "permission-set") {
      node.kind = Kind::kPermissionSet;
      LoadPermissionSet(obj, path);
      node.raw = obj;
    }
    return node;
  }

 private:
  void LoadInteger(const json::object& obj, const std::string& path, Node& node) {
    node.kind = Kind::kInteger;
    node.minimum = OptInt(obj, "minimum", path);
    node.maximum = OptInt(obj, "maximum", path);
    CheckRange(node.minimum, node.maximum, path, "range");
    node.int_default = OptInt(obj, "default", path);
    node.int_const = OptInt(obj, "const", path);
    if (const json::value* e = Get(obj, "enum")) {
      node.has_int_enum = true;
      if (!e->is_array()) Fail(Child(path, "enum"), "must be an array of integers");
      for (std::size_t i = 0; i < e->get_array().size(); ++i) {
        std::optional<std::int64_t> x = AsInt(e->get_array()[i]);
        if (!x) Fail(Index(Child(path, "enum"), i), "must be an integer");
        node.int_enum.push_back(*x);
      }
    }
    if (node.int_default && node.int_const) Fail(path, "const and default are exclusive");
    if (node.int_default) CheckIntValue(node, *node.int_default, Child(path, "default"));
    if (node.int_const) CheckIntValue(node, *node.int_const, Child(path, "const"));
  }

  static void CheckIntValue(const Node& node, std::int64_t v, const std::string& path) {
    if ((node.minimum && v < *node.minimum) || (node.maximum && v > *node.maximum)) {
      Fail(path, "is outside minimum/maximum");
    }
    if (node.has_int_enum &&
        std::find(node.int_enum.begin(), node.int_enum.end(), v) == node.int_enum.end()) {
      Fail(path, "is not in enum");
    }
  }

  void LoadString(const json::object& obj, const std::string& path, Node& node) {
    node.kind = Kind::kString;
    if (std::optional<std::string> f = OptString(obj, "format", path)) {
      node.format = lex::StringFormatFromName(*f);
      if (!node.format) Fail(Child(path, "format"), "unknown string format \"" + *f + "\"");
    }
    node.min_length = OptInt(obj, "minLength", path, true);
    node.max_length = OptInt(obj, "maxLength", path, true);
    CheckRange(node.min_length, node.max_length, path, "length");
    node.min_graphemes = OptInt(obj, "minGraphemes", path, true);
    node.max_graphemes = OptInt(obj, "maxGraphemes", path, true);
    CheckRange(node.min_graphemes, node.max_graphemes, path, "graphemes");
    node.known_values = StringList(obj, "knownValues", path);
    node.string_enum = StringList(obj, "enum", path, &node.has_string_enum);
    node.string_default = OptString(obj, "default", path);
    node.string_const = OptString(obj, "const", path);
    if (node.string_default && node.string_const) Fail(path, "const and default are exclusive");
    if (node.string_default) CheckStringValue(node, *node.string_default, Child(path, "default"));
    if (node.string_const) CheckStringValue(node, *node.string_const, Child(path, "const"));
  }

  static void CheckStringValue(const Node& node, const std::string& v, const std::string& path) {
    auto len = static_cast<std::int64_t>(v.size());
    if ((node.min_length && len < *node.min_length) || (node.max_length && len > *node.max_length)) {
      Fail(path, "violates minLength/maxLength");
    }
    if (node.has_string_enum &&
        std::find(node.string_enum.begin(), node.string_enum.end(), v) == node.string_enum.end()) {
      Fail(path, "is not in enum");
    }
    if (node.format && !lex::IsValidFormat(*node.format, v)) {
      Fail(path, "is not a valid " + std::string(lex::StringFormatName(*node.format)));
    }
  }

  void LoadObject(const json::object& obj, const std::string& path, Node& node, bool params) {
    node.kind = params ? Kind::kParams : Kind::kObject;
    const json::value* props = Get(obj, "properties");
    if (props == nullptr) Fail(Child(path, "properties"), "is required");
    const std::string props_path = Child(path, "properties");
    const json::object& props_obj = AsObject(*props, props_path);
    std::vector<std::string> required = StringList(obj, "required", path);
    std::vector<std::string> nullable = StringList(obj, "nullable", path);
    if (params && Get(obj, "nullable") != nullptr) Fail(Child(path, "nullable"), "not allowed in params");
    for (const auto& kv : props_obj) {
      std::string name(kv.key());
      const std::string prop_path = Child(props_path, name);
      if (name.empty()) Fail(prop_path, "property names must not be empty");
      Property prop;
      prop.name = name;
      prop.type = std::make_unique<Node>(LoadNode(kv.value(), prop_path, Context::kField));
      if (params) CheckParamType(*prop.type, prop_path);
      prop.required = std::find(required.begin(), required.end(), name) != required.end();
      prop.nullable = std::find(nullable.begin(), nullable.end(), name) != nullable.end();
      node.properties.push_back(std::move(prop));
    }
    for (std::size_t i = 0; i < required.size(); ++i) {
      if (!props_obj.contains(required[i])) {
        Fail(Index(Child(path, "required"), i), "required property \"" + required[i] + "\" is not defined");
      }
    }
    for (std::size_t i = 0; i < nullable.size(); ++i) {
      if (!props_obj.contains(nullable[i])) {
        Fail(Index(Child(path, "nullable"), i), "nullable property \"" + nullable[i] + "\" is not defined");
      }
    }
  }

  // As Go's lexicon package and lex-document: `unknown` has no query-string form, so a param of
  // that type could never be decoded, nor a `required` on it enforced.
  static void CheckParamType(const Node& n, const std::string& path) {
    auto scalar = [](Kind k) {
      return k == Kind::kBoolean || k == Kind::kInteger || k == Kind::kString;
    };
    if (scalar(n.kind)) return;
    if (n.kind == Kind::kArray && n.items && scalar(n.items->kind)) return;
    Fail(path, "params may only hold boolean, integer, string or arrays of those" +
                   std::string(n.kind == Kind::kUnknown || (n.kind == Kind::kArray && n.items &&
                                                            n.items->kind == Kind::kUnknown)
                                   ? " (unknown has no query-string form)"
                                   : ""));
  }

  void LoadMethod(const json::object& obj, const std::string& path, const std::string& type,
                  Node& node) {
    node.kind = type == "query" ? Kind::kQuery
                : type == "procedure" ? Kind::kProcedure
                                      : Kind::kSubscription;
    if (const json::value* p = Get(obj, "parameters")) {
      const std::string p_path = Child(path, "parameters");
      const json::object& p_obj = AsObject(*p, p_path);
      if (ReqString(p_obj, "type", p_path) != "params") Fail(Child(p_path, "type"), "must be \"params\"");
      node.parameters = std::make_unique<Node>();
      node.parameters->description = OptString(p_obj, "description", p_path).value_or("");
      LoadObject(p_obj, p_path, *node.parameters, /*params=*/true);
    }
    if (node.kind == Kind::kProcedure) node.input = LoadBody(obj, "input", path);
    else if (Get(obj, "input") != nullptr) Fail(Child(path, "input"), "only procedures take input");
    if (node.kind != Kind::kSubscription) node.output = LoadBody(obj, "output", path);
    if (node.kind == Kind::kSubscription) {
      if (const json::value* m = Get(obj, "message")) {
        const std::string m_path = Child(path, "message");
        const json::object& m_obj = AsObject(*m, m_path);
        const json::value* schema = Get(m_obj, "schema");
        if (schema == nullptr) Fail(Child(m_path, "schema"), "is required");
        node.message = std::make_unique<Node>(LoadNode(*schema, Child(m_path, "schema"), Context::kField));
        if (node.message->kind != Kind::kUnion) Fail(Child(m_path, "schema"), "must be a union");
      }
    }
    if (const json::value* e = Get(obj, "errors")) {
      const std::string e_path = Child(path, "errors");
      if (!e->is_array()) Fail(e_path, "must be an array");
      for (std::size_t i = 0; i < e->get_array().size(); ++i) {
        const std::string i_path = Index(e_path, i);
        const json::object& eo = AsObject(e->get_array()[i], i_path);
        ErrorDecl decl;
        decl.name = ReqString(eo, "name", i_path);
        if (decl.name.empty() || decl.name.find_first_of(" \t\r\n") != std::string::npos) {
          Fail(Child(i_path, "name"), "must be non-empty with no whitespace");
        }
        decl.description = OptString(eo, "description", i_path).value_or("");
        node.errors.push_back(std::move(decl));
      }
    }
  }

  std::optional<Body> LoadBody(const json::object& obj, std::string_view key,
                               const std::string& path) {
    const json::value* b = Get(obj, key);
    if (b == nullptr) return std::nullopt;
    const std::string b_path = Child(path, key);
    const json::object& bo = AsObject(*b, b_path);
    Body body;
    body.encoding = ReqString(bo, "encoding", b_path);
    if (body.encoding.empty()) Fail(Child(b_path, "encoding"), "must not be empty");
    body.description = OptString(bo, "description", b_path).value_or("");
    if (const json::value* schema = Get(bo, "schema")) {
      body.schema = std::make_unique<Node>(LoadNode(*schema, Child(b_path, "schema"), Context::kBody));
    }
    return body;
  }

  void LoadPermissionSet(const json::object& obj, const std::string& path) {
    const json::value* perms = Get(obj, "permissions");
    const std::string p_path = Child(path, "permissions");
    if (perms == nullptr) Fail(p_path, "is required");
    if (!perms->is_array()) Fail(p_path, "must be an array");
    for (std::size_t i = 0; i < perms->get_array().size(); ++i) {
      const std::string i_path = Index(p_path, i);
      const json::object& po = AsObject(perms->get_array()[i], i_path);
      if (ReqString(po, "type", i_path) != "permission") Fail(Child(i_path, "type"), "must be \"permission\"");
      if (ReqString(po, "resource", i_path).empty()) Fail(Child(i_path, "resource"), "must not be empty");
    }
    OptString(obj, "title", path);
    OptString(obj, "detail", path);
  }

  std::string nsid_;
};

}  // namespace

lex::Result<Document> LoadDocument(const json::value& v, const std::string& source) {
  try {
    const json::object& obj = AsObject(v, "$");
    const json::value* lexicon = Get(obj, "lexicon");
    if (lexicon == nullptr || !AsInt(*lexicon) || *AsInt(*lexicon) != 1) {
      Fail("$.lexicon", "must be the integer 1");
    }
    const json::value* id = Get(obj, "id");
    if (id == nullptr || !id->is_string()) Fail("$.id", "must be a string");
    Document doc;
    doc.id = std::string(id->get_string());
    doc.source = source;
    if (!lex::IsValidNsid(doc.id)) Fail("$.id", "\"" + doc.id + "\" is not a valid NSID");
    doc.description = OptString(obj, "description", "$").value_or("");
    doc.revision = OptInt(obj, "revision", "$");
    const json::value* defs = Get(obj, "defs");
    if (defs == nullptr) Fail("$.defs", "is required");
    const json::object& defs_obj = AsObject(*defs, "$.defs");
    if (defs_obj.empty()) Fail("$.defs", "must not be empty");
    DocumentLoader loader(doc.id);
    for (const auto& kv : defs_obj) {
      std::string name(kv.key());
      const std::string path = Child("$.defs", name);
      if (!IsValidDefName(name)) Fail(path, "invalid definition name");
      Def def;
      def.name = name;
      def.node = loader.LoadNode(kv.value(), path,
                                 name == "main" ? DocumentLoader::Context::kMainDef
                                                : DocumentLoader::Context::kNamedDef);
      doc.defs.push_back(std::move(def));
    }
    return doc;
  } catch (const LoadError& e) {
    return lex::Error{source + ": " + e.path + ": " + e.reason};
  }
}

lex::Result<Document> LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return lex::Error{path + ": cannot be read"};
  std::stringstream buffer;
  buffer << in.rdbuf();
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 256;
  json::value v = json::parse(buffer.str(), ec, {}, options);
  if (ec) return lex::Error{path + ": $: not valid JSON (" + ec.message() + ")"};
  return LoadDocument(v, path);
}

lex::Result<std::vector<Document>> LoadInputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(input, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".json") {
          found.push_back(it->path().string());
        }
      }
      if (ec) return lex::Error{input + ": cannot be read (" + ec.message() + ")"};
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(input, ec)) {
      files.push_back(input);
    } else {
      return lex::Error{input + ": no such file or directory"};
    }
  }
  std::vector<Document> docs;
  std::map<std::string, std::string> seen;
  for (const std::string& file : files) {
    lex::Result<Document> doc = LoadFile(file);
    if (!doc) return doc.error();
    auto [it, inserted] = seen.emplace(doc->id, file);
    if (!inserted) {
      return lex::Error{file + ": $.id: \"" + doc->id + "\" is already defined by " + it->second};
    }
    docs.push_back(std::move(doc).value());
  }
  std::sort(docs.begin(), docs.end(),
            [](const Document& a, const Document& b) { return a.id < b.id; });
  return docs;
}

}  // namespace atipay::lexicon
