// A tiny HTTP/1.1 server for client tests: 127.0.0.1 on a port the kernel picks, keep-alive,
// one thread, a handler per request. Counts connections and can drop every open connection
// (to test client reconnects). Shared with tests/load.
#ifndef ATIPAY_TESTS_AGENT_TEST_SERVER_H_
#define ATIPAY_TESTS_AGENT_TEST_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace atipay::agent::test {

struct HttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpReply {
  int status = 200;
  std::string body;
  bool close = false;  // answer with Connection: close and close
  std::string content_type = "application/json";
  bool drop = false;  // close the connection without answering
};

class TestServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  // Handlers run on the server's single thread, one at a time.
  explicit TestServer(Handler handler);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"
  int connections() const;  // accepted so far
  int requests() const;
  // Closes every open connection from the server side; returns once they are closed.
  void CloseAllConnections();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atipay::agent::test

#endif  // ATIPAY_TESTS_AGENT_TEST_SERVER_H_
