#include "cpp/model.h"

#include <algorithm>
#include <functional>

#include "cpp/names.h"

namespace atipay::codegen {

using lexicon::Def;
using lexicon::DefUri;
using lexicon::Document;
using lexicon::Kind;
using lexicon::Node;

namespace {

// Tarjan's strongly connected components over a graph with string vertices, visited in
// sorted order so that component numbers are deterministic.
std::map<std::string, int, std::less<>> StronglyConnected(
    const std::map<std::string, std::set<std::string>, std::less<>>& graph) {
  std::map<std::string, int, std::less<>> index, low, component;
  std::vector<std::string> stack;
  std::set<std::string> on_stack;
  int next_index = 0, next_component = 0;
  std::function<void(const std::string&)> connect = [&](const std::string& v) {
    index[v] = low[v] = next_index++;
    stack.push_back(v);
    on_stack.insert(v);
    auto it = graph.find(v);
    if (it != graph.end()) {
      for (const std::string& w : it->second) {
        if (!index.contains(w)) {
          connect(w);
          low[v] = std::min(low[v], low[w]);
        } else if (on_stack.contains(w)) {
          low[v] = std::min(low[v], index[w]);
        }
      }
    }
    if (low[v] == index[v]) {
      for (;;) {
        std::string w = stack.back();
        stack.pop_back();
        on_stack.erase(w);
        component[w] = next_component;
        if (w == v) break;
      }
      ++next_component;
    }
  };
  for (const auto& [v, edges] : graph) {
    if (!index.contains(v)) connect(v);
  }
  return component;
}

bool IsStructDef(Kind kind) { return kind == Kind::kObject || kind == Kind::kRecord; }

}  // namespace

lex::Result<Model> Model::Build(const lexicon::Catalog& catalog, Options options) {
  Model model;
  model.catalog_ = &catalog;
  model.options_ = std::move(options);
  for (const Document& doc : catalog.documents()) model.NameDocument(doc);
  lex::Result<bool> analyzed = model.Analyze();
  if (!analyzed) return analyzed.error();
  return model;
}

std::vector<std::string> Model::NamespaceSegments(const Document& doc) const {
  std::vector<std::string> out;
  std::size_t start = 0;
  out.push_back(options_.root_namespace);
  while (start <= doc.id.size()) {
    std::size_t dot = doc.id.find('.', start);
    if (dot == std::string::npos) dot = doc.id.size();
    out.push_back(NamespaceSegment(std::string_view(doc.id).substr(start, dot - start)));
    start = dot + 1;
  }
  return out;
}

std::string Model::Namespace(const Document& doc) const {
  std::string out;
  for (const std::string& s : NamespaceSegments(doc)) out += "::" + s;
  return out;
}

std::string Model::FileStem(const Document& doc) {
  std::string stem = doc.id;
  std::replace(stem.begin(), stem.end(), '.', '/');
  return stem;
}

const StructInfo* Model::StructOf(const Node* object) const {
  auto it = struct_by_node_.find(object);
  return it == struct_by_node_.end() ? nullptr : it->second;
}

const StructInfo* Model::StructOfDef(std::string_view uri) const {
  auto it = struct_by_def_.find(uri);
  return it == struct_by_def_.end() ? nullptr : it->second;
}

std::vector<const StructInfo*> Model::StructsOf(const Document& doc) const {
  std::vector<const StructInfo*> out;
  for (const auto& s : structs_) {
    if (s->doc == &doc) out.push_back(s.get());
  }
  return out;
}

const std::string& Model::UnionName(const Node* node) const { return union_names_.at(node); }

const std::string& Model::DefName(std::string_view uri) const {
  return def_names_.find(uri)->second;
}

std::string Model::OwnerOf(const Node* node) const {
  auto it = owner_by_node_.find(node);
  return it == owner_by_node_.end() ? std::string() : it->second;
}

void Model::NameDocument(const Document& doc) {
  NameSet names;
  for (const char* reserved : {"Parse", "ToJson", "ToParamList", "Method", "kNsid", "kMethod",
                               "Params", "Input", "Output", "Message", "kMethodParams", "kMethodErrors", "std", "boost", "atipay"}) {
    names.Reserve(reserved);
  }
  auto add_struct = [&](const Node* object, const std::string& owner, std::string name,
                        std::string type_id) {
    auto info = std::make_unique<StructInfo>();
    info->doc = &doc;
    info->owner = owner;
    info->name = std::move(name);
    info->object = object;
    info->type_id = std::move(type_id);
    StructInfo* raw = info.get();
    structs_.push_back(std::move(info));
    struct_by_node_[object] = raw;
    owner_by_node_[object] = owner;
    return raw;
  };

  // The main definition's struct is Main (an object) or Record whatever other definitions are
  // called ("record" or "Main" get Record_2, Main_2), so its name is taken before theirs.
  if (const Def* main = doc.Find("main")) {
    if (main->node.kind == Kind::kObject) names.Reserve("Main");
    if (main->node.kind == Kind::kRecord) names.Reserve("Record");
  }
  auto struct_name = [&](const Def& def) {
    if (def.name != "main") return names.Unique(PascalCase(def.name));
    return std::string(def.node.kind == Kind::kRecord ? "Record" : "Main");
  };
  // Named definitions first, so they keep their natural names.
  for (const Def& def : doc.defs) {
    const std::string uri = DefUri(doc.id, def.name);
    doc_of_def_[uri] = doc.id;
    owner_by_node_[&def.node] = uri;
    const std::string type_id = def.name == "main" ? doc.id : uri;
    switch (def.node.kind) {
      case Kind::kObject: {
        StructInfo* info = add_struct(&def.node, uri, struct_name(def), type_id);
        struct_by_def_[uri] = info;
        break;
      }
      case Kind::kRecord: {
        StructInfo* info = add_struct(def.node.record.get(), uri, struct_name(def), type_id);
        info->is_record = true;
        struct_by_node_[&def.node] = info;
        struct_by_def_[uri] = info;
        break;
      }
      case Kind::kToken:
        def_names_[uri] = names.Unique("k" + PascalCase(def.name));
        break;
      case Kind::kQuery:
      case Kind::kProcedure:
      case Kind::kSubscription:
        def_names_[uri] = "Method";
        if (def.node.parameters) {
          add_struct(def.node.parameters.get(), uri, "Params", "")->is_params = true;
        }
        if (def.node.input && def.node.input->schema &&
            def.node.input->schema->kind == Kind::kObject) {
          add_struct(def.node.input->schema.get(), uri, "Input", "");
        }
        if (def.node.output && def.node.output->schema &&
            def.node.output->schema->kind == Kind::kObject) {
          add_struct(def.node.output->schema.get(), uri, "Output", "");
        }
        break;
      case Kind::kPermissionSet:
        break;
      default:
        def_names_[uri] = names.Unique(PascalCase(def.name));
        break;
    }
  }
  // Then everything written inline, named after where it sits.
  for (const Def& def : doc.defs) {
    const std::string uri = DefUri(doc.id, def.name);
    const Node& n = def.node;
    auto name_properties = [&](const Node& object, const std::string& base) {
      for (const lexicon::Property& p : object.properties) {
        NameInline(*p.type, uri, base + PascalCase(p.name), doc, names);
      }
    };
    auto name_body = [&](const std::optional<lexicon::Body>& body, const std::string& base) {
      if (!body || !body->schema) return;
      if (body->schema->kind == Kind::kObject) {
        name_properties(*body->schema, base);
      } else {
        NameInline(*body->schema, uri, base + "Union", doc, names);
      }
    };
    switch (n.kind) {
      case Kind::kObject:
        name_properties(n, struct_by_def_[uri]->name);
        break;
      case Kind::kRecord:
        owner_by_node_[n.record.get()] = uri;
        name_properties(*n.record, struct_by_def_[uri]->name);
        break;
      case Kind::kQuery:
      case Kind::kProcedure:
      case Kind::kSubscription:
        if (n.parameters) name_properties(*n.parameters, "Params");
        name_body(n.input, "Input");
        name_body(n.output, "Output");
        if (n.message) NameInline(*n.message, uri, "MessageUnion", doc, names);
        break;
      case Kind::kArray:
        NameInline(*n.items, uri, def_names_[uri] + "Item", doc, names);
        break;
      default:
        break;
    }
  }
}

void Model::NameInline(const Node& node, const std::string& owner, const std::string& base,
                       const Document& doc, NameSet& names) {
  owner_by_node_[&node] = owner;
  switch (node.kind) {
    case Kind::kObject: {
      auto info = std::make_unique<StructInfo>();
      info->doc = &doc;
      info->owner = owner;
      info->name = names.Unique(base);
      info->object = &node;
      struct_by_node_[&node] = info.get();
      const std::string name = info->name;
      structs_.push_back(std::move(info));
      for (const lexicon::Property& p : node.properties) {
        NameInline(*p.type, owner, name + PascalCase(p.name), doc, names);
      }
      break;
    }
    case Kind::kUnion:
      union_names_[&node] = names.Unique(base);
      break;
    case Kind::kArray:
      NameInline(*node.items, owner, base + "Item", doc, names);
      break;
    default:
      break;
  }
}

void Model::CollectMentions(const Node& node, const std::string& current, std::vector<Mention>& out,
                            std::set<std::string>& expanding) const {
  switch (node.kind) {
    case Kind::kObject:
    case Kind::kParams: {
      const StructInfo* info = StructOf(&node);
      if (info != nullptr && info->owner != current) {
        out.push_back({info->owner, false, info});
        return;
      }
      for (const lexicon::Property& p : node.properties) {
        CollectMentions(*p.type, current, out, expanding);
      }
      return;
    }
    case Kind::kArray:
      CollectMentions(*node.items, current, out, expanding);
      return;
    case Kind::kUnion:
      for (const std::string& ref : node.refs) {
        if (const StructInfo* info = StructOfDef(ref)) out.push_back({info->owner, true, info});
      }
      return;
    case Kind::kRef: {
      std::optional<lexicon::DefRef> target = catalog_->Resolve(node.ref);
      if (!target) return;
      const std::string uri = DefUri(target->doc->id, target->def->name);
      if (IsStructDef(target->def->node.kind)) {
        out.push_back({uri, true, StructOfDef(uri)});
        return;
      }
      if (!expanding.insert(uri).second) return;  // reported by Analyze
      CollectMentions(target->def->node, current, out, expanding);
      expanding.erase(uri);
      return;
    }
    default:
      return;
  }
}

lex::Result<bool> Model::Analyze() {
  std::map<std::string, std::set<std::string>, std::less<>> def_graph, doc_graph;
  for (const Document& doc : catalog_->documents()) {
    doc_graph[doc.id];
    for (const Def& def : doc.defs) {
      const std::string uri = DefUri(doc.id, def.name);
      std::vector<Mention>& mentions = mentions_[uri];
      std::set<std::string> expanding;
      const Node& n = def.node;
      if (n.kind == Kind::kRef) continue;
      switch (n.kind) {
        case Kind::kObject:
          for (const auto& p : n.properties) CollectMentions(*p.type, uri, mentions, expanding);
          break;
        case Kind::kRecord:
          for (const auto& p : n.record->properties) {
            CollectMentions(*p.type, uri, mentions, expanding);
          }
          break;
        case Kind::kQuery:
        case Kind::kProcedure:
        case Kind::kSubscription:
          if (n.parameters) CollectMentions(*n.parameters, uri, mentions, expanding);
          if (n.input && n.input->schema) CollectMentions(*n.input->schema, uri, mentions, expanding);
          if (n.output && n.output->schema) {
            CollectMentions(*n.output->schema, uri, mentions, expanding);
          }
          if (n.message) CollectMentions(*n.message, uri, mentions, expanding);
          break;
        default:
          expanding.insert(uri);
          CollectMentions(n, uri, mentions, expanding);
          break;
      }
      def_graph[uri];
      for (const Mention& m : mentions) {
        if (m.owner == uri) {
          if (m.via_ref) self_loops_.insert(uri);
          continue;
        }
        def_graph[uri].insert(m.owner);
        const std::string& other_doc = doc_of_def_.at(m.owner);
        if (other_doc != doc.id) doc_graph[doc.id].insert(other_doc);
      }
    }
  }
  // A cycle made only of non-object definitions (arrays of arrays of each other) has no
  // finite C++ type.
  for (const Document& doc : catalog_->documents()) {
    for (const Def& def : doc.defs) {
      if (IsStructDef(def.node.kind) || def.node.kind != Kind::kArray) continue;
      std::function<bool(const Node&, std::set<const Node*>&)> cyclic =
          [&](const Node& n, std::set<const Node*>& seen) -> bool {
        if (n.kind == Kind::kArray) return cyclic(*n.items, seen);
        if (n.kind != Kind::kRef) return false;
        std::optional<lexicon::DefRef> t = catalog_->Resolve(n.ref);
        if (!t || IsStructDef(t->def->node.kind)) return false;
        if (!seen.insert(&t->def->node).second) return true;
        return cyclic(t->def->node, seen);
      };
      std::set<const Node*> seen{&def.node};
      if (cyclic(def.node, seen)) {
        return lex::Error{doc.source + ": $.defs." + def.name +
                          ": refers to itself through arrays only; it has no finite type"};
      }
    }
  }
  def_scc_ = StronglyConnected(def_graph);
  doc_scc_ = StronglyConnected(doc_graph);
  return true;
}

bool Model::Boxed(const std::string& from, const std::string& to, bool via_ref) const {
  if (from == to) return via_ref;
  const std::string& from_doc = doc_of_def_.at(from);
  const std::string& to_doc = doc_of_def_.at(to);
  if (from_doc == to_doc) return def_scc_.at(from) == def_scc_.at(to);
  return doc_scc_.at(from_doc) == doc_scc_.at(to_doc);
}

std::vector<const Def*> Model::OrderedDefs(const Document& doc) const {
  std::vector<const Def*> order;
  std::set<std::string> done;
  std::function<void(const Def&)> visit = [&](const Def& def) {
    const std::string uri = DefUri(doc.id, def.name);
    if (!done.insert(uri).second) return;
    for (const Mention& m : mentions_.at(uri)) {
      if (m.owner == uri || doc_of_def_.at(m.owner) != doc.id || Boxed(uri, m.owner, m.via_ref)) {
        continue;
      }
      const std::string name = m.owner.substr(m.owner.find('#') + 1);
      if (const Def* dep = doc.Find(name)) visit(*dep);
    }
    order.push_back(&def);
  };
  for (const Def& def : doc.defs) visit(def);
  return order;
}

std::set<std::string> Model::HeaderDeps(const Document& doc) const {
  std::set<std::string> deps;
  for (const Def& def : doc.defs) {
    const std::string uri = DefUri(doc.id, def.name);
    for (const Mention& m : mentions_.at(uri)) {
      const std::string& other = doc_of_def_.at(m.owner);
      if (other != doc.id && !Boxed(uri, m.owner, m.via_ref)) deps.insert(other);
    }
  }
  return deps;
}

std::set<std::string> Model::SourceDeps(const Document& doc) const {
  std::set<std::string> deps;
  for (const Def& def : doc.defs) {
    for (const Mention& m : mentions_.at(DefUri(doc.id, def.name))) {
      const std::string& other = doc_of_def_.at(m.owner);
      if (other != doc.id) deps.insert(other);
    }
  }
  return deps;
}

std::vector<const StructInfo*> Model::ForwardStructs(const Document& doc) const {
  std::map<std::pair<std::string, std::string>, const StructInfo*> found;
  for (const Def& def : doc.defs) {
    const std::string uri = DefUri(doc.id, def.name);
    for (const Mention& m : mentions_.at(uri)) {
      if (m.info == nullptr || m.info->doc == &doc || !Boxed(uri, m.owner, m.via_ref)) continue;
      found[{m.info->doc->id, m.info->name}] = m.info;
    }
  }
  std::vector<const StructInfo*> out;
  for (const auto& [key, info] : found) out.push_back(info);
  return out;
}

}  // namespace atipay::codegen
