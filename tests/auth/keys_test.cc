// Keys and signatures: the interop crypto vectors, did:key round trips, signing, low-S.
#include "auth/keys.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "lex/encoding.h"
#include "test_util.h"

namespace atipay::auth {
namespace {

namespace json = boost::json;

json::value LoadJson(const std::string& name) {
  std::ifstream in(std::string(ATIPAY_TEST_DATA) + "/interop/crypto/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::string Str(const json::value& v, const char* key) {
  return std::string(v.as_object().at(key).as_string());
}

TEST(SignatureFixtures, EveryCaseMatches) {
  json::value fixtures = LoadJson("signature-fixtures.json");
  ASSERT_EQ(fixtures.as_array().size(), 6u);
  int valid = 0, high_s = 0, der = 0;
  for (const json::value& f : fixtures.as_array()) {
    SCOPED_TRACE(Str(f, "comment"));
    auto message = lex::DecodeBase64(Str(f, "messageBase64"));
    auto signature = lex::DecodeBase64(Str(f, "signatureBase64"));
    ASSERT_TRUE(message && signature);
    std::optional<PublicKey> from_did = ParseDidKey(Str(f, "publicKeyDid"));
    std::optional<PublicKey> from_doc =
        ParseVerificationMethodKey(Str(f, "didDocSuite"), Str(f, "publicKeyMultibase"));
    ASSERT_TRUE(from_did.has_value());
    ASSERT_TRUE(from_doc.has_value());
    EXPECT_EQ(*from_did, *from_doc);
    EXPECT_EQ(JwtAlg(from_did->curve()), Str(f, "algorithm"));
    EXPECT_EQ(from_did->DidKey(), Str(f, "publicKeyDid"));
    const bool expected = f.as_object().at("validSignature").as_bool();
    EXPECT_EQ(from_did->Verify(*message, *signature), expected);
    EXPECT_EQ(from_doc->Verify(*message, *signature), expected);
    const json::array& tags = f.as_object().at("tags").as_array();
    if (expected) ++valid;
    for (const json::value& t : tags) {
      if (t.as_string() == "high-s") ++high_s;
      if (t.as_string() == "der-encoded") ++der;
    }
  }
  EXPECT_EQ(valid, 2);
  EXPECT_EQ(high_s, 2);
  EXPECT_EQ(der, 2);
}

TEST(DidKeyVectors, K256PrivateKeysGiveExpectedDidKeys) {
  json::value vectors = LoadJson("w3c_didkey_K256.json");
  ASSERT_GE(vectors.as_array().size(), 5u);
  for (const json::value& v : vectors.as_array()) {
    auto secret = lex::DecodeHex(Str(v, "privateKeyBytesHex"));
    ASSERT_TRUE(secret);
    std::optional<PrivateKey> key = PrivateKey::FromBytes(Curve::kSecp256k1, *secret);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->public_key().DidKey(), Str(v, "publicDidKey"));
    std::optional<PublicKey> parsed = ParseDidKey(Str(v, "publicDidKey"));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, key->public_key());
  }
}

TEST(DidKeyVectors, P256PrivateKeysGiveExpectedDidKeys) {
  json::value vectors = LoadJson("w3c_didkey_P256.json");
  ASSERT_GE(vectors.as_array().size(), 1u);
  for (const json::value& v : vectors.as_array()) {
    auto secret = lex::DecodeBase58Btc(Str(v, "privateKeyBytesBase58"));
    ASSERT_TRUE(secret);
    std::optional<PrivateKey> key = PrivateKey::FromBytes(Curve::kP256, *secret);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->public_key().DidKey(), Str(v, "publicDidKey"));
    EXPECT_TRUE(Str(v, "publicDidKey").starts_with("did:key:zDn"));
  }
}

class BothCurves : public ::testing::TestWithParam<Curve> {};

TEST_P(BothCurves, SignVerifyRoundTripIsLowSAndStrict) {
  std::optional<PrivateKey> key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key);
  std::optional<PrivateKey> other = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(other);
  const PublicKey& pub = key->public_key();
  EXPECT_EQ(pub.compressed().size(), 33u);
  EXPECT_TRUE(
      pub.DidKey().starts_with(GetParam() == Curve::kSecp256k1 ? "did:key:zQ3s" : "did:key:zDn"));
  for (int i = 0; i < 40; ++i) {
    std::string message = "message " + std::to_string(i);
    std::string sig = key->Sign(message);
    ASSERT_EQ(sig.size(), 64u);
    EXPECT_TRUE(test::IsLowS(GetParam(), sig));
    EXPECT_TRUE(pub.Verify(message, sig));
    EXPECT_FALSE(pub.Verify(message + "!", sig));
    EXPECT_FALSE(other->public_key().Verify(message, sig));
    // The same signature with S replaced by n - S is valid ECDSA but not atproto.
    EXPECT_FALSE(pub.Verify(message, test::FlipS(GetParam(), sig)));
    EXPECT_FALSE(pub.Verify(message, test::CompactToDer(sig)));
    EXPECT_FALSE(pub.Verify(message, sig.substr(0, 63)));
    std::string corrupted = sig;
    corrupted[10] ^= 1;
    EXPECT_FALSE(pub.Verify(message, corrupted));
  }
  // Private keys survive a round trip through their bytes.
  std::optional<PrivateKey> copy = PrivateKey::FromBytes(GetParam(), key->bytes());
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->public_key(), pub);
  // did:key and multikey round trips.
  std::optional<PublicKey> parsed = ParseDidKey(pub.DidKey());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, pub);
  EXPECT_EQ(ParseMultikey(pub.Multikey()), pub);
  EXPECT_EQ(ParseVerificationMethodKey("Multikey", pub.Multikey()), pub);
}

INSTANTIATE_TEST_SUITE_P(Curves, BothCurves, ::testing::Values(Curve::kSecp256k1, Curve::kP256));

TEST(Keys, AllZeroSignatureNeverVerifies) {
  for (Curve c : {Curve::kSecp256k1, Curve::kP256}) {
    std::optional<PrivateKey> key = PrivateKey::Generate(c);
    ASSERT_TRUE(key);
    EXPECT_FALSE(key->public_key().Verify("x", std::string(64, '\0')));
    EXPECT_FALSE(key->public_key().Verify("x", std::string(64, '\xff')));
  }
}

TEST(Keys, LegacyVerificationMethodsTakeUncompressedPoints) {
  std::optional<PrivateKey> key = PrivateKey::Generate(Curve::kP256);
  ASSERT_TRUE(key);
  // Decompress through the multikey and re-encode as a legacy uncompressed point.
  std::string uncompressed = test::Uncompress(Curve::kP256, key->public_key().compressed());
  ASSERT_EQ(uncompressed.size(), 65u);
  std::optional<PublicKey> legacy = ParseVerificationMethodKey(
      "EcdsaSecp256r1VerificationKey2019", "z" + lex::EncodeBase58Btc(uncompressed));
  ASSERT_TRUE(legacy);
  EXPECT_EQ(*legacy, key->public_key());
  // Wrong curve for the type: the point is not on secp256k1 (or is a different key).
  std::optional<PublicKey> wrong = ParseVerificationMethodKey(
      "EcdsaSecp256k1VerificationKey2019", "z" + lex::EncodeBase58Btc(uncompressed));
  EXPECT_FALSE(wrong.has_value() && *wrong == key->public_key());
  EXPECT_FALSE(
      ParseVerificationMethodKey("Ed25519VerificationKey2020", key->public_key().Multikey()));
}

TEST(Keys, MalformedDidKeysAreRejected) {
  std::optional<PrivateKey> key = PrivateKey::Generate(Curve::kSecp256k1);
  ASSERT_TRUE(key);
  const std::string good = key->public_key().DidKey();
  ASSERT_TRUE(ParseDidKey(good));
  EXPECT_FALSE(ParseDidKey(""));
  EXPECT_FALSE(ParseDidKey("did:key:"));
  EXPECT_FALSE(ParseDidKey("did:web:example.com"));
  EXPECT_FALSE(ParseDidKey(good.substr(0, good.size() - 2)));  // truncated
  EXPECT_FALSE(ParseDidKey("did:key:" + good.substr(9)));      // no multibase prefix
  EXPECT_FALSE(ParseDidKey("did:key:m" + good.substr(9)));     // base64 multibase: not used
  EXPECT_FALSE(ParseDidKey(good + "0"));                       // '0' is not base58
  // An ed25519 multikey (codec 0xed).
  EXPECT_FALSE(ParseDidKey("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"));
  // The right codec with an uncompressed point, or a point that is not on the curve.
  std::string uncompressed = test::Uncompress(Curve::kSecp256k1, key->public_key().compressed());
  EXPECT_FALSE(
      ParseMultikey("z" + lex::EncodeBase58Btc(std::string("\xe7\x01", 2) + uncompressed)));
  std::string off_curve = key->public_key().compressed();
  off_curve[0] = 0x05;  // not a valid SEC1 tag
  EXPECT_FALSE(ParseMultikey("z" + lex::EncodeBase58Btc(std::string("\xe7\x01", 2) + off_curve)));
  EXPECT_FALSE(PublicKey::FromSec1(Curve::kSecp256k1, "\x02" + std::string(32, '\xff')));  // x >= p
  EXPECT_FALSE(PublicKey::FromSec1(Curve::kP256, std::string(33, '\x02') + "x"));
}

TEST(Keys, PrivateKeyBounds) {
  EXPECT_FALSE(PrivateKey::FromBytes(Curve::kSecp256k1, std::string(32, '\0')));
  EXPECT_FALSE(PrivateKey::FromBytes(Curve::kP256, std::string(32, '\0')));
  EXPECT_FALSE(PrivateKey::FromBytes(Curve::kSecp256k1, std::string(32, '\xff')));
  EXPECT_FALSE(PrivateKey::FromBytes(Curve::kP256, std::string(32, '\xff')));
  EXPECT_FALSE(PrivateKey::FromBytes(Curve::kSecp256k1, std::string(31, '\x01')));
  EXPECT_TRUE(PrivateKey::FromBytes(Curve::kP256, std::string(31, '\0') + "\x01"));
}

}  // namespace
}  // namespace atipay::auth
