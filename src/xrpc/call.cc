#include "xrpc/call.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>

#include "xrpc/wire.h"

namespace atipay::xrpc {
namespace http = boost::beast::http;

namespace {
constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";
}  // namespace

std::string_view RequestInfo::Header(std::string_view name) const {
  if (fields_ == nullptr) return {};
  auto it = fields_->find(name);
  return it == fields_->end() ? std::string_view() : std::string_view(it->value());
}

Call::Call(const CallEnvironment& env, const lex::MethodDescriptor& method, AuthPolicy auth,
           bool blocking, HttpRequest request, lex::ParamList params, std::string request_id,
           std::string remote_address, ReplySink sink)
    : env_(env),
      method_(method),
      auth_policy_(auth),
      blocking_(blocking),
      request_(std::move(request)),
      params_(std::move(params)),
      request_id_(std::move(request_id)),
      remote_address_(std::move(remote_address)),
      sink_(std::move(sink)) {
  info_.nsid = method_.nsid;
  info_.request_id = request_id_;
  info_.http_method = request_.method_string();
  info_.target = request_.target();
  info_.remote_address = remote_address_;
  info_.fields_ = &request_.base();
}

Call::~Call() {
  if (!completed_.load(std::memory_order_acquire)) {
    LogError("call dropped without a reply");
    Fail(XrpcError::Internal());
  }
}

void Call::Authenticate(std::function<void(AuthContext)> next) {
  std::string_view authorization = info_.Header("authorization");
  bool call_hook = auth_policy_ == AuthPolicy::kRequired ||
                   (auth_policy_ == AuthPolicy::kOptional && !authorization.empty());
  if (!call_hook) {
    next(AuthContext{});
    return;
  }
  auth_request_ = AuthRequest{method_.nsid, authorization, &method_, auth_policy_, &info_};
  auto proceed = [this](AuthResult result, const std::function<void(AuthContext)>& then) {
    if (auto* error = std::get_if<XrpcError>(&result)) {
      Fail(std::move(*error));
      return;
    }
    auto& context = std::get<AuthContext>(result);
    caller_did_ = context.did;
    then(std::move(context));
  };
  if (env_.async_auth_hook) {
    auto self = shared_from_this();
    env_.async_auth_hook(auth_request_, [self, proceed, next = std::move(next)](AuthResult result) {
      self->Guard([&] { proceed(std::move(result), next); });
    });
    return;
  }
  if (env_.auth_hook) {
    proceed(env_.auth_hook(auth_request_), next);
    return;
  }
  Fail(XrpcError::AuthRequired("Authentication Required"));
}

std::optional<XrpcError> Call::TakeRawInput(RawBody& out) {
  const std::string& body = request_.body();
  if (!method_.input) {
    if (!body.empty()) {
      return XrpcError::InvalidRequest("A request body was provided when none was expected");
    }
    return std::nullopt;
  }
  // getBodyPresence: Transfer-Encoding or a Content-Length means a body was sent.
  bool sent = request_.chunked() || request_.has_content_length();
  bool is_json = MediaType(method_.input->encoding) == "application/json";
  if (!sent || (body.empty() && is_json)) {
    return XrpcError::InvalidRequest("A request body is expected but none was provided");
  }
  std::string_view media = MediaType(info_.Header("content-type"));
  if (media.empty()) {
    return XrpcError::InvalidRequest("Request encoding (Content-Type) required but not provided");
  }
  if (!EncodingMatches(method_.input->encoding, media)) {
    return XrpcError::InvalidRequest("Wrong request encoding (Content-Type): " +
                                     std::string(media));
  }
  out.encoding = std::string(media);
  out.data = std::move(request_.body());
  return std::nullopt;
}

std::optional<XrpcError> Call::TakeJsonInput(boost::json::value& out) {
  RawBody raw;
  if (auto error = TakeRawInput(raw)) return error;
  if (!method_.input) return std::nullopt;
  return ParseJsonBody(raw.data, env_.max_json_depth, out);
}

void Call::NoteRateLimit(const RateLimitStatus& status) {
  if (!rate_limit_ || status.TighterThan(*rate_limit_)) rate_limit_ = status;
}

void Call::RunHandler(std::function<void()> fn) {
  if (env_.rate_limits != nullptr) {
    if (auto status = env_.rate_limits->ConsumeRoute(method_.nsid, caller_did_,
                                                     ClientAddress(remote_address_))) {
      NoteRateLimit(*status);
      if (status->exceeded) {
        Fail(XrpcError::RateLimitExceeded());
        return;
      }
    }
  }
  if (blocking_ && env_.offload) {
    auto self = shared_from_this();
    env_.offload([self, fn = std::move(fn)] { self->Guard(fn); });
    return;
  }
  Guard(fn);
}

void Call::FailWithException(std::exception_ptr error) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  LogError("handler threw: " + what);
  Fail(XrpcError::Internal());
}

void Call::Fail(XrpcError error) {
  if (error.status < 400 || error.status > 599) error.status = 500;
  // 500s never carry details to the client (xrpc-server errors.ts).
  if (error.status == 500) error = XrpcError::Internal();
  HttpReply reply;
  reply.status = error.status;
  reply.content_type = kJsonContentType;
  reply.body = ErrorBody(error);
  reply.error_name = std::move(error.name);
  Complete(std::move(reply));
}

void Call::SendJson(const boost::json::value& body) {
  HttpReply reply;
  reply.content_type = kJsonContentType;
  reply.body = boost::json::serialize(body);
  Complete(std::move(reply));
}

void Call::SendRaw(RawBody body) {
  HttpReply reply;
  reply.content_type = !body.encoding.empty() ? std::move(body.encoding)
                       : method_.output       ? std::string(method_.output->encoding)
                                              : "application/octet-stream";
  reply.body = std::move(body.data);
  Complete(std::move(reply));
}

void Call::SendEmpty() { Complete(HttpReply{}); }

void Call::LogError(std::string_view what) {
  if (env_.log_error) env_.log_error(request_id_, std::string(method_.nsid) + ": " + std::string(what));
}

void Call::Complete(HttpReply reply) {
  if (completed_.exchange(true, std::memory_order_acq_rel)) return;
  reply.caller_did = caller_did_;
  if (rate_limit_) rate_limit_->AppendHeaders(reply.headers);
  ReplySink sink = std::move(sink_);
  sink_ = nullptr;
  if (sink) sink(std::move(reply));
}

}  // namespace atipay::xrpc
