// A server process the way atipay-server runs one, shared with the test-only probe server so
// that both start, authenticate and stop alike.
#ifndef ATIPAY_APP_RUN_H_
#define ATIPAY_APP_RUN_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "app/config.h"
#include "xrpc/router.h"

namespace atipay::app {

// Registers the methods; whatever they run on goes into *keep, alive until the server stops.
// Returns an error message to refuse to start.
using AddMethods = std::function<std::optional<std::string>(
    xrpc::Router& router, const Config& config, std::shared_ptr<void>* keep)>;

// Reads flags and ATIPAY_* (LoadConfig), installs service auth, adds the methods, listens, and
// drains in-flight requests on the first SIGINT/SIGTERM, then lets the methods' state go (the
// store commits what it holds). A second signal exits 1 at once, whatever step is running.
// Returns the process exit status: 0 stopped, 1 could not listen, 2 bad configuration or
// methods (a method named by --rate-limit-methods that is not served, too).
int RunServer(std::string_view name, int argc, char** argv, const AddMethods& add_methods);

}  // namespace atipay::app

#endif  // ATIPAY_APP_RUN_H_
