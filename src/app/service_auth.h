// Service auth for atipay-server: the identity resolver and JWT verifier built from the
// configuration, installed as the router's auth hook.
#ifndef ATIPAY_APP_SERVICE_AUTH_H_
#define ATIPAY_APP_SERVICE_AUTH_H_

#include <atomic>
#include <cstdint>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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
  // rest wait for DID resolution on pools of their own, so the loop never blocks. did:web
  // callers wait apart from the others: whoever sends a token chooses its did:web host, and a
  // host that never answers must not hold up did:plc callers. Each lane admits at most
  // --auth-max-waiting calls, and one client address at most --auth-max-waiting-per-address
  // of them, so that one client cannot take every place.
  // Also adds its figures to /metrics: the replay cache, DID resolution and its cache.
  void Install(xrpc::Router& router);

  // Prometheus text for those figures.
  std::string Metrics() const;

 private:
  // The calls waiting for one kind of DID to be resolved, and the threads resolving them.
  struct Lane {
    explicit Lane(std::size_t threads) : pool(threads) {}
    boost::asio::thread_pool pool;
    std::atomic<std::int64_t> waiting{0};
    std::atomic<std::uint64_t> refused_full{0};     // the lane had max_waiting_ calls
    std::atomic<std::uint64_t> refused_address{0};  // the address had its share
  };

  ServiceAuth() = default;

  // Takes a place in `lane` for a call from `address`, or says why there is none.
  std::optional<xrpc::XrpcError> Admit(Lane& lane, const std::string& address);
  void Leave(Lane& lane, const std::string& address);

  std::unique_ptr<identity::IdentityResolver> resolver_;
  std::unique_ptr<auth::ServiceAuthVerifier> verifier_;
  std::int64_t max_waiting_ = 256;              // per lane; beyond, 503
  std::int64_t max_waiting_per_address_ = 64;   // per lane and client address; beyond, 503
  std::mutex addresses_mu_;
  std::unordered_map<std::string, std::int64_t> waiting_by_address_;  // key: lane tag + address
  // A fetch blocks its thread until the document comes or the timeout passes, so the threads
  // bound how many fetches run at once: the PLC directory is one host we chose; did:web hosts
  // are many, and any of them may be slow.
  Lane plc_{4};
  Lane web_{8};
};

}  // namespace atipay::app

#endif  // ATIPAY_APP_SERVICE_AUTH_H_
