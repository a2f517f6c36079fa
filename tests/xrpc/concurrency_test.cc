// Many concurrent clients on keep-alive connections, procedures answered from another thread.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/xrpc/test_support.h"

namespace atipay::testing {
namespace {

TEST(XrpcConcurrency, ManyClients) {
  TestServer server;
  constexpr int kClients = 64;
  constexpr int kRequestsEach = 50;
  std::atomic<int> ok{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client client(server.port());
      for (int i = 0; i < kRequestsEach; ++i) {
        std::optional<Reply> reply;
        if ((c + i) % 3 == 0) {
          reply = client.Call("POST", kCloneTarget, "{\"uri\":\"" + std::string(kCart0) + "\"}",
                              {{"Content-Type", "application/json"}});
        } else if ((c + i) % 3 == 1) {
          reply = client.Call("POST", kCloneTarget, "{\"uri\":42}",
                              {{"Content-Type", "application/json"}});
        } else {
          reply = client.Call("GET", "/xrpc/com.atiproto.repo.item.count");
        }
        int expected = (c + i) % 3 == 1 ? 400 : 200;
        if (reply && reply->status == expected) {
          ++ok;
        } else {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequestsEach);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(server.server().metrics().in_flight.load(), 0);
}

TEST(XrpcConcurrency, ManyShortConnections) {
  TestServer server;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 16; ++c) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto reply = Fetch(server.port(), "GET", "/xrpc/_health");
        if (reply && reply->status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16 * 25);
}

}  // namespace
}  // namespace atipay::testing
