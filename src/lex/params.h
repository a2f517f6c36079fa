// Query parameters as they arrive on the wire, and strict decoding of their scalar types.
#ifndef ATIPAY_LEX_PARAMS_H_
#define ATIPAY_LEX_PARAMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atipay::lex {

// Decoded (percent-decoded) key/value pairs in URL order; arrays are repeated keys.
using ParamList = std::vector<std::pair<std::string, std::string>>;

// Strict forms, as the reference's lex-schema params decoder: integers match ^-?\d+$ and
// fit in 64 bits (params are never stored, so the data model's ±(2^53-1) does not apply: see
// README "Query strings tested against the TypeScript XRPC server"); booleans are exactly
// "true" or "false".
std::optional<std::int64_t> DecodeIntegerParam(std::string_view text);
std::optional<bool> DecodeBooleanParam(std::string_view text);

// Text forms of param values, for clients building a ParamList.
inline std::string ParamText(bool v) { return v ? "true" : "false"; }
inline std::string ParamText(std::int64_t v) { return std::to_string(v); }
inline std::string ParamText(const std::string& v) { return v; }

// Percent-encodes `s` for a URL query component (RFC 3986 unreserved characters kept).
void AppendPercentEncoded(std::string& out, std::string_view s);

// Encodes params back into a query string ("a=1&b=x%20y"), for clients.
std::string EncodeQueryString(const ParamList& params);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_PARAMS_H_
