// HttpXrpcCaller: XRPC over one keep-alive HTTP/1.1 connection (see agent.h).
//
// Asio and Beast, TLS included, are compiled once in atipay_net (src/net/). Name lookup,
// connect, TLS and TLS exchanges are async on a private io_context driven with run_one() until
// the handler has run, each bounded by a beast::tcp_stream expiry or a timer. Plain-TCP exchanges (the load
// tool's hot path) are synchronous on the non-blocking socket with poll() bounding each wait.
// Nothing blocks without bound.
#include <openssl/ssl.h>
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <exception>
#include <optional>
#include <utility>

#include "agent/agent.h"
#include "identity/http_client.h"
#include "lex/params.h"

namespace atipay::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Query parameters from a JSON object of scalars (arrays: repeated keys).
bool AppendParam(lex::ParamList& out, const std::string& key, const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      out.emplace_back(key, std::string(v.get_string()));
      return true;
    case json::kind::int64:
      out.emplace_back(key, std::to_string(v.get_int64()));
      return true;
    case json::kind::uint64:
      out.emplace_back(key, std::to_string(v.get_uint64()));
      return true;
    case json::kind::bool_:
      out.emplace_back(key, v.get_bool() ? "true" : "false");
      return true;
    case json::kind::null:
      return true;  // absent
    case json::kind::array:
      for (const json::value& item : v.get_array()) {
        if (item.is_array() || item.is_object()) return false;
        if (!AppendParam(out, key, item)) return false;
      }
      return true;
    default:
      return false;
  }
}

}  // namespace

struct HttpXrpcCaller::Impl {
  explicit Impl(HttpCallerOptions o) : options(std::move(o)) {
    auto parsed = identity::Url::Parse(options.base_url);
    if (!parsed) {
      setup_error = "bad base URL: " + options.base_url;
      return;
    }
    url = *parsed;
    prefix = url.target;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.find('?') != std::string::npos)
      setup_error = "base URL has a query: " + options.base_url;
    const bool default_port =
        (url.scheme == "https" && url.port == "443") || (url.scheme == "http" && url.port == "80");
    host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (!default_port) host_header += ":" + url.port;
    if (url.scheme == "https") {
      try {
        tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        boost::system::error_code ec;
        tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1,
                         ec);
        tls->set_default_verify_paths(ec);
        if (ec) setup_error = "cannot load the system CA store: " + ec.message();
        if (!options.extra_ca_file.empty()) {
          tls->load_verify_file(options.extra_ca_file, ec);
          if (ec) setup_error = "cannot load " + options.extra_ca_file + ": " + ec.message();
        }
        tls->set_verify_mode(asio::ssl::verify_peer, ec);
      } catch (const std::exception& e) {
        setup_error = std::string("TLS unavailable: ") + e.what();
      }
    }
  }

  // Runs the io_context until `done` (set by the pending operation's handler).
  void RunUntilDone(const bool& done) {
    // The pending operation is outstanding work, so run_one() blocks until a handler ran.
    while (!done) {
      if (ioc.stopped()) ioc.restart();
      ioc.run_one();
    }
  }

  beast::tcp_stream& Lowest() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain; }

  void Close() {
    if (tls_stream) {
      boost::system::error_code ec;
      beast::get_lowest_layer(*tls_stream).socket().close(ec);
      tls_stream.reset();
    }
    if (plain) {
      boost::system::error_code ec;
      plain->socket().close(ec);
      plain.reset();
    }
    connected = false;
    buffer.clear();
    // Lingering handlers of the closed stream (timers) run now, not in the next call.
    ioc.restart();
    ioc.poll();
  }

  // True when the idle connection is no longer usable: the peer closed it (or sent something
  // unasked). TLS connections only look at hang-up, since TLS may legitimately send records.
  bool PeerClosed() {
    pollfd p{};
    p.fd = Lowest().socket().native_handle();
    p.events = static_cast<short>(tls_stream ? POLLRDHUP : (POLLIN | POLLRDHUP));
    int n = ::poll(&p, 1, 0);
    return n != 0;  // ready, hung up, error, or poll failed
  }

  std::optional<XrpcResult> Resolve() {
    if (!endpoints.empty()) return std::nullopt;
    if (IsIpLiteral(url.host)) {
      endpoints = tcp::resolver::results_type::create(
          tcp::endpoint(asio::ip::make_address(url.host),
                        static_cast<unsigned short>(std::stoi(url.port))),
          url.host, url.port);
      return std::nullopt;
    }
    tcp::resolver resolver(ioc);
    asio::steady_timer timer(ioc);
    bool done = false;
    bool timed_out = false;
    boost::system::error_code ec;
    timer.expires_after(options.connect_timeout);
    timer.async_wait([&](boost::system::error_code e) {
      if (!e && !done) {
        timed_out = true;
        resolver.cancel();
      }
    });
    resolver.async_resolve(url.host, url.port,
                           [&](boost::system::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                             timer.cancel();
                           });
    RunUntilDone(done);
    ioc.restart();
    ioc.poll();  // the timer's cancelled wait
    if (timed_out) return XrpcResult::Failure(0, "Timeout", "timed out resolving " + url.host);
    if (ec || endpoints.empty()) {
      endpoints = {};
      return XrpcResult::Failure(0, "ConnectionFailed", "cannot resolve " + url.host);
    }
    return std::nullopt;
  }

  std::optional<XrpcResult> Connect() {
    if (!setup_error.empty()) return XrpcResult::Failure(0, "ConnectionFailed", setup_error);
    if (auto error = Resolve()) return error;
    beast::tcp_stream* stream;
    if (tls) {
      tls_stream.emplace(ioc, *tls);
      stream = &beast::get_lowest_layer(*tls_stream);
    } else {
      plain.emplace(ioc);
      stream = &*plain;
    }
    bool done = false;
    beast::error_code ec;
    stream->expires_after(options.connect_timeout);
    stream->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    RunUntilDone(done);
    if (ec) {
      Close();
      if (ec == beast::error::timeout) {
        return XrpcResult::Failure(0, "Timeout", "timed out connecting to " + host_header);
      }
      return XrpcResult::Failure(0, "ConnectionFailed",
                                 "cannot connect to " + host_header + ": " + ec.message());
    }
    boost::system::error_code nodelay_ec;
    stream->socket().set_option(tcp::no_delay(true), nodelay_ec);
    if (tls_stream) {
      if (!IsIpLiteral(url.host) &&
          SSL_set_tlsext_host_name(tls_stream->native_handle(), url.host.c_str()) != 1) {
        Close();
        return XrpcResult::Failure(0, "ConnectionFailed", "cannot set TLS server name");
      }
      tls_stream->set_verify_mode(asio::ssl::verify_peer);
      tls_stream->set_verify_callback(asio::ssl::host_name_verification(url.host));
      done = false;
      tls_stream->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) {
        ec = e;
        done = true;
      });
      RunUntilDone(done);
      if (ec) {
        Close();
        return XrpcResult::Failure(0, ec == beast::error::timeout ? "Timeout" : "ConnectionFailed",
                                   "TLS handshake with " + url.host + " failed: " + ec.message());
      }
    }
    stream->expires_never();
    if (!tls_stream) {
      // Synchronous operations from here on (ExchangeSync): they must not block in the kernel.
      stream->socket().non_blocking(true, ec);
      if (ec) {
        Close();
        return XrpcResult::Failure(0, "ConnectionFailed",
                                   "cannot set non-blocking: " + ec.message());
      }
    }
    connected = true;
    ++connects;
    return std::nullopt;
  }

  enum class Outcome { kOk, kRetry, kFailed };

  // TLS: Beast's async operations, bounded by the stream's expiry.
  template <class Stream>
  beast::error_code ExchangeAsync(Stream& stream, http::request<http::string_body>& request,
                                  http::response_parser<http::string_body>& parser, bool& sent,
                                  std::size_t& received) {
    Lowest().expires_after(options.request_timeout);
    bool done = false;
    beast::error_code ec;
    http::async_write(stream, request, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    RunUntilDone(done);
    if (ec) return ec;
    sent = true;
    done = false;
    http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t n) {
      ec = e;
      received = n;
      done = true;
    });
    RunUntilDone(done);
    if (!ec) Lowest().expires_never();
    return ec;
  }

  // Plain TCP, the hot path of the load tool: Beast's synchronous operations on the
  // non-blocking socket, waiting in poll() with the time left. A call costs a send, a poll and
  // a recv or two; no reactor, no timer syscalls.
  class PollStream {
   public:
    PollStream(tcp::socket& socket, std::chrono::steady_clock::time_point deadline)
        : socket_(socket), deadline_(deadline) {}

    template <class Buffers>
    std::size_t read_some(const Buffers& buffers, beast::error_code& ec) {
      for (;;) {
        if (!Wait(POLLIN, ec)) return 0;
        std::size_t n = socket_.read_some(buffers, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        received += n;
        return n;
      }
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& buffers, beast::error_code& ec) {
      for (;;) {
        std::size_t n = socket_.write_some(buffers, ec);
        if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
        if (!Wait(POLLOUT, ec)) return 0;
      }
    }
    template <class Buffers>
    std::size_t read_some(const Buffers& buffers) {
      beast::error_code ec;
      std::size_t n = read_some(buffers, ec);
      if (ec) throw boost::system::system_error(ec);
      return n;
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& buffers) {
      beast::error_code ec;
      std::size_t n = write_some(buffers, ec);
      if (ec) throw boost::system::system_error(ec);
      return n;
    }

    std::size_t received = 0;

   private:
    bool Wait(short events, beast::error_code& ec) {
      for (;;) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ -
                                                                 std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          ec = beast::error::timeout;
          return false;
        }
        pollfd p{};
        p.fd = socket_.native_handle();
        p.events = events;
        int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30)));
        if (n > 0) return true;  // ready, or hung up / failed: the next read or write says which
        if (n == 0) continue;    // re-check the deadline
        if (errno == EINTR) continue;
        ec = beast::error_code(errno, boost::system::system_category());
        return false;
      }
    }

    tcp::socket& socket_;
    std::chrono::steady_clock::time_point deadline_;
  };

  beast::error_code ExchangeSync(http::request<http::string_body>& request,
                                 http::response_parser<http::string_body>& parser, bool& sent,
                                 std::size_t& received) {
    PollStream stream(plain->socket(), std::chrono::steady_clock::now() + options.request_timeout);
    beast::error_code ec;
    http::write(stream, request, ec);
    if (ec) return ec;
    sent = true;
    http::read(stream, buffer, parser, ec);
    received = stream.received;
    return ec;
  }

  Outcome Exchange(http::request<http::string_body>& request, bool reused, XrpcResult& out) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(options.max_response_bytes);
    bool sent = false;
    std::size_t received = 0;
    beast::error_code ec = tls_stream ? ExchangeAsync(*tls_stream, request, parser, sent, received)
                                      : ExchangeSync(request, parser, sent, received);
    if (ec) {
      // Nothing came back on a connection we had used before: the server most likely closed
      // it as idle just as we wrote. Send again, once, on a fresh connection.
      const bool nothing = received == 0 && !parser.got_some() && buffer.size() == 0;
      Close();
      if (reused && nothing && ec != beast::error::timeout) return Outcome::kRetry;
      if (ec == beast::error::timeout) {
        out = XrpcResult::Failure(
            0, "Timeout",
            std::string(sent ? "timed out waiting for " : "timed out sending to ") + host_header);
      } else if (ec == http::error::body_limit) {
        out = XrpcResult::Failure(0, "ResponseTooLarge", "response body over the limit");
      } else {
        out = XrpcResult::Failure(0, "ConnectionFailed",
                                  std::string(sent ? "no answer from " : "cannot send to ") +
                                      host_header + ": " + ec.message());
      }
      return Outcome::kFailed;
    }
    auto& response = parser.get();
    if (!response.keep_alive()) Close();
    out.status = static_cast<int>(response.result_int());
    const std::string& body = response.body();
    if (body.empty()) {
      out.body = nullptr;
      if (!out.ok()) out.body = json::object{{"error", XrpcResult{out.status, {}}.ErrorName()}};
      return Outcome::kOk;
    }
    json::error_code jec;
    json::value parsed = json::parse(body, jec);
    if (!jec) {
      out.body = std::move(parsed);
    } else if (out.ok()) {
      out = XrpcResult::Failure(0, "InvalidResponse",
                                "the " + std::to_string(out.status) + " answer is not JSON");
    } else {
      out.body = json::object{{"error", XrpcResult{out.status, {}}.ErrorName()},
                              {"message", body.substr(0, 512)}};
    }
    return Outcome::kOk;
  }

  XrpcResult Call(std::string_view nsid, bool procedure, const json::object& input) {
    std::string target = prefix + "/xrpc/" + std::string(nsid);
    http::request<http::string_body> request;
    if (procedure) {
      request.method(http::verb::post);
      request.set(http::field::content_type, "application/json");
      request.body() = json::serialize(input);
    } else {
      request.method(http::verb::get);
      lex::ParamList params;
      for (const auto& [key, value] : input) {
        if (!AppendParam(params, std::string(key), value)) {
          return XrpcResult::Failure(0, "InvalidRequest",
                                     "query parameter " + std::string(key) + " is not a scalar");
        }
      }
      if (!params.empty()) target += "?" + lex::EncodeQueryString(params);
    }
    request.target(target);
    request.version(11);
    request.set(http::field::host, host_header);
    request.set(http::field::user_agent, options.user_agent);
    request.set(http::field::accept, "application/json");
    if (!options.proxy.empty()) request.set("atproto-proxy", options.proxy);
    for (const auto& [name, value] : options.headers) request.set(name, value);
    request.keep_alive(true);
    request.prepare_payload();

    for (int attempt = 0; attempt < 2; ++attempt) {
      if (options.token_source) {
        std::string token = options.token_source(nsid);
        if (token.empty()) {
          request.erase(http::field::authorization);
        } else {
          request.set(http::field::authorization, "Bearer " + token);
        }
      }
      bool reused = connected;
      if (connected && PeerClosed()) {
        Close();
        reused = false;
      }
      if (!connected) {
        if (auto error = Connect()) return *error;
      }
      XrpcResult out;
      Outcome outcome = Exchange(request, reused, out);
      if (outcome == Outcome::kRetry) continue;
      return out;
    }
    return XrpcResult::Failure(0, "ConnectionFailed", "the connection closed twice");
  }

  HttpCallerOptions options;
  identity::Url url;
  std::string prefix;
  std::string host_header;
  std::string setup_error;
  asio::io_context ioc{1};
  std::unique_ptr<asio::ssl::context> tls;
  tcp::resolver::results_type endpoints;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  beast::flat_buffer buffer;
  bool connected = false;
  std::int64_t connects = 0;
};

HttpXrpcCaller::HttpXrpcCaller(HttpCallerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpXrpcCaller::~HttpXrpcCaller() = default;
HttpXrpcCaller::HttpXrpcCaller(HttpXrpcCaller&&) noexcept = default;
HttpXrpcCaller& HttpXrpcCaller::operator=(HttpXrpcCaller&&) noexcept = default;

XrpcResult HttpXrpcCaller::Call(std::string_view nsid, bool procedure,
                                const json::object& input_or_params) {
  try {
    return impl_->Call(nsid, procedure, input_or_params);
  } catch (const std::exception& e) {
    impl_->Close();
    return XrpcResult::Failure(0, "ConnectionFailed",
                               std::string("HTTP client failure: ") + e.what());
  }
}

std::int64_t HttpXrpcCaller::connects() const { return impl_->connects; }
const HttpCallerOptions& HttpXrpcCaller::options() const { return impl_->options; }

}  // namespace atipay::agent
