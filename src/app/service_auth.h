// Service auth for atipay-server: the identity resolver and JWT verifier built from the
// configuration, installed as the router's auth hook.
#ifndef ATIPAY_APP_SERVICE_AUTH_H_
#define ATIPAY_APP_SERVICE_AUTH_H_

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "app/config.h"
#include "auth/verifier.h"
#include "identity/identity.h"
#include "lex/result.h"
#include "xrpc/router.h"

namespace atipay::app {

class ServiceAuth {
 public:
  // Fails on bad settings (a non-https PLC URL, a missing dev DID directory).
  static lex::Result<std::unique_ptr<ServiceAuth>> Create(const Config& config);
  ~ServiceAuth();

  // Tokens whose issuer key is cached are verified on the calling (event-loop) thread; the
  // rest wait for DID resolution on a small pool of their own, so the loop never blocks.
  // Also adds its figures to /metrics: the replay cache, DID resolution and its cache.
  void Install(xrpc::Router& router);

  // Prometheus text for those figures.
  std::string Metrics() const;

 private:
  ServiceAuth() = default;

  std::unique_ptr<identity::IdentityResolver> resolver_;
  std::unique_ptr<auth::ServiceAuthVerifier> verifier_;
  std::int64_t max_waiting_ = 256;  // calls waiting for a DID resolution; beyond, 503
  std::atomic<std::int64_t> waiting_{0};
  boost::asio::thread_pool resolving_{2};
};

}  // namespace atipay::app

#endif  // ATIPAY_APP_SERVICE_AUTH_H_
