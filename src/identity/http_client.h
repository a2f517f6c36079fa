// A small blocking HTTP(S) GET for DID resolution: every phase bounded by a deadline, TLS
// verified against the system CA store with SNI and host-name checks, bodies capped, and the
// memory a response takes bounded (header block, chunk lines and trailer included).
#ifndef ATIPAY_IDENTITY_HTTP_CLIENT_H_
#define ATIPAY_IDENTITY_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace atipay::identity {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // always set (80 / 443 by default)
  std::string target;  // path and query, starting with '/'

  // Absolute http(s) URL; no user-info, no fragment.
  static std::optional<Url> Parse(std::string_view text);
  std::string ToString() const;
};

// localhost, *.localhost, 127.0.0.0/8 and ::1, as spelled (no lookup).
bool IsLoopbackHost(std::string_view host);

// Which addresses a request may connect to. Checked on every address the host resolves to, not
// on its spelling (did:web:2130706433 is 127.0.0.1), and the request then connects only to the
// addresses checked, with no second lookup (DNS rebinding).
enum class AddressPolicy {
  kAny,               // URLs the operator configured (the PLC directory, dev tools)
  kPublic,            // did:web: a host the caller chose
  kPublicOrLoopback,  // did:web in dev mode
};

// A globally routable unicast address literal: not loopback, private (RFC 1918), CGNAT,
// link-local, unique-local, site-local, unspecified, multicast, broadcast, reserved,
// benchmarking or documentation, nor an IPv4-compatible, IPv4-mapped, NAT64 or 6to4 form of a
// non-public IPv4 address. False for anything that is not an address literal.
bool IsPublicAddress(std::string_view ip);

// What a host name resolves to: address literals, or why there are none.
struct LookupResult {
  std::vector<std::string> addresses;
  std::string error;
};
// A blocking name lookup.
using NameLookup = std::function<LookupResult(const std::string& host)>;

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{3000};  // name lookup + TCP + TLS handshake
  std::chrono::milliseconds request_timeout{5000};  // the whole exchange
  std::size_t max_body_bytes = 256 * 1024;
  // Extra PEM trust anchors on top of the system store (tests use a private CA).
  std::string extra_ca_file;
  std::string user_agent = "atipay-identity";
  // Empty: the system resolver (getaddrinfo). Tests put names of their own here. It may still
  // run after the request has given up on it, and after the client is gone: it must own what
  // it uses.
  NameLookup lookup;
  // getaddrinfo cannot be cancelled, so each lookup runs on a thread of its own that a request
  // abandons at its deadline. At most this many run at once, abandoned ones included, for
  // operator URLs and again for caller-chosen (did:web) hosts: slow names a caller picks can
  // neither make threads without bound nor take the PLC directory's lookups.
  std::size_t max_lookups_in_flight = 32;
  // Receives what the caller is not told (did:web failures: URL, port, socket or TLS error),
  // from any thread. Empty: dropped.
  std::function<void(std::string_view)> log;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

struct HttpError {
  enum class Kind { kBadUrl, kConnect, kTimeout, kTls, kProtocol, kTooLarge, kRefusedAddress };
  Kind kind;
  std::string message;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Thread-safe; never throw. Redirects are not followed. A host `policy` refuses is
  // kRefusedAddress, with no connection attempted.
  std::variant<HttpResponse, HttpError> Get(const Url& url,
                                            AddressPolicy policy = AddressPolicy::kAny) const;
  // For the dev tool registering identities on a local PLC directory.
  std::variant<HttpResponse, HttpError> Post(const Url& url, std::string body,
                                             std::string_view content_type) const;

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Tls;
  struct Lookups;
  std::variant<HttpResponse, HttpError> Send(bool post, const Url& url, std::string body,
                                             std::string_view content_type,
                                             AddressPolicy policy) const;
  HttpClientOptions options_;
  std::unique_ptr<Tls> tls_;
  std::shared_ptr<Lookups> lookups_;  // shared with abandoned lookup threads
};

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_HTTP_CLIENT_H_
