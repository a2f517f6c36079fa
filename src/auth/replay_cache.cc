#include "auth/replay_cache.h"

#include <algorithm>

namespace atipay::auth {

ReplayCache::ReplayCache(std::size_t capacity)
    : shard_capacity_(std::max<std::size_t>(1, (capacity + kShards - 1) / kShards)) {}

bool ReplayCache::CheckAndInsert(std::string_view issuer, std::string_view jti,
                                 std::int64_t expires_at, std::int64_t now) {
  // '\n' cannot occur in a DID, so the joined key is unambiguous.
  std::string key;
  key.reserve(issuer.size() + 1 + jti.size());
  key.append(issuer).push_back('\n');
  key.append(jti);
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  // Drop what has expired; the heap top is always the next to go.
  while (!shard.by_expiry.empty() && shard.by_expiry.top().first < now) {
    shard.expiry_by_key.erase(shard.by_expiry.top().second);
    shard.by_expiry.pop();
  }
  if (shard.expiry_by_key.contains(key)) return false;
  while (shard.expiry_by_key.size() >= shard_capacity_) {
    shard.expiry_by_key.erase(shard.by_expiry.top().second);
    shard.by_expiry.pop();
  }
  shard.expiry_by_key.emplace(key, expires_at);
  shard.by_expiry.emplace(expires_at, std::move(key));
  return true;
}

std::size_t ReplayCache::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.expiry_by_key.size();
  }
  return n;
}

}  // namespace atipay::auth
