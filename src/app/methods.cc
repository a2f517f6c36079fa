#include "app/methods.h"

namespace atipay::app {

void RegisterMethods(xrpc::Router& router, const Config& config) {
  // Payment methods register here, one line each, from the generated descriptors, e.g.
  //   router.Add<lexicons::com::atiproto::payment::cart::clone::Method>(
  //       payments.CloneHandler(), {.auth = xrpc::AuthPolicy::kRequired, .blocking = true});
  // Service auth (app/service_auth.h) is already installed as the router's auth hook.
  // Until then the server answers /xrpc/_health, /.well-known/did.json and /metrics, and 501
  // MethodNotImplemented for every NSID.
  (void)router;
  (void)config;
}

}  // namespace atipay::app
