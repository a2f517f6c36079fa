// Prometheus text as the server renders it: label values and HELP text escaped, no line cut.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "xrpc/metrics.h"

namespace atipay::xrpc {
namespace {

TEST(XrpcMetrics, LabelValuesAreEscapedAndNeverCut) {
  Metrics metrics;
  metrics.Register("odd\"name\\with\nall three")->Record(200, std::chrono::milliseconds(3));
  const std::string longest(317, 'a');  // an NSID may be this long
  metrics.Register(longest)->Record(400, std::chrono::milliseconds(3));
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("atipay_xrpc_requests_total{method=\"odd\\\"name\\\\with\\nall three\","
                      "status=\"200\"} 1\n"),
            std::string::npos)
      << text;
  for (const char* sample : {"_sum{method=\"", "_count{method=\""}) {
    EXPECT_NE(text.find("atipay_xrpc_request_duration_seconds" + std::string(sample) + longest +
                        "\"} "),
              std::string::npos)
        << sample;
  }
  EXPECT_NE(text.find("atipay_xrpc_request_duration_seconds_count{method=\"" + longest +
                      "\"} 1\n"),
            std::string::npos);
}

TEST(XrpcMetrics, HelpTextIsEscaped) {
  std::string out;
  AppendMetric(out, "x_total", "counter", "Two\nlines and a \\ backslash.", "1");
  EXPECT_EQ(out,
            "# HELP x_total Two\\nlines and a \\\\ backslash.\n# TYPE x_total counter\n"
            "x_total 1\n");
}

}  // namespace
}  // namespace atipay::xrpc
