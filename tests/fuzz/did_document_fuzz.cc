// DID documents, as fetched from a PLC directory or a did:web host (untrusted either way).
// Oracle: an accepted document is the DID asked for, and its atproto key and PDS endpoint
// can be read without failing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "identity/did_document.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace atipay;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  for (std::string_view did : {"did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:web:example.com"}) {
    auto doc = identity::ParseDidDocument(json, did);
    if (!doc.ok()) continue;
    FUZZ_CHECK(doc->id == did, "document for another DID accepted");
    (void)doc->AtprotoKey();
    (void)doc->PdsEndpoint();
    (void)doc->Handle();
  }
  return 0;
}
