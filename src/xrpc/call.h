// Call: one XRPC request in flight. The untyped half of the pipeline (params text, auth, body
// rules, JSON parsing, replies); the typed half lives in the Router::Add template.
// Completion is thread-safe and happens once; a Call destroyed unanswered replies 500.
#ifndef ATIPAY_XRPC_CALL_H_
#define ATIPAY_XRPC_CALL_H_

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include "lex/method.h"
#include "lex/params.h"
#include "xrpc/error.h"
#include "xrpc/rate_limit.h"
#include "xrpc/request.h"

namespace atipay::xrpc {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// What goes back to the connection: status, body and the facts the access log wants.
struct HttpReply {
  int status = 200;
  std::string content_type;  // empty: no body
  std::string body;
  std::string error_name;    // the XRPC `error` of a failed call, for logs and metrics
  std::string caller_did;    // from the auth context, for the access log
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, CORS)
};

using ReplySink = std::function<void(HttpReply)>;

// Router-wide settings a call consults; owned by the Router, outlives every call.
struct CallEnvironment {
  bool validate_output = true;
  std::size_t max_json_depth = 1024;
  AuthHook auth_hook;
  AsyncAuthHook async_auth_hook;
  // Runs blocking handlers off the event loop; unset means inline.
  std::function<void(std::function<void()>)> offload;
  // Route rate limits, consulted before the handler runs; null: none.
  RateLimits* rate_limits = nullptr;
  // Where details of 500s go (never to the client).
  std::function<void(std::string_view request_id, std::string_view what)> log_error;
};

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(const CallEnvironment& env, const lex::MethodDescriptor& method, AuthPolicy auth,
       bool blocking, HttpRequest request, lex::ParamList params, std::string request_id,
       std::string remote_address, ReplySink sink);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const RequestInfo& info() const { return info_; }
  const lex::ParamList& params() const { return params_; }
  const lex::MethodDescriptor& method() const { return method_; }
  bool validate_output() const { return env_.validate_output; }

  // Step 2: runs the auth hook per the method's policy, then `next` with the context (maybe on
  // another thread). On failure the call is answered and `next` is not run.
  void Authenticate(std::function<void(AuthContext)> next);

  // Step 3: the body rules of @atproto/xrpc-server. Returns the error to answer with, if any.
  std::optional<XrpcError> TakeJsonInput(boost::json::value& out);
  std::optional<XrpcError> TakeRawInput(RawBody& out);

  // Step 4: the route rate limits (429 when exceeded), then the handler, inline or on the
  // blocking pool per the method's options.
  void RunHandler(std::function<void()> fn);

  // Runs fn; an exception becomes 500 InternalServerError (details only in the log).
  template <class F>
  void Guard(F&& fn) {
    try {
      fn();
    } catch (...) {
      FailWithException(std::current_exception());
    }
  }
  void FailWithException(std::exception_ptr error);

  // Completions; only the first one counts.
  void Fail(XrpcError error);
  void SendJson(const boost::json::value& body);
  void SendRaw(RawBody body);
  void SendEmpty();
  void LogError(std::string_view what);

  void set_caller_did(std::string did) { caller_did_ = std::move(did); }
  // A limit that applied to this call: the tightest one's headers go out with the reply.
  void NoteRateLimit(const RateLimitStatus& status);

 private:
  void Complete(HttpReply reply);

  const CallEnvironment& env_;
  const lex::MethodDescriptor& method_;
  AuthPolicy auth_policy_;
  bool blocking_;
  HttpRequest request_;
  lex::ParamList params_;
  std::string request_id_;
  std::string remote_address_;
  std::string caller_did_;
  std::optional<RateLimitStatus> rate_limit_;
  RequestInfo info_;
  AuthRequest auth_request_;
  ReplySink sink_;
  std::atomic<bool> completed_{false};
};

using CallPtr = std::shared_ptr<Call>;

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_CALL_H_
