// Graceful shutdown: stop accepting, finish in-flight requests, close idle connections, and
// give up on stragglers at the deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/xrpc/test_support.h"

namespace atipay::testing {
namespace {

using std::chrono::milliseconds;
constexpr std::string_view kParams = "/xrpc/com.example.xrpc.params";
constexpr std::string_view kSleep = "/xrpc/com.example.xrpc.params?name=sleep&n=";

TEST(XrpcShutdown, InFlightRequestsFinishIdleConnectionsClose) {
  auto options = TestServer::DefaultOptions();
  options.shutdown_timeout = milliseconds(5000);
  options.idle_timeout = milliseconds(60000);
  TestServer server(options);
  std::uint16_t port = server.port();

  Client idle(port);
  ASSERT_TRUE(idle.Call("GET", "/xrpc/_health"));

  std::vector<std::future<std::optional<Reply>>> in_flight;
  for (int i = 0; i < 8; ++i) {
    in_flight.push_back(std::async(std::launch::async, [port] {
      return Fetch(port, "GET", std::string(kSleep) + "400");
    }));
  }
  // Wait until all eight are being handled.
  for (int i = 0; i < 200 && server.server().metrics().in_flight.load() < 8; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(server.server().metrics().in_flight.load(), 8);
  auto start = std::chrono::steady_clock::now();
  server.server().Shutdown();

  EXPECT_TRUE(idle.WaitClosed(milliseconds(1000)));  // idle: closed at once
  for (auto& f : in_flight) {
    auto reply = f.get();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->raw[boost::beast::http::field::connection], "close");
  }
  server.server().Wait();
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, milliseconds(3000));
  // No longer accepting.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::address_v4::loopback(), port}, ec);
  EXPECT_TRUE(ec);
}

TEST(XrpcShutdown, DeadlineClosesStragglers) {
  auto options = TestServer::DefaultOptions();
  options.shutdown_timeout = milliseconds(300);
  TestServer server(options);
  // Held on the blocking pool until released below: only the deadline can end its connection.
  Client straggler(server.port());
  ASSERT_TRUE(straggler.SendRaw(std::string("GET ") + std::string(kParams) +
                                "?name=hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(server.hold().WaitHeld(1));
  server.server().Shutdown();
  EXPECT_TRUE(straggler.WaitClosed(milliseconds(5000))) << "not closed at the deadline";
  server.hold().Release();
  server.server().Wait();  // returns once the blocking pool's handler has ended too
}

// A call held past the deadline by a thread the server does not own (as a store's writer holds
// one until its commit): Wait() returns only once that thread has answered, so the answer never
// reaches a destroyed event loop (and the connection never outlives the server).
TEST(XrpcShutdown, WaitOutlastsCallsHeldByForeignThreads) {
  auto options = TestServer::DefaultOptions();
  options.shutdown_timeout = milliseconds(100);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder;
  std::atomic<bool> answered{false};
  TestServer server(options, {}, [&](xrpc::Router& router) {
    router.SetAsyncAuthHook([&](const xrpc::AuthRequest&,
                                std::function<void(xrpc::AuthResult)> done) {
      holder = std::thread([&answered, released, done = std::move(done)] {
        released.wait();
        answered = true;
        done(xrpc::AuthContext{"did:plc:caller", {}});
      });
    });
  });
  Client call(server.port());
  ASSERT_TRUE(call.SendRaw(std::string("GET ") + std::string(kParams) +
                           "?name=a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n"));
  for (int i = 0; i < 400 && server.server().metrics().in_flight.load() < 1; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(server.server().metrics().in_flight.load(), 1);
  server.server().Shutdown();
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    server.server().Wait();
    waited = true;
  });
  std::this_thread::sleep_for(milliseconds(500));  // well past the deadline
  EXPECT_FALSE(waited.load());
  // The connection itself was closed at the deadline.
  EXPECT_TRUE(call.WaitClosed(milliseconds(2000)));
  release.set_value();
  waiter.join();
  EXPECT_TRUE(answered.load());
  holder.join();
}

// With nothing to drain, Shutdown does not sit out the drain deadline. (Measured against that
// deadline, not as a speed: a loaded machine may take a while to join the threads.)
TEST(XrpcShutdown, ShutdownWithoutConnectionsIsQuick) {
  auto options = TestServer::DefaultOptions();
  options.shutdown_timeout = milliseconds(10000);
  TestServer server(options);
  auto start = std::chrono::steady_clock::now();
  server.server().Shutdown();
  server.server().Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, options.shutdown_timeout / 2);
}

}  // namespace
}  // namespace atipay::testing
