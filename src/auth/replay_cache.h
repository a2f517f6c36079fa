// ReplayCache: remembers (issuer, jti) pairs until their token expires, so a service token is
// accepted once. Bounded: when full, the entries closest to expiry go first. Sharded so that
// concurrent verifications rarely contend on one lock.
#ifndef ATIPAY_AUTH_REPLAY_CACHE_H_
#define ATIPAY_AUTH_REPLAY_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace atipay::auth {

class ReplayCache {
 public:
  explicit ReplayCache(std::size_t capacity);

  // Records the pair until `expires_at` (UNIX seconds) and returns true when it was not
  // already there (or had expired by `now`); false means a replay.
  bool CheckAndInsert(std::string_view issuer, std::string_view jti, std::int64_t expires_at,
                      std::int64_t now);

  std::size_t size() const;
  std::size_t capacity() const { return shard_capacity_ * kShards; }

 private:
  static constexpr std::size_t kShards = 16;
  using Expiry = std::pair<std::int64_t, std::string>;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::int64_t> expiry_by_key;
    // Min-heap by expiry; holds exactly the keys of expiry_by_key.
    std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> by_expiry;
  };

  std::size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace atipay::auth

#endif  // ATIPAY_AUTH_REPLAY_CACHE_H_
