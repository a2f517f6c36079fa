#include "agent/test_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <future>
#include <set>
#include <thread>

namespace atipay::agent::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct TestServer::Impl {
  struct Conn : std::enable_shared_from_this<Conn> {
    Conn(Impl* s, tcp::socket sock) : server(s), socket(std::move(sock)) {}
    Impl* server;
    tcp::socket socket;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;

    void Read() {
      request = {};
      http::async_read(socket, buffer, request,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return self->Done();
                         self->Handle();
                       });
    }
    void Handle() {
      HttpRequest r;
      r.method = std::string(request.method_string());
      r.target = std::string(request.target());
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(field.value());
      }
      r.body = request.body();
      ++server->requests;
      HttpReply reply = server->handler(r);
      if (reply.drop) {
        beast::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        return Done();
      }
      response = {};
      response.version(11);
      response.result(static_cast<unsigned>(reply.status));
      response.set(http::field::content_type, reply.content_type);
      response.body() = std::move(reply.body);
      response.keep_alive(!reply.close && request.keep_alive());
      response.prepare_payload();
      http::async_write(socket, response,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec || !self->response.keep_alive()) {
                            beast::error_code ignored;
                            self->socket.shutdown(tcp::socket::shutdown_send, ignored);
                            return self->Done();
                          }
                          self->Read();
                        });
    }
    void Done() {
      beast::error_code ignored;
      socket.close(ignored);
      server->open.erase(this);
    }
  };

  explicit Impl(Handler h) : handler(std::move(h)), acceptor(ioc) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    Accept();
    thread = std::thread([this] { ioc.run(); });
  }

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++connections;
      auto conn = std::make_shared<Conn>(this, std::move(socket));
      open.insert(conn.get());
      conn->Read();
      Accept();
    });
  }

  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::set<Conn*> open;  // io thread only
  std::atomic<int> connections{0};
  std::atomic<int> requests{0};
  int port = 0;
  std::thread thread;
};

TestServer::TestServer(Handler handler) : impl_(std::make_unique<Impl>(std::move(handler))) {}

TestServer::~TestServer() {
  asio::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    for (auto* conn : impl->open) conn->socket.close(ignored);
    impl->ioc.stop();
  });
  impl_->thread.join();
}

int TestServer::port() const { return impl_->port; }
std::string TestServer::url() const { return "http://127.0.0.1:" + std::to_string(port()); }
int TestServer::connections() const { return impl_->connections; }
int TestServer::requests() const { return impl_->requests; }

void TestServer::CloseAllConnections() {
  std::promise<void> done;
  asio::post(impl_->ioc, [&] {
    beast::error_code ignored;
    for (auto* conn : impl_->open) {
      conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
      conn->socket.close(ignored);
    }
    impl_->open.clear();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace atipay::agent::test
