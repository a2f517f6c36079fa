#include "xrpc/log.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "lex/text.h"

namespace atipay::xrpc {
namespace {
constexpr std::size_t kFlushBytes = 64 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(200);
}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // A request target may hold bytes that are not UTF-8; the line must stay JSON (UTF-8).
  std::string repaired;
  if (!lex::IsValidUtf8(s)) {
    repaired = lex::ToValidUtf8(s);
    s = repaired;
  }
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
}

void AppendTimestamp(std::string& out, std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  out += buf;
}

void LogEvent(std::string_view level, std::string_view message, std::string_view request_id) {
  std::string line = "{\"time\":\"";
  AppendTimestamp(line, std::chrono::system_clock::now());
  line += "\",\"level\":\"";
  AppendJsonEscaped(line, level);
  line += "\",\"msg\":\"";
  AppendJsonEscaped(line, message);
  if (!request_id.empty()) {
    line += "\",\"request_id\":\"";
    AppendJsonEscaped(line, request_id);
  }
  line += "\"}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::unique_ptr<AccessLog> AccessLog::Open(const std::string& path, std::string* error) {
  if (path.empty() || path == "off") return std::unique_ptr<AccessLog>(new AccessLog(nullptr, false));
  if (path == "-") return std::unique_ptr<AccessLog>(new AccessLog(stdout, false));
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    if (error != nullptr) *error = "cannot open access log " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(file, true));
}

AccessLog::AccessLog(std::FILE* file, bool owned) : file_(file), owned_(owned) {
  if (file_ != nullptr) flusher_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  if (flusher_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    flusher_.join();
  }
  if (owned_) std::fclose(file_);
}

void AccessLog::Write(const AccessEntry& e) {
  if (file_ == nullptr) return;
  std::string line;
  line.reserve(256);
  line += "{\"time\":\"";
  AppendTimestamp(line, e.time);
  line += "\",\"request_id\":\"";
  AppendJsonEscaped(line, e.request_id);
  line += "\",\"method\":\"";
  AppendJsonEscaped(line, e.http_method);
  line += "\",\"path\":\"";
  AppendJsonEscaped(line, e.path);
  line += "\"";
  if (!e.nsid.empty()) {
    line += ",\"nsid\":\"";
    AppendJsonEscaped(line, e.nsid);
    line += "\"";
  }
  char num[96];
  std::snprintf(num, sizeof(num), ",\"status\":%d,\"duration_ms\":%.3f,\"bytes\":%zu", e.status,
                std::chrono::duration<double, std::milli>(e.duration).count(), e.bytes);
  line += num;
  if (!e.error.empty()) {
    line += ",\"error\":\"";
    AppendJsonEscaped(line, e.error);
    line += "\"";
  }
  if (!e.did.empty()) {
    line += ",\"did\":\"";
    AppendJsonEscaped(line, e.did);
    line += "\"";
  }
  line += ",\"remote\":\"";
  AppendJsonEscaped(line, e.remote);
  line += "\"}\n";
  bool wake;
  {
    std::lock_guard lock(mu_);
    buffer_ += line;
    wake = buffer_.size() >= kFlushBytes;
  }
  if (wake) cv_.notify_one();
}

void AccessLog::Flush() {
  if (file_ == nullptr) return;
  std::string out;
  {
    std::lock_guard lock(mu_);
    out.swap(buffer_);
  }
  if (!out.empty()) std::fwrite(out.data(), 1, out.size(), file_);
  std::fflush(file_);
}

void AccessLog::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, kFlushInterval, [this] { return stop_ || buffer_.size() >= kFlushBytes; });
    std::string out;
    out.swap(buffer_);
    bool stop = stop_;
    lock.unlock();
    if (!out.empty()) {
      std::fwrite(out.data(), 1, out.size(), file_);
      std::fflush(file_);
    }
    if (stop) return;
    lock.lock();
  }
}

}  // namespace atipay::xrpc
