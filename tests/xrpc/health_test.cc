// /xrpc/_health: 200 with the version, or 503 with the reason a part of the service gives (the
// store's writer held up), answered at once either way.
#include <gtest/gtest.h>

#include <atomic>

#include "app/methods.h"
#include "tests/xrpc/test_support.h"

namespace atipay::testing {
namespace {

TEST(XrpcHealth, AHealthCheckWithAReasonMakesIt503) {
  std::atomic<int> state{0};  // 0 fine, 1 a reason, 2 throws
  TestServer server(TestServer::DefaultOptions(), {}, [&state](xrpc::Router& router) {
    router.AddHealthCheck([] { return std::optional<std::string>(); });
    router.AddHealthCheck([&state]() -> std::optional<std::string> {
      if (state == 2) throw std::runtime_error("secret detail");
      if (state == 1) return "the disk is stuck";
      return std::nullopt;
    });
  });
  auto fine = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
  EXPECT_TRUE(fine->Json().as_object().contains("version"));
  EXPECT_FALSE(fine->Json().as_object().contains("error"));

  state = 1;
  auto stuck = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->status, 503);
  EXPECT_TRUE(stuck->Json().as_object().contains("version"));
  EXPECT_EQ(stuck->Error(), "Service Unavailable");
  EXPECT_EQ(stuck->Message(), "the disk is stuck");

  state = 2;
  auto threw = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(threw);
  EXPECT_EQ(threw->status, 503);
  EXPECT_EQ(threw->body.find("secret detail"), std::string::npos) << threw->body;

  state = 0;
  EXPECT_EQ(Fetch(server.port(), "GET", "/xrpc/_health")->status, 200);
}

TEST(XrpcHealth, TheStoreIsUnhealthyOnlyWhenABatchOutlastsAnyLockWait) {
  store::Store::Stats stats;
  EXPECT_FALSE(app::StoreHealth(stats));
  stats.batch_ns = 6'000'000'000;  // waiting out the busy timeout: slow, not stuck
  stats.queued = 40;
  EXPECT_FALSE(app::StoreHealth(stats));
  stats.batch_ns = 12'000'000'000;
  auto reason = app::StoreHealth(stats);
  ASSERT_TRUE(reason);
  EXPECT_NE(reason->find("12 s"), std::string::npos) << *reason;
  EXPECT_NE(reason->find("40"), std::string::npos) << *reason;
}

}  // namespace
}  // namespace atipay::testing
