// Test support: the fake payment service on the fake generated methods, a server on a free
// loopback port, and a small blocking HTTP client with timeouts.
#ifndef ATIPAY_TESTS_XRPC_TEST_SUPPORT_H_
#define ATIPAY_TESTS_XRPC_TEST_SUPPORT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include "xrpc/server.h"

namespace atipay::testing {

// Runs closures on one thread in batches, as a group-committing store would: handlers complete
// later, from a thread that is not the event loop.
class CommitQueue {
 public:
  CommitQueue();
  ~CommitQueue();
  void Post(std::function<void()> fn);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

// Where params calls with name=hold wait (on the blocking pool) until the test releases them:
// a handler that stays busy exactly as long as a test needs, with no sleep to guess. A held
// call gives up after 30 s, so that a test that fails before Release() still ends.
class Hold {
 public:
  // Run by the handler: counts itself as held until released.
  void Wait();
  // Calls held now.
  int held() const;
  // Waits until `calls` are held at once; false after `within`.
  bool WaitHeld(int calls, std::chrono::milliseconds within = std::chrono::seconds(10)) const;
  // Lets every held call go, and every later one through at once.
  void Release();

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int held_ = 0;
  bool released_ = false;
};

struct FakeServiceOptions {
  xrpc::AuthPolicy clone_auth = xrpc::AuthPolicy::kNone;
  int carts = 1000;  // seeded carts cart0000..cart0999 of did:plc:aaaaaaaaaaaaaaaaaaaaaaaa
};

// Registers the fake methods with handlers that behave as the reference peer:
//   clone: CartNotFound / InvalidCartUri (400), answered from the CommitQueue thread;
//   item.count: {"count":3}; cart.list: echoes the decoded limit in `cursor`;
//   params (blocking pool): echoes params; name=demo -> 400 DemoError, name=throw -> exception,
//     name=badoutput -> output failing validation, name=sleep -> sleeps n ms,
//     name=hold -> waits until hold().Release();
//   upload: echoes the raw body.
class FakeService {
 public:
  explicit FakeService(FakeServiceOptions options = {});
  void Register(xrpc::Router& router);
  Hold& hold() { return *hold_; }

 private:
  FakeServiceOptions options_;
  std::shared_ptr<Hold> hold_ = std::make_shared<Hold>();
  std::shared_ptr<CommitQueue> commits_ = std::make_shared<CommitQueue>();
};

// A server with the fake service on 127.0.0.1 and a free port.
class TestServer {
 public:
  explicit TestServer(xrpc::ServerOptions options = DefaultOptions(),
                      FakeServiceOptions service = {},
                      std::function<void(xrpc::Router&)> extra = nullptr);
  ~TestServer();

  static xrpc::ServerOptions DefaultOptions();
  std::uint16_t port() const { return server_->port(); }
  xrpc::Server& server() { return *server_; }
  xrpc::Router& router() { return router_; }
  // The params calls with name=hold wait here (released when the server is destroyed).
  Hold& hold() { return service_.hold(); }

 private:
  xrpc::Router router_;
  FakeService service_;
  std::unique_ptr<xrpc::Server> server_;
};

using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  HttpResponse raw;
  boost::json::value Json() const;
  std::string Error() const;    // the `error` of a JSON error body
  std::string Message() const;  // its `message`
};

// One client connection with a receive timeout.
class Client {
 public:
  explicit Client(std::uint16_t port,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  ~Client();

  // Sends bytes as they are.
  bool SendRaw(std::string_view bytes);
  // The connection's descriptor, for SendAll from another thread while this one reads (the
  // Asio socket object must not be used from two threads at once).
  int descriptor() { return socket_.native_handle(); }
  // Reads one response; nullopt on timeout (the constructor's), close or a bad response.
  std::optional<Reply> Read(bool head = false);
  // Whether the server closed the connection within `within` (reads and drops data until then).
  bool WaitClosed(std::chrono::milliseconds within);

  std::optional<Reply> Call(std::string_view method, std::string_view target,
                            std::optional<std::string> body = std::nullopt,
                            std::vector<std::pair<std::string, std::string>> headers = {},
                            int version = 11);

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  std::chrono::milliseconds timeout_;
  boost::beast::flat_buffer buffer_;
};

// send(2) until every byte is out; false once the connection fails.
bool SendAll(int fd, std::string_view bytes);

// One request on a fresh connection. `body` absent: no body and no Content-Length.
std::optional<Reply> Fetch(std::uint16_t port, std::string_view method, std::string_view target,
                           std::optional<std::string> body = std::nullopt,
                           std::vector<std::pair<std::string, std::string>> headers = {});

// POST with Content-Type: application/json.
std::optional<Reply> PostJson(std::uint16_t port, std::string_view target, std::string body);

inline constexpr std::string_view kCloneTarget = "/xrpc/com.atiproto.payment.cart.clone";
inline constexpr std::string_view kCart0 =
    "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/com.atiproto.cart/cart0000";

}  // namespace atipay::testing

#endif  // ATIPAY_TESTS_XRPC_TEST_SUPPORT_H_
