// Prometheus metrics for the server: requests by method and status, a latency histogram per
// method, in-flight requests and open connections. Lock-free on the request path: every method
// has a fixed slot made before the server starts, so label cardinality stays bounded (NSIDs
// we do not serve share the "_unknown" slot).
#ifndef ATIPAY_XRPC_METRICS_H_
#define ATIPAY_XRPC_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace atipay::xrpc {

class MethodMetrics {
 public:
  static constexpr std::array<double, 16> kBucketsSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,     2.5,   5,     10};

  explicit MethodMetrics(std::string name) : name_(std::move(name)) {}

  void Record(int status, std::chrono::nanoseconds duration);
  const std::string& name() const { return name_; }

 private:
  friend class Metrics;
  std::string name_;
  std::array<std::atomic<std::uint64_t>, 600> by_status_{};
  std::array<std::atomic<std::uint64_t>, kBucketsSeconds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Before the server starts only.
  MethodMetrics* Register(std::string_view name);
  // The slot for a name, or the "_unknown" slot.
  MethodMetrics* Find(std::string_view name);

  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_rejected{0};

  std::string RenderPrometheus() const;

 private:
  std::deque<MethodMetrics> slots_;  // stable addresses
  std::unordered_map<std::string, MethodMetrics*> by_name_;
  MethodMetrics* unknown_;
};

// One unlabelled sample in Prometheus text with its HELP and TYPE lines, for the parts the
// server core does not know (they report through Router::AddMetrics).
void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, std::string_view value);

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_METRICS_H_
