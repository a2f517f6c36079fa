// atipay::identity, the face of the part: DID resolution (did:plc, did:web, a dev directory of
// trusted documents) behind a cache, usable as the auth::KeyResolver of the verifier.
//
//   atipay::identity::IdentityOptions options;   // plc_url defaults to https://plc.directory
//   auto resolver = atipay::identity::MakeIdentityResolver(options);
//   if (!resolver) die(resolver.error().message);
//   atipay::auth::ServiceAuthVerifier verifier(atipay::auth::ServiceAuthOptions(my_did),
//                                              **resolver);
#ifndef ATIPAY_IDENTITY_IDENTITY_H_
#define ATIPAY_IDENTITY_IDENTITY_H_

#include <memory>
#include <string>

#include "auth/clock.h"
#include "identity/did_document.h"
#include "identity/http_client.h"
#include "identity/identity_resolver.h"
#include "identity/resolver.h"
#include "lex/result.h"

namespace atipay::identity {

inline constexpr char kDefaultPlcUrl[] = "https://plc.directory";

struct IdentityOptions {
  // PLC directory; plain http only for loopback hosts.
  std::string plc_url = kDefaultPlcUrl;
  // Dev mode: a directory of trusted DID documents (<dir>/<did>.json), asked before the
  // network. Empty: off.
  std::string dev_did_dir;
  // Dev mode: did:web on a loopback host (did:web:localhost%3A2583) over plain http.
  bool dev_allow_http_loopback = false;
  HttpClientOptions http;
  CacheOptions cache;
};

// Builds the resolver chain: dev directory (if any), then did:plc / did:web over the network,
// behind the cache. Fails only on bad options (a non-https PLC URL, a missing dev dir).
lex::Result<std::unique_ptr<IdentityResolver>> MakeIdentityResolver(
    const IdentityOptions& options, const auth::Clock& clock = auth::SystemClock::Instance());

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_IDENTITY_H_
