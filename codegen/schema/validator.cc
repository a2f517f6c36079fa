#include "schema/validator.h"

#include <vector>

#include "lex/validate.h"

namespace atipay::lexicon {

namespace json = boost::json;

namespace {

lex::StringConstraints StringConstraintsOf(const Node& n, std::vector<std::string_view>& enums) {
  enums.assign(n.string_enum.begin(), n.string_enum.end());
  lex::StringConstraints c;
  c.format = n.format;
  c.min_length = n.min_length;
  c.max_length = n.max_length;
  c.min_graphemes = n.min_graphemes;
  c.max_graphemes = n.max_graphemes;
  if (n.string_const) c.const_value = *n.string_const;
  if (n.has_string_enum) c.enum_values = enums;
  return c;
}

lex::IntegerConstraints IntegerConstraintsOf(const Node& n) {
  lex::IntegerConstraints c;
  c.minimum = n.minimum;
  c.maximum = n.maximum;
  c.const_value = n.int_const;
  if (n.has_int_enum) c.enum_values = n.int_enum;
  return c;
}

bool HasDefault(const Node& n) {
  return n.bool_default.has_value() || n.int_default.has_value() || n.string_default.has_value();
}

}  // namespace

bool Validator::Validate(const json::value& value, std::string_view schema, MethodPart part,
                         lex::Errors& errors) const {
  std::optional<DefRef> target = catalog_.Resolve(schema);
  if (!target) return errors.FailMessage("schema not found: " + std::string(schema));
  const Node& node = target->def->node;
  auto need = [&](const Node* n, std::string_view what) -> const Node* {
    if (n == nullptr) errors.FailMessage(std::string(schema) + " has no " + std::string(what));
    return n;
  };
  switch (part) {
    case MethodPart::kNone:
      break;
    case MethodPart::kParams: {
      const Node* p = need(node.parameters.get(), "parameters");
      return p != nullptr && ValidateObject(value, *p, lex::Path("Params"), errors);
    }
    case MethodPart::kInput:
    case MethodPart::kOutput: {
      const std::optional<Body>& body = part == MethodPart::kInput ? node.input : node.output;
      const char* name = part == MethodPart::kInput ? "input" : "output";
      const Node* schema_node = body ? body->schema.get() : nullptr;
      if (need(schema_node, std::string(name) + " schema") == nullptr) return false;
      lex::Path path(part == MethodPart::kInput ? "Input" : "Output");
      // Bodies are validated as objects, as the reference does.
      if (!value.is_object()) return errors.Fail(path, "must be an object");
      return ValidateNode(value, *schema_node, path, errors);
    }
    case MethodPart::kMessage: {
      const Node* m = need(node.message.get(), "message schema");
      return m != nullptr && ValidateNode(value, *m, lex::Path("Message"), errors);
    }
  }
  if (node.kind == Kind::kRecord) {
    lex::Path path("Record");
    const json::object* obj = lex::ExpectObject(value, path, errors);
    if (obj == nullptr) return false;
    if (!lex::CheckRecordType(*obj, target->doc->id, path, errors)) return false;
    return ValidateObject(value, *node.record, path, errors);
  }
  if (IsPrimary(node.kind)) {
    return errors.FailMessage(std::string(schema) + " is a " + std::string(KindName(node.kind)) +
                              "; name a part (params, input, output, message)");
  }
  return ValidateNode(value, node, lex::Path("Object"), errors);
}

bool Validator::ValidateObject(const json::value& value, const Node& node, const lex::Path& path,
                               lex::Errors& errors) const {
  const json::object* obj = lex::ExpectObject(value, path, errors);
  if (obj == nullptr) return false;
  for (const Property& prop : node.properties) {
    auto it = obj->find(prop.name);
    if (it == obj->end()) {
      if (HasDefault(*prop.type)) continue;  // the default fills it in
      if (prop.required) return errors.Fail(path, "must have the property \"" + prop.name + "\"");
      continue;
    }
    if (it->value().is_null() && prop.nullable) continue;
    if (!ValidateNode(it->value(), *prop.type, path.Key(prop.name), errors)) return false;
  }
  return true;
}

bool Validator::ValidateRef(const json::value& value, std::string_view uri, const lex::Path& path,
                            lex::Errors& errors) const {
  std::optional<DefRef> target = catalog_.Resolve(uri);
  if (!target) return errors.Fail(path, "refers to an unknown definition " + std::string(uri));
  const Node& node = target->def->node;
  if (node.kind == Kind::kRecord) return ValidateObject(value, *node.record, path, errors);
  return ValidateNode(value, node, path, errors);
}

bool Validator::ValidateUnion(const json::value& value, const Node& node, const lex::Path& path,
                              lex::Errors& errors) const {
  std::optional<std::string_view> type = lex::UnionType(value, path, errors);
  if (!type) return false;
  for (const std::string& ref : node.refs) {
    if (lex::UnionTypeMatches(*type, ref)) return ValidateRef(value, ref, path, errors);
  }
  if (node.closed) {
    std::vector<std::string_view> refs(node.refs.begin(), node.refs.end());
    return lex::FailClosedUnion(refs, path, errors);
  }
  // Open union, unknown member: only the data model applies.
  return lex::CheckDataModel(value, path, errors);
}

bool Validator::ValidateNode(const json::value& value, const Node& node, const lex::Path& path,
                             lex::Errors& errors) const {
  switch (node.kind) {
    case Kind::kBoolean: {
      bool b = false;
      return lex::ParseBoolean(value, b, node.bool_const, path, errors);
    }
    case Kind::kInteger: {
      std::int64_t i = 0;
      return lex::ParseInteger(value, i, IntegerConstraintsOf(node), path, errors);
    }
    case Kind::kString: {
      const json::string* s = value.if_string();
      if (s == nullptr) return errors.Fail(path, "must be a string");
      std::vector<std::string_view> enums;
      return lex::CheckString(*s, StringConstraintsOf(node, enums), path, errors);
    }
    case Kind::kBytes: {
      lex::Bytes b;
      return lex::ParseBytes(value, b, lex::BytesConstraints{node.min_length, node.max_length},
                             path, errors);
    }
    case Kind::kCidLink: {
      lex::CidLink link;
      return lex::ParseCidLink(value, link, path, errors);
    }
    case Kind::kBlob: {
      std::vector<std::string_view> accept(node.accept.begin(), node.accept.end());
      lex::Blob blob;
      return lex::ParseBlob(value, blob, lex::BlobConstraints{accept, node.max_size}, path,
                            errors);
    }
    case Kind::kArray: {
      const json::array* array =
          lex::ExpectArray(value, lex::ArrayConstraints{node.min_length, node.max_length}, path,
                           errors);
      if (array == nullptr) return false;
      for (std::size_t i = 0; i < array->size(); ++i) {
        if (!ValidateNode((*array)[i], *node.items, path.Index(i), errors)) return false;
      }
      return true;
    }
    case Kind::kObject:
    case Kind::kParams:
      return ValidateObject(value, node, path, errors);
    case Kind::kRef:
      return ValidateRef(value, node.ref, path, errors);
    case Kind::kUnion:
      return ValidateUnion(value, node, path, errors);
    case Kind::kUnknown:
      return lex::CheckUnknown(value, path, errors);
    case Kind::kRecord:
      return ValidateObject(value, *node.record, path, errors);
    case Kind::kToken:
      return errors.Fail(path, "is a token, which has no data form");
    default:
      return errors.Fail(path, "can not be validated as " + std::string(KindName(node.kind)));
  }
}

}  // namespace atipay::lexicon
