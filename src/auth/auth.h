// atipay::auth, the face of the part: service-auth JWT verification for XRPC calls.
//
//   atipay::auth::ServiceAuthOptions options("did:web:pay.example");
//   atipay::auth::ServiceAuthVerifier verifier(options, keys);
//   auto result = verifier.Verify(request_authorization_header, nsid);
//   if (auto* caller = std::get_if<atipay::auth::VerifiedCaller>(&result)) use(caller->did);
//   else reply(std::get<atipay::xrpc::XrpcError>(result));   // 401 (or 502 from resolution)
//
// Keys come from a KeyResolver: identity/identity.h provides the DID-resolving one,
// StaticKeyResolver a fixed table. keys.h has did:key parsing, signing and verification.
#ifndef ATIPAY_AUTH_AUTH_H_
#define ATIPAY_AUTH_AUTH_H_

#include "auth/clock.h"
#include "auth/jwt.h"
#include "auth/keys.h"
#include "auth/verifier.h"

#endif  // ATIPAY_AUTH_AUTH_H_
