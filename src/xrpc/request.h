// What a method handler sees: the typed request, the caller's auth context, and the ways to
// answer (a returned HandlerResult, or a Reply completed later from any thread).
#ifndef ATIPAY_XRPC_REQUEST_H_
#define ATIPAY_XRPC_REQUEST_H_

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/json/value.hpp>

#include <boost/beast/http/fields.hpp>

#include "lex/method.h"
#include "xrpc/error.h"

namespace atipay::xrpc {

// Request facts that do not depend on the method's types. Views stay valid until the call
// completes (the reply is sent).
class RequestInfo {
 public:
  std::string_view nsid;
  std::string_view request_id;
  std::string_view http_method;  // "GET", "POST", ...
  std::string_view target;       // path and query as received
  std::string_view remote_address;

  // A request header by name (case-insensitive); empty when absent.
  std::string_view Header(std::string_view name) const;

 private:
  friend class Call;
  const boost::beast::http::fields* fields_ = nullptr;
};

// Who is calling, as established by the auth hook.
struct AuthContext {
  std::string did;      // the caller's DID (a service JWT's `iss`); empty when anonymous
  std::any details;     // hook-specific artifacts (verified claims, scopes, ...)
};

enum class AuthPolicy : std::uint8_t {
  kNone,      // the hook is not called; the handler sees an anonymous context
  kOptional,  // the hook is called only when an Authorization header is present
  kRequired,  // the hook is always called; no hook installed means 401
};

struct AuthRequest {
  std::string_view nsid;
  std::string_view authorization;  // raw Authorization header; empty when absent
  const lex::MethodDescriptor* method = nullptr;
  AuthPolicy policy = AuthPolicy::kNone;
  const RequestInfo* request = nullptr;  // every other header, the remote address
};

using AuthResult = std::variant<AuthContext, XrpcError>;
// Runs after params and before input, as in @atproto/xrpc-server. Must not block for long:
// a hook that resolves keys over the network should be an AsyncAuthHook.
using AuthHook = std::function<AuthResult(const AuthRequest&)>;
// Completes later, from any thread; `done` must be called exactly once. The AuthRequest (and the
// views in it) stays valid until then.
using AsyncAuthHook =
    std::function<void(const AuthRequest&, std::function<void(AuthResult)> done)>;

// A body that is not lexicon-typed JSON (non-JSON encodings, or a schema-less body).
struct RawBody {
  std::string encoding;  // Content-Type
  std::string data;
};

// An output already in JSON form (e.g. a stored answer being replayed): sent as is, after the
// same output validation a typed output gets, without a round trip through the typed struct.
struct JsonOutput {
  boost::json::value value;
};

// A handler's answer: the typed output (or its JSON form) or an XRPC error.
template <class T>
class HandlerResult {
 public:
  HandlerResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  HandlerResult(XrpcError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  HandlerResult(JsonOutput json) : v_(std::in_place_index<2>, std::move(json)) {}  // NOLINT

  bool ok() const { return v_.index() != 1; }
  bool is_json() const { return v_.index() == 2; }
  T& value() { return std::get<0>(v_); }
  XrpcError& error() { return std::get<1>(v_); }
  boost::json::value& json() { return std::get<2>(v_).value; }

 private:
  std::variant<T, XrpcError, JsonOutput> v_;
};

// For methods without a typed output: an empty 200, a raw body, or an error.
template <>
class HandlerResult<void> {
 public:
  HandlerResult() = default;
  HandlerResult(RawBody body) : body_(std::move(body)) {}        // NOLINT: implicit
  HandlerResult(XrpcError error) : error_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return !error_.has_value(); }
  XrpcError& error() { return *error_; }
  std::optional<RawBody>& body() { return body_; }

 private:
  std::optional<RawBody> body_;
  std::optional<XrpcError> error_;
};

// Completes an asynchronous handler. Call it once, from any thread; the request stays alive until
// then. A Reply dropped without being called answers 500, so a lost callback cannot hang a client.
template <class T>
class Reply {
 public:
  explicit Reply(std::function<void(HandlerResult<T>)> complete) : complete_(std::move(complete)) {}

  void operator()(HandlerResult<T> result) const {
    if (complete_) complete_(std::move(result));
  }

 private:
  std::function<void(HandlerResult<T>)> complete_;
};

template <class M>
using OutputOf = typename M::Output;  // void when the method has no typed output

template <class M>
using InputOf =
    std::conditional_t<std::is_void_v<typename M::Input>, RawBody, typename M::Input>;

// The typed request a handler receives for method M (a generated `Method` struct).
template <class M>
struct Request {
  typename M::Params params;
  InputOf<M> input;  // RawBody (empty when the method takes no input) if M::Input is void
  AuthContext auth;
  const RequestInfo* info = nullptr;
};

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_REQUEST_H_
