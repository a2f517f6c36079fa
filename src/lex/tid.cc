#include "lex/tid.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <random>
#include <utility>

namespace atipay::lex {
namespace {

constexpr std::string_view kTidChars = "234567abcdefghijklmnopqrstuvwxyz";
constexpr std::int64_t kMaxTimestampUs = (std::int64_t{1} << 53) - 1;

constexpr std::array<std::int8_t, 256> MakeTidReverse() {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  for (std::size_t i = 0; i < kTidChars.size(); ++i) {
    table[static_cast<unsigned char>(kTidChars[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr std::array<std::int8_t, 256> kTidReverse = MakeTidReverse();

std::uint32_t RandomClockId() {
  std::random_device rd;
  return rd() & kTidClockIdMask;
}

}  // namespace

std::string EncodeTid(std::uint64_t value) {
  std::string out(kTidLength, '2');
  for (std::size_t i = kTidLength; i-- > 0;) {
    out[i] = kTidChars[value & 31];
    value >>= 5;
  }
  return out;
}

std::optional<std::uint64_t> DecodeTid(std::string_view text) {
  if (text.size() != kTidLength) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    std::int8_t v = kTidReverse[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    value = (value << 5) | static_cast<std::uint64_t>(v);
  }
  // 13 x 5 = 65 bits: the first character carries the (zero) 65th bit, so it is at most 'j'.
  if (kTidReverse[static_cast<unsigned char>(text[0])] > 15) return std::nullopt;
  return value;
}

std::string MakeTid(std::int64_t timestamp_us, std::uint32_t clock_id) {
  auto ts = static_cast<std::uint64_t>(std::clamp<std::int64_t>(timestamp_us, 0, kMaxTimestampUs));
  return EncodeTid((ts << 10) | (clock_id & kTidClockIdMask));
}

std::int64_t TidClock::SystemNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TidClock::TidClock() : TidClock(&TidClock::SystemNowMicros, RandomClockId()) {}

TidClock::TidClock(TimeSource now_us, std::uint32_t clock_id)
    : now_us_(std::move(now_us)), clock_id_(clock_id & kTidClockIdMask) {}

std::string TidClock::Next() {
  std::int64_t ts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ts = std::max(now_us_(), last_us_ + 1);
    last_us_ = ts;
  }
  return MakeTid(ts, clock_id_);
}

}  // namespace atipay::lex
