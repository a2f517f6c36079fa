// The XRPC server: an asynchronous HTTP/1.1 server on Boost.Beast serving the methods of a
// Router under /xrpc/{nsid}, plus the service endpoints (/xrpc/_health,
// /.well-known/did.json, /metrics) and CORS.
//
//   xrpc::Router router;
//   router.Add<clone::Method>(handler, {.auth = xrpc::AuthPolicy::kRequired});
//   xrpc::Server server(options, router);
//   if (auto error = server.Start()) ...;
//   ...  server.Shutdown();   // from a signal handler, another thread, a test
//   server.Wait();
#ifndef ATIPAY_XRPC_SERVER_H_
#define ATIPAY_XRPC_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "xrpc/error.h"    // IWYU pragma: export
#include "xrpc/metrics.h"  // IWYU pragma: export
#include "xrpc/rate_limit.h"  // IWYU pragma: export
#include "xrpc/request.h"  // IWYU pragma: export
#include "xrpc/router.h"   // IWYU pragma: export

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace atipay::xrpc {

// The version /xrpc/_health reports (the project version).
std::string_view ServerVersion();

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 2585;  // 0: any free port (see Server::port())
  unsigned threads = 0;       // event-loop threads; 0: one per core
  unsigned blocking_threads = 4;  // pool for MethodOptions::blocking handlers

  std::size_t max_body_bytes = 100 * 1024;  // express.json's default limit, as the reference
  std::size_t max_header_bytes = 16 * 1024;  // node's default
  std::size_t max_connections = 10000;
  std::size_t max_json_depth = 1024;
  std::chrono::milliseconds header_timeout{10000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{30000};    // end of headers to end of body
  std::chrono::milliseconds idle_timeout{5000};     // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds shutdown_timeout{10000};  // drain deadline for in-flight requests

  bool validate_output = true;
  bool cors = true;
  RateLimitOptions rate_limits;  // none by default
  // Behind one reverse proxy: the client's address (for rate limits and the access log) is the
  // last X-Forwarded-For entry, the one the proxy added.
  bool trust_x_forwarded_for = false;

  // The did:web document at /.well-known/did.json; served when service_did is set.
  std::string service_did;
  std::string service_id = "payments";  // the fragment clients put in atproto-proxy
  std::string service_type = "AtiprotoPaymentService";
  std::string public_url;  // serviceEndpoint

  std::string access_log = "-";  // "-" stdout, "off", or a file path
};

class Server {
 public:
  // The router must outlive the server and not change once Start() has been called.
  Server(ServerOptions options, Router& router);
  ~Server();  // shuts down (with the drain deadline) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens without accepting yet, so that with port 0 the port is known before
  // the rest is configured (the did:web DID names it). Start() does it if nobody has.
  std::optional<std::string> Listen();
  // Before Start(): the DID and serviceEndpoint of /.well-known/did.json (ignored afterwards).
  void SetServiceIdentity(std::string service_did, std::string public_url);

  // Binds and listens (unless Listen() did), then accepts on the event-loop threads. Returns
  // an error message on failure.
  std::optional<std::string> Start();

  // The bound port (useful with port 0), once Listen() or Start() has succeeded.
  std::uint16_t port() const;

  // Graceful shutdown, thread-safe and idempotent: stop accepting, close idle connections, let
  // in-flight requests finish until shutdown_timeout, then close the rest.
  void Shutdown();

  // Blocks until the server has shut down and its threads have ended, and until every call
  // still held past the shutdown deadline by a thread the server does not own (a store's
  // writer, say) has been answered or dropped: such threads must go on while Wait() blocks.
  void Wait();

  Metrics& metrics();
  boost::asio::io_context& io_context();  // e.g. for a signal_set

 private:
  class Impl;
  friend class Session;  // the per-connection state machine in server.cc
  std::unique_ptr<Impl> impl_;
};

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_SERVER_H_
