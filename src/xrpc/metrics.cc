#include "xrpc/metrics.h"

#include <cstdio>

namespace atipay::xrpc {

void MethodMetrics::Record(int status, std::chrono::nanoseconds duration) {
  if (status < 0 || status >= static_cast<int>(by_status_.size())) status = 0;
  by_status_[status].fetch_add(1, std::memory_order_relaxed);
  double seconds = std::chrono::duration<double>(duration).count();
  std::size_t bucket = 0;
  while (bucket < kBucketsSeconds.size() && seconds > kBucketsSeconds[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(duration.count()), std::memory_order_relaxed);
}

Metrics::Metrics() { unknown_ = Register("_unknown"); }

MethodMetrics* Metrics::Register(std::string_view name) {
  auto it = by_name_.find(std::string(name));
  if (it != by_name_.end()) return it->second;
  MethodMetrics* slot = &slots_.emplace_back(std::string(name));
  by_name_.emplace(std::string(name), slot);
  return slot;
}

MethodMetrics* Metrics::Find(std::string_view name) {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? unknown_ : it->second;
}

namespace {

// Prometheus text format: a label value escapes backslash, double quote and newline; HELP text
// backslash and newline.
void AppendEscaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `name{method="<method>"` and, if given, `,<label>="<value>"`, then `} <value>\n`.
void AppendSample(std::string& out, std::string_view name, std::string_view method,
                  std::string_view label, std::string_view label_value, std::string_view value) {
  out.append(name).append("{method=\"");
  AppendEscaped(out, method, true);
  out += '"';
  if (!label.empty()) {
    out.append(",").append(label).append("=\"");
    AppendEscaped(out, label_value, true);
    out += '"';
  }
  out.append("} ").append(value).append("\n");
}

std::string Seconds(double seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%.9f", seconds);
  return text;
}

std::string Bound(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

}  // namespace

void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, std::string_view value) {
  out.append("# HELP ").append(name).append(" ");
  AppendEscaped(out, help, false);
  out.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(value).append("\n");
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out +=
      "# HELP atipay_xrpc_requests_total Requests answered, by XRPC method and HTTP status.\n"
      "# TYPE atipay_xrpc_requests_total counter\n";
  for (const MethodMetrics& m : slots_) {
    for (std::size_t status = 0; status < m.by_status_.size(); ++status) {
      std::uint64_t n = m.by_status_[status].load(std::memory_order_relaxed);
      if (n == 0) continue;
      AppendSample(out, "atipay_xrpc_requests_total", m.name_, "status", std::to_string(status),
                   std::to_string(n));
    }
  }
  out +=
      "# HELP atipay_xrpc_request_duration_seconds Time from a complete request to its answer.\n"
      "# TYPE atipay_xrpc_request_duration_seconds histogram\n";
  for (const MethodMetrics& m : slots_) {
    std::uint64_t count = m.count_.load(std::memory_order_relaxed);
    if (count == 0) continue;
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < m.buckets_.size(); ++b) {
      cumulative += m.buckets_[b].load(std::memory_order_relaxed);
      const bool last = b == MethodMetrics::kBucketsSeconds.size();
      AppendSample(out, "atipay_xrpc_request_duration_seconds_bucket", m.name_, "le",
                   last ? "+Inf" : Bound(MethodMetrics::kBucketsSeconds[b]),
                   std::to_string(cumulative));
    }
    AppendSample(out, "atipay_xrpc_request_duration_seconds_sum", m.name_, "", "",
                 Seconds(m.sum_ns_.load(std::memory_order_relaxed) / 1e9));
    AppendSample(out, "atipay_xrpc_request_duration_seconds_count", m.name_, "", "",
                 std::to_string(cumulative));
  }
  char tail[2048];
  std::snprintf(
      tail, sizeof(tail),
      "# HELP atipay_xrpc_requests_in_flight Requests being handled now.\n"
      "# TYPE atipay_xrpc_requests_in_flight gauge\n"
      "atipay_xrpc_requests_in_flight %lld\n"
      "# HELP atipay_http_connections_open Open client connections.\n"
      "# TYPE atipay_http_connections_open gauge\n"
      "atipay_http_connections_open %lld\n"
      "# HELP atipay_http_connections_total Connections accepted.\n"
      "# TYPE atipay_http_connections_total counter\n"
      "atipay_http_connections_total %llu\n"
      "# HELP atipay_http_connections_rejected_total Connections closed at once: over the cap.\n"
      "# TYPE atipay_http_connections_rejected_total counter\n"
      "atipay_http_connections_rejected_total %llu\n",
      static_cast<long long>(in_flight.load()), static_cast<long long>(open_connections.load()),
      static_cast<unsigned long long>(connections_total.load()),
      static_cast<unsigned long long>(connections_rejected.load()));
  out += tail;
  return out;
}

}  // namespace atipay::xrpc
