#include "devid/devid.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "auth/jwt.h"
#include "identity/identity.h"
#include "lex/cbor.h"
#include "lex/encoding.h"
#include "lex/formats.h"

namespace atipay::devid {

namespace json = boost::json;
using auth::Curve;
using auth::PrivateKey;

std::int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* CurveName(Curve curve) { return curve == Curve::kP256 ? "p256" : "k256"; }

std::optional<std::pair<std::string, json::object>> PlcGenesis(const PrivateKey& key,
                                                               const std::string& handle,
                                                               const std::string& pds) {
  const std::string did_key = key.public_key().DidKey();
  json::object op{
      {"type", "plc_operation"},
      {"rotationKeys", json::array{did_key}},
      {"verificationMethods", json::object{{"atproto", did_key}}},
      {"alsoKnownAs", json::array{"at://" + handle}},
      {"services", json::object{{"atproto_pds", json::object{{"type", "AtprotoPersonalDataServer"},
                                                             {"endpoint", pds}}}}},
      {"prev", nullptr}};
  std::string unsigned_cbor;
  if (!lex::EncodeDagCbor(op, unsigned_cbor)) return std::nullopt;
  std::string sig = key.Sign(unsigned_cbor);
  if (sig.empty()) return std::nullopt;
  op["sig"] = lex::EncodeBase64Url(sig);
  std::string signed_cbor;
  if (!lex::EncodeDagCbor(op, signed_cbor)) return std::nullopt;
  auth::Sha256Digest hash = auth::Sha256(signed_cbor);
  std::string b32 =
      lex::EncodeBase32(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
  return std::make_pair("did:plc:" + b32.substr(0, 24), std::move(op));
}

json::object DidDocument(const std::string& did, const auth::PublicKey& key,
                         const std::string& handle, const std::string& pds) {
  return json::object{
      {"@context",
       json::array{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1",
                   "https://w3id.org/security/suites/secp256k1-2019/v1"}},
      {"id", did},
      {"alsoKnownAs", json::array{"at://" + handle}},
      {"verificationMethod", json::array{json::object{{"id", did + "#atproto"},
                                                      {"type", "Multikey"},
                                                      {"controller", did},
                                                      {"publicKeyMultibase", key.Multikey()}}}},
      {"service", json::array{json::object{{"id", "#atproto_pds"},
                                           {"type", "AtprotoPersonalDataServer"},
                                           {"serviceEndpoint", pds}}}}};
}

lex::Result<Identity> NewIdentity(const NewIdentityOptions& options) {
  if (!lex::IsValidHandle(options.handle)) {
    return lex::Error{"not a valid handle: " + options.handle};
  }
  std::optional<PrivateKey> key = PrivateKey::Generate(options.curve);
  if (!key) return lex::Error{"cannot generate a key"};
  auto genesis = PlcGenesis(*key, options.handle, options.pds);
  if (!genesis) return lex::Error{"cannot build the PLC genesis operation"};
  Identity identity{.did = options.did.empty() ? genesis->first : options.did,
                    .key = *key,
                    .handle = options.handle,
                    .pds = options.pds,
                    .plc_genesis = {}};
  if (options.did.empty()) identity.plc_genesis = std::move(genesis->second);
  if (!lex::IsValidDid(identity.did)) return lex::Error{"not a valid DID: " + identity.did};
  return identity;
}

std::string WriteDidDocument(const std::string& dir, const Identity& identity) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path final_path = std::filesystem::path(dir) / (identity.did + ".json");
  const std::filesystem::path temp_path =
      std::filesystem::path(dir) / ("." + identity.did + ".json." + std::to_string(::getpid()));
  {
    std::ofstream out(temp_path);
    out << json::serialize(
               DidDocument(identity.did, identity.key.public_key(), identity.handle, identity.pds))
        << "\n";
    if (!out) return "cannot write " + temp_path.string();
  }
  std::filesystem::rename(temp_path, final_path, ec);
  if (ec) {
    std::filesystem::remove(temp_path, ec);
    return "cannot write " + final_path.string();
  }
  return {};
}

std::string RegisterOnPlc(const std::string& plc_url, const Identity& identity) {
  if (identity.plc_genesis.empty()) return "not a did:plc identity (no genesis operation)";
  auto http = std::make_shared<const identity::HttpClient>();
  std::string error;
  // Reuse the resolver's URL policy: https, or http on loopback only.
  if (!identity::PlcResolver::Create(plc_url, http, &error)) return error;
  std::string base = plc_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto url = identity::Url::Parse(base + "/" + identity.did);
  if (!url) return "bad PLC URL " + plc_url;
  auto response = http->Post(*url, json::serialize(identity.plc_genesis), "application/json");
  if (auto* e = std::get_if<identity::HttpError>(&response)) {
    return "PLC registration failed: " + e->message;
  }
  const auto& r = std::get<identity::HttpResponse>(response);
  if (r.status != 200) {
    return "PLC directory answered " + std::to_string(r.status) + ": " + r.body;
  }
  return {};
}

std::string WriteKeyFile(const std::string& path, const Identity& identity) {
  json::object file{{"did", identity.did},
                    {"curve", CurveName(identity.key.curve())},
                    {"privateKeyHex", lex::EncodeHex(identity.key.bytes())},
                    {"publicKeyMultibase", identity.key.public_key().Multikey()},
                    {"didKey", identity.key.public_key().DidKey()}};
  // Created private: the file holds a signing key.
  std::error_code ec;
  std::filesystem::remove(path, ec);
  mode_t old = ::umask(077);
  std::ofstream out(path);
  ::umask(old);
  out << json::serialize(file) << "\n";
  if (!out) return "cannot write " + path;
  return {};
}

lex::Result<Identity> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return lex::Error{"cannot read " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  json::value file = json::parse(ss.str(), ec);
  if (ec || !file.is_object()) return lex::Error{path + " is not a key file"};
  const json::object& o = file.get_object();
  auto field = [&](const char* name) -> std::string {
    const json::value* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const Curve curve = field("curve") == "p256" ? Curve::kP256 : Curve::kSecp256k1;
  std::optional<std::string> secret = lex::DecodeHex(field("privateKeyHex"));
  std::optional<PrivateKey> key;
  if (secret) key = PrivateKey::FromBytes(curve, *secret);
  if (!key) return lex::Error{path + " has no usable privateKeyHex"};
  return Identity{.did = field("did"), .key = *key, .handle = {}, .pds = {}, .plc_genesis = {}};
}

std::string MintToken(const Identity& identity, const std::string& aud, const std::string& lxm,
                      const TokenOptions& options) {
  auth::ServiceJwtParams params(options.iss.empty() ? identity.did : options.iss, aud, lxm);
  params.iat = options.iat != 0 ? options.iat : UnixNow();
  params.exp = params.iat + options.lifetime_s;
  params.jti = options.jti;
  return auth::CreateServiceJwt(identity.key, params);
}

}  // namespace atipay::devid
