#include "xrpc/server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "xrpc/log.h"
#include "xrpc/wire.h"

namespace atipay::xrpc {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";
constexpr std::size_t kReadSize = 16 * 1024;
// After an answer that leaves a request body unread (413, 431, 400), read and drop what the
// client is still sending for a while before closing, so it sees the answer and not a reset.
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

// The HTTP Date header, formatted at most once a second per thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local char cached[40];
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return cached;
}

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// "<8 hex digits of this process>-<hex counter>": unique enough to find a request in the logs.
std::string NewRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  static const std::uint32_t kPrefix = std::random_device{}();
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  std::string id(8, '0');
  for (int i = 0; i < 8; ++i) id[i] = kHex[(kPrefix >> (28 - 4 * i)) & 15];
  id.push_back('-');
  char buf[16];
  char* p = buf + sizeof(buf);
  do {
    *--p = kHex[n & 15];
    n >>= 4;
  } while (n != 0);
  id.append(p, buf + sizeof(buf));
  return id;
}

HttpReply JsonReply(int status, std::string body) {
  HttpReply reply;
  reply.status = status;
  reply.content_type = kJsonContentType;
  reply.body = std::move(body);
  return reply;
}

// "1.2.3.4" or "[::1]", so that a port can follow without ambiguity.
std::string AddressText(const net::ip::address& address) {
  return address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

HttpReply ErrorReply(const XrpcError& error) {
  HttpReply reply = JsonReply(error.status, ErrorBody(error));
  reply.error_name = error.name;
  return reply;
}

// Per-request facts the connection keeps for the answer, the access log and the metrics.
struct RequestMeta {
  Clock::time_point start;
  std::chrono::system_clock::time_point time;
  std::string request_id;
  std::string http_method;
  std::string path;
  std::string nsid;
  std::string remote;
  MethodMetrics* metrics = nullptr;
  bool keep_alive = true;
  bool http10 = false;
  bool head = false;
  bool cors = false;
};

void AppendNumber(std::string& out, std::size_t n) {
  char buf[24];
  char* end = buf + sizeof(buf);
  char* p = end;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  out.append(p, end);
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

unsigned ThreadCount(const ServerOptions& options) {
  unsigned threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  return threads == 0 ? 1 : threads;
}

}  // namespace

std::string_view ServerVersion() { return ATIPAY_VERSION; }

class Session;

class Server::Impl {
 public:
  Impl(ServerOptions options, Router& router)
      : options_(std::move(options)), router_(router) {}

  std::optional<std::string> Start();
  void Shutdown();
  void Wait();

  // Answers one parsed request through `sink` (maybe later, from another thread). Fills `meta`
  // before anything can answer.
  void Handle(HttpRequest&& request, RequestMeta& meta, ReplySink sink);
  MethodMetrics* LabelFor(std::string_view target);

  void Register(Session* session, const std::weak_ptr<Session>& weak);
  void Unregister(Session* session);

  // Answers on their way back from threads the server may not own (see ReplyHolder).
  void ReplyOpened() { replies_out_.fetch_add(1, std::memory_order_relaxed); }
  void ReplyClosed();

  const ServerOptions& options() const { return options_; }
  Metrics& metrics() { return metrics_; }
  AccessLog& access_log() { return *access_log_; }
  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }
  net::io_context& ioc() { return ioc_; }
  std::uint16_t port() const { return port_; }
  bool started() const { return started_.load(); }

  std::optional<std::string> Listen();
  void SetServiceIdentity(std::string service_did, std::string public_url) {
    options_.service_did = std::move(service_did);
    options_.public_url = std::move(public_url);
  }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Sweep();
  void BeginShutdown();
  void CheckDrained();
  void Finish();
  void WaitForReplies();
  std::string RenderDidDocument() const;

  ServerOptions options_;
  Router& router_;
  Metrics metrics_;
  std::unique_ptr<AccessLog> access_log_;
  std::string did_document_;
  std::string health_body_;
  MethodMetrics* health_slot_ = nullptr;
  MethodMetrics* did_slot_ = nullptr;
  MethodMetrics* metrics_slot_ = nullptr;
  MethodMetrics* other_slot_ = nullptr;
  MethodMetrics* unknown_slot_ = nullptr;

  std::mutex sessions_mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;

  std::atomic<bool> started_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> finished_{false};
  std::uint16_t port_ = 0;

  std::unique_ptr<net::thread_pool> blocking_pool_;
  std::unique_ptr<RateLimits> rate_limits_;
  std::vector<std::thread> threads_;
  std::mutex wait_mu_;
  bool joined_ = false;

  // Held while a holder closes, so that WaitForReplies cannot return (and the server go away)
  // before the closing thread is done with it.
  std::mutex replies_mu_;
  std::condition_variable replies_cv_;
  std::atomic<std::size_t> replies_out_{0};

  // Declared last: destroyed first, with any pending handlers (and the sessions they hold),
  // while everything above still exists.
  net::io_context ioc_{static_cast<int>(ThreadCount(options_))};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  // Accepting, sweeping and shutting down run on one strand: with several event-loop threads,
  // the acceptor and the timers below would otherwise be touched from two threads at once (a
  // session unregistering on one thread finishing the shutdown while another starts it).
  net::strand<net::io_context::executor_type> control_{net::make_strand(ioc_)};
  tcp::acceptor acceptor_{control_};
  net::steady_timer accept_retry_timer_{control_};
  net::steady_timer shutdown_timer_{control_};
  net::steady_timer sweep_timer_{control_};
};

// One client connection: reads requests one at a time with a fresh parser each (limits and
// phase deadlines: idle, headers, body), hands each to the server, writes the answer in order.
// Pipelined requests wait in the read buffer, so at most one request per connection is in flight.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket, std::string remote)
      : server_(server), socket_(std::move(socket)), remote_(std::move(remote)) {}

  ~Session() {
    server_.Unregister(this);
  }

  void Start() {
    server_.Register(this, weak_from_this());
    beast::error_code ignored;
    socket_.non_blocking(true, ignored);  // read_some after async_wait must never block
    net::dispatch(socket_.get_executor(),
                  beast::bind_front_handler(&Session::StartRequest, shared_from_this()));
  }

  // Shutdown: an idle connection closes now; one mid-request finishes it, then closes.
  void Drain() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->draining_ = true;
      if (!self->in_request_ && !self->writing_ && (!self->parser_ || !self->parser_->got_some())) {
        self->Close();
      }
    });
  }

  void ForceClose() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

  // Called by the server's sweeper, from any thread: cut off a connection past its deadline.
  bool Expired(Clock::rep now) const {
    Clock::rep deadline = deadline_.load(std::memory_order_relaxed);
    return deadline != kNoDeadline && deadline <= now;
  }
  void Expire() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      if (self->Expired(Clock::now().time_since_epoch().count())) self->Close();
    });
  }

 private:
  const ServerOptions& options() const { return server_.options(); }

  void StartRequest() {
    if (closed_) return;
    if (draining_ || server_.shutting_down()) {
      if (buffer_.size() == 0) {
        Close();
        return;
      }
      draining_ = true;
    }
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    parser_->eager(true);
    continue_sent_ = false;
    header_deadline_set_ = false;
    body_deadline_set_ = false;
    Parse();
  }

  void Parse() {
    while (buffer_.size() > 0) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      // RFC 9112 §6.3: a request's Transfer-Encoding must end in chunked, or where its body ends
      // cannot be known. Beast takes such a request as bodiless (or goes by Content-Length), and
      // the body would be read as the next request: 400, and close.
      if (parser_->is_header_done() && !parser_->chunked() &&
          parser_->get().find(http::field::transfer_encoding) != parser_->get().end()) {
        ec = http::error::bad_transfer_encoding;
      }
      if (ec == http::error::need_more) {
        // Beast bounds the header block, not a chunk-size line, its extensions or a trailer
        // field: one that never ends must not grow the buffer until the body timeout.
        if (buffer_.size() <= options().max_header_bytes + kReadSize) break;
        ec = http::error::bad_chunk;
      }
      if (ec) {
        OnParseError(ec);
        return;
      }
      if (parser_->is_done()) {
        OnRequest();
        return;
      }
      if (used == 0) break;
    }
    if (parser_->is_header_done() && !continue_sent_) {
      continue_sent_ = true;
      auto& head = parser_->get();
      auto expect = head[http::field::expect];
      if (head.version() >= 11 && beast::iequals(expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        SetDeadline(Clock::now() + options().write_timeout);
        net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                           if (ec) return self->Close();
                           self->ReadMore();
                         });
        return;
      }
    }
    ReadMore();
  }

  void ReadMore() {
    auto now = Clock::now();
    if (!parser_->got_some() && buffer_.size() == 0) {
      SetDeadline(now + options().idle_timeout);
    } else if (!parser_->is_header_done()) {
      if (!header_deadline_set_) {
        header_deadline_ = now + options().header_timeout;
        header_deadline_set_ = true;
      }
      SetDeadline(header_deadline_);
    } else {
      if (!body_deadline_set_) {
        body_deadline_ = now + options().body_timeout;
        body_deadline_set_ = true;
      }
      SetDeadline(body_deadline_);
    }
    // Wait for readability, then read without blocking: an async read would first try a recv
    // that, between requests, only finds EAGAIN; this saves that syscall on every request.
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      std::size_t n = self->socket_.read_some(self->buffer_.prepare(kReadSize), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) return self->ReadMore();
      self->OnRead(ec, n);
    });
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    if (ec) {
      // eof between requests is a normal close; a timeout or eof mid-request cuts the client off.
      Close();
      return;
    }
    buffer_.commit(n);
    if (!parser_->got_some() && !header_deadline_set_) {
      header_deadline_ = Clock::now() + options().header_timeout;
      header_deadline_set_ = true;
    }
    Parse();
  }

  void OnParseError(beast::error_code ec) {
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    meta_ = RequestMeta{};
    meta_.start = Clock::now();
    meta_.time = std::chrono::system_clock::now();
    meta_.request_id = NewRequestId();
    meta_.remote = remote_;
    meta_.keep_alive = false;
    lingering_ = true;
    XrpcError error;
    if (ec == http::error::body_limit) {
      error = XrpcError::PayloadTooLarge();
    } else if (ec == http::error::header_limit) {
      error = {431, "RequestHeaderFieldsTooLarge", "Request Header Fields Too Large"};
    } else {
      error = XrpcError::InvalidRequest("Bad Request");
    }
    if (parser_->is_header_done()) {
      const auto& head = parser_->get();
      meta_.http_method = std::string(head.method_string());
      std::string_view path, query;
      SplitTarget(head.target(), path, query);
      meta_.path = std::string(path);
      meta_.metrics = server_.LabelFor(path);
      std::string_view nsid;
      if (ExtractXrpcNsid(path, nsid) == XrpcPath::kValid) meta_.nsid = std::string(nsid);
      meta_.cors = options().cors && head.find(http::field::origin) != head.end();
      meta_.head = head.method() == http::verb::head;
    } else {
      meta_.metrics = server_.LabelFor("");
    }
    server_.metrics().in_flight.fetch_add(1, std::memory_order_relaxed);
    in_request_ = true;
    OnReply(ErrorReply(error));
  }

  void OnRequest() {
    deadline_.store(kNoDeadline, std::memory_order_relaxed);  // handlers are not timed out
    auto& request = parser_->get();
    meta_ = RequestMeta{};
    meta_.start = Clock::now();
    meta_.time = std::chrono::system_clock::now();
    auto incoming_id = request["X-Request-Id"];
    meta_.request_id = IsValidRequestId(incoming_id) ? std::string(incoming_id) : NewRequestId();
    meta_.http_method = std::string(request.method_string());
    meta_.remote = remote_;
    if (options().trust_x_forwarded_for) {
      // The last entry is the one our proxy added; the ones before it, the client wrote. A proxy
      // may add its entry as a line of its own, after the client's: the lines are one list.
      std::string_view forwarded;
      for (auto [it, end] = request.equal_range("X-Forwarded-For"); it != end; ++it) {
        forwarded = it->value();
      }
      std::string_view last = forwarded.substr(forwarded.rfind(',') + 1);
      while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
      while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
      beast::error_code bad;
      auto address = net::ip::make_address(last, bad);
      if (!bad) meta_.remote = AddressText(address);
    }
    meta_.keep_alive = request.keep_alive();
    meta_.http10 = request.version() == 10;
    meta_.head = request.method() == http::verb::head;
    meta_.cors = options().cors && request.find(http::field::origin) != request.end();
    server_.metrics().in_flight.fetch_add(1, std::memory_order_relaxed);
    in_request_ = true;
    try {
      server_.Handle(parser_->release(), meta_, ReplyTo(shared_from_this()));
    } catch (const std::exception& e) {
      // Before a call took over the answer (e.g. bad_alloc): drop the connection, never hang it.
      LogEvent("error", std::string("request dispatch: ") + e.what(), meta_.request_id);
      server_.metrics().in_flight.fetch_sub(1, std::memory_order_relaxed);
      in_request_ = false;
      Close();
    }
  }

  // The sink for one request's answer, which may come from any thread: an event loop, the
  // blocking pool, or one the server does not own (a store's writer, say), possibly while the
  // server shuts down. The session is handed to its own strand with the answer, or released
  // there if the sink is dropped unanswered, so it is never destroyed on a foreign thread; and
  // the server waits for every sink still out before it goes away (Impl::WaitForReplies), so
  // a late answer never reaches a destroyed event loop.
  class ReplyHolder {
   public:
    explicit ReplyHolder(std::shared_ptr<Session> session)
        : server_(session->server_), session_(std::move(session)) {
      server_.ReplyOpened();
    }
    ReplyHolder(const ReplyHolder&) = delete;
    ReplyHolder& operator=(const ReplyHolder&) = delete;
    ~ReplyHolder() {
      if (session_) {
        auto executor = session_->socket_.get_executor();
        net::post(executor, [session = std::move(session_)] {});
      }
      server_.ReplyClosed();  // the last use of anything the server owns
    }

    void Deliver(HttpReply reply) {
      if (!session_) return;
      auto executor = session_->socket_.get_executor();
      net::dispatch(executor, [session = std::move(session_), reply = std::move(reply)]() mutable {
        session->OnReply(std::move(reply));
      });
    }

   private:
    Server::Impl& server_;
    std::shared_ptr<Session> session_;
  };

  static ReplySink ReplyTo(std::shared_ptr<Session> session) {
    return [holder = std::make_shared<ReplyHolder>(std::move(session))](HttpReply reply) {
      holder->Deliver(std::move(reply));
    };
  }

  void OnReply(HttpReply reply) {
    server_.metrics().in_flight.fetch_sub(1, std::memory_order_relaxed);
    in_request_ = false;
    if (closed_) return;  // force-closed while the handler ran
    bool keep_alive = meta_.keep_alive && !draining_ && !server_.shutting_down();
    status_ = reply.status;
    error_name_ = std::move(reply.error_name);
    caller_did_ = std::move(reply.caller_did);
    body_bytes_ = reply.body.size();

    // The answer is serialized by hand into one buffer: Beast's generic serializer costs more
    // than the rest of a small request put together.
    out_.clear();
    out_ += "HTTP/1.1 ";  // node answers HTTP/1.0 clients with an HTTP/1.1 status line too
    AppendNumber(out_, static_cast<unsigned>(reply.status));
    out_ += ' ';
    out_ += std::string_view(http::obsolete_reason(http::int_to_status(reply.status)));
    out_ += "\r\nDate: ";
    out_ += HttpDate();
    out_ += "\r\n";
    if (!reply.content_type.empty()) AppendHeader(out_, "Content-Type", reply.content_type);
    for (const auto& [name, value] : reply.headers) AppendHeader(out_, name, value);
    if (reply.status == 401) AppendHeader(out_, "WWW-Authenticate", "Bearer");
    if (meta_.cors) {
      out_ +=
          "Access-Control-Allow-Origin: *\r\n"
          "Access-Control-Expose-Headers: WWW-Authenticate, RateLimit-Limit, RateLimit-Remaining, "
          "RateLimit-Reset, RateLimit-Policy, Retry-After, X-Request-Id\r\n";
    }
    AppendHeader(out_, "X-Request-Id", meta_.request_id);
    if (keep_alive) {
      if (meta_.http10) out_ += "Connection: keep-alive\r\n";
      out_ += "Keep-Alive: timeout=";
      AppendNumber(out_, static_cast<unsigned>((options().idle_timeout.count() + 999) / 1000));
      out_ += "\r\n";
    } else {
      out_ += "Connection: close\r\n";
    }
    if (reply.status != 204 && reply.status != 304) {
      out_ += "Content-Length: ";
      AppendNumber(out_, reply.body.size());
      out_ += "\r\n";
    }
    out_ += "\r\n";
    if (!meta_.head && reply.status != 204 && reply.status != 304) out_ += reply.body;
    keep_alive_ = keep_alive;
    writing_ = true;
    SetDeadline(Clock::now() + options().write_timeout);
    net::async_write(socket_, net::buffer(out_),
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    auto duration = Clock::now() - meta_.start;
    if (meta_.metrics != nullptr) meta_.metrics->Record(status_, duration);
    AccessEntry entry;
    entry.time = meta_.time;
    entry.request_id = meta_.request_id;
    entry.http_method = meta_.http_method;
    entry.path = meta_.path;
    entry.nsid = meta_.nsid;
    entry.status = status_;
    entry.error = error_name_;
    entry.duration = duration;
    entry.did = caller_did_;
    entry.remote = meta_.remote;
    entry.bytes = body_bytes_;
    server_.access_log().Write(entry);
    if (ec) {
      Close();
      return;
    }
    if (!keep_alive_) {
      if (lingering_) {
        Linger();
      } else {
        beast::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        Close();
      }
      return;
    }
    StartRequest();
  }

  void Linger() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(Clock::now() + kLingerTime);
    DrainInput();
  }

  void DrainInput() {
    buffer_.consume(buffer_.size());
    socket_.async_read_some(buffer_.prepare(kReadSize),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerBytes) return self->Close();
                              self->DrainInput();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Server::Impl& server_;
  void SetDeadline(Clock::time_point at) {
    deadline_.store(at.time_since_epoch().count(), std::memory_order_relaxed);
  }

  static constexpr Clock::rep kNoDeadline = std::numeric_limits<Clock::rep>::max();

  tcp::socket socket_;
  // When the current read or write must be done by; checked by the server's sweeper (one timer
  // for all connections, so the request path never touches a timer).
  std::atomic<Clock::rep> deadline_{kNoDeadline};
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;  // the serialized answer
  std::string remote_;
  RequestMeta meta_;
  int status_ = 0;
  std::string error_name_;
  std::string caller_did_;
  std::size_t body_bytes_ = 0;
  Clock::time_point header_deadline_;
  Clock::time_point body_deadline_;
  std::size_t lingered_ = 0;
  bool header_deadline_set_ = false;
  bool body_deadline_set_ = false;
  bool continue_sent_ = false;
  bool in_request_ = false;
  bool writing_ = false;
  bool keep_alive_ = true;
  bool lingering_ = false;
  bool draining_ = false;
  bool closed_ = false;
};

std::optional<std::string> Server::Impl::Start() {
  if (started_.exchange(true)) return "server already started";
  std::string error;
  access_log_ = AccessLog::Open(options_.access_log, &error);
  if (!access_log_) return error;

  // Metrics slots: every method, plus the service routes and a shared one for the rest.
  router_.ForEach([&](const std::string& nsid, const Router::Entry&) { metrics_.Register(nsid); });
  health_slot_ = metrics_.Register("_health");
  did_slot_ = metrics_.Register("_did");
  metrics_slot_ = metrics_.Register("_metrics");
  other_slot_ = metrics_.Register("_other");
  unknown_slot_ = metrics_.Find("_unknown");

  boost::json::object health;
  health.emplace("version", ServerVersion());
  health_body_ = boost::json::serialize(health);
  if (!options_.service_did.empty()) did_document_ = RenderDidDocument();

  unsigned threads = ThreadCount(options_);
  blocking_pool_ = std::make_unique<net::thread_pool>(std::max(1u, options_.blocking_threads));

  rate_limits_ = std::make_unique<RateLimits>(options_.rate_limits);

  CallEnvironment& env = router_.environment();
  env.rate_limits = rate_limits_.get();
  env.validate_output = options_.validate_output;
  env.max_json_depth = options_.max_json_depth;
  env.offload = [pool = blocking_pool_.get()](std::function<void()> fn) {
    net::post(*pool, std::move(fn));
  };
  env.log_error = [](std::string_view request_id, std::string_view what) {
    LogEvent("error", what, request_id);
  };

  if (auto error = Listen()) return error;

  work_.emplace(ioc_.get_executor());
  DoAccept();
  Sweep();
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      // An escaped exception is a bug; log it and keep the loop alive rather than terminate.
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          LogEvent("error", std::string("event loop: ") + e.what());
        } catch (...) {
          LogEvent("error", "event loop: unknown exception");
        }
      }
    });
  }
  return std::nullopt;
}

std::optional<std::string> Server::Impl::Listen() {
  if (acceptor_.is_open()) return std::nullopt;
  beast::error_code ec;
  auto address = net::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
  if (ec) return "invalid listen address " + options_.host + ": " + ec.message();
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return "cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
           ec.message();
  }
  port_ = acceptor_.local_endpoint().port();
  return std::nullopt;
}

std::string Server::Impl::RenderDidDocument() const {
  boost::json::object doc;
  doc.emplace("@context", boost::json::array{"https://www.w3.org/ns/did/v1"});
  doc.emplace("id", options_.service_did);
  boost::json::object service;
  service.emplace("id", "#" + options_.service_id);
  service.emplace("type", options_.service_type);
  service.emplace("serviceEndpoint", options_.public_url);
  doc.emplace("service", boost::json::array{service});
  return boost::json::serialize(doc);
}

void Server::Impl::DoAccept() {
  // One event-loop thread serializes every handler already; strands only matter with more.
  if (ThreadCount(options_) == 1) {
    acceptor_.async_accept(ioc_.get_executor(), beast::bind_front_handler(&Impl::OnAccept, this));
  } else {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Impl::OnAccept, this));
  }
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // e.g. EMFILE: back off instead of spinning.
    LogEvent("warn", "accept: " + ec.message());
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) DoAccept();
    });
    return;
  }
  // Armed before the session is made: should making it throw (out of memory), the exception
  // reaches the loop's catch and we still accept the next connection.
  DoAccept();
  if (static_cast<std::size_t>(metrics_.open_connections.load()) >= options_.max_connections) {
    metrics_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    beast::error_code endpoint_ec;
    auto remote = socket.remote_endpoint(endpoint_ec);
    std::string remote_text =
        endpoint_ec ? std::string()
                    : AddressText(remote.address()) + ":" + std::to_string(remote.port());
    socket.set_option(tcp::no_delay(true), endpoint_ec);
    auto session = std::make_shared<Session>(*this, std::move(socket), std::move(remote_text));
    // Counted once the session exists: its destructor gives the place back.
    metrics_.open_connections.fetch_add(1, std::memory_order_relaxed);
    metrics_.connections_total.fetch_add(1, std::memory_order_relaxed);
    session->Start();
  }
}

void Server::Impl::Sweep() {
  // Timeouts are checked here for every connection at once, a few times per shortest timeout.
  auto shortest = std::min({options_.header_timeout, options_.body_timeout, options_.idle_timeout,
                            options_.write_timeout});
  auto interval = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(shortest) / 4,
                             std::chrono::milliseconds(10), std::chrono::milliseconds(250));
  sweep_timer_.expires_after(interval);
  sweep_timer_.async_wait([this](beast::error_code ec) {
    if (ec || finished_.load()) return;
    Clock::rep now = Clock::now().time_since_epoch().count();
    std::vector<std::shared_ptr<Session>> expired;
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [raw, weak] : sessions_) {
        if (raw->Expired(now)) {
          if (auto session = weak.lock()) expired.push_back(std::move(session));
        }
      }
    }
    for (auto& session : expired) session->Expire();
    Sweep();
  });
}

void Server::Impl::Register(Session* session, const std::weak_ptr<Session>& weak) {
  std::lock_guard lock(sessions_mu_);
  sessions_.emplace(session, weak);
}

void Server::Impl::Unregister(Session* session) {
  bool drained;
  {
    std::lock_guard lock(sessions_mu_);
    sessions_.erase(session);
    drained = sessions_.empty();
  }
  metrics_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  if (drained && shutting_down() && !finished_.load()) {
    net::post(control_, [this] { CheckDrained(); });
  }
}

void Server::Impl::ReplyClosed() {
  std::lock_guard lock(replies_mu_);
  if (replies_out_.fetch_sub(1, std::memory_order_acq_rel) == 1) replies_cv_.notify_all();
}

void Server::Impl::WaitForReplies() {
  // Answers still out belong to calls that outlived the shutdown deadline (a store commit,
  // say); whoever holds them answers or drops them in the end. Until then the event loop they
  // will post to must stay.
  std::unique_lock lock(replies_mu_);
  while (!replies_cv_.wait_for(lock, std::chrono::seconds(10), [this] {
    return replies_out_.load(std::memory_order_acquire) == 0;
  })) {
    LogEvent("warn", "shutdown: waiting for " + std::to_string(replies_out_.load()) +
                         " answer(s) still being produced");
  }
}

MethodMetrics* Server::Impl::LabelFor(std::string_view path) {
  std::string_view nsid;
  switch (ExtractXrpcNsid(path, nsid)) {
    case XrpcPath::kValid:
      return router_.Find(nsid) != nullptr ? metrics_.Find(nsid) : unknown_slot_;
    case XrpcPath::kInvalid:
      return unknown_slot_;
    case XrpcPath::kNotXrpc:
      break;
  }
  return other_slot_;
}

void Server::Impl::Handle(HttpRequest&& request, RequestMeta& meta, ReplySink sink) {
  std::string_view path, query;
  SplitTarget(request.target(), path, query);
  meta.path = std::string(path);
  http::verb verb = request.method();

  // CORS preflight (a browser's OPTIONS with Access-Control-Request-Method), as the cors package.
  if (options_.cors && verb == http::verb::options &&
      request.find(http::field::origin) != request.end() &&
      request.find(http::field::access_control_request_method) != request.end()) {
    meta.metrics = other_slot_;
    HttpReply reply;
    reply.status = 204;
    reply.headers = {{"Access-Control-Allow-Methods", "GET,HEAD,POST,OPTIONS"},
                     {"Access-Control-Max-Age", "86400"},
                     {"Vary", "Access-Control-Request-Headers"}};
    auto requested = request[http::field::access_control_request_headers];
    reply.headers.emplace_back(
        "Access-Control-Allow-Headers",
        requested.empty() ? std::string("Authorization, Content-Type, DPoP, atproto-proxy, "
                                        "atproto-accept-labelers")
                          : std::string(requested));
    sink(std::move(reply));
    return;
  }

  if (verb == http::verb::get || verb == http::verb::head) {
    if (path == "/xrpc/_health") {
      meta.metrics = health_slot_;
      for (const auto& check : router_.health_checks()) {
        std::optional<std::string> problem;
        try {
          problem = check();
        } catch (...) {
          problem = "a health check failed";
        }
        if (problem) {
          boost::json::object body;
          body.emplace("version", ServerVersion());
          body.emplace("error", "Service Unavailable");
          body.emplace("message", *problem);
          sink(JsonReply(503, boost::json::serialize(body)));
          return;
        }
      }
      sink(JsonReply(200, health_body_));
      return;
    }
    if (path == "/.well-known/did.json" && !did_document_.empty()) {
      meta.metrics = did_slot_;
      sink(JsonReply(200, did_document_));
      return;
    }
    if (path == "/metrics") {
      meta.metrics = metrics_slot_;
      HttpReply reply;
      reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
      reply.body = metrics_.RenderPrometheus();
      reply.body += rate_limits_->RenderMetrics();
      for (const auto& source : router_.metrics_sources()) {
        try {
          reply.body += source();
        } catch (const std::exception& e) {
          LogEvent("error", std::string("a metrics source threw: ") + e.what());
        } catch (...) {
          LogEvent("error", "a metrics source threw");
        }
      }
      sink(std::move(reply));
      return;
    }
    if (const Router::PageHandler* page = router_.FindPage(path)) {
      meta.metrics = other_slot_;
      // On the blocking pool: a page may read storage (the checkout page does).
      net::post(*blocking_pool_, [page, path = std::string(path), params = ParseQueryString(query),
                                  sink = std::move(sink)]() mutable {
        HttpReply reply;
        std::optional<std::string> failure;
        try {
          reply = (*page)(params);
        } catch (const std::exception& e) {
          failure = e.what();
        } catch (...) {
          failure = "unknown exception";  // nothing may escape into the pool's thread
        }
        if (failure) {
          LogEvent("error", "page " + path + " threw: " + *failure);
          reply = HttpReply{};
          reply.status = 500;
          reply.content_type = "text/plain; charset=utf-8";
          reply.body = "Internal Server Error\n";
        }
        sink(std::move(reply));
      });
      return;
    }
  }

  std::string_view nsid;
  switch (ExtractXrpcNsid(path, nsid)) {
    case XrpcPath::kNotXrpc: {
      // Express answers these with an HTML page; we keep every answer JSON.
      meta.metrics = other_slot_;
      sink(ErrorReply({404, "NotFound",
                       "Cannot " + std::string(request.method_string()) + " " + meta.path}));
      return;
    }
    case XrpcPath::kInvalid:
      meta.metrics = unknown_slot_;
      sink(ErrorReply(XrpcError::InvalidRequest("invalid xrpc path")));
      return;
    case XrpcPath::kValid:
      break;
  }
  meta.nsid = std::string(nsid);
  const Router::Entry* entry = router_.Find(nsid);
  meta.metrics = entry != nullptr ? metrics_.Find(nsid) : unknown_slot_;
  // The global limit, per client address, before anything else (xrpc-server's catchall). Its
  // headers go out with whatever the answer is, unless a call's own limit is tighter.
  std::optional<RateLimitStatus> global_limit =
      rate_limits_->ConsumeGlobal(ClientAddress(meta.remote));
  auto answer = [&](HttpReply reply) {
    if (global_limit) global_limit->AppendHeaders(reply.headers);
    sink(std::move(reply));
  };
  if (global_limit && global_limit->exceeded) {
    answer(ErrorReply(XrpcError::RateLimitExceeded()));
    return;
  }
  if (entry == nullptr) {
    answer(ErrorReply(XrpcError::MethodNotImplemented()));
    return;
  }
  const lex::MethodDescriptor& method = *entry->method;
  bool is_procedure = method.kind == lex::MethodKind::kProcedure;
  if (verb == http::verb::options) {
    // Express's automatic OPTIONS answer for the route.
    HttpReply reply;
    reply.content_type = "text/html; charset=utf-8";
    reply.body = is_procedure ? "POST" : "GET,HEAD";
    reply.headers = {{"Allow", reply.body}};
    answer(std::move(reply));
    return;
  }
  bool method_ok = is_procedure ? verb == http::verb::post
                                : (verb == http::verb::get || verb == http::verb::head);
  if (!method_ok) {
    answer(ErrorReply(XrpcError::InvalidRequest("Incorrect HTTP method (" +
                                                std::string(request.method_string()) +
                                                ") expected " + (is_procedure ? "POST" : "GET"))));
    return;
  }
  if (method.kind == lex::MethodKind::kSubscription) {
    answer(ErrorReply({501, "MethodNotImplemented", "WebSockets requested but not implemented"}));
    return;
  }
  auto call = std::make_shared<Call>(router_.environment(), method, entry->options.auth,
                                     entry->options.blocking, std::move(request),
                                     ParseQueryString(query), meta.request_id, meta.remote,
                                     std::move(sink));
  if (global_limit) call->NoteRateLimit(*global_limit);
  call->Guard([&] { entry->invoke(call); });
}

void Server::Impl::Shutdown() {
  if (!started_.load() || shutting_down_.exchange(true)) return;
  net::post(control_, [this] { BeginShutdown(); });
}

void Server::Impl::BeginShutdown() {
  beast::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  }
  for (auto& session : sessions) session->Drain();
  shutdown_timer_.expires_after(options_.shutdown_timeout);
  shutdown_timer_.async_wait([this](beast::error_code ec) {
    if (ec) return;
    std::vector<std::shared_ptr<Session>> remaining;
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [raw, weak] : sessions_) {
        if (auto session = weak.lock()) remaining.push_back(std::move(session));
      }
    }
    if (!remaining.empty()) {
      LogEvent("warn", "shutdown deadline passed; closing " + std::to_string(remaining.size()) +
                           " connection(s)");
    }
    for (auto& session : remaining) session->ForceClose();
    Finish();
  });
  CheckDrained();
}

void Server::Impl::CheckDrained() {
  bool empty;
  {
    std::lock_guard lock(sessions_mu_);
    empty = sessions_.empty();
  }
  if (empty) Finish();
}

void Server::Impl::Finish() {
  if (finished_.exchange(true)) return;
  shutdown_timer_.cancel();
  sweep_timer_.cancel();
  work_.reset();
  // Handlers still queued (a force-closed connection's last steps) are dropped with the context.
  net::post(ioc_, [this] { ioc_.stop(); });
}

void Server::Impl::Wait() {
  std::lock_guard lock(wait_mu_);
  if (joined_) return;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // Before the pool is joined: a late answer may still need it (a call whose caller's DID was
  // resolved on another thread runs its method there).
  WaitForReplies();
  if (blocking_pool_) blocking_pool_->join();
  if (access_log_) access_log_->Flush();
  joined_ = true;
}

Server::Server(ServerOptions options, Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

Server::~Server() {
  impl_->Shutdown();
  impl_->Wait();
}

std::optional<std::string> Server::Listen() {
  if (impl_->started()) return "server already started";
  return impl_->Listen();
}
void Server::SetServiceIdentity(std::string service_did, std::string public_url) {
  if (!impl_->started()) impl_->SetServiceIdentity(std::move(service_did), std::move(public_url));
}
std::optional<std::string> Server::Start() { return impl_->Start(); }
std::uint16_t Server::port() const { return impl_->port(); }
void Server::Shutdown() { impl_->Shutdown(); }
void Server::Wait() { impl_->Wait(); }
Metrics& Server::metrics() { return impl_->metrics(); }
boost::asio::io_context& Server::io_context() { return impl_->ioc(); }

}  // namespace atipay::xrpc
