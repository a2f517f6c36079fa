// The header and source files around the emitted definitions.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

#include "cpp/emitter.h"
#include "cpp/names.h"

namespace atipay::codegen {

using lexicon::Kind;

namespace {

// The include guard: the root and stem upper-cased, with '_' for anything else. That folds
// '-' into '/' (com.foo-bar.baz and com.foo.bar.baz are distinct NSIDs), so a stem with a '-'
// also carries a hash of itself.
std::string Guard(const std::string& root, const std::string& stem) {
  std::string g = root + "_" + stem + "_";
  if (stem.find('-') != std::string::npos) {
    std::uint64_t hash = 0xcbf29ce484222325u;  // FNV-1a, 64 bits
    for (unsigned char c : stem) hash = (hash ^ c) * 0x100000001b3u;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    g += std::string(hex) + "_";
  }
  g += "H_";
  for (char& c : g) c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return g;
}

std::string Joined(const std::vector<std::string>& segments) {
  std::string out;
  for (std::size_t i = 0; i < segments.size(); ++i) out += (i ? "::" : "") + segments[i];
  return out;
}

}  // namespace

std::string DocEmitter::IncludePath(const std::string& doc_id) const {
  return "\"" + Model::FileStem(*model_.catalog().FindDocument(doc_id)) + ".h\"";
}

void DocEmitter::EmitDefDecl(const lexicon::Def& def, std::string& out) {
  const std::string uri = lexicon::DefUri(doc_.id, def.name);
  const lexicon::Node& n = def.node;
  switch (n.kind) {
    case Kind::kObject:
      EmitInlineTypes(n, uri, true, out);
      EmitStructDecl(*model_.StructOfDef(uri), out);
      break;
    case Kind::kRecord:
      EmitInlineTypes(*n.record, uri, true, out);
      if (!n.description.empty()) out += "// " + CommentText(n.description) + "\n";
      EmitStructDecl(*model_.StructOfDef(uri), out);
      break;
    case Kind::kToken:
      if (!n.description.empty()) out += "// " + CommentText(n.description) + "\n";
      // Its value is its name: nsid#name, or the bare NSID for a main token (as $type and refs
      // name a main def).
      out += "inline constexpr std::string_view " + model_.DefName(uri) + " = " +
             StringLiteral(def.name == "main" ? doc_.id : uri) + ";\n\n";
      break;
    case Kind::kQuery:
    case Kind::kProcedure:
    case Kind::kSubscription:
      EmitMethodDecl(def, out);
      break;
    case Kind::kPermissionSet:
      out += "// " + uri + " is a permission set; it has no data form.\n\n";
      break;
    default:
      EmitInlineTypes(n, uri, true, out);
      if (!n.description.empty()) out += "// " + CommentText(n.description) + "\n";
      out += "using " + model_.DefName(uri) + " = " + CppType(n, uri) + ";\n\n";
      break;
  }
}

std::string DocEmitter::Header() {
  const std::string stem = Model::FileStem(doc_);
  const std::string guard = Guard(model_.options().root_namespace, stem);
  std::string out(kGeneratedBanner);
  out += "// Lexicon: " + doc_.id + "\n";
  if (!doc_.description.empty()) out += "// " + CommentText(doc_.description) + "\n";
  out += "#ifndef " + guard + "\n#define " + guard + "\n\n";
  out += "#include \"lex/generated.h\"\n";
  for (const std::string& dep : model_.HeaderDeps(doc_)) out += "#include " + IncludePath(dep) + "\n";
  out += "\nstatic_assert(ATIPAY_LEX_GENERATED_API == 1, \"generated code and lex runtime disagree\");\n\n";

  // Types of other documents that this one only holds through boxes.
  for (const StructInfo* info : model_.ForwardStructs(doc_)) {
    out += "namespace " + Joined(model_.NamespaceSegments(*info->doc)).substr(0) + " {\nstruct " +
           info->name + ";\nbool Parse(const boost::json::value& json, " + info->name +
           "& out, const ::atipay::lex::Path& path, ::atipay::lex::Errors& errors);\n" +
           (info->is_record ? "bool ParseRecordBody(const boost::json::value& json, " + info->name +
                                  "& out, const ::atipay::lex::Path& path, ::atipay::lex::Errors& errors);\n"
                            : std::string()) +
           "boost::json::value ToJson(const " + info->name + "& in);\n}  // namespace " +
           Joined(model_.NamespaceSegments(*info->doc)) + "\n\n";
  }

  const std::string ns = Joined(model_.NamespaceSegments(doc_));
  out += "namespace " + ns + " {\n\n";
  out += "inline constexpr std::string_view kNsid = " + StringLiteral(doc_.id) + ";\n\n";
  std::vector<const StructInfo*> structs = model_.StructsOf(doc_);
  if (!structs.empty()) {
    for (const StructInfo* info : structs) out += "struct " + info->name + ";\n";
    out += "\n";
  }
  for (const lexicon::Def* def : model_.OrderedDefs(doc_)) EmitDefDecl(*def, out);
  out += "}  // namespace " + ns + "\n\n#endif  // " + guard + "\n";
  return out;
}

std::string DocEmitter::Source() {
  std::string body;
  std::vector<const StructInfo*> structs = model_.StructsOf(doc_);
  for (const lexicon::Def* def : model_.OrderedDefs(doc_)) {
    const std::string uri = lexicon::DefUri(doc_.id, def->name);
    for (const StructInfo* info : structs) {
      if (info->owner == uri) EmitStructImpl(*info, body);
    }
    if (def->node.kind == Kind::kQuery || def->node.kind == Kind::kProcedure ||
        def->node.kind == Kind::kSubscription) {
      EmitMethodImpl(*def, body);
    }
  }
  std::string out(kGeneratedBanner);
  out += "// Lexicon: " + doc_.id + "\n\n";
  out += "#include " + IncludePath(doc_.id) + "\n";
  for (const std::string& dep : model_.SourceDeps(doc_)) out += "#include " + IncludePath(dep) + "\n";
  const std::string ns = Joined(model_.NamespaceSegments(doc_));
  out += "\nnamespace " + ns + " {\n";
  if (!constants_.empty()) {
    out += "namespace {\n\n";
    for (const std::string& c : constants_) out += c + "\n";
    out += "\n}  // namespace\n";
  }
  out += "\n" + body + "}  // namespace " + ns + "\n";
  return out;
}

}  // namespace atipay::codegen
