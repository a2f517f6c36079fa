// The HTTP-level rules of XRPC, as @atproto/xrpc-server applies them: NSID paths, query strings,
// Content-Type matching, JSON bodies (express.json, strict) and the error body.
#ifndef ATIPAY_XRPC_WIRE_H_
#define ATIPAY_XRPC_WIRE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "lex/params.h"
#include "xrpc/error.h"

namespace atipay::xrpc {

enum class XrpcPath { kNotXrpc, kInvalid, kValid };

// Splits a request target at '?'.
void SplitTarget(std::string_view target, std::string_view& path, std::string_view& query);

// extractUrlNsid of xrpc-server/util.ts: "/xrpc/<nsid>" with one trailing '/' tolerated,
// [A-Za-z0-9] with '.' and '-' as single separators, at least 2 characters.
XrpcPath ExtractXrpcNsid(std::string_view path, std::string_view& nsid);

// URLSearchParams decoding ('+' is a space, bad escapes stay as they are, bytes that are not
// UTF-8 become U+FFFD). Empty values are dropped, as lex-schema's fromURLSearchParams does.
lex::ParamList ParseQueryString(std::string_view query);

// The media type of a Content-Type value: parameters after ';' dropped, whitespace trimmed.
// Case is kept: the reference matches case-sensitively.
std::string_view MediaType(std::string_view content_type);

// Whether a request media type satisfies a declared lexicon encoding (exact, "type/*", "*/*").
bool EncodingMatches(std::string_view declared, std::string_view media_type);

// Parses a JSON request body as express.json({strict: true}) then the lexicon layer do:
// only an object or array at the top; syntax errors as 400 SyntaxError with V8's wording;
// nesting deeper than max_depth as 400 InvalidRequest "Maximum call stack size exceeded".
std::optional<XrpcError> ParseJsonBody(std::string_view body, std::size_t max_depth,
                                       boost::json::value& out);

// {"error":"<name>","message":"<message>"}
std::string ErrorBody(const XrpcError& error);

// did:web for a host and optional port, percent-encoding the ':' before the port as did:web
// requires ("127.0.0.1:2585" -> "did:web:127.0.0.1%3A2585").
std::string DidWebFromHostPort(std::string_view host_port);

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_WIRE_H_
