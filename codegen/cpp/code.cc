// Types, parse expressions and serialize expressions for single values.
#include <set>

#include "cpp/emitter.h"
#include "cpp/names.h"

namespace atipay::codegen {

using lexicon::Kind;
using lexicon::Node;

namespace {

const char* kLex = "::atipay::lex::";

std::string Opt(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("std::nullopt");
}

std::string D(int depth) { return std::to_string(depth); }

std::string TypeIdOf(const std::string& ref) {
  constexpr std::string_view kMain = "#main";
  if (ref.size() > kMain.size() && ref.ends_with(kMain)) return ref.substr(0, ref.size() - kMain.size());
  return ref;
}

}  // namespace

std::string DocEmitter::Qualified(const StructInfo& info) const {
  return model_.Namespace(*info.doc) + "::" + info.name;
}

std::string DocEmitter::StructType(const StructInfo& info, const std::string& owner, bool via_ref) {
  std::string q = Qualified(info);
  if (model_.Boxed(owner, info.owner, via_ref)) return std::string(kLex) + "Box<" + q + ">";
  return q;
}

std::vector<const StructInfo*> DocEmitter::UnionMembers(const Node& node) const {
  std::vector<const StructInfo*> members;
  std::set<const StructInfo*> seen;
  for (const std::string& ref : node.refs) {
    const StructInfo* info = model_.StructOfDef(ref);
    if (info != nullptr && seen.insert(info).second) members.push_back(info);
  }
  return members;
}

// Records held inside other data are parsed without the top-level $type check.
std::string DocEmitter::ParseFunction(const StructInfo& info) {
  return info.is_record ? "::ParseRecordBody" : "::Parse";
}

std::string DocEmitter::CppType(const Node& node, const std::string& owner) {
  switch (node.kind) {
    case Kind::kBoolean: return "bool";
    case Kind::kInteger: return "std::int64_t";
    case Kind::kString: return "std::string";
    case Kind::kBytes: return std::string(kLex) + "Bytes";
    case Kind::kCidLink: return std::string(kLex) + "CidLink";
    case Kind::kBlob: return std::string(kLex) + "Blob";
    case Kind::kUnknown: return "boost::json::object";
    case Kind::kArray: return "std::vector<" + CppType(*node.items, owner) + ">";
    case Kind::kObject:
    case Kind::kParams:
      return StructType(*model_.StructOf(&node), owner, false);
    case Kind::kRef: {
      if (const StructInfo* info = model_.StructOfDef(node.ref)) return StructType(*info, owner, true);
      return CppType(model_.catalog().Resolve(node.ref)->def->node, owner);
    }
    case Kind::kUnion: {
      // Inside its own definition a union goes by its alias; elsewhere it is spelled out, so
      // no header needs another's aliases.
      if (model_.OwnerOf(&node) == owner) return model_.UnionName(&node);
      return VariantType(node, owner);
    }
    default:
      return "void";
  }
}

std::string DocEmitter::VariantType(const Node& node, const std::string& owner) {
  {
    {
      std::string out = "std::variant<";
      bool first = true;
      for (const StructInfo* info : UnionMembers(node)) {
        if (!first) out += ", ";
        out += StructType(*info, owner, true);
        first = false;
      }
      if (!node.closed) out += std::string(first ? "" : ", ") + kLex + "UnknownUnionMember";
      return out + ">";
    }
  }
}

std::string DocEmitter::Constant(const std::string& type, const std::string& init) {
  std::string key = type + " " + init;
  auto it = constant_names_.find(key);
  if (it != constant_names_.end()) return it->second;
  std::string name = "kC" + std::to_string(constants_.size());
  constants_.push_back("constexpr " + type + " " + name + init + ";");
  constant_names_[key] = name;
  return name;
}

std::string DocEmitter::StringList(const std::vector<std::string>& values) {
  std::string init = "[] = {";
  for (std::size_t i = 0; i < values.size(); ++i) init += (i ? ", " : "") + StringLiteral(values[i]);
  return Constant("std::string_view", init + "}");
}

// Every member is written out, in order: designated initializers that skip members trip
// -Wmissing-field-initializers.
std::string DocEmitter::StringConstraints(const Node& n) {
  std::string format = "std::nullopt";
  if (n.format) {
    format = std::string(kLex) + "StringFormat::k" + PascalCase(lex::StringFormatName(*n.format));
  }
  std::string enums = "{}";  // no enum; an empty one is still a (closed) set
  if (n.has_string_enum) {
    enums =
        n.string_enum.empty() ? "std::span<const std::string_view>()" : StringList(n.string_enum);
  }
  std::string init = "{.format = " + format + ", .min_length = " + Opt(n.min_length) +
                     ", .max_length = " + Opt(n.max_length) + ", .min_graphemes = " +
                     Opt(n.min_graphemes) + ", .max_graphemes = " + Opt(n.max_graphemes) +
                     ", .const_value = " +
                     (n.string_const ? StringLiteral(*n.string_const) : std::string("std::nullopt")) +
                     ", .enum_values = " + enums + "}";
  return Constant(std::string(kLex) + "StringConstraints", init);
}

std::string DocEmitter::IntegerConstraints(const Node& n) {
  std::string enums = "{}";  // no enum; an empty one is still a (closed) set
  if (n.has_int_enum && n.int_enum.empty()) {
    enums = "std::span<const std::int64_t>()";
  } else if (n.has_int_enum) {
    std::string values = "[] = {";
    for (std::size_t i = 0; i < n.int_enum.size(); ++i) {
      values += (i ? ", " : "") + std::to_string(n.int_enum[i]);
    }
    enums = Constant("std::int64_t", values + "}");
  }
  std::string init = "{.minimum = " + Opt(n.minimum) + ", .maximum = " + Opt(n.maximum) +
                     ", .const_value = " + Opt(n.int_const) + ", .enum_values = " + enums + "}";
  return Constant(std::string(kLex) + "IntegerConstraints", init);
}

std::string DocEmitter::ArrayConstraints(const Node& n) {
  return Constant(std::string(kLex) + "ArrayConstraints",
                  "{" + Opt(n.min_length) + ", " + Opt(n.max_length) + "}");
}

std::string DocEmitter::ParseExpr(const Node& node, const std::string& owner, const std::string& j,
                                  const std::string& t, const std::string& p, int depth) {
  const std::string tail = ", " + p + ", errors)";
  switch (node.kind) {
    case Kind::kBoolean: {
      std::string c = node.bool_const ? (*node.bool_const ? "true" : "false") : "std::nullopt";
      return std::string(kLex) + "ParseBoolean(" + j + ", " + t + ", " + c + tail;
    }
    case Kind::kInteger:
      return std::string(kLex) + "ParseInteger(" + j + ", " + t + ", " + IntegerConstraints(node) + tail;
    case Kind::kString:
      return std::string(kLex) + "ParseString(" + j + ", " + t + ", " + StringConstraints(node) + tail;
    case Kind::kBytes: {
      std::string c = Constant(std::string(kLex) + "BytesConstraints",
                               "{" + Opt(node.min_length) + ", " + Opt(node.max_length) + "}");
      return std::string(kLex) + "ParseBytes(" + j + ", " + t + ", " + c + tail;
    }
    case Kind::kCidLink:
      return std::string(kLex) + "ParseCidLink(" + j + ", " + t + tail;
    case Kind::kBlob: {
      std::string accept = node.accept.empty() ? "{}" : StringList(node.accept);
      std::string c = Constant(std::string(kLex) + "BlobConstraints",
                               "{" + accept + ", " + Opt(node.max_size) + "}");
      return std::string(kLex) + "ParseBlob(" + j + ", " + t + ", " + c + tail;
    }
    case Kind::kUnknown:
      return std::string(kLex) + "ParseUnknown(" + j + ", " + t + tail;
    case Kind::kArray: {
      const std::string d = D(depth);
      return std::string(kLex) + "ParseArray(" + j + ", " + t + ", " + ArrayConstraints(node) + ", " +
             p + ", errors, [](const boost::json::value& j" + d + ", " +
             CppType(*node.items, owner) + "& t" + d + ", const " + kLex + "Path& p" + d + ", " +
             kLex + "Errors& errors) { return " +
             ParseExpr(*node.items, owner, "j" + d, "t" + d, "p" + d, depth + 1) + "; })";
    }
    case Kind::kObject:
    case Kind::kParams:
    case Kind::kRef: {
      const StructInfo* info = node.kind == Kind::kRef ? model_.StructOfDef(node.ref)
                                                       : model_.StructOf(&node);
      if (info == nullptr) {  // a ref to a non-object definition: parse it in place
        return ParseExpr(model_.catalog().Resolve(node.ref)->def->node, owner, j, t, p, depth);
      }
      bool boxed = model_.Boxed(owner, info->owner, node.kind == Kind::kRef);
      std::string target = boxed ? "(" + t + ").Emplace()" : t;
      return model_.Namespace(*info->doc) + ParseFunction(*info) + "(" + j + ", " + target + tail;
    }
    case Kind::kUnion: {
      // One statement per line: compilers stop tracking columns on very long lines.
      const std::string nl = "\n      ";
      std::string code = "[&]() -> bool {" + nl + "const std::optional<std::string_view> type = " +
                         std::string(kLex) + "UnionType(" + j + ", " + p + ", errors);" + nl +
                         "if (!type) return false;" + nl;
      std::vector<const StructInfo*> members = UnionMembers(node);
      for (std::size_t i = 0; i < members.size(); ++i) {
        const StructInfo* info = members[i];
        bool boxed = model_.Boxed(owner, info->owner, true);
        std::string target = "(" + t + ").emplace<" + std::to_string(i) + ">()";
        if (boxed) target += ".Emplace()";
        // The member's $type is the union's business, not an unknown property of the member.
        code += "if (" + std::string(kLex) + "UnionTypeMatches(*type, " +
                StringLiteral(info->type_id) + ")) {" + nl + "  auto& member = " + target + ";" + nl +
                "  if (!" + model_.Namespace(*info->doc) + ParseFunction(*info) + "(" + j +
                ", member" + tail + ") return false;" + nl + "  member.extra.erase(\"$type\");" + nl +
                "  return true;" + nl + "}" + nl;
      }
      if (node.closed) {
        std::vector<std::string> ids;
        for (const std::string& r : node.refs) ids.push_back(TypeIdOf(r));
        code += "return " + std::string(kLex) + "FailClosedUnion(" + StringList(ids) + tail + ";\n    }()";
      } else {
        code += "if (!" + std::string(kLex) + "CheckDataModel(" + j + tail + ") return false;" + nl +
                "(" + t + ").emplace<" + std::to_string(members.size()) + ">().value = (" + j +
                ").get_object();" + nl + "return true;\n    }()";
      }
      return code;
    }
    default:
      return "false";
  }
}

std::string DocEmitter::ToJsonExpr(const Node& node, const std::string& owner, const std::string& v,
                                   int depth) {
  switch (node.kind) {
    case Kind::kArray: {
      const std::string d = D(depth);
      return std::string(kLex) + "ArrayToJson(" + v + ", [](const " + CppType(*node.items, owner) +
             "& e" + d + ") { return " + ToJsonExpr(*node.items, owner, "e" + d, depth + 1) + "; })";
    }
    case Kind::kObject:
    case Kind::kParams:
    case Kind::kRef: {
      const StructInfo* info = node.kind == Kind::kRef ? model_.StructOfDef(node.ref)
                                                       : model_.StructOf(&node);
      if (info == nullptr) {
        return ToJsonExpr(model_.catalog().Resolve(node.ref)->def->node, owner, v, depth);
      }
      bool boxed = model_.Boxed(owner, info->owner, node.kind == Kind::kRef);
      return model_.Namespace(*info->doc) + "::ToJson(" + (boxed ? "*" + v : v) + ")";
    }
    case Kind::kUnion: {
      std::vector<const StructInfo*> members = UnionMembers(node);
      const std::string nl = "\n      ";
      std::string code = "[&]() -> boost::json::value {" + nl + "switch ((" + v + ").index()) {" + nl;
      for (std::size_t i = 0; i < members.size(); ++i) {
        const StructInfo* info = members[i];
        bool boxed = model_.Boxed(owner, info->owner, true);
        std::string get = "std::get<" + std::to_string(i) + ">(" + v + ")";
        code += "case " + std::to_string(i) + ": return " + kLex + "WithType(" +
                model_.Namespace(*info->doc) + "::ToJson(" + (boxed ? "*" + get : get) + "), " +
                StringLiteral(info->type_id) + ");" + nl;
      }
      if (!node.closed) {
        code += "case " + std::to_string(members.size()) + ": return " + kLex + "ToJson(std::get<" +
                std::to_string(members.size()) + ">(" + v + "));" + nl;
      }
      return code + "}" + nl + "return boost::json::value();\n    }()";
    }
    default:
      return std::string(kLex) + "ToJson(" + v + ")";
  }
}

}  // namespace atipay::codegen
