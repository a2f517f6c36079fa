// A set of loaded lexicon documents with ref resolution across them.
#ifndef ATIPAY_CODEGEN_SCHEMA_CATALOG_H_
#define ATIPAY_CODEGEN_SCHEMA_CATALOG_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/schema.h"

namespace atipay::lexicon {

struct DefRef {
  const Document* doc = nullptr;
  const Def* def = nullptr;
};

class Catalog {
 public:
  explicit Catalog(std::vector<Document> docs);
  Catalog(Catalog&&) = default;
  Catalog& operator=(Catalog&&) = default;

  const std::vector<Document>& documents() const { return docs_; }
  const Document* FindDocument(std::string_view nsid) const;
  // Resolves "nsid#name" (or a bare NSID, meaning #main).
  std::optional<DefRef> Resolve(std::string_view uri) const;

  // Checks that every ref and union member resolves to a definition it may point at.
  // Unresolvable union members are tolerated when `allow_missing_union_refs` (open unions
  // accept unknown members anyway); everything else is an error naming file and path.
  std::optional<std::string> CheckRefs(bool allow_missing_union_refs) const;

 private:
  std::vector<Document> docs_;
  std::map<std::string, std::size_t, std::less<>> by_id_;
};

}  // namespace atipay::lexicon

#endif  // ATIPAY_CODEGEN_SCHEMA_CATALOG_H_
