// Rate limits: the fixed-window limiter on a test clock, then the server's three limits (global
// per address, per caller, per method) on real sockets, with the headers of xrpc-server.
#include "xrpc/rate_limit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

#include "tests/xrpc/test_support.h"

namespace atipay {
namespace {

using namespace std::chrono_literals;
using testing::Fetch;
using testing::Reply;
using testing::TestServer;
using xrpc::RateLimit;
using xrpc::RateLimiter;
using xrpc::RateLimitStatus;

struct TestClock {
  RateLimiter::Clock::time_point now = RateLimiter::Clock::time_point(1000h);
  std::function<RateLimiter::Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

TEST(RateLimit, ParsesPointsPerSecondsOrOff) {
  auto limit = RateLimit::Parse("3000/300");
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->points, 3000u);
  EXPECT_EQ(limit->window, 300s);
  EXPECT_TRUE(limit->enabled());
  for (const char* off : {"off", "0"}) {
    auto parsed = RateLimit::Parse(off);
    ASSERT_TRUE(parsed) << off;
    EXPECT_FALSE(parsed->enabled()) << off;
  }
  for (const char* bad : {"", "5", "5/", "/5", "5/0", "0/5", "-1/5", "5/x", "5 /10", "5/10s",
                          "5/31622401", "4294967296/1"}) {
    EXPECT_FALSE(RateLimit::Parse(bad)) << bad;
  }
  EXPECT_TRUE(RateLimit::Parse("4294967295/31622400"));
}

TEST(RateLimit, WindowOpensAtFirstRequestAndCloses) {
  TestClock clock;
  RateLimiter limiter(RateLimit{3, 10s}, 1000, clock.fn());
  for (std::uint32_t left : {2u, 1u, 0u}) {
    RateLimitStatus status = limiter.Consume("did:plc:a");
    EXPECT_EQ(status.limit, 3u);
    EXPECT_EQ(status.remaining, left);
    EXPECT_FALSE(status.exceeded);
    EXPECT_EQ(status.window_seconds, 10);
    clock.now += 1s;
  }
  RateLimitStatus over = limiter.Consume("did:plc:a");
  EXPECT_TRUE(over.exceeded);
  EXPECT_EQ(over.remaining, 0u);
  EXPECT_EQ(over.retry_after, 7s);  // the window opened 3 s ago
  const std::int64_t now_unix = std::time(nullptr);
  EXPECT_GE(over.reset_unix, now_unix + 7);
  EXPECT_LE(over.reset_unix, now_unix + 9);
  // Another key has its own window.
  EXPECT_EQ(limiter.Consume("did:plc:b").remaining, 2u);
  // Once the window has closed, a new one opens with the next request.
  clock.now += 7s;
  RateLimitStatus fresh = limiter.Consume("did:plc:a");
  EXPECT_FALSE(fresh.exceeded);
  EXPECT_EQ(fresh.remaining, 2u);
  EXPECT_EQ(fresh.retry_after, 10s);
}

TEST(RateLimit, BoundedKeysFailOpenThenReuseClosedWindows) {
  TestClock clock;
  RateLimiter limiter(RateLimit{1, 10s}, 16, clock.fn());  // about one key per shard
  for (int i = 0; i < 200; ++i) {
    RateLimitStatus status = limiter.Consume("did:plc:k" + std::to_string(i));
    EXPECT_FALSE(status.exceeded) << i;
  }
  EXPECT_LE(limiter.keys(), 16u);
  EXPECT_GE(limiter.untracked(), 184u);
  // A key that is tracked keeps its count: a flood of new keys does not reset it.
  std::string tracked;
  for (int i = 0; i < 200 && tracked.empty(); ++i) {
    const std::string key = "did:plc:k" + std::to_string(i);
    std::uint64_t before = limiter.untracked();
    if (limiter.Consume(key).exceeded) tracked = key;
    if (tracked.empty()) {
      EXPECT_EQ(limiter.untracked(), before + 1);
    }
  }
  ASSERT_FALSE(tracked.empty());
  EXPECT_TRUE(limiter.Consume(tracked).exceeded);
  // Closed windows make room again.
  clock.now += 11s;
  const std::uint64_t untracked = limiter.untracked();
  for (int i = 0; i < 50; ++i) limiter.Consume("did:plc:new" + std::to_string(i));
  EXPECT_LT(limiter.untracked(), untracked + 50);
  EXPECT_LE(limiter.keys(), 16u);
}

TEST(RateLimit, TightestAndHeaders) {
  RateLimitStatus loose{100, 90, 300, 1'800'000'000, 200s, false};
  RateLimitStatus tight{5, 1, 60, 1'800'000'030, 30s, false};
  RateLimitStatus over{1000, 0, 10, 1'800'000'005, 1500ms, true};
  EXPECT_TRUE(tight.TighterThan(loose));
  EXPECT_FALSE(loose.TighterThan(tight));
  EXPECT_TRUE(over.TighterThan(tight));
  EXPECT_FALSE(tight.TighterThan(over));

  std::vector<std::pair<std::string, std::string>> headers;
  tight.AppendHeaders(headers);
  std::vector<std::pair<std::string, std::string>> want = {
      {"RateLimit-Limit", "5"},
      {"RateLimit-Remaining", "1"},
      {"RateLimit-Reset", "1800000030"},
      {"RateLimit-Policy", "5;w=60"}};
  EXPECT_EQ(headers, want);
  headers.clear();
  over.AppendHeaders(headers);
  ASSERT_EQ(headers.size(), 5u);
  EXPECT_EQ(headers.back(), (std::pair<std::string, std::string>{"Retry-After", "2"}));
}

TEST(RateLimit, ClientAddressOfEveryForm) {
  EXPECT_EQ(xrpc::ClientAddress("127.0.0.1:5555"), "127.0.0.1");
  EXPECT_EQ(xrpc::ClientAddress("203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(xrpc::ClientAddress(""), "");
  // IPv6 by its /64: the rest a client may pick as it likes.
  EXPECT_EQ(xrpc::ClientAddress("[::1]:5555"), "::/64");
  EXPECT_EQ(xrpc::ClientAddress("[2001:db8::7]"), "2001:db8::/64");
  EXPECT_EQ(xrpc::ClientAddress("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443"), "2001:db8:1:2::/64");
  EXPECT_EQ(xrpc::ClientAddress("[2001:db8:1:3::1]:443"), "2001:db8:1:3::/64");
  EXPECT_EQ(xrpc::ClientAddress("[::ffff:198.51.100.4]:80"), "198.51.100.4");
  EXPECT_EQ(xrpc::ClientAddress("[not an address]"), "not an address");
}

xrpc::RateLimitOptions Limits(RateLimit global, RateLimit per_caller,
                              std::vector<std::pair<std::string, RateLimit>> per_method = {}) {
  xrpc::RateLimitOptions limits;
  limits.global = global;
  limits.per_caller = per_caller;
  limits.per_method = std::move(per_method);
  return limits;
}

// The server: clone needs a caller (a bearer token naming a DID); item.count is anonymous.
xrpc::ServerOptions WithLimits(xrpc::RateLimitOptions limits) {
  xrpc::ServerOptions options = TestServer::DefaultOptions();
  options.rate_limits = std::move(limits);
  return options;
}

std::unique_ptr<TestServer> ServerWith(xrpc::RateLimitOptions limits) {
  return std::make_unique<TestServer>(
      WithLimits(std::move(limits)),
      testing::FakeServiceOptions{.clone_auth = xrpc::AuthPolicy::kRequired},
      [](xrpc::Router& router) {
        router.SetAuthHook([](const xrpc::AuthRequest& request) -> xrpc::AuthResult {
          std::string_view token = request.authorization;
          if (token.rfind("Bearer did:", 0) != 0) return xrpc::XrpcError::AuthRequired("no");
          return xrpc::AuthContext{std::string(token.substr(7)), {}};
        });
      });
}

std::optional<Reply> Clone(std::uint16_t port, const std::string& did,
                           std::string body = "{\"uri\":\"" + std::string(testing::kCart0) +
                                              "\"}") {
  return Fetch(port, "POST", testing::kCloneTarget, std::move(body),
               {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + did}});
}

// An anonymous call, with these X-Forwarded-For header lines (one header per entry given).
std::optional<Reply> Count(std::uint16_t port, std::vector<std::string> forwarded_for = {}) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (std::string& line : forwarded_for) headers.emplace_back("X-Forwarded-For", std::move(line));
  return Fetch(port, "GET", "/xrpc/com.atiproto.repo.item.count", std::nullopt, std::move(headers));
}

// One call a minute per client address, which X-Forwarded-For names when trusted.
xrpc::ServerOptions OneCallPerAddress(bool trust_x_forwarded_for) {
  xrpc::ServerOptions options = WithLimits(Limits({1, 60s}, {}));
  options.trust_x_forwarded_for = trust_x_forwarded_for;
  return options;
}

std::string Header(const Reply& reply, std::string_view name) {
  auto it = reply.raw.find(name);
  return it == reply.raw.end() ? std::string() : std::string(it->value());
}

TEST(XrpcRateLimit, PerCallerCountsAfterInputPerDidOrAddress) {
  auto server = ServerWith(Limits({}, {2, 60s}));
  const std::uint16_t port = server->port();
  // A call refused before the handler (bad input) costs nothing and says nothing of limits.
  auto bad = Clone(port, "did:plc:alice", "{}");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Header(*bad, "RateLimit-Limit"), "");

  const std::int64_t before = std::time(nullptr);
  for (const char* left : {"1", "0"}) {
    auto ok = Clone(port, "did:plc:alice");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(Header(*ok, "RateLimit-Limit"), "2");
    EXPECT_EQ(Header(*ok, "RateLimit-Remaining"), left);
    EXPECT_EQ(Header(*ok, "RateLimit-Policy"), "2;w=60");
    const std::int64_t reset = std::atoll(Header(*ok, "RateLimit-Reset").c_str());
    EXPECT_GE(reset, before + 59);
    EXPECT_LE(reset, std::time(nullptr) + 61);
    EXPECT_EQ(Header(*ok, "Retry-After"), "");
  }
  auto over = Clone(port, "did:plc:alice");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429);
  EXPECT_EQ(over->Error(), "RateLimitExceeded");
  EXPECT_EQ(over->Message(), "Rate Limit Exceeded");
  EXPECT_EQ(Header(*over, "RateLimit-Remaining"), "0");
  const int retry = std::atoi(Header(*over, "Retry-After").c_str());
  EXPECT_GE(retry, 58);
  EXPECT_LE(retry, 60);

  // Another DID from the same address has its own window, and so has the anonymous address.
  auto bob = Clone(port, "did:plc:bob");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->status, 200);
  EXPECT_EQ(Header(*bob, "RateLimit-Remaining"), "1");
  auto anonymous = Count(port);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 200);
  EXPECT_EQ(Header(*anonymous, "RateLimit-Remaining"), "1");

  auto metrics = Fetch(port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("atipay_rate_limit_keys{limiter=\"caller\"} 3\n"),
            std::string::npos)
      << metrics->body;
}

TEST(XrpcRateLimit, PerMethodOnTopOfPerCallerReportsTheTighter) {
  auto server = ServerWith(
      Limits({}, {100, 60s}, {{"com.atiproto.payment.cart.clone", {1, 30s}}}));
  const std::uint16_t port = server->port();
  auto first = Clone(port, "did:plc:alice");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(Header(*first, "RateLimit-Policy"), "1;w=30");
  EXPECT_EQ(Header(*first, "RateLimit-Remaining"), "0");
  auto second = Clone(port, "did:plc:alice");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(Header(*second, "RateLimit-Policy"), "1;w=30");
  // Other methods only see the caller's limit, which both clones counted against.
  auto count = Fetch(port, "GET", "/xrpc/com.atiproto.repo.item.count", std::nullopt,
                     {{"Authorization", "Bearer did:plc:alice"}});
  ASSERT_TRUE(count);
  EXPECT_EQ(count->status, 200);
  EXPECT_EQ(Header(*count, "RateLimit-Policy"), "100;w=60");
}

TEST(XrpcRateLimit, GlobalPerAddressBeforeRouting) {
  auto server = ServerWith(Limits({3, 60s}, {10, 60s}));
  const std::uint16_t port = server->port();
  // Counted and reported even for a method nobody serves.
  auto unknown = Fetch(port, "GET", "/xrpc/com.example.nobody.serves");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 501);
  EXPECT_EQ(Header(*unknown, "RateLimit-Policy"), "3;w=60");
  EXPECT_EQ(Header(*unknown, "RateLimit-Remaining"), "2");
  // With the caller's limit too, the headers are the tighter one's: only one set goes out.
  auto ok = Clone(port, "did:plc:alice");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(Header(*ok, "RateLimit-Policy"), "3;w=60");
  EXPECT_EQ(Header(*ok, "RateLimit-Remaining"), "1");
  int limit_headers = 0;
  for (const auto& field : ok->raw) limit_headers += field.name_string() == "RateLimit-Limit";
  EXPECT_EQ(limit_headers, 1);
  ASSERT_TRUE(Count(port));
  // Out of points: 429 before the method is even looked up, whoever the caller.
  for (auto reply : {Clone(port, "did:plc:bob"), Fetch(port, "GET", "/xrpc/com.example.nobody")}) {
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 429);
    EXPECT_EQ(reply->Error(), "RateLimitExceeded");
    EXPECT_NE(Header(*reply, "Retry-After"), "");
  }
  // The health check is not an XRPC method and is never limited.
  auto health = Fetch(port, "GET", "/xrpc/_health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(XrpcRateLimit, ForwardedForOnlyWhenTrustedAndOnlyItsLastEntry) {
  for (bool trusted : {false, true}) {
    TestServer server(OneCallPerAddress(trusted));
    // A client may write any entries; only the last one, added by our proxy, is its address.
    auto first = Count(server.port(), {"10.9.9.9, 203.0.113.1"});
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    auto other = Count(server.port(), {"203.0.113.1, 203.0.113.2"});
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, trusted ? 200 : 429) << trusted;
    auto again = Count(server.port(), {"198.51.100.1,203.0.113.1"});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 429) << trusted;
    // Not an address: the connection's own address counts (already used when not trusted).
    auto junk = Count(server.port(), {"203.0.113.3, not-an-address"});
    ASSERT_TRUE(junk);
    EXPECT_EQ(junk->status, trusted ? 200 : 429) << trusted;
  }
}

TEST(XrpcRateLimit, ForwardedForSpreadOverSeveralHeaderLinesCountsTheLastLine) {
  // A proxy may add its entry as a header line of its own (HAProxy's `option forwardfor` does)
  // after the one the client sent: the lines are one list (RFC 9110 §5.3), whose last entry is
  // the proxy's. The client's own line must not name its address.
  TestServer server(OneCallPerAddress(true));
  auto first = Count(server.port(), {"198.51.100.1", "203.0.113.1"});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  // The same client (as the proxy saw it) naming another address in its own line.
  auto spoofed = Count(server.port(), {"198.51.100.2", "203.0.113.1"});
  ASSERT_TRUE(spoofed);
  EXPECT_EQ(spoofed->status, 429);
}

TEST(XrpcRateLimit, AddressesOfOneIpv6SlashSixtyFourShareALimit) {
  TestServer server(OneCallPerAddress(true));
  auto first = Count(server.port(), {"2001:db8:1:2::1"});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  auto same_prefix = Count(server.port(), {"2001:db8:1:2:ffff::9"});
  ASSERT_TRUE(same_prefix);
  EXPECT_EQ(same_prefix->status, 429) << "a new address from the same /64 is the same client";
  auto next_prefix = Count(server.port(), {"2001:db8:1:3::1"});
  ASSERT_TRUE(next_prefix);
  EXPECT_EQ(next_prefix->status, 200);
}

TEST(XrpcRateLimit, NoneByDefault) {
  TestServer server;
  auto reply = Count(server.port());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(Header(*reply, "RateLimit-Limit"), "");
}

}  // namespace
}  // namespace atipay
