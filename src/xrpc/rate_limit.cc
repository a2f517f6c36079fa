#include "xrpc/rate_limit.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

namespace atipay::xrpc {
namespace {

using std::chrono::milliseconds;

std::optional<std::uint64_t> ParseNumber(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The part of a limiter's name that Prometheus labels may hold as it is.
std::string Label(std::string_view name) {
  std::string out;
  for (char c : name) out += (c == '"' || c == '\\' || c == '\n') ? '_' : c;
  return out;
}

}  // namespace

std::optional<RateLimit> RateLimit::Parse(std::string_view text) {
  if (text == "off" || text == "0") return RateLimit{};
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto points = ParseNumber(text.substr(0, slash));
  auto seconds = ParseNumber(text.substr(slash + 1));
  if (!points || !seconds || *points == 0 || *seconds == 0 ||
      *points > std::numeric_limits<std::uint32_t>::max() || *seconds > 366L * 86400) {
    return std::nullopt;
  }
  return RateLimit{static_cast<std::uint32_t>(*points), std::chrono::seconds(*seconds)};
}

bool RateLimitStatus::TighterThan(const RateLimitStatus& other) const {
  if (exceeded != other.exceeded) return exceeded;
  return remaining < other.remaining;
}

void RateLimitStatus::AppendHeaders(
    std::vector<std::pair<std::string, std::string>>& headers) const {
  headers.emplace_back("RateLimit-Limit", std::to_string(limit));
  headers.emplace_back("RateLimit-Remaining", std::to_string(remaining));
  headers.emplace_back("RateLimit-Reset", std::to_string(reset_unix));
  headers.emplace_back("RateLimit-Policy",
                       std::to_string(limit) + ";w=" + std::to_string(window_seconds));
  if (exceeded) {
    headers.emplace_back("Retry-After", std::to_string((retry_after.count() + 999) / 1000));
  }
}

RateLimiter::RateLimiter(RateLimit limit, std::size_t max_keys,
                         std::function<Clock::time_point()> now)
    : limit_(limit),
      max_keys_per_shard_(std::max<std::size_t>(1, max_keys / kShards)),
      now_(std::move(now)) {}

RateLimitStatus RateLimiter::Consume(std::string_view key) {
  const Clock::time_point now = now_();
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  Window window{0, now + limit_.window};
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.windows.find(key);
    bool found = it != shard.windows.end();
    if (!found && shard.windows.size() >= max_keys_per_shard_ && now >= shard.next_sweep) {
      // At most once a second, so that a flood of new keys does not make every request scan.
      std::erase_if(shard.windows, [now](const auto& entry) { return entry.second.closes <= now; });
      shard.next_sweep = now + std::chrono::seconds(1);
    }
    if (!found && shard.windows.size() >= max_keys_per_shard_) {
      ++shard.untracked;
      window.used = 1;
    } else {
      if (!found) it = shard.windows.emplace(std::string(key), window).first;
      if (it->second.closes <= now) it->second = window;
      if (it->second.used < std::numeric_limits<std::uint32_t>::max()) ++it->second.used;
      window = it->second;
    }
  }
  RateLimitStatus status;
  status.limit = limit_.points;
  status.remaining = window.used >= limit_.points ? 0 : limit_.points - window.used;
  status.exceeded = window.used > limit_.points;
  status.window_seconds = limit_.window.count();
  const auto left = std::chrono::ceil<milliseconds>(window.closes - now);
  status.retry_after = left;
  const auto reset = std::chrono::system_clock::now() + left;
  status.reset_unix = std::chrono::ceil<std::chrono::seconds>(reset.time_since_epoch()).count();
  return status;
}

std::size_t RateLimiter::keys() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.windows.size();
  }
  return n;
}

std::uint64_t RateLimiter::untracked() const {
  std::uint64_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.untracked;
  }
  return n;
}

RateLimits::RateLimits(const RateLimitOptions& options,
                       std::function<RateLimiter::Clock::time_point()> now) {
  auto make = [&](const RateLimit& limit) -> std::unique_ptr<RateLimiter> {
    if (!limit.enabled()) return nullptr;
    return std::make_unique<RateLimiter>(limit, options.max_keys, now);
  };
  global_ = make(options.global);
  per_caller_ = make(options.per_caller);
  for (const auto& [nsid, limit] : options.per_method) {
    if (auto limiter = make(limit)) per_method_[nsid] = std::move(limiter);
  }
}

std::optional<RateLimitStatus> RateLimits::ConsumeGlobal(std::string_view client_address) {
  if (!global_) return std::nullopt;
  return global_->Consume(client_address);
}

std::optional<RateLimitStatus> RateLimits::ConsumeRoute(std::string_view nsid,
                                                        std::string_view caller_did,
                                                        std::string_view client_address) {
  // A DID, or an address for anonymous calls: the two cannot collide (a DID starts "did:").
  const std::string_view key = caller_did.empty() ? client_address : caller_did;
  std::optional<RateLimitStatus> tightest;
  auto consume = [&](RateLimiter& limiter) {
    RateLimitStatus status = limiter.Consume(key);
    if (!tightest || status.TighterThan(*tightest)) tightest = status;
  };
  if (per_caller_) consume(*per_caller_);
  if (!per_method_.empty()) {
    auto it = per_method_.find(nsid);
    if (it != per_method_.end()) consume(*it->second);
  }
  return tightest;
}

std::string RateLimits::RenderMetrics() const {
  std::vector<std::pair<std::string, const RateLimiter*>> limiters;
  if (global_) limiters.emplace_back("global", global_.get());
  if (per_caller_) limiters.emplace_back("caller", per_caller_.get());
  for (const auto& [nsid, limiter] : per_method_) limiters.emplace_back(nsid, limiter.get());
  if (limiters.empty()) return {};
  std::string keys =
      "# HELP atipay_rate_limit_keys Clients with a window open, per limiter.\n"
      "# TYPE atipay_rate_limit_keys gauge\n";
  std::string untracked =
      "# HELP atipay_rate_limit_untracked_total Requests let through because a limiter was "
      "full.\n"
      "# TYPE atipay_rate_limit_untracked_total counter\n";
  for (const auto& [name, limiter] : limiters) {
    const std::string label = "{limiter=\"" + Label(name) + "\"} ";
    keys += "atipay_rate_limit_keys" + label + std::to_string(limiter->keys()) + "\n";
    untracked +=
        "atipay_rate_limit_untracked_total" + label + std::to_string(limiter->untracked()) + "\n";
  }
  return keys + untracked;
}

std::string ClientAddress(std::string_view remote) {
  if (remote.empty() || remote.front() != '[') {
    return std::string(remote.substr(0, remote.find(':')));
  }
  std::size_t close = remote.find(']');
  std::string_view text = close == std::string_view::npos ? remote : remote.substr(1, close - 1);
  boost::system::error_code bad;
  auto address = boost::asio::ip::make_address_v6(text, bad);
  if (bad) return std::string(text);
  if (address.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address).to_string();
  }
  // One subscriber or host gets a whole /64 to pick addresses from: counted as one client.
  auto bytes = address.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::make_address_v6(bytes).to_string() + "/64";
}

}  // namespace atipay::xrpc
