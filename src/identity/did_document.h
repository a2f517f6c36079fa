// DID documents as atproto uses them: the #atproto signing key, the #atproto_pds service and
// the handle claimed in alsoKnownAs.
#ifndef ATIPAY_IDENTITY_DID_DOCUMENT_H_
#define ATIPAY_IDENTITY_DID_DOCUMENT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "auth/keys.h"
#include "lex/result.h"

namespace atipay::identity {

// What atproto reads from a DID document, picked out when it is parsed. Nothing else is kept:
// documents come from hosts a caller picks (did:web) and are cached by the thousand, so what one
// holds must not grow with the document (a 256 KiB document of 80,000 empty verificationMethod
// entries held 10 MiB as parsed entries).
class DidDocument {
 public:
  std::string id;

  // The key of the first verification method with id #atproto ("#atproto" or
  // "<id>#atproto"). nullopt when there is none, when its controller is not this DID, or when
  // its key does not parse: only the first #atproto entry counts, usable or not.
  const std::optional<auth::PublicKey>& AtprotoKey() const { return atproto_key_; }
  // The endpoint of the first #atproto_pds service of type AtprotoPersonalDataServer: an
  // http(s) URL of at most kMaxEndpointBytes; empty if absent or not such a URL.
  const std::string& PdsEndpoint() const { return pds_endpoint_; }
  // The first "at://" alsoKnownAs entry without the prefix, lower-cased; empty if absent or not
  // a valid handle. Unverified: a handle is only trusted after its own resolution points back
  // to the DID.
  const std::string& Handle() const { return handle_; }

  static constexpr std::size_t kMaxEndpointBytes = 2048;

 private:
  friend lex::Result<DidDocument> ParseDidDocument(std::string_view json,
                                                   std::string_view expected_did);
  std::optional<auth::PublicKey> atproto_key_;
  std::string pds_endpoint_;
  std::string handle_;
};

// Parses and checks a DID document; `expected_did` must equal its "id". A document whose
// alsoKnownAs, verificationMethod or service entries do not have the shapes the reference's
// schema gives them is refused whole, as the reference refuses it.
lex::Result<DidDocument> ParseDidDocument(std::string_view json, std::string_view expected_did);

}  // namespace atipay::identity

#endif  // ATIPAY_IDENTITY_DID_DOCUMENT_H_
