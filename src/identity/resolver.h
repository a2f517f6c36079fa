// DID resolvers without caching: did:plc from a PLC directory, did:web from
// https://host/.well-known/did.json, and a dev-mode directory of trusted documents.
#ifndef ATIPAY_IDENTITY_RESOLVER_H_
#define ATIPAY_IDENTITY_RESOLVER_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "identity/did_document.h"
#include "identity/http_client.h"
#include "xrpc/error.h"

namespace atipay::identity {

struct ResolveError {
  enum class Kind {
    kInvalidDid,   // not a DID we can resolve (syntax, did:web with a path, ...)
    kUnsupported,  // a DID method we do not resolve
    kNotFound,     // the directory or host says there is no such DID (or it is deactivated)
    kBadDocument,  // a document came back but is unusable
    kUpstream,     // the directory or host failed (connection, TLS, 5xx, garbage)
    kTimeout,
  };
  Kind kind;
  std::string message;

  // 401 AuthenticationRequired for the caller's own problems, 502 UpstreamFailure when the
  // directory or host fails us.
  xrpc::XrpcError ToXrpcError() const;
  bool IsUpstream() const { return kind == Kind::kUpstream || kind == Kind::kTimeout; }
  // Whether the resolver had to look (network or file) to give this answer; kInvalidDid and
  // kUnsupported are decided from the DID alone.
  bool CostsAFetch() const { return kind != Kind::kInvalidDid && kind != Kind::kUnsupported; }
};

using ResolveResult = std::variant<DidDocument, ResolveError>;

class DidResolver {
 public:
  virtual ~DidResolver() = default;
  // Thread-safe, bounded in time.
  virtual ResolveResult Resolve(std::string_view did) const = 0;
};

// GET <plc_url>/<did>. The URL must be https, or http on a loopback host.
class PlcResolver final : public DidResolver {
 public:
  // nullptr when plc_url is not acceptable (see *error).
  static std::unique_ptr<PlcResolver> Create(std::string_view plc_url,
                                             std::shared_ptr<const HttpClient> http,
                                             std::string* error);
  ResolveResult Resolve(std::string_view did) const override;

 private:
  PlcResolver(Url base, std::shared_ptr<const HttpClient> http)
      : base_(std::move(base)), http_(std::move(http)) {}
  Url base_;
  std::shared_ptr<const HttpClient> http_;
};

// did:web:<host> -> https://<host>/.well-known/did.json; the port is percent-encoded
// (did:web:localhost%3A2583). Paths (did:web:host:path) are not atproto and are refused, and
// so are loopback hosts outside dev mode. The host is the caller's choice, so it is fetched only
// when every address it resolves to is public (AddressPolicy::kPublic), and a failed fetch is
// kUpstream with the DID as its whole message: the detail goes to HttpClientOptions::log.
class WebResolver final : public DidResolver {
 public:
  // allow_http_loopback (dev only): did:web on a loopback host is fetched over plain http, and
  // loopback addresses are allowed too (AddressPolicy::kPublicOrLoopback).
  WebResolver(std::shared_ptr<const HttpClient> http, bool allow_http_loopback)
      : http_(std::move(http)), allow_http_loopback_(allow_http_loopback) {}
  ResolveResult Resolve(std::string_view did) const override;
  // The URL a did:web resolves to, or nullopt for DIDs this resolver refuses.
  std::optional<Url> DocumentUrl(std::string_view did) const;

 private:
  std::shared_ptr<const HttpClient> http_;
  bool allow_http_loopback_;
};

// Dev mode: <dir>/<did>.json, trusted as is (no network). A missing file is kNotFound.
class DirectoryResolver final : public DidResolver {
 public:
  explicit DirectoryResolver(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ResolveResult Resolve(std::string_view did) const override;

 private:
  std::filesystem::path dir_;
};

// Dispatches on the DID method; an optional dev directory is asked first and, when it has no
// file for the DID, the network resolvers are asked.
class MethodResolver final : public DidResolver {
 public:
  MethodResolver(std::unique_ptr<DidResolver> plc, std::unique_ptr<DidResolver> web,
                 std::unique_ptr<DidResolver> dev_directory = nullptr)
      : plc_(std::move(plc)), web_(std::move(web)), dev_(std::move(dev_directory)) {}
  ResolveResult Resolve(std::string_view did) const override;

 private:
  std::unique_ptr<DidResolver> plc_;
  std::unique_ptr<DidResolver> web_;
  std::unique_ptr<DidResolver> dev_;
};

// did:plc:<24 chars of base32 lower-case>.
bool IsValidPlcDid(std::string_view did);

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_RESOLVER_H_
