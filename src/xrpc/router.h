// Router: the table of XRPC methods, driven by generated method descriptors.
//
// Registration is typed: Add<M> takes a generated `Method` struct (Params, Input, Output,
// kDescriptor) and a handler, and builds the pipeline of @atproto/xrpc-server:
//   params (strict decoding) -> auth hook -> input (body rules, JSON, lexicon validation)
//   -> handler -> output validation (re-parse of ToJson(output) at Path("Output")).
// Handlers come in two shapes:
//   HandlerResult<Output> (Request<M>&)               answers inline;
//   void (Request<M>&, Reply<Output>)                 answers later, from any thread.
// MethodOptions::blocking runs either shape on the blocking pool instead of the event loop.
#ifndef ATIPAY_XRPC_ROUTER_H_
#define ATIPAY_XRPC_ROUTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "lex/method.h"
#include "lex/params.h"
#include "lex/path.h"
#include "xrpc/call.h"
#include "xrpc/error.h"
#include "xrpc/request.h"

namespace atipay::xrpc {

struct MethodOptions {
  AuthPolicy auth = AuthPolicy::kNone;
  // Run the handler on the blocking pool (SQLite commits, file I/O), not on an event-loop thread.
  bool blocking = false;
};

namespace detail {

template <class M>
void FinishOutput(const CallPtr& call, HandlerResult<OutputOf<M>> result) {
  if (!result.ok()) {
    call->Fail(std::move(result.error()));
    return;
  }
  if constexpr (std::is_void_v<OutputOf<M>>) {
    if (result.body()) {
      call->SendRaw(std::move(*result.body()));
    } else {
      call->SendEmpty();
    }
  } else {
    boost::json::value json = result.is_json() ? std::move(result.json()) : ToJson(result.value());
    if (call->validate_output()) {
      // A handler bug must not reach the client as a schema-breaking answer: 500, as the
      // reference does with validateResponse on.
      typename M::Output check;
      lex::Errors errors;
      if (!Parse(json, check, lex::Path("Output"), errors)) {
        call->LogError("output validation failed: " + errors.message());
        call->Fail(XrpcError::Internal());
        return;
      }
    }
    call->SendJson(json);
  }
}

}  // namespace detail

class Router {
 public:
  struct Entry {
    const lex::MethodDescriptor* method = nullptr;
    MethodOptions options;
    std::function<void(const CallPtr&)> invoke;
  };

  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Register every method before the server starts; the table is read-only afterwards.
  template <class M, class Handler>
  void Add(Handler handler, MethodOptions options = {});

  // The untyped seam under Add<M>: `invoke` runs the whole pipeline for a call.
  void AddUntyped(const lex::MethodDescriptor& method, MethodOptions options,
                  std::function<void(const CallPtr&)> invoke);

  const Entry* Find(std::string_view nsid) const;

  // A page outside /xrpc answered to GET and HEAD (a payment provider's checkout page, say):
  // no auth, the decoded query parameters in, a whole reply out. It runs on the blocking pool
  // (it may read storage); an exception becomes a 500.
  using PageHandler = std::function<HttpReply(const lex::ParamList& params)>;
  void AddPage(std::string path, PageHandler handler);
  const PageHandler* FindPage(std::string_view path) const;
  // More lines for /metrics (Prometheus text: # HELP, # TYPE and samples), rendered at every
  // scrape on the event loop after the server's own; the parts the server core does not know
  // (the store, say) report through this.
  using MetricsSource = std::function<std::string()>;
  void AddMetrics(MetricsSource source) { metrics_sources_.push_back(std::move(source)); }
  const std::vector<MetricsSource>& metrics_sources() const { return metrics_sources_; }
  // What /xrpc/_health asks at every probe, on the event loop, so it must answer at once (never
  // wait for storage): a reason the service cannot serve now, or nullopt. Any reason makes the
  // answer 503, as the reference PDS answers when its database check fails.
  using HealthCheck = std::function<std::optional<std::string>()>;
  void AddHealthCheck(HealthCheck check) { health_checks_.push_back(std::move(check)); }
  const std::vector<HealthCheck>& health_checks() const { return health_checks_; }

  template <class F>
  void ForEach(F&& f) const {
    for (const auto& [nsid, entry] : methods_) f(nsid, entry);
  }

  void SetAuthHook(AuthHook hook) { env_.auth_hook = std::move(hook); }
  void SetAsyncAuthHook(AsyncAuthHook hook) { env_.async_auth_hook = std::move(hook); }

  CallEnvironment& environment() { return env_; }
  const CallEnvironment& environment() const { return env_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> methods_;
  std::unordered_map<std::string, PageHandler, Hash, std::equal_to<>> pages_;
  std::vector<MetricsSource> metrics_sources_;
  std::vector<HealthCheck> health_checks_;
  CallEnvironment env_;
};

template <class M, class Handler>
void Router::Add(Handler handler, MethodOptions options) {
  using Out = OutputOf<M>;
  constexpr bool kAsync = std::is_invocable_v<Handler&, Request<M>&, Reply<Out>>;
  static_assert(kAsync || std::is_invocable_r_v<HandlerResult<Out>, Handler&, Request<M>&>,
                "handler must be HandlerResult<Output>(Request<M>&) or "
                "void(Request<M>&, Reply<Output>)");
  auto shared_handler = std::make_shared<Handler>(std::move(handler));
  AddUntyped(M::kDescriptor, options, [shared_handler](const CallPtr& call) {
    auto request = std::make_shared<Request<M>>();
    request->info = &call->info();
    lex::Errors param_errors;
    if (!Parse(call->params(), request->params, param_errors)) {
      call->Fail(XrpcError::InvalidRequest(param_errors.message()));
      return;
    }
    call->Authenticate([shared_handler, request, call](AuthContext auth) {
      request->auth = std::move(auth);
      if constexpr (std::is_void_v<typename M::Input>) {
        if (auto error = call->TakeRawInput(request->input)) {
          call->Fail(std::move(*error));
          return;
        }
      } else {
        boost::json::value body;
        if (auto error = call->TakeJsonInput(body)) {
          call->Fail(std::move(*error));
          return;
        }
        lex::Errors input_errors;
        if (!Parse(body, request->input, lex::Path("Input"), input_errors)) {
          call->Fail(XrpcError::InvalidRequest(input_errors.message()));
          return;
        }
      }
      call->RunHandler([shared_handler, request, call] {
        if constexpr (kAsync) {
          (*shared_handler)(*request, Reply<Out>([request, call](HandlerResult<Out> result) {
            call->Guard([&] { detail::FinishOutput<M>(call, std::move(result)); });
          }));
        } else {
          detail::FinishOutput<M>(call, HandlerResult<Out>((*shared_handler)(*request)));
        }
      });
    });
  });
}

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_ROUTER_H_
