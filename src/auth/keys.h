// atproto signing keys: secp256k1 (ES256K) and P-256 (ES256), their did:key / multikey text
// forms, and ECDSA-SHA256 with 64-byte compact r||s signatures where low-S is mandatory.
//
// secp256k1 goes through libsecp256k1 (its verify rejects high-S by design), P-256 through
// OpenSSL 3 with an explicit low-S check. Nothing here throws; failures are nullopt / false.
#ifndef ATIPAY_AUTH_KEYS_H_
#define ATIPAY_AUTH_KEYS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header.

namespace atipay::auth {

enum class Curve : std::uint8_t { kSecp256k1, kP256 };

// "ES256K" / "ES256".
std::string_view JwtAlg(Curve curve);
std::optional<Curve> CurveFromJwtAlg(std::string_view alg);

using Sha256Digest = std::array<unsigned char, 32>;
Sha256Digest Sha256(std::string_view data);

class PublicKey {
 public:
  // From a SEC1 point: 33-byte compressed or 65-byte uncompressed. nullopt when the bytes
  // are not a point on the curve.
  static std::optional<PublicKey> FromSec1(Curve curve, std::string_view point);

  Curve curve() const { return curve_; }
  // The 33-byte compressed point: the identity of the key (compare keys with this).
  const std::string& compressed() const { return compressed_; }

  // ECDSA over SHA-256(message). `signature` must be the 64-byte compact r||s with
  // S <= n/2; DER and high-S signatures are rejected.
  bool Verify(std::string_view message, std::string_view signature) const;
  bool VerifyDigest(const Sha256Digest& digest, std::string_view signature) const;

  // "z" + base58btc(multicodec varint || compressed point), as in publicKeyMultibase.
  std::string Multikey() const;
  // "did:key:" + Multikey().
  std::string DidKey() const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) {
    return a.curve_ == b.curve_ && a.compressed_ == b.compressed_;
  }

 private:
  PublicKey() = default;

  Curve curve_ = Curve::kSecp256k1;
  std::string compressed_;
  // secp256k1: the parsed secp256k1_pubkey (opaque 64 bytes), parsed once so that
  // verification skips point decompression.
  std::array<unsigned char, 64> k1_{};
  // P-256: the OpenSSL key, immutable once built and shared between copies and threads.
  std::shared_ptr<evp_pkey_st> p256_;
};

// Multikey ("zQ3s..." / "zDn...") -> key. nullopt on bad multibase, unknown codec or bad point.
std::optional<PublicKey> ParseMultikey(std::string_view multikey);
// "did:key:z..." -> key.
std::optional<PublicKey> ParseDidKey(std::string_view did_key);

// A DID document verificationMethod: `type` is "Multikey" (multicodec-prefixed) or one of the
// legacy "EcdsaSecp256k1VerificationKey2019" / "EcdsaSecp256r1VerificationKey2019" (raw
// point, compressed or uncompressed, curve from the type).
std::optional<PublicKey> ParseVerificationMethodKey(std::string_view type,
                                                    std::string_view public_key_multibase);

class PrivateKey {
 public:
  // A fresh random key from the OS CSPRNG; nullopt only if the RNG fails.
  static std::optional<PrivateKey> Generate(Curve curve);
  // 32 big-endian bytes; nullopt when zero or not below the group order.
  static std::optional<PrivateKey> FromBytes(Curve curve, std::string_view secret);

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  Curve curve() const { return curve_; }
  const std::string& bytes() const { return secret_; }
  const PublicKey& public_key() const { return public_key_; }

  // ECDSA over SHA-256(message) -> 64-byte compact r||s, always low-S. Empty on failure.
  std::string Sign(std::string_view message) const;

 private:
  PrivateKey(Curve curve, std::string secret, PublicKey public_key)
      : curve_(curve), secret_(std::move(secret)), public_key_(std::move(public_key)) {}

  Curve curve_;
  std::string secret_;
  PublicKey public_key_;
};

}  // namespace atipay::auth

#endif  // ATIPAY_AUTH_KEYS_H_
