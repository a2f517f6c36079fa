// DID documents as atproto uses them: the #atproto signing key, the #atproto_pds service and
// the handle claimed in alsoKnownAs.
#ifndef ATIPAY_IDENTITY_DID_DOCUMENT_H_
#define ATIPAY_IDENTITY_DID_DOCUMENT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/keys.h"
#include "lex/result.h"

namespace atipay::identity {

struct VerificationMethod {
  std::string id;  // "#atproto" or "did:...#atproto"
  std::string type;
  std::string controller;
  std::string public_key_multibase;
};

struct Service {
  std::string id;  // "#atproto_pds" or "did:...#atproto_pds"
  std::string type;
  std::string endpoint;  // only string endpoints are kept
};

struct DidDocument {
  std::string id;
  std::vector<std::string> also_known_as;
  std::vector<VerificationMethod> verification_methods;
  std::vector<Service> services;

  // The first verification method with id #atproto, parsed. nullopt when there is none, when
  // its controller is another DID, or when its key does not parse.
  std::optional<auth::PublicKey> AtprotoKey() const;
  // The #atproto_pds AtprotoPersonalDataServer endpoint (an http(s) URL); empty if absent.
  std::string PdsEndpoint() const;
  // The first "at://" alsoKnownAs entry without the prefix, lower-cased; empty if absent.
  // Unverified: a handle is only trusted after its own resolution points back to the DID.
  std::string Handle() const;
};

// Parses and checks a DID document; `expected_did` must equal its "id".
lex::Result<DidDocument> ParseDidDocument(std::string_view json, std::string_view expected_did);

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_DID_DOCUMENT_H_
