// Rate limits as @atproto/xrpc-server applies them (rate-limiter-flexible's memory limiter):
// each key gets `points` requests per `window`, the window opening at the key's first request.
// A limited answer carries the RateLimit-* headers of the tightest limit that applied, and a
// key with no points left gets 429 RateLimitExceeded with Retry-After.
#ifndef ATIPAY_XRPC_RATE_LIMIT_H_
#define ATIPAY_XRPC_RATE_LIMIT_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace atipay::xrpc {

struct RateLimit {
  std::uint32_t points = 0;  // 0: no limit
  std::chrono::seconds window{0};

  bool enabled() const { return points > 0 && window.count() > 0; }
  // "POINTS/SECONDS" (e.g. "3000/300"), or "off"; nullopt when malformed.
  static std::optional<RateLimit> Parse(std::string_view text);
};

// What one limiter said about one request.
struct RateLimitStatus {
  std::uint32_t limit = 0;
  std::uint32_t remaining = 0;
  std::int64_t window_seconds = 0;
  std::int64_t reset_unix = 0;               // when the key's window closes (Unix seconds)
  std::chrono::milliseconds retry_after{0};  // until then
  bool exceeded = false;

  // The one to report of two: the exceeded one, else the one with fewer points left
  // (xrpc-server's CombinedRateLimiter).
  bool TighterThan(const RateLimitStatus& other) const;
  // RateLimit-Limit/Remaining/Reset/Policy, and Retry-After when exceeded.
  void AppendHeaders(std::vector<std::pair<std::string, std::string>>& headers) const;
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // Lets maps keyed by std::string be searched with a string_view, without a copy.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // At most about `max_keys` keys are tracked; past that, windows that have closed are dropped,
  // and a new key that still finds no room is let through untracked (counted by untracked()),
  // as the reference fails open when its store fails, rather than resetting someone's count.
  explicit RateLimiter(RateLimit limit, std::size_t max_keys = 100'000,
                       std::function<Clock::time_point()> now = Clock::now);

  // Takes one point from `key`'s window.
  RateLimitStatus Consume(std::string_view key);

  const RateLimit& limit() const { return limit_; }
  std::size_t keys() const;
  std::uint64_t untracked() const;

 private:
  struct Window {
    std::uint32_t used = 0;
    Clock::time_point closes;
  };
  // Sharded so that event-loop threads rarely wait on each other.
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Window, Hash, std::equal_to<>> windows;
    std::uint64_t untracked = 0;
    Clock::time_point next_sweep;
  };
  static constexpr std::size_t kShards = 16;

  RateLimit limit_;
  std::size_t max_keys_per_shard_;
  std::function<Clock::time_point()> now_;
  std::array<Shard, kShards> shards_;
};

// The limits a server applies, each keyed and placed as in xrpc-server: `global` per client
// address before routing; `per_caller` (every method together) and `per_method` after params,
// auth and input, per caller DID (the client address when anonymous).
struct RateLimitOptions {
  RateLimit global;
  RateLimit per_caller;
  std::vector<std::pair<std::string, RateLimit>> per_method;  // NSID, limit
  std::size_t max_keys = 100'000;                             // per limiter
};

class RateLimits {
 public:
  explicit RateLimits(
      const RateLimitOptions& options,
      std::function<RateLimiter::Clock::time_point()> now = RateLimiter::Clock::now);

  // nullopt when no limit applies.
  std::optional<RateLimitStatus> ConsumeGlobal(std::string_view client_address);
  std::optional<RateLimitStatus> ConsumeRoute(std::string_view nsid, std::string_view caller_did,
                                              std::string_view client_address);

  // Prometheus lines: keys tracked and requests let through untracked, per limiter.
  std::string RenderMetrics() const;

 private:
  std::unique_ptr<RateLimiter> global_;
  std::unique_ptr<RateLimiter> per_caller_;
  std::unordered_map<std::string, std::unique_ptr<RateLimiter>, RateLimiter::Hash,
                     std::equal_to<>>
      per_method_;
};

// Whom limits count a peer as, from "1.2.3.4:port", "[v6]:port", "1.2.3.4" or "[v6]" (as a
// session records it): "1.2.3.4" for IPv4 (also IPv4-mapped IPv6), "2001:db8:1:2::/64" for
// IPv6, whose low 64 bits a client can change at will.
std::string ClientAddress(std::string_view remote);

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_RATE_LIMIT_H_
