// ReplayCache: remembers (issuer, jti) pairs for as long as their token could still be
// accepted, so that a service token is accepted once.
//
// Never forgets early. A pair is kept until `expires_at` (the verifier passes exp + clock skew,
// the last second at which the token still passes the expiry check) has gone by. When a shard
// is full of pairs that are all still needed, CheckAndInsert answers kFull and remembers
// nothing; the verifier then refuses the token with 503 NotEnoughResources (the caller may
// retry with a new token). Evicting a live pair instead would let its token be replayed.
//
// Fair. Anyone with an atproto account can mint correctly signed tokens for us, as many as they
// like; without a bound per issuer one account could fill the cache and lock every other caller
// out until its tokens expire. So an issuer may hold at most `per_issuer` live pairs: beyond,
// CheckAndInsert answers kIssuerFull (the verifier: 429 RateLimitExceeded) for that issuer
// alone. Filling the cache then takes capacity / per_issuer accounts (80 with the defaults).
//
// Sizing. Live pairs = accepted tokens per second x retention, and retention is at most
// max_lifetime + 2 x clock_skew (a token may be used up to max_lifetime + skew before its exp,
// and is kept until exp + skew): 360 s with the defaults (300 s, 30 s). The default capacity,
// 4,000,000 (ServiceAuthOptions::replay_cache_size), holds 10,000 tokens/s at that worst case
// (3.6 M) with room for the uneven split between shards; the 60 s tokens PDSes mint by default
// need 90 s, 900,000 pairs at 10,000/s. Beyond that rate the cache refuses, it does not forget.
//
// Memory. A pair is a 64-bit keyed hash (SipHash-2-4 under a per-cache random key) of issuer
// and jti, stored twice: in an open-addressing table (load <= 1/2, a power of two: 16 to 32
// bytes per pair of capacity once grown) and in the expiry wheel's node pool (12 bytes, never
// grown past capacity), plus the pair's issuer hash (8 bytes) when issuers are bounded. The bound
// is 52 bytes per pair of capacity, plus 4 bytes per wheel bucket and shard, plus the old table
// for the moment a shard's table doubles: about 140 MiB for the default 4,000,000, allocated as
// pairs arrive (an idle cache takes under 300 KiB). Live issuers are counted in tables of their
// own (12 bytes a slot, load <= 1/2: 24 to 48 bytes per issuer), which are small unless
// nearly every live pair comes from an issuer of its own. Two
// different pairs share a hash with probability ~size/2^64 per insert (~2e-13 at 3.6 M); that
// only refuses the newer token as a replay (fail closed), and the random key keeps anyone from
// aiming for it.
//
// Cost. Insert, lookup and expiry are O(1) amortised: expiry walks a wheel of per-second
// buckets (coarser when the horizon is long, at most ~4,096 buckets) and removes exactly the
// pairs whose time has come; no call scans the whole cache. Sharded (16 locks, the shard
// chosen by the hash) so that concurrent verifications rarely contend; capacity and the full
// check are per shard, so a cache may refuse a little before `capacity` pairs in total (at
// 3.6 M pairs the fullest of 16 shards is typically within 0.5% of the average). Issuer counts
// have 16 locks of their own, chosen by the issuer's hash, always taken after a pair shard's.
//
// Time only moves forward here: a `now` earlier than one already seen (the clock stepped back)
// counts as the latest one, and a pair whose expires_at that latest time has passed is refused
// (kExpired) rather than taken as fresh, since it may already have been forgotten.
#ifndef ATIPAY_AUTH_REPLAY_CACHE_H_
#define ATIPAY_AUTH_REPLAY_CACHE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace atipay::auth {

class ReplayCache {
 public:
  enum class Outcome : std::uint8_t {
    kFresh,    // not seen before (or seen, but its time had passed): now remembered
    kReplay,   // seen, and still remembered: refuse the token
    kFull,     // not seen, but the shard holds `capacity` live pairs: refuse, nothing remembered
    kTooLate,  // expires_at is further than horizon_seconds past now: refuse, nothing remembered
    kExpired,  // not remembered, but expires_at is before the latest now seen: refuse
    kIssuerFull,  // not seen, but the issuer holds `per_issuer` live pairs: refuse, nothing kept
  };

  // `capacity`: most pairs remembered at once (rounded up to a multiple of the shard count).
  // `horizon_seconds`: the longest expires_at - now that CheckAndInsert will be asked to keep.
  // `per_issuer`: most live pairs of one issuer; 0 for no bound.
  ReplayCache(std::size_t capacity, std::int64_t horizon_seconds, std::size_t per_issuer = 0);
  ReplayCache(const ReplayCache&) = delete;
  ReplayCache& operator=(const ReplayCache&) = delete;

  // Remembers the pair until `expires_at` (UNIX seconds, inclusive) unless it is already
  // remembered. `now` is the current time; pairs whose expires_at is before it are dropped
  // (within one wheel slot: a second unless the horizon is over ~68 minutes).
  Outcome CheckAndInsert(std::string_view issuer, std::string_view jti, std::int64_t expires_at,
                         std::int64_t now);

  std::size_t size() const;
  std::size_t capacity() const { return shard_capacity_ * kShards; }
  // Bytes held by the tables and node pools (what grows towards the 52-bytes-a-pair bound).
  std::size_t memory_bytes() const;
  // How many fresh pairs were refused because their shard was full.
  std::uint64_t full_rejections() const { return full_rejections_.load(std::memory_order_relaxed); }
  // How many fresh pairs were refused because their issuer held `per_issuer` live pairs.
  std::uint64_t issuer_rejections() const {
    return issuer_rejections_.load(std::memory_order_relaxed);
  }
  // Live pairs remembered for `issuer` (0 when issuers are not bounded).
  std::size_t IssuerCount(std::string_view issuer) const;

  static constexpr std::size_t kShards = 16;

 private:
  static constexpr std::uint32_t kNil = 0xffffffffu;

  // Open addressing with linear probing over 64-bit hashes (0 marks an empty slot; hashes are
  // never 0), with a 32-bit count per slot when `counted`.
  struct HashTable {
    std::vector<std::uint64_t> keys;
    std::vector<std::uint32_t> counts;  // empty unless counted
    std::size_t size = 0;
    // The slot holding h, or the empty slot where its probe run ends.
    std::size_t Find(std::uint64_t h) const;
    // Doubles (up to max_slots) if one more key would load it past 1/2.
    void MakeRoom(std::size_t max_slots);
    void Put(std::size_t slot, std::uint64_t h);  // slot from Find, room made
    void Erase(std::size_t slot);
  };

  struct Shard {
    mutable std::mutex mu;
    HashTable table;
    // Expiry wheel: bucket b lists the nodes whose expires_at falls in wheel slot b.
    std::vector<std::uint32_t> bucket_head;
    std::vector<std::uint64_t> node_hash;
    std::vector<std::uint64_t> node_issuer;  // issuer hash, when issuers are bounded
    std::vector<std::uint32_t> node_next;    // next in bucket, or in the free list
    std::uint32_t free_head = kNil;
    // Every wheel slot before this one is empty (its time has passed).
    std::int64_t next_slot = 0;
    bool started = false;
  };

  // Live pairs per issuer hash.
  struct IssuerShard {
    mutable std::mutex mu;
    HashTable table;
  };

  std::uint64_t Hash(std::string_view issuer, std::string_view jti) const;
  std::uint64_t IssuerHash(std::string_view issuer) const;
  Outcome TryInsert(std::string_view issuer, std::string_view jti, std::int64_t expires_at,
                    std::int64_t now);
  void Advance(Shard& shard, std::int64_t now);
  void ReleaseIssuer(std::uint64_t issuer_hash);

  std::size_t shard_capacity_;
  std::size_t max_table_size_;         // power of two >= 2 x shard_capacity_
  std::size_t per_issuer_;             // 0: issuers are not counted
  std::size_t max_issuer_slots_;       // power of two >= 2 x capacity
  std::int64_t slot_seconds_;          // width of a wheel slot
  std::int64_t wheel_size_;            // buckets per shard
  std::uint64_t key0_ = 0, key1_ = 0;  // SipHash key
  std::atomic<std::uint64_t> full_rejections_{0};
  std::atomic<std::uint64_t> issuer_rejections_{0};
  std::array<Shard, kShards> shards_;
  std::array<IssuerShard, kShards> issuers_;
};

}  // namespace atipay::auth

#endif  // ATIPAY_AUTH_REPLAY_CACHE_H_
