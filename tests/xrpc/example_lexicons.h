// Test-only methods in the generated code's shape (namespaces, Params/Input/Output, ADL
// Parse/ToJson, kMethod, Method), for what the atiproto lexicons do not exercise:
//
// com.example.xrpc.params           query: boolean, integer and array params
// com.example.xrpc.upload           procedure: non-JSON input (*/*), no output schema
#ifndef ATIPAY_TESTS_XRPC_EXAMPLE_LEXICONS_H_
#define ATIPAY_TESTS_XRPC_EXAMPLE_LEXICONS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "lex/method.h"
#include "lex/params.h"
#include "lex/path.h"

namespace lexicons::com::example::xrpc::params {
struct Params {
  bool flag = false;              // boolean, default false
  std::optional<std::int64_t> n;  // integer
  std::vector<std::string> tags;  // array of string
  std::string required_name;      // string, required ("name")
};
struct Output {
  boost::json::value echo;  // unknown
};
bool Parse(const atipay::lex::ParamList& params, Params& out, atipay::lex::Errors& errors);
bool Parse(const boost::json::value& json, Output& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
boost::json::value ToJson(const Output& value);

inline constexpr std::array<atipay::lex::ParamDescriptor, 4> kParams{{
    {"flag", atipay::lex::ParamType::kBoolean, false, false},
    {"n", atipay::lex::ParamType::kInteger, false, false},
    {"tags", atipay::lex::ParamType::kString, true, false},
    {"name", atipay::lex::ParamType::kString, false, true},
}};
inline constexpr std::array<std::string_view, 1> kErrors{"DemoError"};
inline constexpr atipay::lex::MethodDescriptor kMethod{
    "com.example.xrpc.params",
    atipay::lex::MethodKind::kQuery,
    kParams,
    std::nullopt,
    atipay::lex::BodyDescriptor{"application/json", true},
    kErrors};
struct Method {
  using Params = params::Params;
  using Input = void;
  using Output = params::Output;
  static constexpr const atipay::lex::MethodDescriptor& kDescriptor = kMethod;
};
}  // namespace lexicons::com::example::xrpc::params

namespace lexicons::com::example::xrpc::upload {
struct Params {};
bool Parse(const atipay::lex::ParamList& params, Params& out, atipay::lex::Errors& errors);
inline constexpr atipay::lex::MethodDescriptor kMethod{
    "com.example.xrpc.upload",
    atipay::lex::MethodKind::kProcedure,
    {},
    atipay::lex::BodyDescriptor{"*/*", false},
    atipay::lex::BodyDescriptor{"application/octet-stream", false},
    {}};
struct Method {
  using Params = upload::Params;
  using Input = void;
  using Output = void;
  static constexpr const atipay::lex::MethodDescriptor& kDescriptor = kMethod;
};
}  // namespace lexicons::com::example::xrpc::upload

#endif  // ATIPAY_TESTS_XRPC_EXAMPLE_LEXICONS_H_
