// atipay-mint-token: dev identities and service tokens, so a freshly started server can be
// called with curl without a PDS in front of it.
//
//   atipay-mint-token init --key-file alice.key --did-dir ./dev-dids [--handle alice.test]
//   atipay-mint-token mint --key-file alice.key --aud did:web:localhost%3A8080
//       --lxm com.atiproto.payment.cart.list
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/keys.h"
#include "devid/devid.h"
#include "lex/formats.h"
#include "lex/params.h"

namespace {

using atipay::auth::Curve;

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
      --exp-seconds N     lifetime, at most a year (default: 60; the server accepts at
                          most its max lifetime, 300 s by default)
      --jti TEXT          nonce (default: 16 random bytes, hex)

  atipay-mint-token --help

Example (init first: a server's --dev-did-dir must exist when it starts):
  atipay-mint-token init --key-file alice.key --did-dir ./dev-dids
  atipay-server --listen localhost:8080 --dev-did-dir ./dev-dids &
  curl -H "Authorization: Bearer $(atipay-mint-token mint --key-file alice.key \
      --aud did:web:localhost%3A8080 --lxm com.atiproto.payment.cart.list)" \
      'http://localhost:8080/xrpc/com.atiproto.payment.cart.list'
)USAGE";

int Fail(const std::string& message) {
  std::cerr << "atipay-mint-token: " << message << "\n";
  return 1;
}

// --name value / --name=value, for the names in `valued` and `booleans` (which take no value).
// Any other name is an error: a mistyped option must not be dropped quietly (`--exp 600` would
// mint a token for the default 60 s, `--didir` would write no DID document).
std::optional<std::map<std::string, std::string>> ParseFlags(
    int argc, char** argv, int start, const std::vector<std::string>& valued,
    const std::vector<std::string>& booleans, std::string* error) {
  std::map<std::string, std::string> flags;
  auto known = [&](const std::string& name) {
    return std::find(valued.begin(), valued.end(), name) != valued.end() ||
           std::find(booleans.begin(), booleans.end(), name) != booleans.end();
  };
  for (int i = start; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--")) {
      *error = "unexpected argument " + arg;
      return std::nullopt;
    }
    arg = arg.substr(2);
    std::size_t eq = arg.find('=');
    if (!known(arg.substr(0, eq))) {
      *error = "unknown option --" + arg.substr(0, eq);
      return std::nullopt;
    }
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

int Init(std::map<std::string, std::string> flags) {
  const std::string key_file = flags["key-file"];
  if (key_file.empty()) return Fail("init needs --key-file");
  if (std::filesystem::exists(key_file) && !flags.contains("force")) {
    return Fail(key_file + " exists (use --force to overwrite)");
  }
  const std::string curve_name = flags.contains("curve") ? flags["curve"] : "k256";
  if (curve_name != "k256" && curve_name != "p256") return Fail("--curve is k256 or p256");
  if (flags.contains("did") && flags.contains("plc-url")) {
    return Fail("--did and --plc-url exclude each other (PLC derives the DID)");
  }
  atipay::devid::NewIdentityOptions options;
  options.curve = curve_name == "k256" ? Curve::kSecp256k1 : Curve::kP256;
  if (flags.contains("handle")) options.handle = flags["handle"];
  if (flags.contains("pds")) options.pds = flags["pds"];
  if (flags.contains("did")) options.did = flags["did"];
  auto identity = atipay::devid::NewIdentity(options);
  if (!identity) return Fail(identity.error().message);

  // The key first, under a name of its own beside FILE: a key that cannot be written must not
  // leave behind a DID registered, or a document trusted, whose private key is lost. It takes
  // FILE's name last, so that a failure leaves an existing FILE (--force) as it was.
  const std::string temp_key = key_file + ".tmp-" + std::to_string(::getpid());
  std::string error = atipay::devid::WriteKeyFile(temp_key, *identity);
  if (!error.empty()) return Fail(error);
  auto give_up = [&](const std::string& message) {
    std::error_code ec;
    std::filesystem::remove(temp_key, ec);
    return Fail(message);
  };
  if (flags.contains("plc-url")) {
    error = atipay::devid::RegisterOnPlc(flags["plc-url"], *identity);
    if (!error.empty()) return give_up(error);
  }
  if (flags.contains("did-dir")) {
    error = atipay::devid::WriteDidDocument(flags["did-dir"], *identity);
    if (!error.empty()) return give_up(error);
  }
  std::error_code ec;
  std::filesystem::rename(temp_key, key_file, ec);
  if (ec) return give_up("cannot write " + key_file + ": " + ec.message());
  std::cout << identity->did << "\n";
  return 0;
}

int Mint(std::map<std::string, std::string> flags) {
  const std::string key_file = flags["key-file"];
  if (key_file.empty()) return Fail("mint needs --key-file");
  if (flags["aud"].empty()) return Fail("mint needs --aud (the service DID)");
  if (flags["lxm"].empty()) return Fail("mint needs --lxm (the NSID called)");
  if (!atipay::lex::IsValidNsid(flags["lxm"])) return Fail("not a valid NSID: " + flags["lxm"]);
  auto identity = atipay::devid::ReadKeyFile(key_file);
  if (!identity) return Fail(identity.error().message);

  atipay::devid::TokenOptions options;
  options.iss = flags.contains("iss") ? flags["iss"] : identity->did;
  if (options.iss.empty()) return Fail("no --iss and no did in " + key_file);
  if (flags.contains("exp-seconds")) {
    // Bounded, so that iat + lifetime cannot overflow into a negative exp.
    constexpr std::int64_t kMaxLifetime = 365LL * 24 * 3600;
    std::optional<std::int64_t> lifetime = atipay::lex::DecodeIntegerParam(flags["exp-seconds"]);
    if (!lifetime || *lifetime <= 0 || *lifetime > kMaxLifetime) {
      return Fail("--exp-seconds is a whole number of seconds from 1 to " +
                  std::to_string(kMaxLifetime) + " (a year)");
    }
    options.lifetime_s = *lifetime;
  }
  options.jti = flags["jti"];
  std::string token = atipay::devid::MintToken(*identity, flags["aud"], flags["lxm"], options);
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
  std::vector<std::string> valued, booleans{"help"};
  if (command == "init") {
    valued = {"key-file", "did-dir", "plc-url", "did", "handle", "pds", "curve"};
    booleans.push_back("force");
  } else if (command == "mint") {
    valued = {"key-file", "aud", "lxm", "iss", "exp-seconds", "jti"};
  } else {
    return Fail("unknown command " + command + " (see --help)");
  }
  std::string error;
  auto flags = ParseFlags(argc, argv, 2, valued, booleans, &error);
  if (!flags) return Fail(error + " (see --help)");
  if (flags->contains("help")) {
    std::cout << kUsage;
    return 0;
  }
  return command == "init" ? Init(*flags) : Mint(*flags);
}
