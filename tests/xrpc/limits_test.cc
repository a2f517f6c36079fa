// Connection limits: body and header sizes, slow clients, idle connections, the connection cap,
// and malformed input that must never crash or hang the server.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <thread>

#include "tests/xrpc/test_support.h"

namespace atipay::testing {
namespace {

using std::chrono::milliseconds;

TEST(XrpcLimits, BodyLimitIsConfigurable) {
  auto options = TestServer::DefaultOptions();
  options.max_body_bytes = 100;
  TestServer server(options);
  std::string body = "{\"uri\":\"" + std::string(kCart0) + "\"}";  // 74 bytes
  auto ok = PostJson(server.port(), kCloneTarget, body);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto big = PostJson(server.port(), kCloneTarget, body + std::string(27, ' '));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(big->Error(), "PayloadTooLargeError");
}

TEST(XrpcLimits, ChunkedBodyOverTheLimit) {
  TestServer server;
  Client client(server.port());
  std::string chunk(60000, ' ');
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", chunk.size());
  ASSERT_TRUE(client.SendRaw(std::string("POST ") + std::string(kCloneTarget) +
                             " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + chunk +
                             "\r\n" + size + "\r\n" + chunk + "\r\n0\r\n\r\n"));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 413);
}

TEST(XrpcLimits, OversizedHeaders) {
  TestServer server;
  Client client(server.port());
  auto reply = client.Call("GET", "/xrpc/_health", std::nullopt,
                           {{"X-Big", std::string(20000, 'a')}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 431);
  EXPECT_EQ(reply->Error(), "RequestHeaderFieldsTooLarge");
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  // Under the limit is fine.
  auto fine = Fetch(server.port(), "GET", "/xrpc/_health", std::nullopt,
                    {{"X-Big", std::string(8000, 'a')}});
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
}

TEST(XrpcLimits, SlowHeadersAreCutOff) {
  auto options = TestServer::DefaultOptions();
  options.header_timeout = milliseconds(300);
  TestServer server(options);
  Client client(server.port());
  auto start = std::chrono::steady_clock::now();
  // Slowloris: a byte every 100 ms never finishes the headers; the deadline does not move.
  const int fd = client.descriptor();
  std::thread dribble([&] {
    std::string request = "GET /xrpc/_health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (char c : request + std::string(30, 'a')) {
      if (!SendAll(fd, std::string(1, c))) return;
      std::this_thread::sleep_for(milliseconds(20));
    }
  });
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, milliseconds(2000));
  dribble.join();
}

TEST(XrpcLimits, SlowBodyIsCutOff) {
  auto options = TestServer::DefaultOptions();
  options.body_timeout = milliseconds(300);
  TestServer server(options);
  Client client(server.port());
  ASSERT_TRUE(client.SendRaw(std::string("POST ") + std::string(kCloneTarget) +
                             " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Content-Length: 100\r\n\r\n{\"uri\":"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
}

TEST(XrpcLimits, IdleKeepAliveConnectionsClose) {
  auto options = TestServer::DefaultOptions();
  options.idle_timeout = milliseconds(300);
  TestServer server(options);
  Client client(server.port());
  auto reply = client.Call("GET", "/xrpc/_health");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->raw[boost::beast::http::field::keep_alive], "timeout=1");
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(200));
}

TEST(XrpcLimits, ConnectionCap) {
  auto options = TestServer::DefaultOptions();
  options.max_connections = 3;
  TestServer server(options);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(held.back()->Call("GET", "/xrpc/_health"));
  }
  Client extra(server.port());
  EXPECT_TRUE(extra.WaitClosed(milliseconds(2000)));
  EXPECT_GE(server.server().metrics().connections_rejected.load(), 1u);
  held.pop_back();  // one slot frees up
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (server.server().metrics().open_connections.load() < 3) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto reply = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST(XrpcLimits, MalformedRequestsNeverCrashOrHang) {
  auto options = TestServer::DefaultOptions();
  options.header_timeout = milliseconds(200);
  options.body_timeout = milliseconds(200);
  options.idle_timeout = milliseconds(200);
  TestServer server(options);
  const std::vector<std::string> inputs = {
      "\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /xrpc/_health HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST /xrpc/com.atiproto.payment.cart.clone HTTP/1.1\r\nContent-Length: 5\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /xrpc/com.atiproto.payment.cart.clone HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\n",
      "GET /xrpc/\x01\x02 HTTP/1.1\r\n\r\n",
      "GET /xrpc/com.atiproto.payment.cart.clone%00 HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /xrpc/ HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /xrpc/a..b HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET http://x/xrpc/_health HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /xrpc/com.atiproto.payment.cart.clone HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc",
      // A lone surrogate escape, as the whole body.
      "POST /xrpc/com.atiproto.payment.cart.clone HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 19\r\n\r\n{\"uri\":\"\\ud800\"}   ",
      // A body one byte short of its Content-Length: cut off by the body timeout.
      "POST /xrpc/com.atiproto.payment.cart.clone HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 20\r\n\r\n{\"uri\":\"\\ud800\"}   ",
  };
  std::vector<std::string> all = inputs;
  std::mt19937 rng(1234);
  for (int i = 0; i < 200; ++i) {
    std::string junk(1 + rng() % 300, '\0');
    for (auto& c : junk) c = static_cast<char>(rng() % 256);
    if (i % 2 == 0) junk = "POST /xrpc/com.atiproto.payment.cart.clone HTTP/1.1\r\n" + junk;
    all.push_back(std::move(junk));
  }
  // All at once (each would otherwise sit out its header timeout in turn): every connection
  // gets an answer or a close within the same 3 s; none hangs.
  std::vector<std::unique_ptr<Client>> clients;
  for (const auto& input : all) {
    clients.push_back(std::make_unique<Client>(server.port()));
    clients.back()->SendRaw(input);
  }
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(3000);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    // (At least a moment, to see a close that has already come.)
    const auto left = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(
                                                    deadline - std::chrono::steady_clock::now()));
    EXPECT_TRUE(clients[i]->WaitClosed(left))
        << "input " << i << (i < inputs.size() ? ": " + all[i] : std::string(" (random bytes)"));
  }
  auto health = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(XrpcLimits, TransferEncodingThatDoesNotEndInChunkedIs400AndCloses) {
  // RFC 9112 §6.3: where such a body ends cannot be known; read as no body, it would be taken
  // for the next request (here, one to _health), a way to slip a request past a proxy.
  TestServer server;
  const std::string smuggled = "GET /xrpc/_health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::vector<std::string> codings = {
      "gzip", "chunked, gzip", "identity",
      "gzip\r\nContent-Length: " + std::to_string(smuggled.size())};
  for (const std::string& coding : codings) {
    Client client(server.port(), milliseconds(2000));
    ASSERT_TRUE(
        client.SendRaw("GET /xrpc/com.atiproto.repo.item.count HTTP/1.1\r\nHost: x\r\n"
                       "Transfer-Encoding: " +
                       coding + "\r\n\r\n" + smuggled));
    auto reply = client.Read();
    ASSERT_TRUE(reply) << coding;
    EXPECT_EQ(reply->status, 400) << coding;
    EXPECT_EQ(reply->Error(), "InvalidRequest") << coding;
    EXPECT_EQ(reply->raw[boost::beast::http::field::connection], "close") << coding;
    EXPECT_FALSE(client.Read()) << coding << ": the body was answered as a request";
  }
  // Properly framed requests are still served.
  auto health = Fetch(server.port(), "GET", "/xrpc/_health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Beast bounds the header block but not a chunk-size line or its extensions: the bytes of one
// that never ends were kept, a gigabyte in seconds from one connection, until the body
// timeout. Past the header limit and a read, such a request is 400 and the connection closes.
TEST(XrpcLimits, AChunkLineThatNeverEndsIs400NotUnboundedMemory) {
  TestServer server;
  for (const std::string& start :
       {std::string("1;ext="), std::string("1"), std::string("1\r\nx\r\n0\r\nTrailer: ")}) {
    Client client(server.port(), milliseconds(5000));
    ASSERT_TRUE(
        client.SendRaw("POST /xrpc/com.atiproto.payment.cart.create HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       start));
    // 256 KiB, eight times what may wait unparsed; well inside the 30 s body timeout.
    const std::string piece(16 * 1024, start == "1" ? '0' : 'a');
    for (int i = 0; i < 16 && client.SendRaw(piece); ++i) {
    }
    auto reply = client.Read();
    ASSERT_TRUE(reply) << start << ": no answer before the body timeout";
    EXPECT_EQ(reply->status, 400) << start;
    EXPECT_EQ(reply->raw[boost::beast::http::field::connection], "close") << start;
  }
}

}  // namespace
}  // namespace atipay::testing
