// An HTTP(S) server for resolver tests: 127.0.0.1 only, port chosen by the OS, one thread.
// Each request is answered by a handler; replies can be delayed, raw (not HTTP) or cut.
#ifndef ATIPAY_TESTS_AUTH_TEST_HTTP_SERVER_H_
#define ATIPAY_TESTS_AUTH_TEST_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace atipay::test {

struct Reply {
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};  // before anything is sent
  bool raw = false;                    // send `body` as is, no HTTP framing, then close
};

struct TlsFiles {
  std::string cert_chain_pem;  // leaf (+ intermediates)
  std::string key_pem;
};

class TestHttpServer {
 public:
  using Handler = std::function<Reply(const std::string& target)>;
  // With `tls`, speaks HTTPS.
  explicit TestHttpServer(Handler handler, const TlsFiles* tls = nullptr);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  unsigned short port() const;
  int requests() const;
  // The most recent request.
  struct Request {
    std::string method;
    std::string target;
    std::string body;
  };
  Request last_request() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A port on 127.0.0.1 that refuses connections (bound once, then released).
unsigned short UnusedPort();

// A private CA and a leaf certificate for `host` (DNS name or IP), signed by it, in PEM.
struct TestPki {
  std::string ca_cert_pem;
  TlsFiles leaf;
};
TestPki MakeTestPki(const std::string& host);

}  // namespace atipay::test

#endif  // ATIPAY_TESTS_AUTH_TEST_HTTP_SERVER_H_
