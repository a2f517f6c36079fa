#include "lex/encoding.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace atipay::lex {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

boost::json::value LoadJson(const std::string& relative) {
  std::ifstream in(std::string(ATIPAY_TEST_DATA) + relative);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return boost::json::parse(buffer.str());
}

// RFC 4648 §10 test vectors.
struct Rfc4648Case {
  std::string_view plain, base64, base32;
};
constexpr Rfc4648Case kRfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "my"},
    {"fo", "Zm8=", "mzxq"},
    {"foo", "Zm9v", "mzxw6"},
    {"foob", "Zm9vYg==", "mzxw6yq"},
    {"fooba", "Zm9vYmE=", "mzxw6ytb"},
    {"foobar", "Zm9vYmFy", "mzxw6ytboi"},
};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& c : kRfc4648) {
    SCOPED_TRACE(std::string(c.plain));
    EXPECT_EQ(EncodeBase64(c.plain), c.base64);
    std::string unpadded(c.base64.substr(0, c.base64.find('=')));
    EXPECT_EQ(EncodeBase64Unpadded(c.plain), unpadded);
    EXPECT_EQ(DecodeBase64(c.base64), std::string(c.plain));
    EXPECT_EQ(DecodeBase64(unpadded), std::string(c.plain));
  }
}

TEST(Base64, DataModelFixtureBytesAreUnpadded) {
  // The $bytes value from data-model-fixtures.json: 32 bytes, written without padding.
  auto bytes = DecodeBase64("nFERjvLLiw9qm45JrqH9QTzyC2Lu1Xb4ne6+sBrCzI0");
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), 32u);
  EXPECT_EQ(EncodeBase64Unpadded(*bytes), "nFERjvLLiw9qm45JrqH9QTzyC2Lu1Xb4ne6+sBrCzI0");
  EXPECT_EQ(DecodeBase64("nFERjvLLiw9qm45JrqH9QTzyC2Lu1Xb4ne6+sBrCzI0="), bytes);
}

TEST(Base64, DataModelBytesAcceptNonZeroTrailingBitsAsTheReferenceDoes) {
  // record-data-valid.json carries {"$bytes": "123"}.
  EXPECT_EQ(EncodeBase64Unpadded(*DecodeBase64("123")), "120");
  EXPECT_EQ(DecodeBase64("Zh=="), std::string("f"));
  EXPECT_EQ(DecodeBase64("Zm9="), std::string("fo"));
}

TEST(Base64, RejectsMalformedInput) {
  for (std::string_view bad : {
           "Z",          // a lone character carries no whole byte
           "Zg=",        // partial padding
           "Zg===",      // too much padding
           "Zm9vY",      // 5 characters: impossible length
           "Zm9v YQ",    // whitespace
           "Zm9v\n",     // newline
           "Zg==Zg==",   // padding in the middle
           "Zm8=Zg",     // padding in the middle
           "=",          // padding only
           "====",       // padding only
           "-_8",        // URL-safe alphabet
           "Zm9v\xff",   // non-ASCII
       }) {
    EXPECT_FALSE(DecodeBase64(bad)) << bad;
  }
}

TEST(Base64Url, EncodesWithoutPaddingAndRejectsStandardAlphabet) {
  std::string bytes = Bytes({0xfb, 0xff, 0xbf});
  EXPECT_EQ(EncodeBase64Url(bytes), "-_-_");
  EXPECT_EQ(EncodeBase64(bytes), "+/+/");
  EXPECT_EQ(EncodeBase64Url(Bytes({0xfb, 0xff})), "-_8");
  EXPECT_EQ(DecodeBase64Url("-_8"), Bytes({0xfb, 0xff}));
  EXPECT_EQ(DecodeBase64Url("eyJhbGciOiJFUzI1NksifQ"), R"({"alg":"ES256K"})");
  EXPECT_FALSE(DecodeBase64Url("+/8"));
  EXPECT_FALSE(DecodeBase64Url("-_8="));  // JWS forbids padding
  EXPECT_FALSE(DecodeBase64Url("-_9"));   // trailing bits
}

TEST(Base32, Rfc4648VectorsLowerCase) {
  for (const auto& c : kRfc4648) {
    SCOPED_TRACE(std::string(c.plain));
    EXPECT_EQ(EncodeBase32(c.plain), c.base32);
    EXPECT_EQ(DecodeBase32(c.base32), std::string(c.plain));
  }
}

TEST(Base32, RejectsMalformedInput) {
  for (std::string_view bad : {
           "MY",        // upper case is a different multibase ('B')
           "my======",  // padding
           "m",         // one character: no whole byte
           "mzx",       // 3 characters: impossible length
           "mzxw6y",    // 6 characters: impossible length
           "mz",        // non-zero trailing bits
           "m1",        // not in the alphabet
           "m8",        // not in the alphabet
       }) {
    EXPECT_FALSE(DecodeBase32(bad)) << bad;
  }
}

TEST(Base58Btc, KnownVectors) {
  EXPECT_EQ(EncodeBase58Btc(""), "");
  EXPECT_EQ(EncodeBase58Btc("Hello World!"), "2NEpo7TZRRrLZSi2U");
  EXPECT_EQ(EncodeBase58Btc("The quick brown fox jumps over the lazy dog."),
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z");
  EXPECT_EQ(EncodeBase58Btc(Bytes({0, 0, 0x28, 0x7f, 0xb4, 0xcd})), "11233QC4");
  EXPECT_EQ(EncodeBase58Btc(Bytes({0, 0, 0})), "111");
  EXPECT_EQ(DecodeBase58Btc("2NEpo7TZRRrLZSi2U"), "Hello World!");
  EXPECT_EQ(DecodeBase58Btc("11233QC4"), Bytes({0, 0, 0x28, 0x7f, 0xb4, 0xcd}));
  EXPECT_EQ(DecodeBase58Btc("1"), Bytes({0}));
}

TEST(Base58Btc, RejectsCharactersOutsideTheAlphabet) {
  for (std::string_view bad : {"0", "O", "I", "l", "2NEpo7TZRR+LZSi2U", "2NEpo 7"}) {
    EXPECT_FALSE(DecodeBase58Btc(bad)) << bad;
  }
}

// did:key vectors: the multibase body is a multicodec prefix plus the compressed public key,
// which the signature fixtures also give on its own.
TEST(Base58Btc, DidKeyFixturesDecodeToMulticodecKeys) {
  auto fixtures = LoadJson("/interop/crypto/signature-fixtures.json");
  ASSERT_TRUE(fixtures.is_array());
  int checked = 0;
  for (const auto& f : fixtures.as_array()) {
    std::string_view did = f.at("publicKeyDid").as_string();
    std::string_view multibase = f.at("publicKeyMultibase").as_string();
    std::string_view alg = f.at("algorithm").as_string();
    ASSERT_TRUE(did.starts_with("did:key:z"));
    ASSERT_TRUE(multibase.starts_with("z"));
    auto did_bytes = DecodeBase58Btc(did.substr(9));
    auto key_bytes = DecodeBase58Btc(multibase.substr(1));
    ASSERT_TRUE(did_bytes && key_bytes) << did;
    EXPECT_EQ(key_bytes->size(), 33u);
    std::string prefix = alg == "ES256" ? Bytes({0x80, 0x24}) : Bytes({0xe7, 0x01});
    EXPECT_EQ(*did_bytes, prefix + *key_bytes) << did;
    EXPECT_EQ("did:key:z" + EncodeBase58Btc(*did_bytes), did);
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(Hex, RoundTripAndStrictness) {
  EXPECT_EQ(EncodeHex(Bytes({0x00, 0x01, 0xab, 0xff})), "0001abff");
  EXPECT_EQ(DecodeHex("0001abff"), Bytes({0x00, 0x01, 0xab, 0xff}));
  EXPECT_EQ(DecodeHex("0001ABFF"), Bytes({0x00, 0x01, 0xab, 0xff}));
  EXPECT_EQ(DecodeHex(""), "");
  EXPECT_FALSE(DecodeHex("abc"));
  EXPECT_FALSE(DecodeHex("0g"));
  EXPECT_FALSE(DecodeHex(" 0"));
}

TEST(Encodings, RandomRoundTrips) {
  std::mt19937 rng(12345);
  for (int len = 0; len < 80; ++len) {
    for (int rep = 0; rep < 4; ++rep) {
      std::string data;
      for (int i = 0; i < len; ++i) data.push_back(static_cast<char>(rng() & 0xff));
      // Leading zeros exercise base58's '1' prefix.
      if (rep == 1 && len > 2) data[0] = data[1] = '\0';
      EXPECT_EQ(DecodeBase64(EncodeBase64(data)), data);
      EXPECT_EQ(DecodeBase64(EncodeBase64Unpadded(data)), data);
      EXPECT_EQ(DecodeBase64Url(EncodeBase64Url(data)), data);
      EXPECT_EQ(DecodeBase32(EncodeBase32(data)), data);
      EXPECT_EQ(DecodeBase58Btc(EncodeBase58Btc(data)), data);
      EXPECT_EQ(DecodeHex(EncodeHex(data)), data);
    }
  }
}

}  // namespace
}  // namespace atipay::lex
