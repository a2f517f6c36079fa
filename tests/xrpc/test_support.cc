#include "tests/xrpc/test_support.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "tests/xrpc/lexicons.h"

namespace atipay::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace clone = lexicons::com::atiproto::payment::cart::clone;
namespace count = lexicons::com::atiproto::repo::item::count;
namespace list = lexicons::com::atiproto::payment::cart::list;
namespace params = lexicons::com::example::xrpc::params;
namespace upload = lexicons::com::example::xrpc::upload;

constexpr std::string_view kOwner = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";

xrpc::HandlerResult<clone::Output> CloneCart(const std::string& uri,
                                             const std::optional<std::string>& redirect,
                                             int carts) {
  // at://AUTHORITY[/COLLECTION[/RKEY]] (format-checked already).
  std::string_view rest = std::string_view(uri).substr(5);
  rest = rest.substr(0, rest.find('#'));
  std::vector<std::string_view> parts;
  while (true) {
    auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() != 3 || parts[1] != "com.atiproto.cart") {
    return xrpc::XrpcError::Named("InvalidCartUri", "uri must reference a com.atiproto.cart record");
  }
  int index = -1;
  if (parts[0] == kOwner && parts[2].size() == 8 && parts[2].substr(0, 4) == "cart") {
    index = std::atoi(std::string(parts[2].substr(4)).c_str());
    if (std::string(parts[2].substr(4)).find_first_not_of("0123456789") != std::string::npos) {
      index = -1;
    }
  }
  if (index < 0 || index >= carts) {
    return xrpc::XrpcError::Named("CartNotFound", "Cart not found: " + uri);
  }
  static std::atomic<int> clones{0};
  std::string rkey = "clone" + std::to_string(clones.fetch_add(1));
  std::string new_uri = "at://" + std::string(kOwner) + "/com.atiproto.cart/" + rkey;
  clone::Output out;
  out.cart_uri = new_uri;
  out.cart.emplace();
  out.cart->uri = new_uri;
  for (int i = 0; i < 2; ++i) {
    typename decltype(out.cart->items)::value_type item;
    item.type = "com.atiproto.item";
    item.record_uri =
        "at://" + std::string(kOwner) + "/com.atiproto.item/" + rkey + "-i" + std::to_string(i);
    out.cart->items.push_back(std::move(item));
  }
  out.cart->currency = "USD";
  out.cart->total = 1500;
  out.cart->status = "open";
  out.cart->created_at = "2026-11-21T22:50:16.487Z";
  out.cart->expires_at = "2026-11-21T23:50:16.487Z";
  out.checkout_url = "https://checkout.example.test/c/did%3Aplc%3Aaaaaaaaaaaaaaaaaaaaaaaaa/" + rkey;
  if (redirect) *out.checkout_url += "?redirect=" + std::to_string(redirect->size());
  return out;
}

}  // namespace

CommitQueue::CommitQueue() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      std::deque<std::function<void()>> batch;
      batch.swap(queue_);
      lock.unlock();
      for (auto& fn : batch) fn();
      lock.lock();
    }
  });
}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void CommitQueue::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void Hold::Wait() {
  std::unique_lock lock(mu_);
  ++held_;
  cv_.notify_all();
  cv_.wait_for(lock, std::chrono::seconds(30), [this] { return released_; });
  --held_;
}

int Hold::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

bool Hold::WaitHeld(int calls, std::chrono::milliseconds within) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, within, [&] { return held_ >= calls; });
}

void Hold::Release() {
  {
    std::lock_guard lock(mu_);
    released_ = true;
  }
  cv_.notify_all();
}

FakeService::FakeService(FakeServiceOptions options) : options_(options) {}

void FakeService::Register(xrpc::Router& router) {
  int carts = options_.carts;
  std::shared_ptr<CommitQueue> commits = commits_;
  router.Add<clone::Method>(
      [commits, carts](xrpc::Request<clone::Method>& request, xrpc::Reply<clone::Output> reply) {
        commits->Post([uri = request.input.uri, redirect = request.input.redirect_url, reply,
                       carts] { reply(CloneCart(uri, redirect, carts)); });
      },
      {.auth = options_.clone_auth});

  router.Add<count::Method>([](xrpc::Request<count::Method>&) -> xrpc::HandlerResult<count::Output> {
    count::Output out;
    out.count = 3;
    return out;
  });

  router.Add<list::Method>([](xrpc::Request<list::Method>& request) {
    list::Output out;
    out.cursor = "limit=" + std::to_string(request.params.limit);
    return xrpc::HandlerResult<list::Output>(std::move(out));
  });

  std::shared_ptr<Hold> hold = hold_;
  router.Add<params::Method>(
      [hold](xrpc::Request<params::Method>& request) -> xrpc::HandlerResult<params::Output> {
        const auto& p = request.params;
        if (p.required_name == "demo") return xrpc::XrpcError::Named("DemoError", "demo failure");
        if (p.required_name == "throw") throw std::runtime_error("secret detail");
        if (p.required_name == "sleep") {
          std::this_thread::sleep_for(std::chrono::milliseconds(p.n.value_or(100)));
        }
        if (p.required_name == "hold") hold->Wait();
        params::Output out;
        if (p.required_name == "badoutput") {
          out.echo = 42;
          return out;
        }
        json::array tags;
        for (const auto& t : p.tags) tags.push_back(json::string(t));
        json::object echo;
        echo["flag"] = p.flag;
        echo["n"] = p.n ? json::value(*p.n) : json::value(nullptr);
        echo["tags"] = std::move(tags);
        echo["name"] = p.required_name;
        echo["did"] = request.auth.did;
        echo["requestId"] = request.info->request_id;
        out.echo = std::move(echo);
        return out;
      },
      {.auth = xrpc::AuthPolicy::kOptional, .blocking = true});

  router.Add<upload::Method>([](xrpc::Request<upload::Method>& request) {
    return xrpc::HandlerResult<void>(
        xrpc::RawBody{"application/octet-stream", std::move(request.input.data)});
  });
}

TestServer::TestServer(xrpc::ServerOptions options, FakeServiceOptions service,
                       std::function<void(xrpc::Router&)> extra)
    : service_(service) {
  service_.Register(router_);
  if (extra) extra(router_);
  server_ = std::make_unique<xrpc::Server>(std::move(options), router_);
  if (auto error = server_->Start()) throw std::runtime_error(*error);
}

TestServer::~TestServer() {
  service_.hold().Release();
  server_->Shutdown();
  server_->Wait();
}

xrpc::ServerOptions TestServer::DefaultOptions() {
  xrpc::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.access_log = "off";
  options.service_did = "did:web:127.0.0.1%3A2585";
  options.public_url = "http://127.0.0.1:2585";
  return options;
}

json::value Reply::Json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value() : v;
}

std::string Reply::Error() const {
  json::value v = Json();
  if (!v.is_object() || !v.get_object().contains("error")) return "";
  const auto& e = v.get_object().at("error");
  return e.is_string() ? std::string(e.get_string()) : "";
}

std::string Reply::Message() const {
  json::value v = Json();
  if (!v.is_object() || !v.get_object().contains("message")) return "";
  const auto& m = v.get_object().at("message");
  return m.is_string() ? std::string(m.get_string()) : "";
}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout)
    : socket_(ioc_), timeout_(timeout) {
  socket_.connect(tcp::endpoint(net::ip::address_v4::loopback(), port));
  socket_.set_option(tcp::no_delay(true));
}

Client::~Client() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

bool Client::SendRaw(std::string_view bytes) {
  boost::system::error_code ec;
  net::write(socket_, net::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<Reply> Client::Read(bool head) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(head);
  bool done = false;
  boost::system::error_code result;
  http::async_read(socket_, buffer_, parser, [&](boost::system::error_code ec, std::size_t) {
    done = true;
    result = ec;
  });
  ioc_.restart();
  ioc_.run_for(timeout_);
  if (!done) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    ioc_.restart();
    ioc_.run();
    return std::nullopt;
  }
  if (result) return std::nullopt;
  Reply reply;
  reply.raw = parser.release();
  reply.status = static_cast<int>(reply.raw.result_int());
  reply.content_type = std::string(reply.raw[http::field::content_type]);
  reply.body = reply.raw.body();
  return reply;
}

bool Client::WaitClosed(std::chrono::milliseconds within) {
  bool closed = false;
  std::array<char, 4096> scratch;
  std::function<void()> read_more = [&] {
    socket_.async_read_some(net::buffer(scratch), [&](boost::system::error_code ec, std::size_t) {
      if (ec) {
        closed = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  ioc_.restart();
  ioc_.run_for(within);
  if (closed) return true;
  // Still open: stop reading. The read then ends with operation_aborted, which sets `closed`
  // too, but that is our doing, not the server's.
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  ioc_.restart();
  ioc_.run();
  return false;
}

std::optional<Reply> Client::Call(std::string_view method, std::string_view target,
                                  std::optional<std::string> body,
                                  std::vector<std::pair<std::string, std::string>> headers,
                                  int version) {
  std::string request = std::string(method) + " " + std::string(target) + " HTTP/" +
                        (version == 10 ? "1.0" : "1.1") + "\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (body) request += "Content-Length: " + std::to_string(body->size()) + "\r\n";
  request += "\r\n";
  if (body) request += *body;
  if (!SendRaw(request)) return std::nullopt;
  return Read(method == "HEAD");
}

std::optional<Reply> Fetch(std::uint16_t port, std::string_view method, std::string_view target,
                           std::optional<std::string> body,
                           std::vector<std::pair<std::string, std::string>> headers) {
  Client client(port);
  return client.Call(method, target, std::move(body), std::move(headers));
}

std::optional<Reply> PostJson(std::uint16_t port, std::string_view target, std::string body) {
  return Fetch(port, "POST", target, std::move(body), {{"Content-Type", "application/json"}});
}

}  // namespace atipay::testing
