#include "test_http_server.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace atipay::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, TestHttpServer::Handler& handler, std::atomic<int>& requests,
          std::mutex& last_mu, TestHttpServer::Request& last)
      : stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        handler_(handler),
        requests_(requests),
        last_mu_(last_mu),
        last_(last) {}

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      Read();
    } else {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->Read();
                              });
    }
  }

 private:
  void Read() {
    http::async_read(stream_, buffer_, request_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->Answer();
                     });
  }

  void Answer() {
    {
      std::lock_guard<std::mutex> lock(last_mu_);
      last_ = {std::string(request_.method_string()), std::string(request_.target()),
               request_.body()};
    }
    ++requests_;
    reply_ = handler_(std::string(request_.target()));
    timer_.expires_after(reply_.delay);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->Send();
    });
  }

  void Send() {
    if (reply_.raw) {
      asio::async_write(stream_, asio::buffer(reply_.body),
                        [self = this->shared_from_this()](beast::error_code, std::size_t) {
                          beast::get_lowest_layer(self->stream_).close();
                        });
      return;
    }
    response_.result(static_cast<unsigned>(reply_.status));
    response_.version(11);
    response_.set(http::field::content_type, "application/json");
    response_.set(http::field::connection, "close");
    response_.body() = reply_.body;
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code, std::size_t) {
                        beast::get_lowest_layer(self->stream_).close();
                      });
  }

  Stream stream_;
  asio::steady_timer timer_;
  TestHttpServer::Handler& handler_;
  std::atomic<int>& requests_;
  std::mutex& last_mu_;
  TestHttpServer::Request& last_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  Reply reply_;
};

}  // namespace

struct TestHttpServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  Handler handler;
  std::unique_ptr<asio::ssl::context> tls;
  std::atomic<int> requests{0};
  std::mutex last_mu;
  Request last;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      if (tls) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
            handler, requests, last_mu, last)
            ->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), handler,
                                                     requests, last_mu, last)
            ->Start();
      }
      Accept();
    });
  }
};

TestHttpServer::TestHttpServer(Handler handler, const TlsFiles* tls) : impl_(new Impl) {
  impl_->handler = std::move(handler);
  if (tls != nullptr) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain(asio::buffer(tls->cert_chain_pem));
    impl_->tls->use_private_key(asio::buffer(tls->key_pem), asio::ssl::context::pem);
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

TestHttpServer::~TestHttpServer() {
  impl_->ioc.stop();
  impl_->thread.join();
}

unsigned short TestHttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

int TestHttpServer::requests() const { return impl_->requests.load(); }

TestHttpServer::Request TestHttpServer::last_request() const {
  std::lock_guard<std::mutex> lock(impl_->last_mu);
  return impl_->last;
}

unsigned short UnusedPort() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

namespace {

std::string ToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string KeyToPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

X509* MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
               const std::string& san, bool ca, long serial) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600 * 24);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (!san.empty()) add(NID_subject_alt_name, san);
  X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return cert;
}

}  // namespace

TestPki MakeTestPki(const std::string& host) {
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* leaf_key = EVP_EC_gen("P-256");
  X509* ca = MakeCert(ca_key, "atipay test CA", nullptr, nullptr, "", true, 1);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  std::string san = (ec ? "DNS:" : "IP:") + host;
  X509* leaf = MakeCert(leaf_key, host, ca, ca_key, san, false, 2);
  TestPki pki;
  pki.ca_cert_pem = ToPem(ca);
  pki.leaf.cert_chain_pem = ToPem(leaf);
  pki.leaf.key_pem = KeyToPem(leaf_key);
  X509_free(leaf);
  X509_free(ca);
  EVP_PKEY_free(leaf_key);
  EVP_PKEY_free(ca_key);
  return pki;
}

}  // namespace atipay::test
