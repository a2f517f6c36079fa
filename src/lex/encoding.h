// Binary-to-text encodings used across atproto: base64 ($bytes, signatures), base64url (JWTs),
// base32 (CIDv1 multibase 'b'), base58btc (did:key multibase 'z') and hex.
//
// Bytes travel in std::string. Decoders return nullopt on any malformed input. All but
// DecodeBase64 also refuse non-zero trailing bits, so each text they accept is the one
// canonical encoding of its bytes; DecodeBase64 ignores them, as the reference does for
// $bytes (an interop vector has them).
#ifndef ATIPAY_LEX_ENCODING_H_
#define ATIPAY_LEX_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>

namespace atipay::lex {

// RFC 4648 §4 standard alphabet, with '=' padding.
std::string EncodeBase64(std::string_view bytes);
// Same alphabet without padding: the form atproto writes for {"$bytes": ...}.
std::string EncodeBase64Unpadded(std::string_view bytes);
// Accepts padded and unpadded input (the atproto data model allows both). Rejects characters
// outside the alphabet, whitespace, and misplaced or partial padding; non-zero trailing bits
// are ignored ("AB" and "AA" are the same byte).
std::optional<std::string> DecodeBase64(std::string_view text);

// RFC 4648 §5 URL-safe alphabet, never padded (JWS compact serialization, RFC 7515 §2).
std::string EncodeBase64Url(std::string_view bytes);
// Rejects '=' padding, as JWS requires.
std::optional<std::string> DecodeBase64Url(std::string_view text);

// RFC 4648 §6 base32, lower-case, unpadded: the multibase 'b' body (without the 'b').
std::string EncodeBase32(std::string_view bytes);
// Lower-case only, like multiformats' base32 decoder.
std::optional<std::string> DecodeBase32(std::string_view text);

// Bitcoin base58 alphabet: the multibase 'z' body (without the 'z'). Leading zero bytes
// map to leading '1's.
std::string EncodeBase58Btc(std::string_view bytes);
std::optional<std::string> DecodeBase58Btc(std::string_view text);

// Lower-case hex; decoding accepts either case.
std::string EncodeHex(std::string_view bytes);
std::optional<std::string> DecodeHex(std::string_view text);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_ENCODING_H_
