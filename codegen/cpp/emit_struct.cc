// Structs for objects, records, params and method bodies: declaration, Parse and ToJson.
#include "cpp/emitter.h"
#include "cpp/names.h"

namespace atipay::codegen {

using lexicon::Kind;
using lexicon::Node;
using lexicon::Property;

namespace {

const char* kLex = "::atipay::lex::";

bool HasDefault(const Node& n) {
  return n.bool_default.has_value() || n.int_default.has_value() || n.string_default.has_value();
}

std::string DefaultLiteral(const Node& n) {
  if (n.bool_default) return *n.bool_default ? "true" : "false";
  if (n.int_default) return std::to_string(*n.int_default);
  if (n.string_default) return "std::string(" + StringLiteral(*n.string_default) + ")";
  return "{}";
}

std::string ZeroInit(const Node& n) {
  if (n.kind == Kind::kBoolean) return " = false";
  if (n.kind == Kind::kInteger) return " = 0";
  return "";
}

void Comment(const std::string& text, const std::string& indent, std::string& out) {
  if (!text.empty()) out += indent + "// " + CommentText(text) + "\n";
}

}  // namespace

std::vector<DocEmitter::Field> DocEmitter::FieldsOf(const StructInfo& info) {
  NameSet names;
  for (const char* reserved : {"extra", "kType", "kRecordKey"}) names.Reserve(reserved);
  std::vector<Field> fields;
  for (const Property& p : info.object->properties) {
    fields.push_back({&p, names.Unique(SnakeCase(p.name)), CppType(*p.type, info.owner), ""});
  }
  // Accessors are named once every member is, so that neither takes the other's name.
  for (Field& f : fields) {
    const Property& p = *f.prop;
    if (!info.is_params && !p.required && !p.nullable && HasDefault(*p.type)) {
      f.or_default = names.Unique(f.member + "_or_default");
    }
  }
  return fields;
}

void DocEmitter::EmitInlineTypes(const Node& node, const std::string& owner, bool root,
                                 std::string& out) {
  switch (node.kind) {
    case Kind::kObject:
    case Kind::kParams:
      for (const Property& p : node.properties) EmitInlineTypes(*p.type, owner, false, out);
      if (!root) {
        if (const StructInfo* info = model_.StructOf(&node)) EmitStructDecl(*info, out);
      }
      break;
    case Kind::kArray:
      EmitInlineTypes(*node.items, owner, false, out);
      break;
    case Kind::kUnion:
      Comment(node.description, "", out);
      out += "using " + model_.UnionName(&node) + " = " + VariantType(node, owner) + ";\n\n";
      break;
    default:
      break;
  }
}

void DocEmitter::EmitStructDecl(const StructInfo& info, std::string& out) {
  Comment(info.object->description, "", out);
  out += "struct " + info.name + " {\n";
  if (!info.type_id.empty()) {
    out += "  static constexpr std::string_view kType = " + StringLiteral(info.type_id) + ";\n";
  }
  if (info.is_record) {
    const Node& record = model_.catalog().Resolve(info.owner)->def->node;
    out += "  static constexpr std::string_view kRecordKey = " + StringLiteral(record.record_key) +
           ";\n";
  }
  for (const Field& f : FieldsOf(info)) {
    const Property& p = *f.prop;
    Comment(p.type->description, "  ", out);
    if (info.is_params) {
      if (p.type->kind == Kind::kArray) {
        out += "  " + f.type + " " + f.member + ";\n";
      } else if (HasDefault(*p.type)) {
        out += "  " + f.type + " " + f.member + " = " + DefaultLiteral(*p.type) + ";\n";
      } else if (p.required) {
        out += "  " + f.type + " " + f.member + ZeroInit(*p.type) + ";\n";
      } else {
        out += "  std::optional<" + f.type + "> " + f.member + ";\n";
      }
      continue;
    }
    if (p.required && !p.nullable) {
      std::string init = HasDefault(*p.type) ? " = " + DefaultLiteral(*p.type) : ZeroInit(*p.type);
      out += "  " + f.type + " " + f.member + init + ";\n";
    } else if (p.required || !p.nullable) {
      out += "  std::optional<" + f.type + "> " + f.member + ";\n";
      if (!f.or_default.empty()) {
        out += "  " + f.type + " " + f.or_default + "() const { return " + f.member + " ? *" +
               f.member + " : " + DefaultLiteral(*p.type) + "; }\n";
      }
    } else {
      out += "  // Absent, null, or a value.\n";
      out += "  std::optional<std::optional<" + f.type + ">> " + f.member + ";\n";
    }
  }
  if (!info.is_params) {
    out += "  // Properties this version of the lexicon does not know; kept so data round-trips.\n";
    out += "  boost::json::object extra;\n";
  }
  out += "\n  bool operator==(const " + info.name + "&) const = default;\n};\n";
  if (info.is_params) {
    out += "bool Parse(const " + std::string(kLex) + "ParamList& params, Params& out, " + kLex +
           "Errors& errors);\n" + kLex + "ParamList ToParamList(const Params& in);\n\n";
  } else {
    out += "bool Parse(const boost::json::value& json, " + info.name + "& out, const " + kLex +
           "Path& path, " + kLex + "Errors& errors);\n";
    if (info.is_record) {
      out += "// The record's properties without the top-level $type check, for records held by\n"
             "// reference inside other data.\n";
      out += "bool ParseRecordBody(const boost::json::value& json, " + info.name + "& out, const " +
             kLex + "Path& path, " + kLex + "Errors& errors);\n";
    }
    out += "boost::json::value ToJson(const " + info.name + "& in);\n\n";
  }
}

void DocEmitter::EmitStructImpl(const StructInfo& info, std::string& out) {
  if (info.is_params) return EmitParamsImpl(&info, out);
  const std::vector<Field> fields = FieldsOf(info);
  const std::string& owner = info.owner;
  // Parse
  if (info.is_record) {
    out += "bool Parse(const boost::json::value& json, " + info.name + "& out, const " + kLex +
           "Path& path, " + kLex + "Errors& errors) {\n";
    out += "  const boost::json::object* object = " + std::string(kLex) +
           "ExpectObject(json, path, errors);\n  if (object == nullptr) return false;\n";
    out += "  if (!" + std::string(kLex) +
           "CheckRecordType(*object, kNsid, path, errors)) return false;\n";
    out += "  return ParseRecordBody(json, out, path, errors);\n}\n\n";
  }
  out += std::string("bool ") + (info.is_record ? "ParseRecordBody" : "Parse") +
         "(const boost::json::value& json, " + info.name + "& out, const " + kLex + "Path& path, " +
         kLex + "Errors& errors) {\n";
  out += "  const boost::json::object* object = " + std::string(kLex) +
         "ExpectObject(json, path, errors);\n  if (object == nullptr) return false;\n";
  if (!fields.empty()) {
    out += "  const boost::json::value* fields[" + std::to_string(fields.size()) + "] = {};\n";
  }
  out += "  out.extra.clear();\n  for (const auto& member : *object) {\n";
  out += "    const std::string_view key = member.key();\n    ";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    out += "if (key == " + StringLiteral(fields[i].prop->name) + ") {\n      fields[" +
           std::to_string(i) + "] = &member.value();\n    } else ";
  }
  if (info.is_record) out += "if (key != \"$type\") ";
  out += "{\n      out.extra.emplace(key, member.value());\n    }\n  }\n";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    const Property& p = *f.prop;
    const std::string slot = "fields[" + std::to_string(i) + "]";
    const std::string key_path = "path.Key(" + StringLiteral(p.name) + ")";
    const std::string missing =
        "return errors.Fail(path, " + StringLiteral("must have the property \"" + p.name + "\"") + ");";
    const std::string m = "out." + f.member;
    auto parse = [&](const std::string& target) {
      return ParseExpr(*p.type, owner, "*" + slot, target, key_path, 0);
    };
    out += "  // " + p.name + "\n";
    if (p.required && !p.nullable) {
      out += "  if (" + slot + " == nullptr) {\n    ";
      out += HasDefault(*p.type) ? m + " = " + DefaultLiteral(*p.type) + ";" : missing;
      out += "\n  } else if (!" + parse(m) + ") {\n    return false;\n  }\n";
    } else if (p.required) {
      out += "  if (" + slot + " == nullptr) {\n    ";
      out += HasDefault(*p.type) ? m + " = " + DefaultLiteral(*p.type) + ";" : missing;
      out += "\n  } else if (" + slot + "->is_null()) {\n    " + m + ".reset();\n  } else if (!" +
             parse(m + ".emplace()") + ") {\n    return false;\n  }\n";
    } else if (!p.nullable) {
      out += "  " + m + ".reset();\n  if (" + slot + " != nullptr && !" + parse(m + ".emplace()") +
             ") return false;\n";
    } else {
      out += "  " + m + ".reset();\n  if (" + slot + " != nullptr) {\n    if (" + slot +
             "->is_null()) {\n      " + m + ".emplace();\n    } else if (!" +
             parse(m + ".emplace().emplace()") + ") {\n      return false;\n    }\n  }\n";
    }
  }
  out += "  return true;\n}\n\n";
  // ToJson
  out += "boost::json::value ToJson(const " + info.name + "& in) {\n  boost::json::object out;\n";
  out += "  out.reserve(" + std::to_string(fields.size() + (info.is_record ? 1 : 0)) +
         " + in.extra.size());\n";
  if (info.is_record) out += "  out.emplace(\"$type\", kNsid);\n";
  for (const Field& f : fields) {
    const Property& p = *f.prop;
    const std::string key = StringLiteral(p.name);
    const std::string m = "in." + f.member;
    if (p.required && !p.nullable) {
      out += "  out.emplace(" + key + ", " + ToJsonExpr(*p.type, owner, m, 0) + ");\n";
    } else if (p.required) {
      out += "  if (" + m + ") {\n    out.emplace(" + key + ", " + ToJsonExpr(*p.type, owner, "*" + m, 0) +
             ");\n  } else {\n    out.emplace(" + key + ", nullptr);\n  }\n";
    } else if (!p.nullable) {
      out += "  if (" + m + ") out.emplace(" + key + ", " + ToJsonExpr(*p.type, owner, "*" + m, 0) + ");\n";
    } else {
      out += "  if (" + m + ") {\n    if (*" + m + ") {\n      out.emplace(" + key + ", " +
             ToJsonExpr(*p.type, owner, "**" + m, 0) + ");\n    } else {\n      out.emplace(" + key +
             ", nullptr);\n    }\n  }\n";
    }
  }
  out += "  for (const auto& member : in.extra) out.emplace(member.key(), member.value());\n";
  out += "  return out;\n}\n\n";
}

void DocEmitter::EmitParamsImpl(const StructInfo* info, std::string& out) {
  const std::vector<Field> fields = info ? FieldsOf(*info) : std::vector<Field>{};
  out += "bool Parse(const " + std::string(kLex) + "ParamList& params, Params& out, " + kLex +
         "Errors& errors) {\n  out = Params{};\n";
  if (fields.empty()) {
    out += "  (void)params;\n  (void)errors;\n  return true;\n}\n\n";
  } else {
    out += "  const " + std::string(kLex) + "Path path(\"Params\");\n";
    out += "  bool seen[" + std::to_string(fields.size()) + "] = {};\n";
    out += "  for (const auto& [key, text] : params) {\n    if (text.empty()) continue;\n    ";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const Field& f = fields[i];
      const Property& p = *f.prop;
      const bool array = p.type->kind == Kind::kArray;
      const Node& scalar = array ? *p.type->items : *p.type;
      const std::string idx = std::to_string(i);
      const std::string key_path = "path.Key(" + StringLiteral(p.name) + ")";
      const std::string item_path = array ? key_path + ".Index(out." + f.member + ".size())" : key_path;
      out += "if (key == " + StringLiteral(p.name) + ") {\n";
      std::string type_error;
      std::string decode;
      switch (scalar.kind) {
        case Kind::kBoolean:
          type_error = "must be a boolean";
          decode = std::string(kLex) + "DecodeBooleanParam(text)";
          break;
        case Kind::kInteger:
          type_error = "must be an integer";
          decode = std::string(kLex) + "DecodeIntegerParam(text)";
          break;
        default:
          type_error = "must be a string";
          decode = "std::optional<std::string>(text)";
          break;
      }
      if (!array) {
        out += "      if (seen[" + idx + "]) return errors.Fail(" + key_path + ", " +
               StringLiteral(type_error) + ");\n";
      }
      out += "      seen[" + idx + "] = true;\n      const auto value = " + decode + ";\n";
      out += "      if (!value) return errors.Fail(" + item_path + ", " + StringLiteral(type_error) + ");\n";
      if (scalar.kind == Kind::kInteger) {
        out += "      if (!" + std::string(kLex) + "CheckInteger(*value, " + IntegerConstraints(scalar) +
               ", " + item_path + ", errors)) return false;\n";
      } else if (scalar.kind == Kind::kString) {
        out += "      if (!" + std::string(kLex) + "CheckString(*value, " + StringConstraints(scalar) +
               ", " + item_path + ", errors)) return false;\n";
      } else if (scalar.kind == Kind::kBoolean && scalar.bool_const) {
        out += "      if (*value != " + std::string(*scalar.bool_const ? "true" : "false") +
               ") return errors.Fail(" + item_path + ", " +
               StringLiteral(*scalar.bool_const ? "must be true" : "must be false") + ");\n";
      }
      if (array) {
        out += "      out." + f.member + ".push_back(*value);\n";
      } else {
        out += "      out." + f.member + " = *value;\n";
      }
      out += "    } else ";
    }
    out += "{\n      // Parameters the lexicon does not declare are ignored, as the reference does.\n    }\n  }\n";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const Field& f = fields[i];
      const Property& p = *f.prop;
      if (p.required && !HasDefault(*p.type)) {
        out += "  if (!seen[" + std::to_string(i) + "]) return errors.Fail(path, " +
               StringLiteral("must have the property \"" + p.name + "\"") + ");\n";
      }
      if (p.type->kind == Kind::kArray && (p.type->min_length || p.type->max_length)) {
        out += "  if (seen[" + std::to_string(i) + "] && !" + kLex + "CheckArrayLength(out." + f.member +
               ".size(), " + ArrayConstraints(*p.type) + ", path.Key(" + StringLiteral(p.name) +
               "), errors)) return false;\n";
      }
    }
    out += "  return true;\n}\n\n";
  }
  // ToParamList
  out += std::string(kLex) + "ParamList ToParamList(const Params& in) {\n  " + kLex + "ParamList out;\n";
  if (fields.empty()) out += "  (void)in;\n";
  for (const Field& f : fields) {
    const Property& p = *f.prop;
    const std::string key = StringLiteral(p.name);
    const std::string m = "in." + f.member;
    if (p.type->kind == Kind::kArray) {
      out += "  for (const auto& value : " + m + ") out.emplace_back(" + key + ", " + kLex +
             "ParamText(value));\n";
    } else if (p.required || HasDefault(*p.type)) {
      out += "  out.emplace_back(" + key + ", " + kLex + "ParamText(" + m + "));\n";
    } else {
      out += "  if (" + m + ") out.emplace_back(" + key + ", " + kLex + "ParamText(*" + m + "));\n";
    }
  }
  out += "  return out;\n}\n\n";
}

void DocEmitter::EmitUnionWrapperImpl(const std::string& name, const Node& node,
                                      const std::string& owner, std::string& out) {
  out += "bool Parse(const boost::json::value& json, " + name + "& out, const " + kLex +
         "Path& path, " + kLex + "Errors& errors) {\n  return " +
         ParseExpr(node, owner, "json", "out.value", "path", 0) + ";\n}\n\n";
  out += "boost::json::value ToJson(const " + name + "& in) {\n  return " +
         ToJsonExpr(node, owner, "in.value", 0) + ";\n}\n\n";
}

}  // namespace atipay::codegen
