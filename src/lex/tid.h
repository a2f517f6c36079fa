// TIDs (timestamp identifiers): 64-bit values (top bit 0, 53 bits of microseconds since the
// UNIX epoch, 10-bit clock id) written as 13 characters of the sortable base32 alphabet
// "234567abcdefghijklmnopqrstuvwxyz", so string order equals numeric order.
#ifndef ATIPAY_LEX_TID_H_
#define ATIPAY_LEX_TID_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace atipay::lex {

inline constexpr std::size_t kTidLength = 13;
inline constexpr std::uint32_t kTidClockIdMask = 0x3ff;

// 13 characters hold 65 bits; the extra top bit is always 0. Generated TIDs also keep bit 63
// clear (MakeTid), but the syntax the vectors accept (first character '2'..'j') admits any
// 64-bit value, so encoding and decoding cover the full uint64 range and round-trip.
std::string EncodeTid(std::uint64_t value);
// Decodes a TID; nullopt unless it matches ^[234567abcdefghij][234567a-z]{12}$.
std::optional<std::uint64_t> DecodeTid(std::string_view text);

// Builds a TID from microseconds since the epoch (clamped to 0 .. 2^53-1) and a 10-bit clock id.
std::string MakeTid(std::int64_t timestamp_us, std::uint32_t clock_id);
inline std::int64_t TidTimestampMicros(std::uint64_t tid) {
  return static_cast<std::int64_t>(tid >> 10);
}
inline std::uint32_t TidClockId(std::uint64_t tid) {
  return static_cast<std::uint32_t>(tid & kTidClockIdMask);
}

// Thread-safe generator of strictly increasing TIDs. Each call uses max(now, last + 1)
// microseconds, so it never repeats, even within one microsecond or when the system clock
// steps back.
class TidClock {
 public:
  // Microseconds since the UNIX epoch.
  using TimeSource = std::function<std::int64_t()>;

  // System clock and a random clock id.
  TidClock();
  // For tests: an injected time source; clock_id is masked to 10 bits.
  TidClock(TimeSource now_us, std::uint32_t clock_id);

  std::string Next();
  std::uint32_t clock_id() const { return clock_id_; }

  static std::int64_t SystemNowMicros();

 private:
  TimeSource now_us_;
  std::uint32_t clock_id_;
  std::mutex mu_;
  std::int64_t last_us_ = 0;  // guarded by mu_
};

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_TID_H_
