// The Lexicon language as data: documents, definitions and field types, after loading and
// checking. Refs are stored fully qualified ("nsid#name"; "nsid#main" for bare NSIDs).
#ifndef ATIPAY_CODEGEN_SCHEMA_SCHEMA_H_
#define ATIPAY_CODEGEN_SCHEMA_SCHEMA_H_

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lex/formats.h"

namespace atipay::lexicon {

enum class Kind {
  kBoolean,
  kInteger,
  kString,
  kBytes,
  kCidLink,
  kBlob,
  kArray,
  kObject,
  kParams,
  kToken,
  kRef,
  kUnion,
  kUnknown,
  kRecord,
  kQuery,
  kProcedure,
  kSubscription,
  kPermissionSet,
};

std::string_view KindName(Kind kind);
bool IsPrimary(Kind kind);  // record, query, procedure, subscription, permission-set

struct Node;

struct Property {
  std::string name;
  std::unique_ptr<Node> type;
  bool required = false;
  bool nullable = false;
};

struct Body {
  std::string encoding;
  std::string description;
  std::unique_ptr<Node> schema;  // object, ref or union; may be absent
};

struct ErrorDecl {
  std::string name;
  std::string description;
};

// One schema node. Fields that do not apply to `kind` stay empty.
struct Node {
  Kind kind = Kind::kUnknown;
  std::string description;

  // boolean
  std::optional<bool> bool_default;
  std::optional<bool> bool_const;
  // integer
  std::optional<std::int64_t> minimum;
  std::optional<std::int64_t> maximum;
  std::optional<std::int64_t> int_default;
  std::optional<std::int64_t> int_const;
  std::vector<std::int64_t> int_enum;
  bool has_int_enum = false;
  // string (min/max_length are UTF-8 bytes); bytes and array reuse min/max_length
  std::optional<lex::StringFormat> format;
  std::optional<std::int64_t> min_length;
  std::optional<std::int64_t> max_length;
  std::optional<std::int64_t> min_graphemes;
  std::optional<std::int64_t> max_graphemes;
  std::vector<std::string> known_values;
  std::vector<std::string> string_enum;
  bool has_string_enum = false;
  std::optional<std::string> string_default;
  std::optional<std::string> string_const;
  // blob
  std::vector<std::string> accept;
  bool has_accept = false;
  std::optional<std::int64_t> max_size;
  // array
  std::unique_ptr<Node> items;
  // object, params
  std::vector<Property> properties;
  // ref
  std::string ref;
  // union
  std::vector<std::string> refs;
  bool closed = false;
  // record
  std::string record_key;
  std::unique_ptr<Node> record;
  // query, procedure, subscription
  std::unique_ptr<Node> parameters;
  std::optional<Body> input;
  std::optional<Body> output;
  std::unique_ptr<Node> message;  // subscription message schema (a union)
  std::vector<ErrorDecl> errors;
  // permission-set: kept as written
  boost::json::object raw;
};

struct Def {
  std::string name;
  Node node;
};

struct Document {
  std::string id;      // NSID
  std::string source;  // file it was read from
  std::string description;
  std::optional<std::int64_t> revision;
  std::vector<Def> defs;  // in file order

  const Def* Find(std::string_view name) const;
};

// "nsid#name" for a def; "nsid#main" for the main def.
std::string DefUri(std::string_view nsid, std::string_view name);

}  // namespace atipay::lexicon

#endif  // ATIPAY_CODEGEN_SCHEMA_SCHEMA_H_
