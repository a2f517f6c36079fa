// The seam where the service's XRPC methods are registered on the router, together with what
// they run on: the store (SQLite at --db) and the payment service with its sweeper.
#ifndef ATIPAY_APP_METHODS_H_
#define ATIPAY_APP_METHODS_H_

#include <memory>
#include <optional>
#include <string>

#include "app/config.h"
#include "store/store.h"
#include "xrpc/router.h"

namespace atipay::app {

// Owns the store and the payment service; keep it alive while the server runs. Destroying it
// stops the sweeper and closes the store after queued writes are committed.
class Services {
 public:
  virtual ~Services() = default;
};

// Opens the store, registers every payment method and starts the sweeper. nullptr and an error
// message when the database cannot be opened.
std::unique_ptr<Services> StartServices(xrpc::Router& router, const Config& config,
                                        std::string* error);

// The store's part of /xrpc/_health: why writes cannot be answered now (a batch held up far
// longer than any wait for a lock: a disk that does not answer), or nullopt.
std::optional<std::string> StoreHealth(const store::Store::Stats& stats);

}  // namespace atipay::app

#endif  // ATIPAY_APP_METHODS_H_
