#include "identity/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
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
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
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

struct V4Range {
  std::uint32_t net;
  int bits;
};

// Not globally reachable (IANA special-purpose registry), or this machine.
constexpr V4Range kNonPublicV4[] = {
    {0x00000000, 8},   // 0.0.0.0/8 "this network" (0.0.0.0 reaches this host)
    {0x0A000000, 8},   // 10.0.0.0/8 private
    {0x64400000, 10},  // 100.64.0.0/10 CGNAT
    {0x7F000000, 8},   // 127.0.0.0/8 loopback
    {0xA9FE0000, 16},  // 169.254.0.0/16 link-local (cloud metadata)
    {0xAC100000, 12},  // 172.16.0.0/12 private
    {0xC0000000, 24},  // 192.0.0.0/24 IETF protocol assignments
    {0xC0000200, 24},  // 192.0.2.0/24 documentation
    {0xC0586300, 24},  // 192.88.99.0/24 6to4 relays (deprecated)
    {0xC0A80000, 16},  // 192.168.0.0/16 private
    {0xC6120000, 15},  // 198.18.0.0/15 benchmarking
    {0xC6336400, 24},  // 198.51.100.0/24 documentation
    {0xCB007100, 24},  // 203.0.113.0/24 documentation
    {0xE0000000, 4},   // 224.0.0.0/4 multicast
    {0xF0000000, 4},   // 240.0.0.0/4 reserved, 255.255.255.255 broadcast
};

bool IsPublicV4(std::uint32_t a) {
  return std::none_of(std::begin(kNonPublicV4), std::end(kNonPublicV4), [&](const V4Range& r) {
    return (a >> (32 - r.bits)) == (r.net >> (32 - r.bits));
  });
}

using V6Bytes = asio::ip::address_v6::bytes_type;

bool StartsWith(const V6Bytes& b, std::initializer_list<unsigned char> prefix) {
  return std::equal(prefix.begin(), prefix.end(), b.begin());
}

std::uint32_t V4At(const V6Bytes& b, std::size_t i) {
  return std::uint32_t{b[i]} << 24 | std::uint32_t{b[i + 1]} << 16 | std::uint32_t{b[i + 2]} << 8 |
         std::uint32_t{b[i + 3]};
}

// The IPv4 address an IPv6 one stands for: IPv4-compatible (::/96, which holds :: and ::1 as
// 0.0.0.0 and 0.0.0.1), IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16).
std::optional<std::uint32_t> EmbeddedV4(const V6Bytes& b) {
  const bool zero_to_10 =
      std::all_of(b.begin(), b.begin() + 10, [](unsigned char c) { return c == 0; });
  if (zero_to_10 && ((b[10] == 0 && b[11] == 0) || (b[10] == 0xff && b[11] == 0xff))) {
    return V4At(b, 12);
  }
  if (StartsWith(b, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) return V4At(b, 12);
  if (StartsWith(b, {0x20, 0x02})) return V4At(b, 2);
  return std::nullopt;
}

bool IsPublic(const asio::ip::address& address) {
  if (address.is_v4()) return IsPublicV4(address.to_v4().to_uint());
  const V6Bytes b = address.to_v6().to_bytes();
  if (std::optional<std::uint32_t> v4 = EmbeddedV4(b)) return IsPublicV4(*v4);
  // Only 2000::/3 is global unicast: this refuses unique-local fc00::/7, link-local fe80::/10,
  // site-local fec0::/10, multicast ff00::/8, discard 100::/64 and the rest of the reserved space.
  if ((b[0] & 0xe0) != 0x20) return false;
  return !StartsWith(b, {0x20, 0x01, 0x00, 0x00}) &&              // Teredo 2001::/32
         !StartsWith(b, {0x20, 0x01, 0x00, 0x02, 0x00, 0x00}) &&  // benchmarking 2001:2::/48
         !StartsWith(b, {0x20, 0x01, 0x0d, 0xb8}) &&              // documentation 2001:db8::/32
         !(b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0);   // documentation 3fff::/20
}

bool IsLoopback(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return address.is_loopback();
}

bool Allowed(const asio::ip::address& address, AddressPolicy policy) {
  switch (policy) {
    case AddressPolicy::kAny:
      return true;
    case AddressPolicy::kPublicOrLoopback:
      return IsLoopback(address) || IsPublic(address);
    case AddressPolicy::kPublic:
      return IsPublic(address);
  }
  return false;
}

LookupResult SystemLookup(const std::string& host) {
  addrinfo hints{};  // as Asio's resolver asked, which this replaces
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc == EAI_SYSTEM) return {{}, std::system_category().message(errno)};
  if (rc != 0) return {{}, ::gai_strerror(rc)};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
  LookupResult result;
  for (const addrinfo* p = list; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(p->ai_addr);
      result.addresses.push_back(asio::ip::address_v4(ntohl(in->sin_addr.s_addr)).to_string());
    } else if (p->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(p->ai_addr);
      V6Bytes bytes;
      std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
      result.addresses.push_back(asio::ip::address_v6(bytes, in6->sin6_scope_id).to_string());
    }
  }
  if (result.addresses.empty()) result.error = "no addresses";
  return result;
}

struct PendingLookup {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  LookupResult result;
};

// Runs the lookup on a thread of its own and waits for it until `deadline`. On timeout the
// thread is abandoned: getaddrinfo cannot be interrupted, so it finishes on its own, holding
// its place in `in_flight` until then.
std::variant<LookupResult, HttpError> LookupUntil(
    const NameLookup& lookup, const std::string& host,
    std::shared_ptr<std::atomic<std::size_t>> in_flight, std::size_t max_in_flight,
    SteadyTime deadline) {
  if (in_flight->fetch_add(1) >= max_in_flight) {
    in_flight->fetch_sub(1);
    return Error(HttpError::Kind::kConnect, "too many name lookups in flight to resolve " + host);
  }
  auto pending = std::make_shared<PendingLookup>();
  try {
    std::thread([pending, in_flight, lookup, host] {
      LookupResult result;
      try {
        result = lookup ? lookup(host) : SystemLookup(host);
      } catch (...) {
        result.addresses.clear();
        result.error = "lookup failed";  // short enough not to allocate
      }
      {
        std::lock_guard<std::mutex> lock(pending->mu);
        pending->result = std::move(result);
        pending->done = true;
      }
      pending->cv.notify_all();
      in_flight->fetch_sub(1);
    }).detach();
  } catch (const std::exception&) {
    in_flight->fetch_sub(1);
    return Error(HttpError::Kind::kConnect, "cannot start a name lookup for " + host);
  }
  std::unique_lock<std::mutex> lock(pending->mu);
  if (!pending->cv.wait_until(lock, deadline, [&] { return pending->done; })) {
    return Error(HttpError::Kind::kTimeout, "timed out resolving " + host);
  }
  return std::move(pending->result);
}

}  // namespace

bool IsPublicAddress(std::string_view ip) {
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(ip), ec);
  return !ec && IsPublic(address);
}

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

struct HttpClient::Lookups {
  // Lookups running, abandoned ones included: [0] for operator URLs, [1] for did:web hosts.
  std::array<std::atomic<std::size_t>, 2> in_flight{};
};

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)), lookups_(std::make_shared<Lookups>()) {
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

// The response header block at most; the read buffer holds it whole, with room to spare.
constexpr std::size_t kHeaderLimitBytes = 16 * 1024;
constexpr std::size_t kReadBufferBytes = 2 * kHeaderLimitBytes;

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

  // The parser copies body bytes out as they come, but keeps a chunk-size line (with its
  // extensions) or the trailer in the buffer until the line ends, and checks neither against a
  // limit: an unbounded buffer grew for as long as the sender kept such a line going (over
  // 700 MB in 3 s on loopback). Bounded, an over-long one is buffer_overflow.
  beast::flat_buffer buffer(kReadBufferBytes);
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimitBytes);
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
  if (ec == http::error::buffer_overflow) {
    return Error(HttpError::Kind::kTooLarge, "response from " + url.host +
                                                 " has a chunk line or trailer over " +
                                                 std::to_string(kReadBufferBytes) + " bytes");
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

std::variant<HttpResponse, HttpError> HttpClient::Get(const Url& url, AddressPolicy policy) const {
  return Send(false, url, {}, {}, policy);
}

std::variant<HttpResponse, HttpError> HttpClient::Post(const Url& url, std::string body,
                                                       std::string_view content_type) const {
  return Send(true, url, std::move(body), content_type, AddressPolicy::kAny);
}

std::variant<HttpResponse, HttpError> HttpClient::Send(bool post, const Url& url, std::string body,
                                                       std::string_view content_type,
                                                       AddressPolicy policy) const {
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
    std::vector<asio::ip::address> addresses;
    if (IsIpLiteral(url.host)) {
      addresses.push_back(asio::ip::make_address(url.host));
    } else {
      const bool caller_chosen = policy != AddressPolicy::kAny;
      std::shared_ptr<std::atomic<std::size_t>> in_flight(lookups_,
                                                          &lookups_->in_flight[caller_chosen]);
      auto found = LookupUntil(options_.lookup, url.host, std::move(in_flight),
                               options_.max_lookups_in_flight, connect_deadline);
      if (auto* e = std::get_if<HttpError>(&found)) return std::move(*e);
      LookupResult& lookup = std::get<LookupResult>(found);
      if (lookup.addresses.empty()) {
        return Error(HttpError::Kind::kConnect, "cannot resolve " + url.host + ": " + lookup.error);
      }
      for (const std::string& text : lookup.addresses) {
        boost::system::error_code bad;
        addresses.push_back(asio::ip::make_address(text, bad));
        if (bad) {
          return Error(HttpError::Kind::kConnect,
                       "cannot resolve " + url.host + ": not an address: " + text);
        }
      }
    }
    // Every address, as connect may try any of them; and only these (no second lookup).
    std::vector<tcp::endpoint> endpoints;
    const auto port = static_cast<unsigned short>(std::stoi(url.port));
    for (const asio::ip::address& address : addresses) {
      if (!Allowed(address, policy)) {
        const std::string what = address.to_string();
        return Error(HttpError::Kind::kRefusedAddress,
                     (what == url.host ? what : url.host + " resolves to " + what) +
                         ", not a public address");
      }
      endpoints.emplace_back(address, port);
    }
    beast::error_code ec;
    bool done = false;

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
