// DAG-CBOR (DRISL) for atproto data, to and from the atproto JSON form.
//
// JSON form: {"$link": cid} <-> tag 42 (0x00 + binary CID); {"$bytes": base64} <-> byte string;
// blobs are ordinary maps whose "ref" is a $link. Encoding is deterministic: shortest integer
// and length heads, definite lengths, map keys sorted by length then bytewise. The data model
// has no floats: an integral double (123.0) encodes as an integer, any other double fails. Only
// integers within ±(2^53-1) (kMaxSafeInteger) encode, as in the reference's encoder, and the
// decoder refuses the others too, so that whatever it accepts re-encodes to the same bytes.
//
// The encoder only checks what it needs to encode ($link / $bytes shape, numbers, depth);
// run CheckDataModel (lex/data_model.h) first for the full data-model rules.
#ifndef ATIPAY_LEX_CBOR_H_
#define ATIPAY_LEX_CBOR_H_

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "lex/result.h"

namespace atipay::lex {

// Nesting limit for the encoder and decoder: arrays and maps count, $link and $bytes (a tag and
// a byte string) are leaves. Above the data model's 32 so anything that passes CheckDataModel
// encodes, yet small enough that recursion is always safe.
inline constexpr int kMaxCborDepth = 64;

// Appends the DAG-CBOR encoding of `v` to `out`. On failure returns false, sets *error (when
// given) and leaves `out` with unspecified extra bytes.
bool EncodeDagCbor(const boost::json::value& v, std::string& out, std::string* error = nullptr);

// Strict decoder: exactly one item, no trailing bytes; rejects indefinite lengths, non-shortest
// heads, unsorted or duplicate map keys, non-text keys, tags other than 42, floats, undefined
// and other simple values, invalid UTF-8, integers beyond ±(2^53-1), malformed CIDs, and map
// keys "$link" and "$bytes" (whose JSON form would be a link or bytes, or invalid).
Result<boost::json::value> DecodeDagCbor(std::string_view bytes);

// The record's CID: DAG-CBOR -> sha2-256 -> CIDv1 dag-cbor, base32 ("bafyrei...").
// Returns an empty string (and sets *error) when the record cannot be encoded.
std::string ComputeRecordCid(const boost::json::value& record, std::string* error = nullptr);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_CBOR_H_
