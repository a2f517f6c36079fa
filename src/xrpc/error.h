// XrpcError: the error value every module boundary returns instead of throwing.
// Serialized on the wire as {"error": name, "message": message} with HTTP `status`.
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
  static XrpcError AuthRequired(std::string message) {
    return {401, "AuthenticationRequired", std::move(message)};
  }
  static XrpcError Forbidden(std::string message) { return {403, "Forbidden", std::move(message)}; }
  static XrpcError NotFound(std::string name, std::string message) {
    return {404, std::move(name), std::move(message)};
  }
  static XrpcError Internal() { return {}; }
};

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_ERROR_H_
