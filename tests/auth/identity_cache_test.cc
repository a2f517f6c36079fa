// The identity cache's memory of failures: a DID that could not be resolved is not fetched again
// for failure_ttl, whatever the tokens naming it say.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "auth/clock.h"
#include "identity/identity_resolver.h"

namespace atipay::identity {
namespace {

constexpr char kDead[] = "did:web:dead.example";
constexpr char kOther[] = "did:web:other.example";

// A source that knows no DID and counts how often it is asked: did:key is a method it does not
// resolve, any other DID fails upstream.
class NoSuchDid final : public DidResolver {
 public:
  explicit NoSuchDid(std::atomic<int>& calls) : calls_(calls) {}
  ResolveResult Resolve(std::string_view did) const override {
    ++calls_;
    if (did.starts_with("did:key:")) {
      return ResolveError{ResolveError::Kind::kUnsupported, "unsupported DID method"};
    }
    return ResolveError{ResolveError::Kind::kUpstream, "no answer for " + std::string(did)};
  }

 private:
  std::atomic<int>& calls_;
};

TEST(IdentityCache, AFailedDidIsNotFetchedAgainUntilFailureTtl) {
  std::atomic<int> calls{0};
  auth::ManualClock clock;
  CacheOptions options;
  options.failure_ttl = std::chrono::seconds(30);
  options.background_refresh = false;
  IdentityResolver resolver(std::make_unique<NoSuchDid>(calls), options, clock);

  for (int i = 0; i < 5; ++i) {
    auto r = resolver.ResolveKey(kDead, false);
    ASSERT_TRUE(std::holds_alternative<xrpc::XrpcError>(r));
    EXPECT_EQ(std::get<xrpc::XrpcError>(r).status, 502) << "the same answer, remembered";
  }
  EXPECT_EQ(calls.load(), 1);
  resolver.ResolveKey(kOther, false);
  EXPECT_EQ(calls.load(), 2) << "failures are remembered per DID";

  clock.Advance(std::chrono::seconds(29));
  resolver.ResolveKey(kDead, false);
  EXPECT_EQ(calls.load(), 2);
  clock.Advance(std::chrono::seconds(1));
  resolver.ResolveKey(kDead, false);
  EXPECT_EQ(calls.load(), 3) << "after failure_ttl the DID is tried again";

  resolver.Invalidate(kDead);
  resolver.ResolveKey(kDead, false);
  EXPECT_EQ(calls.load(), 4) << "Invalidate forgets the failure too";
}

// A cache of 16 places, one per shard, that does not refresh in the background.
CacheOptions OnePlacePerShard() {
  CacheOptions options;
  options.max_entries = 16;
  options.background_refresh = false;
  return options;
}

TEST(IdentityCache, RememberedFailuresAreBoundedByMaxEntries) {
  std::atomic<int> calls{0};
  auth::ManualClock clock;
  IdentityResolver resolver(std::make_unique<NoSuchDid>(calls), OnePlacePerShard(), clock);
  for (int i = 0; i < 1000; ++i) resolver.ResolveKey("did:web:d" + std::to_string(i) + ".example", false);
  EXPECT_EQ(calls.load(), 1000);
  // At most one remembered per shard: asking all of them again fetches nearly all of them.
  for (int i = 0; i < 1000; ++i) resolver.ResolveKey("did:web:d" + std::to_string(i) + ".example", false);
  EXPECT_GE(calls.load(), 2000 - 16);
}

TEST(IdentityCache, FailuresWithoutAFetchAreNotRemembered) {
  std::atomic<int> calls{0};
  auth::ManualClock clock;
  IdentityResolver resolver(std::make_unique<NoSuchDid>(calls), OnePlacePerShard(), clock);
  resolver.ResolveKey(kDead, false);
  ASSERT_EQ(calls.load(), 1);
  // Tokens naming DIDs of a method we do not resolve, as many as they like, neither take
  // places nor push the dead did:web out.
  for (int i = 0; i < 1000; ++i) {
    auto r = resolver.ResolveKey("did:key:z" + std::to_string(i), false);
    ASSERT_TRUE(std::holds_alternative<xrpc::XrpcError>(r));
    EXPECT_EQ(std::get<xrpc::XrpcError>(r).status, 401);
  }
  EXPECT_EQ(calls.load(), 1001);
  resolver.ResolveKey(kDead, false);
  EXPECT_EQ(calls.load(), 1001) << "the dead did:web is still remembered";
}

}  // namespace
}  // namespace atipay::identity
