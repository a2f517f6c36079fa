// Content identifiers (CIDs), as the atproto data model uses them.
//
// Parsing follows the TypeScript multiformats CID.parse/CID.decode that the reference uses:
// CIDv1 as multibase base32 ('b') or base58btc ('z'), and CIDv0 as bare base58 "Qm...".
// Anything else (other multibases, unknown versions, trailing bytes) is rejected. The
// blessed atproto form is CIDv1, sha2-256, dag-cbor (0x71) or raw (0x55), base32.
#ifndef ATIPAY_LEX_CID_H_
#define ATIPAY_LEX_CID_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atipay::lex {

inline constexpr std::uint64_t kDagPbCodec = 0x70;
inline constexpr std::uint64_t kDagCborCodec = 0x71;
inline constexpr std::uint64_t kRawCodec = 0x55;
inline constexpr std::uint64_t kSha256Code = 0x12;
// Limit on the binary form (atproto data-validation guide; indigo MAX_CID_BYTES).
inline constexpr std::size_t kMaxCidBytes = 100;

class Cid {
 public:
  int version() const { return version_; }
  std::uint64_t codec() const { return codec_; }
  std::uint64_t hash_code() const { return hash_code_; }
  // The raw hash digest (without the multihash header).
  std::string_view digest() const { return std::string_view(bytes_).substr(digest_offset_); }
  // The whole binary CID (for v0: the bare multihash), as it appears inside CBOR tag 42.
  const std::string& bytes() const { return bytes_; }

  // CIDv1: multibase base32 "b..."; CIDv0: base58btc "Qm..." (as multiformats prints them).
  std::string ToString() const;

  // CIDv1, sha2-256, dag-cbor or raw: what atproto writes.
  bool IsBlessed() const {
    return version_ == 1 && (codec_ == kDagCborCodec || codec_ == kRawCodec) &&
           hash_code_ == kSha256Code && digest().size() == 32;
  }

  friend bool operator==(const Cid& a, const Cid& b) { return a.bytes_ == b.bytes_; }

 private:
  friend std::optional<Cid> ParseCidBytes(std::string_view bytes);
  friend Cid MakeCidV1(std::uint64_t codec, std::uint64_t hash_code, std::string_view digest);

  int version_ = 1;
  std::uint64_t codec_ = 0;
  std::uint64_t hash_code_ = 0;
  std::size_t digest_offset_ = 0;
  std::string bytes_;
};

// Parses a CID string (see the file comment for the accepted forms).
std::optional<Cid> ParseCid(std::string_view text);
// Parses a binary CID; the whole input must be consumed and be at most kMaxCidBytes long.
std::optional<Cid> ParseCidBytes(std::string_view bytes);
// Builds a CIDv1 from its parts.
Cid MakeCidV1(std::uint64_t codec, std::uint64_t hash_code, std::string_view digest);

// SHA-256 via OpenSSL EVP.
std::array<unsigned char, 32> Sha256(std::string_view data);

// CIDv1, sha2-256 of the given DAG-CBOR block / raw blob bytes.
Cid ComputeDagCborCid(std::string_view cbor_bytes);
Cid ComputeRawCid(std::string_view bytes);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_CID_H_
