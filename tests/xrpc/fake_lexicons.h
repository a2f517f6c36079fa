// Hand-written stand-ins for generated lexicon code, following the generator's contract exactly
// (namespaces, Params/Input/Output, ADL Parse/ToJson, kMethod, Method). The atiproto ones stand
// in for the generated library `atipay_lexicons` when it is not built (ATIPAY_WITH_CODEGEN=OFF);
// when it is, tests use the generated code (see lexicons.h). The com.example ones are test-only
// methods. Validation messages follow @atproto/lexicon ("Input/uri must be a valid at-uri").
//
// com.atiproto.payment.cart.clone   procedure, input + output (the reference's method)
// com.atiproto.repo.item.count      query, string params with formats, small output
// com.atiproto.payment.cart.list    query, integer param with default and bounds (output trimmed)
// com.example.xrpc.params           test-only query: boolean, integer and array params
// com.example.xrpc.upload           test-only procedure: non-JSON input (*/*), no output schema
#ifndef ATIPAY_TESTS_XRPC_FAKE_LEXICONS_H_
#define ATIPAY_TESTS_XRPC_FAKE_LEXICONS_H_

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

namespace fake_formats {
// Stand-ins for lex/formats.h (at-uri per parseAtUriString, uri per the Go rule, did, datetime).
bool IsAtUri(std::string_view s);
bool IsUri(std::string_view s);
bool IsDid(std::string_view s);
bool IsDatetime(std::string_view s);
bool IsNsid(std::string_view s);
}  // namespace fake_formats

#ifndef ATIPAY_XRPC_GENERATED_LEXICONS
namespace lexicons::com::atiproto::actions {
struct InboundWorkflow {
  std::string intent;
  std::vector<boost::json::value> responses;  // #response, kept opaque in the stand-in
  std::optional<boost::json::value> error;
};
bool Parse(const boost::json::value& json, InboundWorkflow& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
boost::json::value ToJson(const InboundWorkflow& value);
}  // namespace lexicons::com::atiproto::actions

namespace lexicons::com::atiproto::cart {
struct CartItem {
  std::string type;
  std::string record_uri;
};
struct View {
  std::string uri;
  std::vector<CartItem> items;
  std::string currency;
  std::int64_t total = 0;
  std::string status;
  std::string created_at;
  std::string expires_at;
  std::optional<std::string> completed_at;
};
bool Parse(const boost::json::value& json, View& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
boost::json::value ToJson(const View& value);
}  // namespace lexicons::com::atiproto::cart

namespace lexicons::com::atiproto::payment::cart::clone {
struct Params {};
struct Input {
  std::string uri;
  std::optional<std::string> redirect_url;
  std::optional<actions::InboundWorkflow> workflow;
};
struct Output {
  std::optional<com::atiproto::cart::View> cart;
  std::optional<std::string> cart_uri;
  std::optional<std::string> checkout_url;
};
bool Parse(const atipay::lex::ParamList& params, Params& out, atipay::lex::Errors& errors);
bool Parse(const boost::json::value& json, Input& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
bool Parse(const boost::json::value& json, Output& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
boost::json::value ToJson(const Input& value);
boost::json::value ToJson(const Output& value);

inline constexpr atipay::lex::MethodDescriptor kMethod{
    "com.atiproto.payment.cart.clone",
    atipay::lex::MethodKind::kProcedure,
    {},
    atipay::lex::BodyDescriptor{"application/json", true},
    atipay::lex::BodyDescriptor{"application/json", true},
    {}};
struct Method {
  using Params = clone::Params;
  using Input = clone::Input;
  using Output = clone::Output;
  static constexpr const atipay::lex::MethodDescriptor& kDescriptor = kMethod;
};
}  // namespace lexicons::com::atiproto::payment::cart::clone

namespace lexicons::com::atiproto::repo::item::count {
struct Params {
  std::optional<std::string> record_uri;
  std::optional<std::string> subject;
  std::optional<std::string> start_date;
  std::optional<std::string> end_date;
};
struct Output {
  std::int64_t count = 0;
  std::optional<std::int64_t> amount;
  std::optional<std::string> currency;
};
bool Parse(const atipay::lex::ParamList& params, Params& out, atipay::lex::Errors& errors);
bool Parse(const boost::json::value& json, Output& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
boost::json::value ToJson(const Output& value);

inline constexpr std::array<atipay::lex::ParamDescriptor, 4> kParams{{
    {"recordUri", atipay::lex::ParamType::kString, false, false},
    {"subject", atipay::lex::ParamType::kString, false, false},
    {"startDate", atipay::lex::ParamType::kString, false, false},
    {"endDate", atipay::lex::ParamType::kString, false, false},
}};
inline constexpr atipay::lex::MethodDescriptor kMethod{
    "com.atiproto.repo.item.count",
    atipay::lex::MethodKind::kQuery,
    kParams,
    std::nullopt,
    atipay::lex::BodyDescriptor{"application/json", true},
    {}};
struct Method {
  using Params = count::Params;
  using Input = void;
  using Output = count::Output;
  static constexpr const atipay::lex::MethodDescriptor& kDescriptor = kMethod;
};
}  // namespace lexicons::com::atiproto::repo::item::count

namespace lexicons::com::atiproto::payment::cart::list {
struct Params {
  std::optional<std::string> subject;
  std::optional<std::string> status;
  std::optional<std::string> cursor;
  std::int64_t limit = 20;
};
struct Output {
  std::vector<std::string> carts;  // trimmed: URIs only
  std::optional<std::string> cursor;
};
bool Parse(const atipay::lex::ParamList& params, Params& out, atipay::lex::Errors& errors);
bool Parse(const boost::json::value& json, Output& out, const atipay::lex::Path& path,
           atipay::lex::Errors& errors);
boost::json::value ToJson(const Output& value);

inline constexpr std::array<atipay::lex::ParamDescriptor, 4> kParams{{
    {"subject", atipay::lex::ParamType::kString, false, false},
    {"status", atipay::lex::ParamType::kString, false, false},
    {"cursor", atipay::lex::ParamType::kString, false, false},
    {"limit", atipay::lex::ParamType::kInteger, false, false},
}};
inline constexpr atipay::lex::MethodDescriptor kMethod{
    "com.atiproto.payment.cart.list",
    atipay::lex::MethodKind::kQuery,
    kParams,
    std::nullopt,
    atipay::lex::BodyDescriptor{"application/json", true},
    {}};
struct Method {
  using Params = list::Params;
  using Input = void;
  using Output = list::Output;
  static constexpr const atipay::lex::MethodDescriptor& kDescriptor = kMethod;
};
}  // namespace lexicons::com::atiproto::payment::cart::list
#endif  // ATIPAY_XRPC_GENERATED_LEXICONS

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

#endif  // ATIPAY_TESTS_XRPC_FAKE_LEXICONS_H_
