#include "identity/resolver.h"

#include <fstream>
#include <system_error>

#include "lex/formats.h"

namespace atipay::identity {
namespace {

constexpr std::uintmax_t kMaxDocumentFileBytes = 256 * 1024;

ResolveError Err(ResolveError::Kind kind, std::string message) {
  return {kind, std::move(message)};
}

ResolveError FromHttpError(const HttpError& e) {
  return Err(e.kind == HttpError::Kind::kTimeout ? ResolveError::Kind::kTimeout
                                                 : ResolveError::Kind::kUpstream,
             e.message);
}

ResolveResult ParseBody(const std::string& body, std::string_view did, std::string_view source) {
  lex::Result<DidDocument> doc = ParseDidDocument(body, did);
  if (!doc) {
    return Err(ResolveError::Kind::kBadDocument,
               "bad DID document from " + std::string(source) + ": " + doc.error().message);
  }
  return std::move(doc).value();
}

}  // namespace

xrpc::XrpcError ResolveError::ToXrpcError() const {
  switch (kind) {
    case Kind::kUpstream:
      return {502, "UpstreamFailure", "could not resolve iss did: " + message};
    case Kind::kTimeout:
      return {502, "UpstreamFailure", "could not resolve iss did: timed out: " + message};
    default:
      return {401, "AuthenticationRequired", "could not resolve iss did: " + message};
  }
}

bool IsValidPlcDid(std::string_view did) {
  constexpr std::string_view kPrefix = "did:plc:";
  if (did.size() != kPrefix.size() + 24 || !did.starts_with(kPrefix)) return false;
  for (char c : did.substr(kPrefix.size())) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  return true;
}

std::unique_ptr<PlcResolver> PlcResolver::Create(std::string_view plc_url,
                                                 std::shared_ptr<const HttpClient> http,
                                                 std::string* error) {
  std::string trimmed(plc_url);
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
  std::optional<Url> url = Url::Parse(trimmed);
  if (!url || url->target.find('?') != std::string::npos) {
    if (error) *error = "PLC directory URL is not an http(s) URL: " + std::string(plc_url);
    return nullptr;
  }
  if (url->scheme == "http" && !IsLoopbackHost(url->host)) {
    if (error) *error = "PLC directory URL must be https unless the host is loopback";
    return nullptr;
  }
  if (url->target == "/") url->target.clear();
  return std::unique_ptr<PlcResolver>(new PlcResolver(std::move(*url), std::move(http)));
}

ResolveResult PlcResolver::Resolve(std::string_view did) const {
  if (!IsValidPlcDid(did)) return Err(ResolveError::Kind::kInvalidDid, "not a valid did:plc");
  Url url = base_;
  url.target += "/" + std::string(did);
  auto response = http_->Get(url);
  if (auto* e = std::get_if<HttpError>(&response)) return FromHttpError(*e);
  const HttpResponse& r = std::get<HttpResponse>(response);
  if (r.status == 404) return Err(ResolveError::Kind::kNotFound, "DID not found in PLC directory");
  if (r.status == 410) return Err(ResolveError::Kind::kNotFound, "DID is deactivated");
  if (r.status != 200) {
    return Err(ResolveError::Kind::kUpstream,
               "PLC directory answered HTTP " + std::to_string(r.status));
  }
  return ParseBody(r.body, did, "PLC directory");
}

std::optional<Url> WebResolver::DocumentUrl(std::string_view did) const {
  constexpr std::string_view kPrefix = "did:web:";
  if (!did.starts_with(kPrefix) || !lex::IsValidDid(did)) return std::nullopt;
  std::string_view id = did.substr(kPrefix.size());
  if (id.find(':') != std::string_view::npos) return std::nullopt;  // a path: not atproto
  // The only escape atproto uses is the port separator.
  std::string authority;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (id[i] != '%') {
      authority.push_back(id[i]);
    } else if (id.substr(i, 3) == "%3A" || id.substr(i, 3) == "%3a") {
      authority.push_back(':');
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  std::optional<Url> probe = Url::Parse("https://" + authority + "/");
  if (!probe) return std::nullopt;
  // Outside dev mode a loopback did:web can only point at our own machine's services.
  if (IsLoopbackHost(probe->host) && !allow_http_loopback_) return std::nullopt;
  bool http = allow_http_loopback_ && IsLoopbackHost(probe->host);
  std::optional<Url> url =
      Url::Parse((http ? "http://" : "https://") + authority + "/.well-known/did.json");
  return url;
}

ResolveResult WebResolver::Resolve(std::string_view did) const {
  std::optional<Url> url = DocumentUrl(did);
  if (!url) return Err(ResolveError::Kind::kInvalidDid, "not a resolvable did:web");
  // The caller picked this host. Whatever went wrong (an address we refuse, a closed port, a
  // TLS error) it hears only that the DID did not resolve, or it could map our network
  // through us; the detail goes to the log.
  auto failed = [&](const std::string& detail) {
    if (http_->options().log) {
      http_->options().log("could not resolve " + std::string(did) + " from " + url->ToString() +
                           ": " + detail);
    }
    return Err(ResolveError::Kind::kUpstream, std::string(did));
  };
  auto response = http_->Get(
      *url, allow_http_loopback_ ? AddressPolicy::kPublicOrLoopback : AddressPolicy::kPublic);
  if (auto* e = std::get_if<HttpError>(&response)) return failed(e->message);
  const HttpResponse& r = std::get<HttpResponse>(response);
  if (r.status == 404 || r.status == 410) {
    return Err(ResolveError::Kind::kNotFound, "no DID document at " + url->ToString());
  }
  if (r.status != 200) return failed("answered HTTP " + std::to_string(r.status));
  return ParseBody(r.body, did, url->host);
}

ResolveResult DirectoryResolver::Resolve(std::string_view did) const {
  // The DID grammar has no '/', so the name cannot leave the directory.
  if (!lex::IsValidDid(did)) return Err(ResolveError::Kind::kInvalidDid, "not a valid DID");
  std::filesystem::path path = dir_ / (std::string(did) + ".json");
  std::error_code ec;
  std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec)
    return Err(ResolveError::Kind::kNotFound, "no trusted DID document for " + std::string(did));
  if (size > kMaxDocumentFileBytes) {
    return Err(ResolveError::Kind::kBadDocument, path.string() + " is too large");
  }
  std::ifstream in(path, std::ios::binary);
  std::string body(static_cast<std::size_t>(size), '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(size))) {
    return Err(ResolveError::Kind::kNotFound, "cannot read " + path.string());
  }
  return ParseBody(body, did, path.string());
}

ResolveResult MethodResolver::Resolve(std::string_view did) const {
  if (dev_) {
    ResolveResult r = dev_->Resolve(did);
    auto* e = std::get_if<ResolveError>(&r);
    if (e == nullptr || e->kind != ResolveError::Kind::kNotFound) return r;
  }
  if (did.starts_with("did:plc:") && plc_) return plc_->Resolve(did);
  if (did.starts_with("did:web:") && web_) return web_->Resolve(did);
  return Err(ResolveError::Kind::kUnsupported, "unsupported DID method");
}

}  // namespace atipay::identity
