// Queries, procedures and subscriptions: params, bodies, the method descriptor.
#include "cpp/emitter.h"
#include "cpp/names.h"

namespace atipay::codegen {

using lexicon::Kind;
using lexicon::Node;

namespace {

const char* kLex = "::atipay::lex::";

std::string ParamTypeName(const Node& n) {
  const Node& scalar = n.kind == Kind::kArray ? *n.items : n;
  switch (scalar.kind) {
    case Kind::kBoolean: return "kBoolean";
    case Kind::kInteger: return "kInteger";
    case Kind::kString: return "kString";
    default: return "kUnknown";
  }
}

std::string BodyDescriptor(const std::optional<lexicon::Body>& body) {
  if (!body) return "std::nullopt";
  return std::string(kLex) + "BodyDescriptor{" + StringLiteral(body->encoding) + ", " +
         (body->schema ? "true" : "false") + "}";
}

void DeclareWrapperFunctions(const std::string& name, std::string& out) {
  out += "bool Parse(const boost::json::value& json, " + name + "& out, const " + kLex +
         "Path& path, " + kLex + "Errors& errors);\n";
  out += "boost::json::value ToJson(const " + name + "& in);\n\n";
}

}  // namespace

void DocEmitter::EmitMethodDecl(const lexicon::Def& def, std::string& out) {
  const Node& n = def.node;
  const std::string uri = lexicon::DefUri(doc_.id, def.name);
  const std::string ns = model_.Namespace(doc_);

  // Params
  if (n.parameters) {
    EmitInlineTypes(*n.parameters, uri, true, out);
    EmitStructDecl(*model_.StructOf(n.parameters.get()), out);
  } else {
    out += "// This method takes no parameters.\nstruct Params {\n  bool operator==(const Params&) const = default;\n};\n\n";
    out += "bool Parse(const " + std::string(kLex) + "ParamList& params, Params& out, " + kLex +
           "Errors& errors);\n" + kLex + "ParamList ToParamList(const Params& in);\n\n";
  }

  // Bodies
  auto body_type = [&](const std::optional<lexicon::Body>& body, const std::string& name) -> bool {
    if (!body || !body->schema) return false;
    const Node& schema = *body->schema;
    if (!body->description.empty()) out += "// " + CommentText(body->description) + "\n";
    switch (schema.kind) {
      case Kind::kObject:
        EmitInlineTypes(schema, uri, true, out);
        EmitStructDecl(*model_.StructOf(&schema), out);
        break;
      case Kind::kRef:
        out += "using " + name + " = " + CppType(schema, uri) + ";\n\n";
        break;
      default:  // a union: wrapped so that Parse and ToJson are found by argument lookup
        EmitInlineTypes(schema, uri, true, out);
        out += "struct " + name + " {\n  " + model_.UnionName(&schema) + " value;\n\n  bool operator==(const " +
               name + "&) const = default;\n};\n";
        DeclareWrapperFunctions(name, out);
        break;
    }
    return true;
  };
  const bool has_input = body_type(n.input, "Input");
  const bool has_output = body_type(n.output, "Output");
  bool has_message = false;
  if (n.message) {
    EmitInlineTypes(*n.message, uri, true, out);
    out += "struct Message {\n  " + model_.UnionName(n.message.get()) +
           " value;\n\n  bool operator==(const Message&) const = default;\n};\n";
    DeclareWrapperFunctions("Message", out);
    has_message = true;
  }

  // Descriptor
  std::string params_span = "{}";
  if (n.parameters && !n.parameters->properties.empty()) {
    out += "inline constexpr " + std::string(kLex) + "ParamDescriptor kMethodParams[] = {\n";
    for (const lexicon::Property& p : n.parameters->properties) {
      out += "    {" + StringLiteral(p.name) + ", " + kLex + "ParamType::" + ParamTypeName(*p.type) + ", " +
             (p.type->kind == Kind::kArray ? "true" : "false") + ", " + (p.required ? "true" : "false") +
             "},\n";
    }
    out += "};\n";
    params_span = "kMethodParams";
  }
  std::string errors_span = "{}";
  if (!n.errors.empty()) {
    out += "inline constexpr std::string_view kMethodErrors[] = {";
    for (std::size_t i = 0; i < n.errors.size(); ++i) {
      out += (i ? ", " : "") + StringLiteral(n.errors[i].name);
    }
    out += "};\n";
    errors_span = "kMethodErrors";
  }
  const char* kind = n.kind == Kind::kQuery ? "kQuery" : n.kind == Kind::kProcedure ? "kProcedure" : "kSubscription";
  out += "inline constexpr " + std::string(kLex) + "MethodDescriptor kMethod{kNsid, " + kLex +
         "MethodKind::" + kind + ", " + params_span + ", " + BodyDescriptor(n.input) + ", " +
         BodyDescriptor(n.output) + ", " + errors_span + "};\n\n";
  if (!def.node.description.empty()) out += "// " + CommentText(def.node.description) + "\n";
  out += "struct Method {\n  using Params = " + ns + "::Params;\n";
  out += "  using Input = " + (has_input ? ns + "::Input" : std::string("void")) + ";\n";
  out += "  using Output = " + (has_output ? ns + "::Output" : std::string("void")) + ";\n";
  if (has_message) out += "  using Message = " + ns + "::Message;\n";
  out += "  static constexpr const " + std::string(kLex) + "MethodDescriptor& kDescriptor = kMethod;\n};\n\n";
}

void DocEmitter::EmitMethodImpl(const lexicon::Def& def, std::string& out) {
  const Node& n = def.node;
  const std::string uri = lexicon::DefUri(doc_.id, def.name);
  if (!n.parameters) EmitParamsImpl(nullptr, out);
  auto wrapper = [&](const std::optional<lexicon::Body>& body, const std::string& name) {
    if (body && body->schema && body->schema->kind == Kind::kUnion) {
      EmitUnionWrapperImpl(name, *body->schema, uri, out);
    }
  };
  wrapper(n.input, "Input");
  wrapper(n.output, "Output");
  if (n.message) EmitUnionWrapperImpl("Message", *n.message, uri, out);
}

}  // namespace atipay::codegen
