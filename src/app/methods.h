// The seam where the service's XRPC methods are registered on the router.
#ifndef ATIPAY_APP_METHODS_H_
#define ATIPAY_APP_METHODS_H_

#include "app/config.h"
#include "xrpc/router.h"

namespace atipay::app {

// Registers every method atipay-server serves. Called once, before the server starts.
void RegisterMethods(xrpc::Router& router, const Config& config);

}  // namespace atipay::app

#endif  // ATIPAY_APP_METHODS_H_
