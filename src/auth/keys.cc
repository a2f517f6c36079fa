#include "auth/keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <secp256k1.h>

#include <cstring>
#include <utility>

#include "lex/encoding.h"

namespace atipay::auth {
namespace {

// Multicodec varints: secp256k1-pub 0xe7, p256-pub 0x1200.
constexpr std::string_view kK1Prefix("\xe7\x01", 2);
constexpr std::string_view kP256Prefix("\x80\x24", 2);

// n/2 for P-256, big-endian: a compact signature is low-S when s <= this.
constexpr unsigned char kP256HalfOrder[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

const unsigned char* U8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Signing and key derivation need a context with generator tables; verification and parsing
// use the static context. One context, created and randomized once, shared read-only.
const secp256k1_context* K1SigningContext() {
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    unsigned char seed[32];
    if (RAND_bytes(seed, sizeof(seed)) == 1) {
      // Blinding against side channels; a failure here only loses the blinding.
      if (secp256k1_context_randomize(c, seed) != 1) seed[0] = 0;
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    return c;
  }();
  return ctx;
}

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpPkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct EcGroupFree {
  void operator()(EC_GROUP* p) const { EC_GROUP_free(p); }
};
struct EcPointFree {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

using EcGroupPtr = std::unique_ptr<EC_GROUP, EcGroupFree>;
using EcPointPtr = std::unique_ptr<EC_POINT, EcPointFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

EcGroupPtr P256Group() { return EcGroupPtr(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)); }

std::string PointToCompressed(const EC_GROUP* group, const EC_POINT* point) {
  unsigned char buf[33];
  size_t n =
      EC_POINT_point2oct(group, point, POINT_CONVERSION_COMPRESSED, buf, sizeof(buf), nullptr);
  if (n != sizeof(buf)) return {};
  return std::string(reinterpret_cast<char*>(buf), n);
}

// An EVP_PKEY for P-256 from a compressed point and, for signing, the secret scalar.
std::shared_ptr<EVP_PKEY> MakeP256Pkey(std::string_view compressed, const BIGNUM* secret) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld) return nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, compressed.data(),
                                       compressed.size()) != 1) {
    return nullptr;
  }
  if (secret != nullptr &&
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, secret) != 1) {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* pkey = nullptr;
  int selection = secret != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1) return nullptr;
  return std::shared_ptr<EVP_PKEY>(pkey, EvpPkeyFree());
}

bool IsLowS(const unsigned char* s) { return std::memcmp(s, kP256HalfOrder, 32) <= 0; }

bool VerifyP256(EVP_PKEY* pkey, const Sha256Digest& digest, std::string_view signature) {
  const unsigned char* sig = U8(signature);
  if (!IsLowS(sig + 32)) return false;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> ecdsa(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
  BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
  if (!ecdsa || r == nullptr || s == nullptr) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  ECDSA_SIG_set0(ecdsa.get(), r, s);  // takes ownership of r and s
  unsigned char der[80];
  unsigned char* p = der;
  int der_len = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
  if (der_len <= 0 || der_len > static_cast<int>(sizeof(der))) return false;
  der_len = i2d_ECDSA_SIG(ecdsa.get(), &p);
  std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
  return EVP_PKEY_verify(ctx.get(), der, static_cast<size_t>(der_len), digest.data(),
                         digest.size()) == 1;
}

std::string SignP256(std::string_view secret_bytes, const std::string& compressed,
                     const Sha256Digest& digest) {
  BnPtr secret(BN_bin2bn(U8(secret_bytes), static_cast<int>(secret_bytes.size()), nullptr));
  if (!secret) return {};
  std::shared_ptr<EVP_PKEY> pkey = MakeP256Pkey(compressed, secret.get());
  if (!pkey) return {};
  std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return {};
  unsigned char der[80];
  size_t der_len = sizeof(der);
  if (EVP_PKEY_sign(ctx.get(), der, &der_len, digest.data(), digest.size()) != 1) return {};
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> ecdsa(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!ecdsa) return {};
  const BIGNUM* r = ECDSA_SIG_get0_r(ecdsa.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(ecdsa.get());
  unsigned char out[64];
  if (BN_bn2binpad(r, out, 32) != 32 || BN_bn2binpad(s, out + 32, 32) != 32) return {};
  if (!IsLowS(out + 32)) {
    // OpenSSL does not normalize: replace s by n - s, which verifies the same way.
    EcGroupPtr group = P256Group();
    BnPtr low(BN_new());
    if (!group || !low || BN_sub(low.get(), EC_GROUP_get0_order(group.get()), s) != 1 ||
        BN_bn2binpad(low.get(), out + 32, 32) != 32) {
      return {};
    }
  }
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

}  // namespace

std::string_view JwtAlg(Curve curve) { return curve == Curve::kSecp256k1 ? "ES256K" : "ES256"; }

std::optional<Curve> CurveFromJwtAlg(std::string_view alg) {
  if (alg == "ES256K") return Curve::kSecp256k1;
  if (alg == "ES256") return Curve::kP256;
  return std::nullopt;
}

Sha256Digest Sha256(std::string_view data) {
  // Fetch the implementation once; a per-thread context avoids an allocation per call.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Sha256Digest out{};
  unsigned int len = 0;
  if (md == nullptr || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    // Cannot happen with a working libcrypto; an all-zero digest verifies nothing.
    out.fill(0);
  }
  return out;
}

std::optional<PublicKey> PublicKey::FromSec1(Curve curve, std::string_view point) {
  if (point.size() != 33 && point.size() != 65) return std::nullopt;
  PublicKey key;
  key.curve_ = curve;
  if (curve == Curve::kSecp256k1) {
    secp256k1_pubkey pk;
    if (secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, U8(point), point.size()) != 1) {
      return std::nullopt;
    }
    unsigned char buf[33];
    size_t len = sizeof(buf);
    secp256k1_ec_pubkey_serialize(secp256k1_context_static, buf, &len, &pk,
                                  SECP256K1_EC_COMPRESSED);
    key.compressed_.assign(reinterpret_cast<char*>(buf), len);
    static_assert(sizeof(pk.data) == 64);
    std::memcpy(key.k1_.data(), pk.data, sizeof(pk.data));
    return key;
  }
  EcGroupPtr group = P256Group();
  if (!group) return std::nullopt;
  EcPointPtr p(EC_POINT_new(group.get()));
  if (!p || EC_POINT_oct2point(group.get(), p.get(), U8(point), point.size(), nullptr) != 1 ||
      EC_POINT_is_at_infinity(group.get(), p.get()) == 1) {
    return std::nullopt;
  }
  key.compressed_ = PointToCompressed(group.get(), p.get());
  if (key.compressed_.empty()) return std::nullopt;
  key.p256_ = MakeP256Pkey(key.compressed_, nullptr);
  if (!key.p256_) return std::nullopt;
  return key;
}

bool PublicKey::Verify(std::string_view message, std::string_view signature) const {
  return VerifyDigest(Sha256(message), signature);
}

bool PublicKey::VerifyDigest(const Sha256Digest& digest, std::string_view signature) const {
  if (signature.size() != 64) return false;  // DER and anything else: not atproto
  if (curve_ == Curve::kP256) return p256_ && VerifyP256(p256_.get(), digest, signature);
  secp256k1_ecdsa_signature sig;
  // Fails when r or s overflow the order.
  if (secp256k1_ecdsa_signature_parse_compact(secp256k1_context_static, &sig, U8(signature)) != 1) {
    return false;
  }
  secp256k1_pubkey pk;
  std::memcpy(pk.data, k1_.data(), sizeof(pk.data));
  // Rejects high-S on purpose; never normalize first.
  return secp256k1_ecdsa_verify(secp256k1_context_static, &sig, digest.data(), &pk) == 1;
}

std::string PublicKey::Multikey() const {
  std::string raw(curve_ == Curve::kSecp256k1 ? kK1Prefix : kP256Prefix);
  raw += compressed_;
  return "z" + lex::EncodeBase58Btc(raw);
}

std::string PublicKey::DidKey() const { return "did:key:" + Multikey(); }

std::optional<PublicKey> ParseMultikey(std::string_view multikey) {
  if (multikey.size() < 2 || multikey.size() > 128 || multikey[0] != 'z') return std::nullopt;
  std::optional<std::string> raw = lex::DecodeBase58Btc(multikey.substr(1));
  if (!raw || raw->size() < 2) return std::nullopt;
  std::string_view bytes(*raw);
  if (bytes.starts_with(kK1Prefix)) {
    bytes.remove_prefix(kK1Prefix.size());
    if (bytes.size() != 33) return std::nullopt;  // multikeys carry compressed points only
    return PublicKey::FromSec1(Curve::kSecp256k1, bytes);
  }
  if (bytes.starts_with(kP256Prefix)) {
    bytes.remove_prefix(kP256Prefix.size());
    if (bytes.size() != 33) return std::nullopt;
    return PublicKey::FromSec1(Curve::kP256, bytes);
  }
  return std::nullopt;
}

std::optional<PublicKey> ParseDidKey(std::string_view did_key) {
  constexpr std::string_view kPrefix = "did:key:";
  if (!did_key.starts_with(kPrefix)) return std::nullopt;
  return ParseMultikey(did_key.substr(kPrefix.size()));
}

std::optional<PublicKey> ParseVerificationMethodKey(std::string_view type,
                                                    std::string_view public_key_multibase) {
  if (type == "Multikey") return ParseMultikey(public_key_multibase);
  std::optional<Curve> curve;
  if (type == "EcdsaSecp256k1VerificationKey2019") curve = Curve::kSecp256k1;
  if (type == "EcdsaSecp256r1VerificationKey2019") curve = Curve::kP256;
  if (!curve || public_key_multibase.size() < 2 || public_key_multibase.size() > 128 ||
      public_key_multibase[0] != 'z') {
    return std::nullopt;
  }
  // Legacy form: raw point bytes, no multicodec prefix; the spec says uncompressed but the
  // interop fixtures use compressed, so FromSec1 takes both.
  std::optional<std::string> raw = lex::DecodeBase58Btc(public_key_multibase.substr(1));
  if (!raw) return std::nullopt;
  return PublicKey::FromSec1(*curve, *raw);
}

std::optional<PrivateKey> PrivateKey::Generate(Curve curve) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string secret(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) != 1) return std::nullopt;
    std::optional<PrivateKey> key = FromBytes(curve, secret);
    OPENSSL_cleanse(secret.data(), secret.size());
    if (key) return key;  // out-of-range scalars (probability ~2^-128) just try again
  }
  return std::nullopt;
}

std::optional<PrivateKey> PrivateKey::FromBytes(Curve curve, std::string_view secret) {
  if (secret.size() != 32) return std::nullopt;
  std::string compressed;
  if (curve == Curve::kSecp256k1) {
    const secp256k1_context* ctx = K1SigningContext();
    secp256k1_pubkey pk;
    if (secp256k1_ec_seckey_verify(ctx, U8(secret)) != 1 ||
        secp256k1_ec_pubkey_create(ctx, &pk, U8(secret)) != 1) {
      return std::nullopt;
    }
    unsigned char buf[33];
    size_t len = sizeof(buf);
    secp256k1_ec_pubkey_serialize(ctx, buf, &len, &pk, SECP256K1_EC_COMPRESSED);
    compressed.assign(reinterpret_cast<char*>(buf), len);
  } else {
    EcGroupPtr group = P256Group();
    BnPtr d(BN_bin2bn(U8(secret), 32, nullptr));
    if (!group || !d || BN_is_zero(d.get()) ||
        BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
      return std::nullopt;
    }
    EcPointPtr pub(EC_POINT_new(group.get()));
    if (!pub || EC_POINT_mul(group.get(), pub.get(), d.get(), nullptr, nullptr, nullptr) != 1) {
      return std::nullopt;
    }
    compressed = PointToCompressed(group.get(), pub.get());
  }
  std::optional<PublicKey> public_key = PublicKey::FromSec1(curve, compressed);
  if (!public_key) return std::nullopt;
  return PrivateKey(curve, std::string(secret), std::move(*public_key));
}

PrivateKey::~PrivateKey() {
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

std::string PrivateKey::Sign(std::string_view message) const {
  Sha256Digest digest = Sha256(message);
  if (curve_ == Curve::kP256) return SignP256(secret_, public_key_.compressed(), digest);
  secp256k1_ecdsa_signature sig;
  // RFC 6979 nonces; libsecp256k1 always emits low-S.
  if (secp256k1_ecdsa_sign(K1SigningContext(), &sig, digest.data(), U8(secret_), nullptr,
                           nullptr) != 1) {
    return {};
  }
  unsigned char out[64];
  secp256k1_ecdsa_signature_serialize_compact(secp256k1_context_static, out, &sig);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

}  // namespace atipay::auth
