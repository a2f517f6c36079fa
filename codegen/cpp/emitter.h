// Emits the header and source for one lexicon document. Internal to the generator; the
// work is split by kind: value code (code.cc), structs (emit_struct.cc), methods
// (emit_method.cc) and the file around them (emit_file.cc).
#ifndef ATIPAY_CODEGEN_CPP_EMITTER_H_
#define ATIPAY_CODEGEN_CPP_EMITTER_H_

#include <map>
#include <string>
#include <vector>

#include "cpp/model.h"

namespace atipay::codegen {

class DocEmitter {
 public:
  DocEmitter(const Model& model, const lexicon::Document& doc) : model_(model), doc_(doc) {}

  std::string Header();
  std::string Source();

 private:
  // --- code.cc: types and expressions for one value ---
  std::string CppType(const lexicon::Node& node, const std::string& owner);
  std::string VariantType(const lexicon::Node& union_node, const std::string& owner);
  std::string StructType(const StructInfo& info, const std::string& owner, bool via_ref);
  // A bool expression that parses json `j` into `t` at path `p`, reporting into `errors`.
  std::string ParseExpr(const lexicon::Node& node, const std::string& owner, const std::string& j,
                        const std::string& t, const std::string& p, int depth);
  // An expression of type boost::json::value for the C++ value `v`.
  std::string ToJsonExpr(const lexicon::Node& node, const std::string& owner, const std::string& v,
                         int depth);
  static std::string ParseFunction(const StructInfo& info);
  std::string Qualified(const StructInfo& info) const;
  // Constraint constants, pooled per source file.
  std::string Constant(const std::string& type, const std::string& init);
  std::string StringConstraints(const lexicon::Node& node);
  std::string IntegerConstraints(const lexicon::Node& node);
  std::string ArrayConstraints(const lexicon::Node& node);
  std::string StringList(const std::vector<std::string>& values);
  std::vector<const StructInfo*> UnionMembers(const lexicon::Node& node) const;

  // --- emit_struct.cc ---
  void EmitInlineTypes(const lexicon::Node& node, const std::string& owner, bool root,
                       std::string& out);
  void EmitStructDecl(const StructInfo& info, std::string& out);
  void EmitStructImpl(const StructInfo& info, std::string& out);
  void EmitParamsImpl(const StructInfo* info, std::string& out);
  void EmitUnionWrapperImpl(const std::string& name, const lexicon::Node& node,
                            const std::string& owner, std::string& out);
  struct Field {
    const lexicon::Property* prop;
    std::string member;
    std::string type;  // value type, before optional wrapping
  };
  std::vector<Field> FieldsOf(const StructInfo& info);

  // --- emit_method.cc ---
  void EmitMethodDecl(const lexicon::Def& def, std::string& out);
  void EmitMethodImpl(const lexicon::Def& def, std::string& out);

  // --- emit_file.cc ---
  void EmitDefDecl(const lexicon::Def& def, std::string& out);
  std::string IncludePath(const std::string& doc_id) const;

  const Model& model_;
  const lexicon::Document& doc_;
  std::vector<std::string> constants_;
  std::map<std::string, std::string> constant_names_;
};

}  // namespace atipay::codegen

#endif  // ATIPAY_CODEGEN_CPP_EMITTER_H_
