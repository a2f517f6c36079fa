// Turning lexicon names into C++ identifiers and literals.
#ifndef ATIPAY_CODEGEN_CPP_NAMES_H_
#define ATIPAY_CODEGEN_CPP_NAMES_H_

#include <set>
#include <string>
#include <string_view>

namespace atipay::codegen {

// "cartItem" -> "CartItem", "cid-link" -> "CidLink".
std::string PascalCase(std::string_view name);
// "recordUri" -> "record_uri", "cid-link" -> "cid_link", "delete" -> "delete_".
std::string SnakeCase(std::string_view name);
// A namespace segment from an NSID segment: keywords, macros, std and boost get a trailing '_'.
std::string NamespaceSegment(std::string_view segment);
// A C++ string literal with the bytes of `s` (UTF-8 kept, controls escaped).
std::string StringLiteral(std::string_view s);
// One-line comment text: no line breaks, no trailing backslash.
std::string CommentText(std::string_view s);

// Hands out distinct names: "X", then "X_2", "X_3", ...
class NameSet {
 public:
  void Reserve(const std::string& name) { used_.insert(name); }
  std::string Unique(const std::string& base);

 private:
  std::set<std::string> used_;
};

}  // namespace atipay::codegen

#endif  // ATIPAY_CODEGEN_CPP_NAMES_H_
