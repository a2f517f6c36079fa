// Whole-catalog analysis for the C++ generator: the C++ name of every generated type, which
// references must be boxed to break cycles, the order of definitions in a header, and which
// headers include which.
#ifndef ATIPAY_CODEGEN_CPP_MODEL_H_
#define ATIPAY_CODEGEN_CPP_MODEL_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "lex/result.h"
#include "schema/catalog.h"

namespace atipay::codegen {

struct Options {
  std::string root_namespace = "lexicons";
};

// A generated struct: a named object def, a record, a method body or params, or an object
// written inline in a property.
struct StructInfo {
  const lexicon::Document* doc = nullptr;
  std::string owner;  // the def that owns it ("nsid#name")
  std::string name;   // C++ name in the document's namespace
  const lexicon::Node* object = nullptr;  // whose properties it holds
  bool is_record = false;
  bool is_params = false;
  std::string type_id;  // $type value when it is a union member ("nsid" for main)
};

class Model {
 public:
  static lex::Result<Model> Build(const lexicon::Catalog& catalog, Options options);

  const lexicon::Catalog& catalog() const { return *catalog_; }
  const Options& options() const { return options_; }

  // "::lexicons::com::atiproto::cart"
  std::string Namespace(const lexicon::Document& doc) const;
  std::vector<std::string> NamespaceSegments(const lexicon::Document& doc) const;
  // "com/atiproto/cart" (header is that + ".h")
  static std::string FileStem(const lexicon::Document& doc);

  const StructInfo* StructOf(const lexicon::Node* object) const;
  const StructInfo* StructOfDef(std::string_view uri) const;
  std::vector<const StructInfo*> StructsOf(const lexicon::Document& doc) const;
  // Alias name of an inline union, e.g. "RecordEmbed".
  const std::string& UnionName(const lexicon::Node* node) const;
  // The C++ name given to a def that is not a struct (token constant, type alias).
  const std::string& DefName(std::string_view uri) const;
  std::string OwnerOf(const lexicon::Node* node) const;

  // Whether a mention of a struct owned by `to` from code owned by `from` goes through
  // lex::Box. `via_ref` is false for inline structs the owner holds itself.
  bool Boxed(const std::string& from, const std::string& to, bool via_ref) const;

  std::vector<const lexicon::Def*> OrderedDefs(const lexicon::Document& doc) const;
  std::set<std::string> HeaderDeps(const lexicon::Document& doc) const;  // doc ids
  std::set<std::string> SourceDeps(const lexicon::Document& doc) const;
  // Structs of other documents mentioned only through boxes: declared ahead in the header.
  std::vector<const StructInfo*> ForwardStructs(const lexicon::Document& doc) const;

 private:
  Model() = default;
  lex::Result<bool> Analyze();
  void NameDocument(const lexicon::Document& doc);
  void NameInline(const lexicon::Node& node, const std::string& owner, const std::string& base,
                  const lexicon::Document& doc, class NameSet& names);
  struct Mention {
    std::string owner;
    bool via_ref;
    const StructInfo* info;  // null for inline unions
  };
  void CollectMentions(const lexicon::Node& node, const std::string& current,
                       std::vector<Mention>& out, std::set<std::string>& expanding) const;

  const lexicon::Catalog* catalog_ = nullptr;
  Options options_;
  std::vector<std::unique_ptr<StructInfo>> structs_;
  std::map<const lexicon::Node*, const StructInfo*> struct_by_node_;
  std::map<std::string, const StructInfo*, std::less<>> struct_by_def_;
  std::map<const lexicon::Node*, std::string> union_names_;
  std::map<const lexicon::Node*, std::string> owner_by_node_;
  std::map<std::string, std::string, std::less<>> def_names_;
  std::map<std::string, std::string, std::less<>> doc_of_def_;  // def uri -> doc id

  std::map<std::string, std::vector<Mention>, std::less<>> mentions_;  // by def uri
  std::map<std::string, int, std::less<>> def_scc_;
  std::set<std::string, std::less<>> self_loops_;
  std::map<std::string, int, std::less<>> doc_scc_;
};

}  // namespace atipay::codegen

#endif  // ATIPAY_CODEGEN_CPP_MODEL_H_
