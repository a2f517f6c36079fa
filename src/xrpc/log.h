// Logs as JSON lines: the access log (one line per request, buffered and written by a
// background thread so the request path never waits on a write) and the event log (stderr).
#ifndef ATIPAY_XRPC_LOG_H_
#define ATIPAY_XRPC_LOG_H_

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace atipay::xrpc {

struct AccessEntry {
  std::chrono::system_clock::time_point time;
  std::string_view request_id;
  std::string_view http_method;
  std::string_view path;
  std::string_view nsid;   // empty for non-XRPC paths
  int status = 0;
  std::string_view error;  // the XRPC `error` name of a failed call
  std::chrono::nanoseconds duration{0};
  std::string_view did;    // the caller, when auth established one
  std::string_view remote;
  std::size_t bytes = 0;   // response body bytes
};

class AccessLog {
 public:
  // path: "-" for stdout, "off" or "" for none, otherwise a file opened for appending.
  // Returns null and sets *error when the file cannot be opened; a disabled log is non-null.
  static std::unique_ptr<AccessLog> Open(const std::string& path, std::string* error);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return file_ != nullptr; }
  void Write(const AccessEntry& entry);
  void Flush();

 private:
  AccessLog(std::FILE* file, bool owned);
  void Run();

  std::FILE* file_;
  bool owned_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;
  bool stop_ = false;
  std::thread flusher_;
};

// Appends s to out as the inside of a JSON string literal.
void AppendJsonEscaped(std::string& out, std::string_view s);

// RFC 3339 UTC with milliseconds: 2026-11-21T22:50:16.487Z
void AppendTimestamp(std::string& out, std::chrono::system_clock::time_point time);

// One JSON line on stderr: {"time":..,"level":..,"msg":..,"request_id":..}
void LogEvent(std::string_view level, std::string_view message, std::string_view request_id = {});

}  // namespace atipay::xrpc

#endif  // ATIPAY_XRPC_LOG_H_
