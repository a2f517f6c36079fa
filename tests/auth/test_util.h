// Signature surgery for tests: high-S twins, DER re-encoding, point decompression.
#ifndef ATIPAY_TESTS_AUTH_TEST_UTIL_H_
#define ATIPAY_TESTS_AUTH_TEST_UTIL_H_

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <string>

#include "auth/keys.h"

namespace atipay::test {

inline int CurveNid(auth::Curve c) {
  return c == auth::Curve::kSecp256k1 ? NID_secp256k1 : NID_X9_62_prime256v1;
}

// The group order n of the curve, as a BIGNUM the caller frees.
inline BIGNUM* Order(auth::Curve c) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(CurveNid(c));
  BIGNUM* n = BN_dup(EC_GROUP_get0_order(group));
  EC_GROUP_free(group);
  return n;
}

// r || (n - s): verifies as plain ECDSA, is high-S when s was low.
inline std::string FlipS(auth::Curve c, const std::string& sig) {
  BIGNUM* n = Order(c);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
  BN_sub(s, n, s);
  std::string out = sig.substr(0, 32) + std::string(32, '\0');
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  BN_free(s);
  BN_free(n);
  return out;
}

inline bool IsLowS(auth::Curve c, const std::string& sig) {
  BIGNUM* n = Order(c);
  BN_rshift1(n, n);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
  bool low = BN_cmp(s, n) <= 0;
  BN_free(s);
  BN_free(n);
  return low;
}

// ASN.1 DER SEQUENCE { INTEGER r, INTEGER s } of a compact signature.
inline std::string CompactToDer(const std::string& sig) {
  auto integer = [](std::string v) {
    while (v.size() > 1 && v[0] == '\0' && !(static_cast<unsigned char>(v[1]) & 0x80)) {
      v.erase(0, 1);
    }
    if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(0, 1, '\0');
    return std::string("\x02", 1) + static_cast<char>(v.size()) + v;
  };
  std::string body = integer(sig.substr(0, 32)) + integer(sig.substr(32, 32));
  return std::string("\x30", 1) + static_cast<char>(body.size()) + body;
}

inline std::string Uncompress(auth::Curve c, const std::string& compressed) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(CurveNid(c));
  EC_POINT* p = EC_POINT_new(group);
  std::string out(65, '\0');
  if (EC_POINT_oct2point(group, p, reinterpret_cast<const unsigned char*>(compressed.data()),
                         compressed.size(), nullptr) != 1 ||
      EC_POINT_point2oct(group, p, POINT_CONVERSION_UNCOMPRESSED,
                         reinterpret_cast<unsigned char*>(out.data()), out.size(), nullptr) != 65) {
    out.clear();
  }
  EC_POINT_free(p);
  EC_GROUP_free(group);
  return out;
}

}  // namespace atipay::test

#endif  // ATIPAY_TESTS_AUTH_TEST_UTIL_H_
