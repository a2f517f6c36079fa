// Clock: wall time behind an interface, so token expiry and cache ages can be tested.
#ifndef ATIPAY_AUTH_CLOCK_H_
#define ATIPAY_AUTH_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace atipay::auth {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Must be safe to call from many threads at once.
  virtual TimePoint Now() const = 0;

  std::int64_t NowSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // One shared instance; the clock has no state.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that only moves when told to (tests, benchmarks).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = std::chrono::system_clock::now()) : now_(start) {}
  TimePoint Now() const override { return now_.load(std::memory_order_relaxed); }
  void Set(TimePoint t) { now_.store(t, std::memory_order_relaxed); }
  void SetSeconds(std::int64_t unix_seconds) { Set(TimePoint(std::chrono::seconds(unix_seconds))); }
  void Advance(std::chrono::milliseconds d) { Set(Now() + d); }

 private:
  std::atomic<TimePoint> now_;
};

}  // namespace atipay::auth

#endif  // ATIPAY_AUTH_CLOCK_H_
