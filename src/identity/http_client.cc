#include "identity/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <exception>
#include <utility>

namespace atipay::identity {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Runs the io_context until the pending operation has completed or `deadline` passes. On
// timeout `cancel` aborts the operation, whose handler then runs with operation_aborted.
template <class Cancel>
bool RunUntil(asio::io_context& ioc, const bool& done, SteadyTime deadline, Cancel cancel) {
  ioc.restart();
  ioc.run_until(deadline);
  if (done) return true;
  cancel();
  ioc.restart();
  ioc.run();
  return false;
}

HttpError Error(HttpError::Kind kind, std::string message) { return {kind, std::move(message)}; }

}  // namespace

std::optional<Url> Url::Parse(std::string_view text) {
  Url url;
  std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  for (char c : text.substr(0, colon)) url.scheme.push_back(Lower(c));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  std::string_view rest = text.substr(colon + 3);
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (target.find('#') != std::string_view::npos) return std::nullopt;
  if (!target.empty() && target[0] == '?')
    url.target = "/" + std::string(target);
  else
    url.target = std::string(target);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port;
  if (authority[0] == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      port = after.substr(1);
    }
    if (!IsIpLiteral(url.host)) return std::nullopt;
  } else {
    std::size_t pcolon = authority.find(':');
    std::string_view host = authority.substr(0, pcolon);
    if (pcolon != std::string_view::npos) port = authority.substr(pcolon + 1);
    if (host.empty() || host.size() > 253) return std::nullopt;
    for (char c : host) {
      c = Lower(c);
      if (!IsHostChar(c)) return std::nullopt;
      url.host.push_back(c);
    }
  }
  if (port.empty()) {
    url.port = url.scheme == "https" ? "443" : "80";
  } else {
    if (port.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    url.port = std::to_string(value);
  }
  return url;
}

std::string Url::ToString() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
  return scheme + "://" + host_part + (default_port ? "" : ":" + port) + target;
}

bool IsLoopbackHost(std::string_view host) {
  std::string lower;
  for (char c : host) lower.push_back(Lower(c));
  if (lower == "localhost" || lower.ends_with(".localhost")) return true;
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(lower, ec);
  return !ec && address.is_loopback();
}

struct HttpClient::Tls {
  asio::ssl::context context{asio::ssl::context::tls_client};
  std::string error;  // non-empty when the context could not be set up
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  try {
    tls_ = std::make_unique<Tls>();
    boost::system::error_code ec;
    tls_->context.set_options(asio::ssl::context::default_workarounds |
                                  asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                              ec);
    tls_->context.set_default_verify_paths(ec);
    if (ec) tls_->error = "cannot load the system CA store: " + ec.message();
    if (!options_.extra_ca_file.empty()) {
      tls_->context.load_verify_file(options_.extra_ca_file, ec);
      if (ec) tls_->error = "cannot load " + options_.extra_ca_file + ": " + ec.message();
    }
    tls_->context.set_verify_mode(asio::ssl::verify_peer, ec);
  } catch (const std::exception&) {
    tls_.reset();  // every https request then fails with kTls
  }
}

HttpClient::~HttpClient() = default;

namespace {

template <class Stream>
std::variant<HttpResponse, HttpError> Exchange(asio::io_context& ioc, Stream& stream,
                                               http::request<http::string_body>& request,
                                               const Url& url, const HttpClientOptions& options,
                                               SteadyTime deadline) {
  bool default_port =
      (url.scheme == "https" && url.port == "443") || (url.scheme == "http" && url.port == "80");
  std::string host_header =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (!default_port) host_header += ":" + url.port;
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, options.user_agent);
  request.set(http::field::accept, "application/did+ld+json, application/json");
  request.set(http::field::connection, "close");
  request.prepare_payload();

  auto close = [&] { beast::get_lowest_layer(stream).close(); };
  bool done = false;
  beast::error_code ec;
  http::async_write(stream, request, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc, done, deadline, close)) {
    return Error(HttpError::Kind::kTimeout, "timed out sending request to " + url.host);
  }
  if (ec) return Error(HttpError::Kind::kConnect, "cannot send request: " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(options.max_body_bytes);
  done = false;
  http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!RunUntil(ioc, done, deadline, close)) {
    return Error(HttpError::Kind::kTimeout, "timed out waiting for " + url.host);
  }
  if (ec == http::error::body_limit) {
    return Error(HttpError::Kind::kTooLarge, "response from " + url.host + " is too large");
  }
  if (ec) {
    return Error(HttpError::Kind::kProtocol, "bad response from " + url.host + ": " + ec.message());
  }
  HttpResponse response;
  response.status = static_cast<int>(parser.get().result_int());
  response.body = std::move(parser.get().body());
  return response;
}

}  // namespace

std::variant<HttpResponse, HttpError> HttpClient::Get(const Url& url) const {
  return Send(false, url, {}, {});
}

std::variant<HttpResponse, HttpError> HttpClient::Post(const Url& url, std::string body,
                                                       std::string_view content_type) const {
  return Send(true, url, std::move(body), content_type);
}

std::variant<HttpResponse, HttpError> HttpClient::Send(bool post, const Url& url, std::string body,
                                                       std::string_view content_type) const {
  try {
    http::request<http::string_body> request{post ? http::verb::post : http::verb::get, url.target,
                                             11};
    if (post) {
      request.set(http::field::content_type, content_type);
      request.body() = std::move(body);
    }
    const SteadyTime start = std::chrono::steady_clock::now();
    const SteadyTime deadline = start + options_.request_timeout;
    const SteadyTime connect_deadline = std::min(deadline, start + options_.connect_timeout);
    asio::io_context ioc;

    // Name lookup, skipped for IP literals.
    tcp::resolver::results_type endpoints;
    beast::error_code ec;
    bool done = false;
    tcp::resolver resolver(ioc);
    if (IsIpLiteral(url.host)) {
      endpoints = tcp::resolver::results_type::create(
          tcp::endpoint(asio::ip::make_address(url.host),
                        static_cast<unsigned short>(std::stoi(url.port))),
          url.host, url.port);
    } else {
      resolver.async_resolve(url.host, url.port,
                             [&](beast::error_code e, tcp::resolver::results_type r) {
                               ec = e;
                               endpoints = std::move(r);
                               done = true;
                             });
      if (!RunUntil(ioc, done, connect_deadline, [&] { resolver.cancel(); })) {
        return Error(HttpError::Kind::kTimeout, "timed out resolving " + url.host);
      }
      if (ec) return Error(HttpError::Kind::kConnect, "cannot resolve " + url.host);
    }

    auto connect = [&](beast::tcp_stream& tcp_stream) -> std::optional<HttpError> {
      done = false;
      tcp_stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
        ec = e;
        done = true;
      });
      if (!RunUntil(ioc, done, connect_deadline, [&] { tcp_stream.close(); })) {
        return Error(HttpError::Kind::kTimeout, "timed out connecting to " + url.host);
      }
      if (ec) {
        return Error(HttpError::Kind::kConnect,
                     "cannot connect to " + url.host + ":" + url.port + ": " + ec.message());
      }
      return std::nullopt;
    };

    if (url.scheme == "http") {
      beast::tcp_stream stream(ioc);
      if (auto error = connect(stream)) return *error;
      return Exchange(ioc, stream, request, url, options_, deadline);
    }

    if (!tls_) return Error(HttpError::Kind::kTls, "TLS is unavailable");
    if (!tls_->error.empty()) return Error(HttpError::Kind::kTls, tls_->error);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, tls_->context);
    // SNI (not for IP literals, RFC 6066 §3) and the certificate's name must match the host.
    if (!IsIpLiteral(url.host) &&
        SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1) {
      return Error(HttpError::Kind::kTls, "cannot set TLS server name");
    }
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    if (auto error = connect(beast::get_lowest_layer(stream))) return *error;
    done = false;
    stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    if (!RunUntil(ioc, done, connect_deadline, [&] { beast::get_lowest_layer(stream).close(); })) {
      return Error(HttpError::Kind::kTimeout, "timed out in TLS handshake with " + url.host);
    }
    if (ec) {
      return Error(HttpError::Kind::kTls,
                   "TLS handshake with " + url.host + " failed: " + ec.message());
    }
    return Exchange(ioc, stream, request, url, options_, deadline);
  } catch (const std::exception& e) {
    return Error(HttpError::Kind::kProtocol, std::string("HTTP client failure: ") + e.what());
  }
}

}  // namespace atipay::identity
