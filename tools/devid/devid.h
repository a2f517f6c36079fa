// atipay::devid: dev identities for tools and tests. A key pair, its did:plc (genesis
// operation), a DID document the server trusts in dev mode (--dev-did-dir), registration on a
// (local) PLC directory, key files, and service-auth tokens signed with the identity's key.
// Used by atipay-mint-token, atipay-agent (direct mode) and atipay-load. Never for production
// keys: key files are plain JSON (mode 0600).
//
//   auto id = atipay::devid::NewIdentity({.handle = "alice.test"});
//   if (!id) die(id.error().message);
//   atipay::devid::WriteDidDocument(dir, *id);            // or RegisterOnPlc(plc_url, *id)
//   std::string jwt = atipay::devid::MintToken(*id, aud, "com.atiproto.payment.cart.clone");
#ifndef ATIPAY_TOOLS_DEVID_DEVID_H_
#define ATIPAY_TOOLS_DEVID_DEVID_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "auth/keys.h"
#include "lex/result.h"

namespace atipay::devid {

struct Identity {
  std::string did;
  auth::PrivateKey key;
  std::string handle;
  std::string pds;                  // the #atproto_pds endpoint written into the document
  boost::json::object plc_genesis;  // the signed genesis operation (empty for an explicit DID)
};

struct NewIdentityOptions {
  auth::Curve curve = auth::Curve::kSecp256k1;
  std::string handle = "dev.test";
  std::string pds = "http://localhost:2583";
  // Use this DID instead of the did:plc derived from the genesis operation (e.g. a did:web).
  std::string did;
};

// Generates a key and derives the did:plc (or takes options.did). Nothing is written.
lex::Result<Identity> NewIdentity(const NewIdentityOptions& options);

// The did:plc genesis operation (did-method-plc): the DID is the first 24 base32 characters
// of sha256(DAG-CBOR(signed operation)); the key serves as rotation and signing key.
// Returns {did, signed operation}, or nullopt if encoding or signing fails.
std::optional<std::pair<std::string, boost::json::object>> PlcGenesis(const auth::PrivateKey& key,
                                                                      const std::string& handle,
                                                                      const std::string& pds);

// The DID document, as the PLC directory would serve it.
boost::json::object DidDocument(const std::string& did, const auth::PublicKey& key,
                                const std::string& handle, const std::string& pds);

// Writes DIR/<did>.json (creating DIR), atomically (temp file + rename), so a server reading
// the directory never sees half a document. Empty string on success, else the error.
std::string WriteDidDocument(const std::string& dir, const Identity& identity);

// POSTs the genesis operation to PLC_URL/<did> (https, or http on a loopback host). Empty
// string on success, else the error.
std::string RegisterOnPlc(const std::string& plc_url, const Identity& identity);

// Key files: {"did","curve","privateKeyHex","publicKeyMultibase","didKey"}, written mode 0600.
std::string WriteKeyFile(const std::string& path, const Identity& identity);
lex::Result<Identity> ReadKeyFile(const std::string& path);

// "k256" / "p256".
const char* CurveName(auth::Curve curve);

struct TokenOptions {
  std::int64_t iat = 0;          // 0: now
  std::int64_t lifetime_s = 60;  // exp = iat + lifetime
  std::string jti;               // empty: 16 random bytes, hex
  std::string iss;               // empty: the identity's DID
};
// A service-auth JWT (ES256K / ES256); empty string if signing fails.
std::string MintToken(const Identity& identity, const std::string& aud, const std::string& lxm,
                      const TokenOptions& options = {});

std::int64_t UnixNow();

}  // namespace atipay::devid

#endif  // ATIPAY_TOOLS_DEVID_DEVID_H_
