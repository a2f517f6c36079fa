#include "schema/schema.h"

namespace atipay::lexicon {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kBoolean: return "boolean";
    case Kind::kInteger: return "integer";
    case Kind::kString: return "string";
    case Kind::kBytes: return "bytes";
    case Kind::kCidLink: return "cid-link";
    case Kind::kBlob: return "blob";
    case Kind::kArray: return "array";
    case Kind::kObject: return "object";
    case Kind::kParams: return "params";
    case Kind::kToken: return "token";
    case Kind::kRef: return "ref";
    case Kind::kUnion: return "union";
    case Kind::kUnknown: return "unknown";
    case Kind::kRecord: return "record";
    case Kind::kQuery: return "query";
    case Kind::kProcedure: return "procedure";
    case Kind::kSubscription: return "subscription";
    case Kind::kPermissionSet: return "permission-set";
  }
  return "?";
}

bool IsPrimary(Kind kind) {
  return kind == Kind::kRecord || kind == Kind::kQuery || kind == Kind::kProcedure ||
         kind == Kind::kSubscription || kind == Kind::kPermissionSet;
}

const Def* Document::Find(std::string_view name) const {
  for (const Def& def : defs) {
    if (def.name == name) return &def;
  }
  return nullptr;
}

std::string DefUri(std::string_view nsid, std::string_view name) {
  std::string uri(nsid);
  uri.push_back('#');
  uri.append(name);
  return uri;
}

}  // namespace atipay::lexicon
