// atipay-mint-token: dev identities and service tokens, so a freshly started server can be
// called with curl without a PDS in front of it.
//
//   atipay-mint-token init --key-file alice.key --did-dir ./dev-dids [--handle alice.test]
//   atipay-mint-token mint --key-file alice.key --aud did:web:localhost%3A8080
//       --lxm com.atiproto.cart.get
#include <sys/stat.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "identity/identity.h"
#include "lex/cbor.h"
#include "lex/encoding.h"
#include "lex/formats.h"

namespace {

namespace json = boost::json;
using atipay::auth::Curve;
using atipay::auth::PrivateKey;

constexpr char kUsage[] =
    R"USAGE(atipay-mint-token: dev identities and service-auth tokens for atipay.

Usage:
  atipay-mint-token init --key-file FILE [options]
      Creates a key pair and a DID, writes FILE (private: mode 0600) and, with --did-dir,
      DIR/<did>.json, a DID document the server trusts in dev mode (--dev-did-dir /
      ATIPAY_DEV_DID_DIR). Prints the DID.
      --did-dir DIR       write the DID document there
      --plc-url URL       also register the DID on a (local) PLC directory, e.g.
                          http://127.0.0.1:2582 (https, or http on loopback)
      --did DID           use this DID instead of the did:plc derived from the genesis
                          operation (e.g. did:web:localhost%3A9000; not with --plc-url)
      --handle HANDLE     alsoKnownAs at://HANDLE (default: dev.test)
      --pds URL           #atproto_pds endpoint (default: http://localhost:2583)
      --curve k256|p256   key type (default: k256, ES256K)
      --force             overwrite an existing key file

  atipay-mint-token mint --key-file FILE --aud DID --lxm NSID [options]
      Prints a service-auth JWT signed with the key in FILE.
      --aud DID           the service's DID (the server's --service-did), optionally #id
      --lxm NSID          the XRPC method the token is for
      --iss DID           the caller (default: the DID in FILE)
      --exp-seconds N     lifetime (default: 60; the server accepts at most its
                          max lifetime, 300 s by default)
      --jti TEXT          nonce (default: 16 random bytes, hex)

  atipay-mint-token --help

Example (against a server started with --service-did did:web:localhost%3A8080
and --dev-did-dir ./dev-dids):
  atipay-mint-token init --key-file alice.key --did-dir ./dev-dids
  curl -H "Authorization: Bearer $(atipay-mint-token mint --key-file alice.key \
      --aud did:web:localhost%3A8080 --lxm com.atiproto.cart.get)" \
      'http://localhost:8080/xrpc/com.atiproto.cart.get'
)USAGE";

int Fail(const std::string& message) {
  std::cerr << "atipay-mint-token: " << message << "\n";
  return 1;
}

// --name value / --name=value; flags listed in `booleans` take no value.
std::optional<std::map<std::string, std::string>> ParseFlags(
    int argc, char** argv, int start, const std::vector<std::string>& booleans,
    std::string* error) {
  std::map<std::string, std::string> flags;
  for (int i = start; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--")) {
      *error = "unexpected argument " + arg;
      return std::nullopt;
    }
    arg = arg.substr(2);
    std::size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flags[arg.substr(0, eq)] = arg.substr(eq + 1);
      continue;
    }
    if (std::find(booleans.begin(), booleans.end(), arg) != booleans.end()) {
      flags[arg] = "1";
      continue;
    }
    if (i + 1 >= argc) {
      *error = "--" + arg + " needs a value";
      return std::nullopt;
    }
    flags[arg] = argv[++i];
  }
  return flags;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

std::string DidDocument(const std::string& did, const PrivateKey& key, const std::string& handle,
                        const std::string& pds) {
  json::object doc{{"@context", json::array{"https://www.w3.org/ns/did/v1",
                                            "https://w3id.org/security/multikey/v1",
                                            "https://w3id.org/security/suites/secp256k1-2019/v1"}},
                   {"id", did},
                   {"alsoKnownAs", json::array{"at://" + handle}},
                   {"verificationMethod",
                    json::array{json::object{{"id", did + "#atproto"},
                                             {"type", "Multikey"},
                                             {"controller", did},
                                             {"publicKeyMultibase", key.public_key().Multikey()}}}},
                   {"service", json::array{json::object{{"id", "#atproto_pds"},
                                                        {"type", "AtprotoPersonalDataServer"},
                                                        {"serviceEndpoint", pds}}}}};
  return json::serialize(doc);
}

// The did:plc genesis operation (did-method-plc): the DID is the first 24 base32 characters
// of sha256(DAG-CBOR(signed operation)). The same key serves as rotation and signing key.
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
  if (!atipay::lex::EncodeDagCbor(op, unsigned_cbor)) return std::nullopt;
  std::string sig = key.Sign(unsigned_cbor);
  if (sig.empty()) return std::nullopt;
  op["sig"] = atipay::lex::EncodeBase64Url(sig);
  std::string signed_cbor;
  if (!atipay::lex::EncodeDagCbor(op, signed_cbor)) return std::nullopt;
  atipay::auth::Sha256Digest hash = atipay::auth::Sha256(signed_cbor);
  std::string b32 = atipay::lex::EncodeBase32(
      std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
  return std::make_pair("did:plc:" + b32.substr(0, 24), std::move(op));
}

int Init(std::map<std::string, std::string> flags) {
  const std::string key_file = flags["key-file"];
  if (key_file.empty()) return Fail("init needs --key-file");
  if (std::filesystem::exists(key_file) && !flags.contains("force")) {
    return Fail(key_file + " exists (use --force to overwrite)");
  }
  const std::string curve_name = flags.contains("curve") ? flags["curve"] : "k256";
  if (curve_name != "k256" && curve_name != "p256") return Fail("--curve is k256 or p256");
  const Curve curve = curve_name == "k256" ? Curve::kSecp256k1 : Curve::kP256;
  const std::string handle = flags.contains("handle") ? flags["handle"] : "dev.test";
  const std::string pds = flags.contains("pds") ? flags["pds"] : "http://localhost:2583";
  if (!atipay::lex::IsValidHandle(handle)) return Fail("not a valid handle: " + handle);
  if (flags.contains("did") && flags.contains("plc-url")) {
    return Fail("--did and --plc-url exclude each other (PLC derives the DID)");
  }

  std::optional<PrivateKey> key = PrivateKey::Generate(curve);
  if (!key) return Fail("cannot generate a key");
  auto genesis = PlcGenesis(*key, handle, pds);
  if (!genesis) return Fail("cannot build the PLC genesis operation");
  std::string did = flags.contains("did") ? flags["did"] : genesis->first;
  if (!atipay::lex::IsValidDid(did)) return Fail("not a valid DID: " + did);

  if (flags.contains("plc-url")) {
    auto http = std::make_shared<const atipay::identity::HttpClient>();
    std::string error;
    // Reuse the resolver's URL policy: https, or http on loopback only.
    if (!atipay::identity::PlcResolver::Create(flags["plc-url"], http, &error)) return Fail(error);
    std::string base = flags["plc-url"];
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto url = atipay::identity::Url::Parse(base + "/" + did);
    if (!url) return Fail("bad --plc-url");
    auto response = http->Post(*url, json::serialize(genesis->second), "application/json");
    if (auto* e = std::get_if<atipay::identity::HttpError>(&response)) {
      return Fail("PLC registration failed: " + e->message);
    }
    const auto& r = std::get<atipay::identity::HttpResponse>(response);
    if (r.status != 200) {
      return Fail("PLC directory answered " + std::to_string(r.status) + ": " + r.body);
    }
  }

  if (flags.contains("did-dir")) {
    std::filesystem::path dir = flags["did-dir"];
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::ofstream doc(dir / (did + ".json"));
    doc << DidDocument(did, *key, handle, pds) << "\n";
    if (!doc) return Fail("cannot write " + (dir / (did + ".json")).string());
  }

  json::object file{{"did", did},
                    {"curve", curve_name},
                    {"privateKeyHex", atipay::lex::EncodeHex(key->bytes())},
                    {"publicKeyMultibase", key->public_key().Multikey()},
                    {"didKey", key->public_key().DidKey()}};
  {
    // Created private: the file holds a signing key.
    std::filesystem::remove(key_file);
    mode_t old = umask(077);
    std::ofstream out(key_file);
    umask(old);
    out << json::serialize(file) << "\n";
    if (!out) return Fail("cannot write " + key_file);
  }
  std::cout << did << "\n";
  return 0;
}

int Mint(std::map<std::string, std::string> flags) {
  const std::string key_file = flags["key-file"];
  if (key_file.empty()) return Fail("mint needs --key-file");
  if (flags["aud"].empty()) return Fail("mint needs --aud (the service DID)");
  if (flags["lxm"].empty()) return Fail("mint needs --lxm (the NSID called)");
  if (!atipay::lex::IsValidNsid(flags["lxm"])) return Fail("not a valid NSID: " + flags["lxm"]);
  std::string text;
  if (!ReadFile(key_file, &text)) return Fail("cannot read " + key_file);
  json::error_code ec;
  json::value file = json::parse(text, ec);
  if (ec || !file.is_object()) return Fail(key_file + " is not a key file");
  const json::object& o = file.get_object();
  auto field = [&](const char* name) -> std::string {
    const json::value* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const Curve curve = field("curve") == "p256" ? Curve::kP256 : Curve::kSecp256k1;
  std::optional<std::string> secret = atipay::lex::DecodeHex(field("privateKeyHex"));
  std::optional<PrivateKey> key;
  if (secret) key = PrivateKey::FromBytes(curve, *secret);
  if (!key) return Fail(key_file + " has no usable privateKeyHex");

  atipay::auth::ServiceJwtParams params(flags.contains("iss") ? flags["iss"] : field("did"),
                                        flags["aud"], flags["lxm"]);
  if (params.iss.empty()) return Fail("no --iss and no did in " + key_file);
  long long lifetime = 60;
  if (flags.contains("exp-seconds")) {
    try {
      lifetime = std::stoll(flags["exp-seconds"]);
    } catch (const std::exception&) {
      return Fail("--exp-seconds needs a number");
    }
    if (lifetime <= 0) return Fail("--exp-seconds must be positive");
  }
  params.iat = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  params.exp = params.iat + lifetime;
  params.jti = flags["jti"];
  std::string token = atipay::auth::CreateServiceJwt(*key, params);
  if (token.empty()) return Fail("signing failed");
  std::cout << token << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::string error;
  auto flags = ParseFlags(argc, argv, 2, {"force", "help"}, &error);
  if (!flags) return Fail(error + " (see --help)");
  if (flags->contains("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (command == "init") return Init(*flags);
  if (command == "mint") return Mint(*flags);
  return Fail("unknown command " + command + " (see --help)");
}
