#include "auth/replay_cache.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

namespace atipay::auth {
namespace {

constexpr std::int64_t kMaxWheelSlots = 4096;
constexpr std::size_t kInitialTableSize = 64;

std::uint64_t Rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// SipHash-2-4 (Aumasson and Bernstein), 64-bit output.
std::uint64_t SipHash24(std::uint64_t k0, std::uint64_t k1, const unsigned char* in,
                        std::size_t len) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  std::uint64_t v3 = 0x7465646279746573ULL ^ k1;
  auto round = [&] {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  };
  auto load = [](const unsigned char* p, std::size_t n) {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < n; ++i) m |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return m;
  };
  const std::size_t whole = len & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    std::uint64_t m = load(in + i, 8);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t last = (static_cast<std::uint64_t>(len) << 56) | load(in + whole, len - whole);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::size_t Mod(std::int64_t a, std::int64_t b) {
  const std::int64_t m = a % b;
  return static_cast<std::size_t>(m < 0 ? m + b : m);
}

std::size_t RoundUpPow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

ReplayCache::ReplayCache(std::size_t capacity, std::int64_t horizon_seconds,
                         std::size_t per_issuer)
    // Node indices are 32-bit; 2^31 pairs a shard is far beyond any memory we would give it.
    : shard_capacity_(std::clamp<std::size_t>(capacity / kShards + (capacity % kShards != 0), 1,
                                              std::size_t{1} << 31)),
      per_issuer_(per_issuer) {
  max_table_size_ = RoundUpPow2(2 * shard_capacity_);
  // Live issuers are at most the live pairs, which is all any one issuer table could hold.
  max_issuer_slots_ = RoundUpPow2(2 * shard_capacity_ * kShards);
  const std::int64_t horizon = std::max<std::int64_t>(0, horizon_seconds);
  // Slots wide enough that the wheel stays small; a pair is then kept at most one slot longer.
  slot_seconds_ = std::max<std::int64_t>(1, (horizon + kMaxWheelSlots) / kMaxWheelSlots);
  // A pair due at most `horizon` after now lands at most horizon / slot + 1 slots ahead.
  wheel_size_ = horizon / slot_seconds_ + 2;
  unsigned char key[16];
  if (RAND_bytes(key, sizeof(key)) != 1) {
    std::random_device rd;
    for (unsigned char& b : key) b = static_cast<unsigned char>(rd());
  }
  std::memcpy(&key0_, key, 8);
  std::memcpy(&key1_, key + 8, 8);
  for (Shard& shard : shards_) {
    shard.table.keys.assign(std::min(kInitialTableSize, max_table_size_), 0);
    shard.bucket_head.assign(static_cast<std::size_t>(wheel_size_), kNil);
  }
  if (per_issuer_ != 0) {
    for (IssuerShard& issuers : issuers_) {
      issuers.table.keys.assign(kInitialTableSize, 0);
      issuers.table.counts.assign(kInitialTableSize, 0);
    }
  }
}

std::uint64_t ReplayCache::Hash(std::string_view issuer, std::string_view jti) const {
  // Length-prefixed, so that no two (issuer, jti) pairs make the same input.
  const std::size_t len = 8 + issuer.size() + jti.size();
  unsigned char stack[512];
  std::string heap;
  unsigned char* buf = stack;
  if (len > sizeof(stack)) {
    heap.resize(len);
    buf = reinterpret_cast<unsigned char*>(heap.data());
  }
  const std::uint64_t issuer_len = issuer.size();
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(issuer_len >> (8 * i));
  std::memcpy(buf + 8, issuer.data(), issuer.size());
  std::memcpy(buf + 8 + issuer.size(), jti.data(), jti.size());
  std::uint64_t h = SipHash24(key0_, key1_, buf, len);
  return h == 0 ? 1 : h;  // 0 marks an empty table slot
}

std::uint64_t ReplayCache::IssuerHash(std::string_view issuer) const {
  // Another key than the pairs', so that the two hashes are unrelated.
  std::uint64_t h = SipHash24(~key0_, key1_, reinterpret_cast<const unsigned char*>(issuer.data()),
                              issuer.size());
  return h == 0 ? 1 : h;
}

ReplayCache::Outcome ReplayCache::CheckAndInsert(std::string_view issuer, std::string_view jti,
                                                 std::int64_t expires_at, std::int64_t now) {
  const Outcome outcome = TryInsert(issuer, jti, expires_at, now);
  if (outcome != Outcome::kIssuerFull) return outcome;
  // Shards expire their pairs when traffic reaches them, so an issuer's count may still hold
  // pairs whose time has passed in shards nothing has touched since. Bring every shard up to
  // date and look again before refusing (the price falls on refused tokens only).
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    Advance(shard, now);
  }
  const Outcome again = TryInsert(issuer, jti, expires_at, now);
  if (again == Outcome::kIssuerFull) issuer_rejections_.fetch_add(1, std::memory_order_relaxed);
  return again;
}

ReplayCache::Outcome ReplayCache::TryInsert(std::string_view issuer, std::string_view jti,
                                            std::int64_t expires_at, std::int64_t now) {
  const std::uint64_t h = Hash(issuer, jti);
  Shard& shard = shards_[h >> 60];  // top bits pick the shard, low bits the table slot
  static_assert(kShards == 16);
  std::lock_guard<std::mutex> lock(shard.mu);
  Advance(shard, now);
  std::size_t at = shard.table.Find(h);
  if (shard.table.keys[at] == h) return Outcome::kReplay;
  const std::int64_t slot = FloorDiv(expires_at, slot_seconds_);
  // Its slot has been emptied already: had the pair been here, it could be gone by now.
  if (slot < shard.next_slot) return Outcome::kExpired;
  if (slot - shard.next_slot >= wheel_size_) return Outcome::kTooLate;
  if (shard.table.size >= shard_capacity_) {
    full_rejections_.fetch_add(1, std::memory_order_relaxed);
    return Outcome::kFull;
  }
  // Everything that allocates comes first, so that a bad_alloc leaves the cache as it was.
  const std::size_t slots = shard.table.keys.size();
  shard.table.MakeRoom(max_table_size_);
  if (shard.table.keys.size() != slots) at = shard.table.Find(h);
  if (shard.free_head == kNil && shard.node_hash.size() == shard.node_hash.capacity()) {
    // Double, but never past the shard's capacity, which bounds the pool exactly.
    const std::size_t room =
        std::min(std::max<std::size_t>(64, 2 * shard.node_hash.size()), shard_capacity_);
    shard.node_hash.reserve(room);
    shard.node_next.reserve(room);
    if (per_issuer_ != 0) shard.node_issuer.reserve(room);
  }
  std::uint64_t ih = 0;
  if (per_issuer_ != 0) {
    ih = IssuerHash(issuer);
    IssuerShard& issuers = issuers_[ih >> 60];
    std::lock_guard<std::mutex> issuer_lock(issuers.mu);  // after the pair shard's, always
    std::size_t i = issuers.table.Find(ih);
    if (issuers.table.keys[i] == ih) {
      if (issuers.table.counts[i] >= per_issuer_) return Outcome::kIssuerFull;
      ++issuers.table.counts[i];
    } else {
      issuers.table.MakeRoom(max_issuer_slots_);
      i = issuers.table.Find(ih);
      issuers.table.Put(i, ih);
      issuers.table.counts[i] = 1;
    }
  }
  shard.table.Put(at, h);
  std::uint32_t node;
  if (shard.free_head != kNil) {
    node = shard.free_head;
    shard.free_head = shard.node_next[node];
    shard.node_hash[node] = h;
    if (per_issuer_ != 0) shard.node_issuer[node] = ih;
  } else {
    node = static_cast<std::uint32_t>(shard.node_hash.size());
    shard.node_hash.push_back(h);  // within the capacity reserved above
    shard.node_next.push_back(kNil);
    if (per_issuer_ != 0) shard.node_issuer.push_back(ih);
  }
  std::uint32_t& head = shard.bucket_head[Mod(slot, wheel_size_)];
  shard.node_next[node] = head;
  head = node;
  return Outcome::kFresh;
}

void ReplayCache::Advance(Shard& shard, std::int64_t now) {
  // Slot s holds pairs due by (s + 1) * slot_seconds_ - 1: over once that is before `now`.
  const std::int64_t current = FloorDiv(now, slot_seconds_);
  if (!shard.started) {
    shard.started = true;
    shard.next_slot = current;
    return;
  }
  if (current <= shard.next_slot) return;  // also when the clock steps back
  const std::int64_t steps = std::min(current - shard.next_slot, wheel_size_);
  for (std::int64_t i = 0; i < steps; ++i) {
    std::uint32_t& head = shard.bucket_head[Mod(shard.next_slot + i, wheel_size_)];
    for (std::uint32_t node = head; node != kNil;) {
      const std::uint32_t next = shard.node_next[node];
      shard.table.Erase(shard.table.Find(shard.node_hash[node]));
      if (per_issuer_ != 0) ReleaseIssuer(shard.node_issuer[node]);
      shard.node_next[node] = shard.free_head;
      shard.free_head = node;
      node = next;
    }
    head = kNil;
  }
  shard.next_slot = current;
}

void ReplayCache::ReleaseIssuer(std::uint64_t issuer_hash) {
  IssuerShard& issuers = issuers_[issuer_hash >> 60];
  std::lock_guard<std::mutex> lock(issuers.mu);
  const std::size_t i = issuers.table.Find(issuer_hash);
  if (issuers.table.keys[i] != issuer_hash) return;  // cannot happen
  if (--issuers.table.counts[i] == 0) issuers.table.Erase(i);
}

std::size_t ReplayCache::HashTable::Find(std::uint64_t h) const {
  const std::size_t mask = keys.size() - 1;
  std::size_t i = h & mask;
  while (keys[i] != h && keys[i] != 0) i = (i + 1) & mask;
  return i;
}

void ReplayCache::HashTable::Put(std::size_t slot, std::uint64_t h) {
  keys[slot] = h;
  ++size;
}

void ReplayCache::HashTable::Erase(std::size_t hole) {
  if (keys[hole] == 0) return;  // not there (cannot happen)
  const std::size_t mask = keys.size() - 1;
  // Backward-shift deletion: pull later members of the probe run into the hole when the hole
  // lies between their home slot and where they sit, so that no lookup stops short.
  for (std::size_t j = (hole + 1) & mask; keys[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = keys[j] & mask;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      keys[hole] = keys[j];
      if (!counts.empty()) counts[hole] = counts[j];
      hole = j;
    }
  }
  keys[hole] = 0;
  if (!counts.empty()) counts[hole] = 0;
  --size;
}

void ReplayCache::HashTable::MakeRoom(std::size_t max_slots) {
  if ((size + 1) * 2 <= keys.size() || keys.size() >= max_slots) return;
  const std::size_t slots = std::min(keys.size() * 2, max_slots);
  std::vector<std::uint64_t> bigger(slots, 0);
  std::vector<std::uint32_t> bigger_counts(counts.empty() ? 0 : slots, 0);
  const std::size_t mask = slots - 1;
  for (std::size_t j = 0; j < keys.size(); ++j) {
    if (keys[j] == 0) continue;
    std::size_t i = keys[j] & mask;
    while (bigger[i] != 0) i = (i + 1) & mask;
    bigger[i] = keys[j];
    if (!counts.empty()) bigger_counts[i] = counts[j];
  }
  keys.swap(bigger);
  counts.swap(bigger_counts);
}

std::size_t ReplayCache::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.table.size;
  }
  return n;
}

std::size_t ReplayCache::memory_bytes() const {
  auto table_bytes = [](const HashTable& table) {
    return table.keys.capacity() * sizeof(std::uint64_t) +
           table.counts.capacity() * sizeof(std::uint32_t);
  };
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += table_bytes(shard.table) + shard.bucket_head.capacity() * sizeof(std::uint32_t) +
         shard.node_hash.capacity() * sizeof(std::uint64_t) +
         shard.node_issuer.capacity() * sizeof(std::uint64_t) +
         shard.node_next.capacity() * sizeof(std::uint32_t);
  }
  for (const IssuerShard& issuers : issuers_) {
    std::lock_guard<std::mutex> lock(issuers.mu);
    n += table_bytes(issuers.table);
  }
  return n;
}

std::size_t ReplayCache::IssuerCount(std::string_view issuer) const {
  if (per_issuer_ == 0) return 0;
  const std::uint64_t ih = IssuerHash(issuer);
  const IssuerShard& issuers = issuers_[ih >> 60];
  std::lock_guard<std::mutex> lock(issuers.mu);
  const std::size_t i = issuers.table.Find(ih);
  return issuers.table.keys[i] == ih ? issuers.table.counts[i] : 0;
}

}  // namespace atipay::auth
