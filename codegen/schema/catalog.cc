#include "schema/catalog.h"

#include <functional>

namespace atipay::lexicon {

Catalog::Catalog(std::vector<Document> docs) : docs_(std::move(docs)) {
  for (std::size_t i = 0; i < docs_.size(); ++i) by_id_.emplace(docs_[i].id, i);
}

const Document* Catalog::FindDocument(std::string_view nsid) const {
  auto it = by_id_.find(nsid);
  return it == by_id_.end() ? nullptr : &docs_[it->second];
}

std::optional<DefRef> Catalog::Resolve(std::string_view uri) const {
  auto hash = uri.find('#');
  std::string_view nsid = hash == std::string_view::npos ? uri : uri.substr(0, hash);
  std::string_view name = hash == std::string_view::npos ? "main" : uri.substr(hash + 1);
  const Document* doc = FindDocument(nsid);
  if (doc == nullptr) return std::nullopt;
  const Def* def = doc->Find(name);
  if (def == nullptr) return std::nullopt;
  return DefRef{doc, def};
}

std::optional<std::string> Catalog::CheckRefs(bool allow_missing_union_refs) const {
  std::optional<std::string> problem;
  std::function<void(const Document&, const Node&, const std::string&)> visit;
  visit = [&](const Document& doc, const Node& n, const std::string& path) {
    if (problem) return;
    auto fail = [&](std::string reason) { problem = doc.source + ": " + path + ": " + reason; };
    if (n.kind == Kind::kRef) {
      std::optional<DefRef> target = Resolve(n.ref);
      if (!target) return fail("ref \"" + n.ref + "\" does not resolve");
      Kind k = target->def->node.kind;
      if (k == Kind::kToken || (IsPrimary(k) && k != Kind::kRecord)) {
        return fail("ref \"" + n.ref + "\" points at a " + std::string(KindName(k)));
      }
    }
    if (n.kind == Kind::kUnion) {
      for (const std::string& r : n.refs) {
        std::optional<DefRef> target = Resolve(r);
        if (!target) {
          if (allow_missing_union_refs && !n.closed) continue;
          return fail("union member \"" + r + "\" does not resolve");
        }
        Kind k = target->def->node.kind;
        if (k != Kind::kObject && k != Kind::kRecord) {
          return fail("union member \"" + r + "\" is a " + std::string(KindName(k)) +
                      ", not an object or record");
        }
      }
    }
    if (n.items) visit(doc, *n.items, path + ".items");
    for (const Property& p : n.properties) visit(doc, *p.type, path + ".properties." + p.name);
    if (n.record) visit(doc, *n.record, path + ".record");
    if (n.parameters) visit(doc, *n.parameters, path + ".parameters");
    if (n.input && n.input->schema) visit(doc, *n.input->schema, path + ".input.schema");
    if (n.output && n.output->schema) visit(doc, *n.output->schema, path + ".output.schema");
    if (n.message) visit(doc, *n.message, path + ".message.schema");
  };
  for (const Document& doc : docs_) {
    for (const Def& def : doc.defs) visit(doc, def.node, "$.defs." + def.name);
  }
  return problem;
}

}  // namespace atipay::lexicon
