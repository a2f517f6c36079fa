// XrpcError: the error value every module boundary returns instead of throwing.
// Serialized on the wire as {"error": name, "message": message} with HTTP `status`.
//
// Names the server itself answers with (as @atproto/xrpc-server where it has one):
//   400 InvalidRequest        bad params, body, Content-Type, HTTP method; "invalid xrpc path"
//   400 SyntaxError           a JSON body that does not parse (V8's wording, as express.json)
//   401 AuthenticationRequired  auth required and no/failed credentials (hooks may use others)
//   404 NotFound              a path outside /xrpc/ ("Cannot GET /path")
//   413 PayloadTooLargeError  body over the limit ("request entity too large")
//   431 RequestHeaderFieldsTooLarge  header block over the limit
//   500 InternalServerError   handler exception or invalid output; message always generic
//   501 MethodNotImplemented  an NSID no method is registered for
// Service errors (e.g. 400 CartNotFound, 400 InvalidCartUri) come from handlers via Named().
#ifndef ATIPAY_XRPC_ERROR_H_
#define ATIPAY_XRPC_ERROR_H_

#include <string>
#include <utility>

namespace atipay::xrpc {

struct XrpcError {
  int status = 500;
  std::string name = "InternalServerError";
  std::string message = "Internal Server Error";

  static XrpcError InvalidRequest(std::string message) {
    return {400, "InvalidRequest", std::move(message)};
  }
  // A lexicon-declared (or service-defined) error name, sent with 400 as the reference does.
  static XrpcError Named(std::string name, std::string message) {
    return {400, std::move(name), std::move(message)};
  }
  static XrpcError AuthRequired(std::string message) {
    return {401, "AuthenticationRequired", std::move(message)};
  }
  static XrpcError Forbidden(std::string message) { return {403, "Forbidden", std::move(message)}; }
  static XrpcError NotFound(std::string name, std::string message) {
    return {404, std::move(name), std::move(message)};
  }
  static XrpcError PayloadTooLarge() {
    // The name express's body-parser produces (http-errors class name), as the reference shows.
    return {413, "PayloadTooLargeError", "request entity too large"};
  }
  static XrpcError RateLimitExceeded() { return {429, "RateLimitExceeded", "Rate Limit Exceeded"}; }
  static XrpcError MethodNotImplemented() {
    return {501, "MethodNotImplemented", "Method Not Implemented"};
  }
  static XrpcError NotEnoughResources(std::string message) {
    return {503, "NotEnoughResources", std::move(message)};
  }
  static XrpcError Internal() { return {}; }
};

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_ERROR_H_
