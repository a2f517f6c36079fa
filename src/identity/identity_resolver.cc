#include "identity/identity_resolver.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <utility>

namespace atipay::identity {

IdentityResolver::IdentityResolver(std::unique_ptr<DidResolver> source, CacheOptions options,
                                   const auth::Clock& clock)
    : source_(std::move(source)), options_(options), clock_(clock) {
  if (options_.background_refresh) refresher_ = std::thread([this] { RefreshLoop(); });
}

IdentityResolver::~IdentityResolver() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  // Bounded: a refresh in progress ends within the HTTP client's request timeout.
  if (refresher_.joinable()) refresher_.join();
}

IdentityResolver::Shard& IdentityResolver::ShardFor(std::string_view did) {
  return shards_[std::hash<std::string_view>{}(did) % kShards];
}

IdentityResolver::Result IdentityResolver::Resolve(std::string_view did, bool force_refresh) {
  std::string key(did);
  if (std::shared_ptr<const Identity> cached = Cached(key, force_refresh)) return cached;
  if (std::optional<ResolveError> failed = RecentFailure(key)) return std::move(*failed);
  return Fetch(key);
}

std::optional<ResolveError> IdentityResolver::RecentFailure(const std::string& did) {
  Shard& shard = ShardFor(did);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.failures.find(did);
  if (it == shard.failures.end()) return std::nullopt;
  if (clock_.Now() - it->second.at >= options_.failure_ttl) {
    shard.failures.erase(it);
    return std::nullopt;
  }
  return it->second.error;
}

std::shared_ptr<const Identity> IdentityResolver::Cached(const std::string& key,
                                                         bool force_refresh) {
  Shard& shard = ShardFor(key);
  const auth::Clock::TimePoint now = clock_.Now();
  bool queue = false;
  std::shared_ptr<const Identity> stale;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end()) {
      Entry& e = it->second;
      const auto age = now - e.fetched_at;
      const bool may_refetch = now - e.last_attempt >= options_.min_refresh_interval;
      if (force_refresh) {
        if (!may_refetch || !TakeForcedRefresh(now)) return e.value;
      } else if (age < options_.fresh_ttl) {
        return e.value;  // the fast path
      } else if (age < options_.max_ttl && options_.background_refresh) {
        if (!e.refresh_queued && may_refetch) {
          e.refresh_queued = true;
          queue = true;
        }
        stale = e.value;
      }
    }
  }
  if (queue) QueueRefresh(key);
  return stale;
}

bool IdentityResolver::TakeForcedRefresh(auth::Clock::TimePoint now) {
  if (options_.max_forced_refreshes_per_second == 0) return true;
  std::lock_guard<std::mutex> lock(forced_mu_);
  if (now - forced_window_ >= std::chrono::seconds(1) || now < forced_window_) {
    forced_window_ = now;
    forced_in_window_ = 0;
  }
  if (forced_in_window_ >= options_.max_forced_refreshes_per_second) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ++forced_in_window_;
  return true;
}

auth::KeyResolver::Result IdentityResolver::ResolveKey(std::string_view did, bool force_refresh) {
  return KeyOf(Resolve(did, force_refresh), did);
}

std::optional<auth::KeyResolver::Result> IdentityResolver::ResolveKeyCached(std::string_view did) {
  std::shared_ptr<const Identity> cached = Cached(std::string(did), false);
  if (!cached) return std::nullopt;
  return KeyOf(cached, did);
}

auth::KeyResolver::Result IdentityResolver::KeyOf(const Result& r, std::string_view did) {
  if (auto* e = std::get_if<ResolveError>(&r)) return e->ToXrpcError();
  const std::shared_ptr<const Identity>& identity = std::get<0>(r);
  if (!identity->signing) {
    return xrpc::XrpcError{
        401, "AuthenticationRequired",
        "DID document of " + std::string(did) + " has no usable #atproto signing key"};
  }
  return identity->signing;
}

void IdentityResolver::Invalidate(std::string_view did) {
  Shard& shard = ShardFor(did);
  std::lock_guard<std::mutex> lock(shard.mu);
  shard.entries.erase(std::string(did));
  shard.failures.erase(std::string(did));
}

std::size_t IdentityResolver::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.entries.size();
  }
  return n;
}

IdentityResolver::Result IdentityResolver::Fetch(const std::string& did) {
  Shard& shard = ShardFor(did);
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.flights.find(did);
    if (it != shard.flights.end()) {
      flight = it->second;
    } else {
      flight = std::make_shared<Flight>();
      shard.flights.emplace(did, flight);
      leader = true;
    }
  }
  if (!leader) {
    std::unique_lock<std::mutex> lock(flight->mu);
    flight->cv.wait(lock, [&] { return flight->done; });
    return flight->result;
  }
  Result result = FetchFromSource(did);
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    Store(shard, did, result);
    shard.flights.erase(did);
  }
  {
    std::lock_guard<std::mutex> lock(flight->mu);
    flight->result = result;
    flight->done = true;
  }
  flight->cv.notify_all();
  return result;
}

IdentityResolver::Result IdentityResolver::FetchFromSource(const std::string& did) {
  fetches_.fetch_add(1, std::memory_order_relaxed);
  try {
    ResolveResult r = source_->Resolve(did);
    if (auto* e = std::get_if<ResolveError>(&r)) return std::move(*e);
    auto identity = std::make_shared<Identity>();
    identity->document = std::get<DidDocument>(std::move(r));
    if (std::optional<auth::PublicKey> key = identity->document.AtprotoKey()) {
      identity->signing = std::make_shared<const auth::IssuerKey>(auth::IssuerKey{
          std::move(*key), identity->document.PdsEndpoint(), identity->document.Handle()});
    }
    return std::shared_ptr<const Identity>(std::move(identity));
  } catch (const std::exception& e) {
    return ResolveError{ResolveError::Kind::kUpstream,
                        std::string("resolver failure: ") + e.what()};
  }
}

void IdentityResolver::Store(Shard& shard, const std::string& did, const Result& result) {
  const auth::Clock::TimePoint now = clock_.Now();
  const std::size_t cap = std::max<std::size_t>(1, options_.max_entries / kShards);
  if (auto* e = std::get_if<ResolveError>(&result)) {
    auto it = shard.entries.find(did);
    if (it == shard.entries.end()) {
      // A DID refused without a fetch (bad syntax, a method we do not resolve) costs nothing to
      // refuse again: remembered, such DIDs, any number of which a token may name, would only
      // push out the failures that spare us a fetch.
      if (!e->CostsAFetch()) return;
      if (shard.failures.size() >= cap && !shard.failures.contains(did)) {
        std::erase_if(shard.failures,
                      [&](const auto& kv) { return now - kv.second.at >= options_.failure_ttl; });
        if (shard.failures.size() >= cap) shard.failures.erase(shard.failures.begin());
      }
      shard.failures.insert_or_assign(did, Failure{*e, now});
      return;
    }
    if (e->IsUpstream()) {
      // Keep serving what we had (until max_ttl); try again after min_refresh_interval.
      it->second.last_attempt = now;
      it->second.refresh_queued = false;
    } else {
      shard.entries.erase(it);  // the DID is gone or its document broke: stop trusting it
    }
    return;
  }
  shard.failures.erase(did);
  if (shard.entries.size() >= cap && !shard.entries.contains(did)) {
    std::erase_if(shard.entries,
                  [&](const auto& kv) { return now - kv.second.fetched_at >= options_.max_ttl; });
    if (shard.entries.size() >= cap) shard.entries.erase(shard.entries.begin());
  }
  shard.entries[did] = Entry{std::get<0>(result), now, now, false};
}

void IdentityResolver::QueueRefresh(const std::string& did) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) return;
    queue_.push_back(did);
  }
  queue_cv_.notify_one();
}

void IdentityResolver::RefreshLoop() {
  while (true) {
    std::string did;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      did = std::move(queue_.front());
      queue_.pop_front();
    }
    Fetch(did);
  }
}

}  // namespace atipay::identity
