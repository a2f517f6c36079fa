// A small blocking HTTP(S) GET for DID resolution: every phase bounded by a deadline, TLS
// verified against the system CA store with SNI and host-name checks, bodies capped.
#ifndef ATIPAY_IDENTITY_HTTP_CLIENT_H_
#define ATIPAY_IDENTITY_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

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

// localhost, *.localhost, 127.0.0.0/8 and ::1.
bool IsLoopbackHost(std::string_view host);

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{3000};  // name lookup + TCP + TLS handshake
  std::chrono::milliseconds request_timeout{5000};  // the whole exchange
  std::size_t max_body_bytes = 256 * 1024;
  // Extra PEM trust anchors on top of the system store (tests use a private CA).
  std::string extra_ca_file;
  std::string user_agent = "atipay-identity";
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

struct HttpError {
  enum class Kind { kBadUrl, kConnect, kTimeout, kTls, kProtocol, kTooLarge };
  Kind kind;
  std::string message;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Thread-safe; never throw. Redirects are not followed.
  std::variant<HttpResponse, HttpError> Get(const Url& url) const;
  // For the dev tool registering identities on a local PLC directory.
  std::variant<HttpResponse, HttpError> Post(const Url& url, std::string body,
                                             std::string_view content_type) const;

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Tls;
  std::variant<HttpResponse, HttpError> Send(bool post, const Url& url, std::string body,
                                             std::string_view content_type) const;
  HttpClientOptions options_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_HTTP_CLIENT_H_
