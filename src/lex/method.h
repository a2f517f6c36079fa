// Method descriptors: what the generator emits for each query, procedure and subscription,
// and what the XRPC router is driven by. Plain constant data; no server types here.
#ifndef ATIPAY_LEX_METHOD_H_
#define ATIPAY_LEX_METHOD_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace atipay::lex {

enum class MethodKind : std::uint8_t { kQuery, kProcedure, kSubscription };

enum class ParamType : std::uint8_t { kBoolean, kInteger, kString, kUnknown };

struct ParamDescriptor {
  std::string_view name;
  ParamType type;
  bool is_array;
  bool required;
};

// An input or output body: its MIME encoding and whether a schema constrains it.
struct BodyDescriptor {
  std::string_view encoding;
  bool has_schema;
};

struct MethodDescriptor {
  std::string_view nsid;
  MethodKind kind;
  std::span<const ParamDescriptor> params;
  std::optional<BodyDescriptor> input;   // procedures only
  std::optional<BodyDescriptor> output;  // queries and procedures
  std::span<const std::string_view> errors;  // names declared in the lexicon
};

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_METHOD_H_
