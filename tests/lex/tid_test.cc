#include "lex/formats.h"
#include "lex/tid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace atipay::lex {
namespace {

// The reference harness: split on \r?\n, drop empty lines and lines starting with '#', no trim.
std::vector<std::string> ReadCases(const std::string& relative) {
  std::ifstream in(std::string(ATIPAY_TEST_DATA) + relative);
  EXPECT_TRUE(in) << relative;
  std::vector<std::string> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    cases.push_back(line);
  }
  return cases;
}

TEST(Tid, InteropSyntaxVectors) {
  auto valid = ReadCases("/interop/syntax/tid_syntax_valid.txt");
  auto invalid = ReadCases("/interop/syntax/tid_syntax_invalid.txt");
  ASSERT_EQ(valid.size(), 4u);
  ASSERT_EQ(invalid.size(), 9u);
  // The monorepo copy of the vectors adds these (see tests/data/interop/INDEX.md).
  for (const char* extra : {"a222222222222", "j222222222222", "azzzzzzzzzzzz"}) {
    valid.push_back(extra);
  }
  for (const auto& tid : valid) {
    auto value = DecodeTid(tid);
    ASSERT_TRUE(value) << tid;
    EXPECT_EQ(EncodeTid(*value), tid);
    EXPECT_TRUE(IsValidTid(tid));
  }
  for (const auto& tid : invalid) EXPECT_FALSE(IsValidTid(tid)) << tid;
}

TEST(Tid, EncodingBoundaries) {
  EXPECT_EQ(EncodeTid(0), "2222222222222");
  EXPECT_EQ(EncodeTid(1), "2222222222223");
  EXPECT_EQ(EncodeTid(31), "222222222222z");
  EXPECT_EQ(EncodeTid(32), "2222222222232");
  // Largest value with bit 63 clear, as generators produce.
  EXPECT_EQ(EncodeTid((std::uint64_t{1} << 63) - 1), "bzzzzzzzzzzzz");
  // The syntax admits first characters up to 'j': the full uint64 range.
  EXPECT_EQ(EncodeTid(~std::uint64_t{0}), "jzzzzzzzzzzzz");
  EXPECT_EQ(DecodeTid("jzzzzzzzzzzzz"), ~std::uint64_t{0});
  EXPECT_FALSE(DecodeTid("kzzzzzzzzzzzz"));  // would need a 65th bit
  EXPECT_FALSE(DecodeTid(""));
}

TEST(Tid, TimestampAndClockIdFields) {
  // 2023-03-01T00:00:00Z in microseconds.
  const std::int64_t ts = 1677628800000000;
  std::string tid = MakeTid(ts, 17);
  auto value = DecodeTid(tid);
  ASSERT_TRUE(value);
  EXPECT_EQ(TidTimestampMicros(*value), ts);
  EXPECT_EQ(TidClockId(*value), 17u);
  EXPECT_EQ(*value, (static_cast<std::uint64_t>(ts) << 10) | 17);
  EXPECT_TRUE(tid.starts_with("3"));  // TIDs of the 2020s start with '3'
  EXPECT_EQ(TidClockId(*DecodeTid(MakeTid(ts, 0xffff))), 0x3ffu);  // clock id masked to 10 bits
  EXPECT_EQ(MakeTid(-5, 0), "2222222222222");                      // negative time clamps to 0
  EXPECT_EQ(MakeTid(std::numeric_limits<std::int64_t>::max(), 1023), "bzzzzzzzzzzzz");  // 53 bits
}

TEST(Tid, StringOrderEqualsNumericOrder) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t a = rng() >> 1;
    std::uint64_t b = rng() >> (1 + i % 40);
    EXPECT_EQ(a < b, EncodeTid(a) < EncodeTid(b)) << a << " " << b;
  }
}

TEST(TidClock, StrictlyIncreasingWhenTimeStallsOrStepsBack) {
  std::int64_t now = 1700000000000000;
  TidClock clock([&now] { return now; }, 5);
  EXPECT_EQ(clock.clock_id(), 5u);
  std::string a = clock.Next();
  std::string b = clock.Next();  // same microsecond
  now -= 1000000;                // the system clock steps back a second
  std::string c = clock.Next();
  now += 5000000;  // and later well past the previous values
  std::string d = clock.Next();
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  EXPECT_EQ(TidTimestampMicros(*DecodeTid(a)), 1700000000000000);
  EXPECT_EQ(TidTimestampMicros(*DecodeTid(b)), 1700000000000001);
  EXPECT_EQ(TidTimestampMicros(*DecodeTid(c)), 1700000000000002);
  EXPECT_EQ(TidTimestampMicros(*DecodeTid(d)), now);
  for (const auto& tid : {a, b, c, d}) EXPECT_EQ(TidClockId(*DecodeTid(tid)), 5u);
}

TEST(TidClock, ThreadSafeAndUnique) {
  std::atomic<std::int64_t> now{1700000000000000};
  TidClock clock([&now] { return now.load(); }, 1);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        results[t].push_back(clock.Next());
        if (i % 100 == 0) now.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& r : results) {
    EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
    EXPECT_EQ(std::adjacent_find(r.begin(), r.end()), r.end());
    all.insert(r.begin(), r.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(TidClock, DefaultUsesTheSystemClock) {
  TidClock clock;
  EXPECT_LT(clock.clock_id(), 1024u);
  std::int64_t before = TidClock::SystemNowMicros();
  std::string tid = clock.Next();
  std::int64_t after = TidClock::SystemNowMicros();
  ASSERT_TRUE(IsValidTid(tid));
  std::int64_t ts = TidTimestampMicros(*DecodeTid(tid));
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, after + 1);
  EXPECT_EQ(TidClockId(*DecodeTid(tid)), clock.clock_id());
  EXPECT_LT(tid, clock.Next());
}

}  // namespace
}  // namespace atipay::lex
