// IdentityResolver: DID -> document and signing key, cached. Fresh entries are served from
// memory; stale ones are served while a background thread refreshes them; entries past
// max_ttl are fetched again before answering. Concurrent misses for one DID share a fetch.
// It is the auth::KeyResolver the service-auth verifier uses.
#ifndef ATIPAY_IDENTITY_IDENTITY_RESOLVER_H_
#define ATIPAY_IDENTITY_IDENTITY_RESOLVER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>

#include "auth/clock.h"
#include "auth/verifier.h"
#include "identity/did_document.h"
#include "identity/resolver.h"

namespace atipay::identity {

struct CacheOptions {
  // Served straight from the cache (the reference's DID cache: stale after 1 h).
  std::chrono::seconds fresh_ttl{3600};
  // Until then a stale entry is still served while refreshed in the background (max 1 day).
  std::chrono::seconds max_ttl{86400};
  // A forced re-resolution (after a failed signature) happens at most this often per DID, so
  // forged tokens cannot turn us into a load generator against the PLC directory.
  std::chrono::milliseconds min_refresh_interval{5000};
  // And at most this many forced re-resolutions per second in all: forged tokens naming many
  // cached DIDs would otherwise each cost a directory fetch, which the directory may answer by
  // rate-limiting us (and every new caller with us). A refused one keeps the cached key. 0: no cap.
  std::size_t max_forced_refreshes_per_second = 20;
  std::size_t max_entries = 100000;
  // A DID we could not resolve (and hold nothing for) answers with that failure for this long
  // without another fetch: tokens naming slow or dead did:webs, which need no valid signature
  // to make us look, cannot keep the resolving threads busy. At most max_entries of them, and
  // only failures that took a fetch (not a DID refused for its syntax or method).
  std::chrono::seconds failure_ttl{30};
  // Off: stale entries are fetched again inline, like expired ones.
  bool background_refresh = true;
};

// A resolved DID: the document and, when it has a usable #atproto key, the key. Immutable.
struct Identity {
  DidDocument document;
  std::shared_ptr<const auth::IssuerKey> signing;  // null when the document has no usable key
};

class IdentityResolver final : public auth::KeyResolver {
 public:
  using Result = std::variant<std::shared_ptr<const Identity>, ResolveError>;

  IdentityResolver(std::unique_ptr<DidResolver> source, CacheOptions options = {},
                   const auth::Clock& clock = auth::SystemClock::Instance());
  ~IdentityResolver() override;
  IdentityResolver(const IdentityResolver&) = delete;
  IdentityResolver& operator=(const IdentityResolver&) = delete;

  // force_refresh: fetch again unless the entry is younger than min_refresh_interval.
  Result Resolve(std::string_view did, bool force_refresh = false);
  // auth::KeyResolver.
  KeyResolver::Result ResolveKey(std::string_view did, bool force_refresh) override;
  std::optional<KeyResolver::Result> ResolveKeyCached(std::string_view did) override;

  // Drops the cached entry, if any.
  void Invalidate(std::string_view did);
  // Fetches that reached the source (tests and metrics).
  std::size_t fetch_count() const { return fetches_.load(std::memory_order_relaxed); }
  // Forced re-resolutions refused by max_forced_refreshes_per_second (metrics).
  std::size_t refreshes_refused() const { return refused_.load(std::memory_order_relaxed); }
  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const Identity> value;
    auth::Clock::TimePoint fetched_at;
    auth::Clock::TimePoint last_attempt;  // of a refresh, successful or not
    bool refresh_queued = false;
  };
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Result result{ResolveError{ResolveError::Kind::kUpstream, "unfinished"}};
  };
  struct Failure {
    ResolveError error;
    auth::Clock::TimePoint at;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
    std::unordered_map<std::string, Failure> failures;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights;
  };
  static constexpr std::size_t kShards = 16;

  Shard& ShardFor(std::string_view did);
  // The cached answer (queueing a background refresh when stale), or nullopt when the caller
  // must fetch.
  std::shared_ptr<const Identity> Cached(const std::string& did, bool force_refresh);
  // The failure remembered for a DID we hold nothing for, if recent.
  std::optional<ResolveError> RecentFailure(const std::string& did);
  static KeyResolver::Result KeyOf(const Result& r, std::string_view did);
  // Whether this second's budget of forced re-resolutions has room for one more (taken).
  bool TakeForcedRefresh(auth::Clock::TimePoint now);
  // One fetch per DID at a time; callers that arrive meanwhile wait for its result.
  Result Fetch(const std::string& did);
  Result FetchFromSource(const std::string& did);
  void Store(Shard& shard, const std::string& did, const Result& result);
  void QueueRefresh(const std::string& did);
  void RefreshLoop();

  std::unique_ptr<DidResolver> source_;
  CacheOptions options_;
  const auth::Clock& clock_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> fetches_{0};
  std::atomic<std::size_t> refused_{0};

  std::mutex forced_mu_;
  auth::Clock::TimePoint forced_window_{};  // start of the current one-second window
  std::size_t forced_in_window_ = 0;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_IDENTITY_RESOLVER_H_
