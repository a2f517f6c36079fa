#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "lex/cbor.h"
#include "lex/cid.h"
#include "lex/encoding.h"
#include "support/test_files.h"

namespace atipay::lex {
namespace {

namespace json = boost::json;

json::value LoadJson(const std::string& relative) {
  return atipay::test_files::ReadJson(std::string(ATIPAY_TEST_DATA) + relative);
}

std::string Hex(std::string_view hex) {
  auto bytes = DecodeHex(hex);
  EXPECT_TRUE(bytes) << hex;
  return bytes.value_or("");
}

std::string EncodeHexCbor(const json::value& v) {
  std::string out;
  std::string error;
  EXPECT_TRUE(EncodeDagCbor(v, out, &error)) << error;
  return EncodeHex(out);
}

bool Encodes(const json::value& v, std::string* error = nullptr) {
  std::string out;
  return EncodeDagCbor(v, out, error);
}

// Nested single-element arrays around `leaf` (0 by default): depth `levels`.
json::value NestedArrays(int levels, json::value leaf = 0) {
  json::value v = std::move(leaf);
  for (int i = 0; i < levels; ++i) {
    json::array a;
    a.push_back(std::move(v));
    v = std::move(a);
  }
  return v;
}

constexpr std::string_view kHelloRawCid =
    "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";  // sha256("hello"), raw
constexpr std::string_view kFixtureLink =
    "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

// --- CID ---------------------------------------------------------------------------------

TEST(Cid, ComputesRawAndDagCborCids) {
  Cid raw = ComputeRawCid("hello");
  EXPECT_EQ(raw.ToString(), kHelloRawCid);
  EXPECT_EQ(raw.version(), 1);
  EXPECT_EQ(raw.codec(), kRawCodec);
  EXPECT_EQ(raw.hash_code(), kSha256Code);
  EXPECT_EQ(EncodeHex(raw.digest()),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(raw.bytes().size(), 36u);
  EXPECT_TRUE(raw.IsBlessed());

  Cid cbor = ComputeDagCborCid("hello");
  EXPECT_EQ(cbor.codec(), kDagCborCodec);
  EXPECT_TRUE(cbor.ToString().starts_with("bafyrei"));
  EXPECT_EQ(cbor.digest(), raw.digest());
  EXPECT_FALSE(cbor == raw);
}

TEST(Cid, ParsesBase32AndRoundTrips) {
  auto cid = ParseCid(kFixtureLink);
  ASSERT_TRUE(cid);
  EXPECT_EQ(cid->version(), 1);
  EXPECT_EQ(cid->codec(), kDagCborCodec);
  EXPECT_EQ(cid->hash_code(), kSha256Code);
  EXPECT_EQ(cid->digest().size(), 32u);
  EXPECT_EQ(cid->ToString(), kFixtureLink);
  auto again = ParseCidBytes(cid->bytes());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *cid);
}

TEST(Cid, ParsesBase58btcV1AndV0LikeMultiformats) {
  Cid raw = ComputeRawCid("hello");
  auto z = ParseCid("z" + EncodeBase58Btc(raw.bytes()));
  ASSERT_TRUE(z);
  EXPECT_EQ(*z, raw);
  EXPECT_EQ(z->ToString(), kHelloRawCid);  // canonical form is base32

  auto v0 = ParseCid("QmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5");
  ASSERT_TRUE(v0);
  EXPECT_EQ(v0->version(), 0);
  EXPECT_EQ(v0->codec(), kDagPbCodec);
  EXPECT_EQ(v0->digest(), raw.digest());
  EXPECT_EQ(v0->ToString(), "QmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5");
  EXPECT_FALSE(v0->IsBlessed());

  // A v0 CID must not carry a multibase prefix.
  EXPECT_FALSE(ParseCid("zQmRN6wdp1S2A5EtjW9A3M1vKSBuQQGcgvuhoMUoEz4iiT5"));
  EXPECT_FALSE(ParseCid("bciqcz4snxjp3biyoe3udwkwfxhrj4gywdzob7j2clzzqim3csofzqja"));
}

TEST(Cid, RejectsMalformedStrings) {
  std::string good(kFixtureLink);
  for (const std::string& bad : {
           std::string(""),
           std::string("."),
           std::string("b"),
           good.substr(0, good.size() - 1),              // truncated digest
           good + "a",                                   // extra data
           std::string("B") + good.substr(1),            // upper-case multibase not accepted
           std::string("mAXESIGUGKlpaAPwW1zxpRCN8y8FbHEpyNEiTNokdCRdBojnQ"),  // base64 multibase
           "f" + EncodeHex(ParseCid(good)->bytes()),     // hex multibase
           " " + good,
           good + " ",
       }) {
    EXPECT_FALSE(ParseCid(bad)) << bad;
  }
}

TEST(Cid, RejectsMalformedBinary) {
  std::string good = ComputeRawCid("hello").bytes();
  EXPECT_TRUE(ParseCidBytes(good));
  EXPECT_FALSE(ParseCidBytes(""));
  EXPECT_FALSE(ParseCidBytes(good + '\0'));                 // trailing byte
  EXPECT_FALSE(ParseCidBytes(good.substr(0, 35)));          // short digest
  EXPECT_FALSE(ParseCidBytes('\x02' + good.substr(1)));     // version 2
  EXPECT_FALSE(ParseCidBytes('\x00' + good.substr(1)));     // explicit version 0
  EXPECT_FALSE(ParseCidBytes(Hex("015580")));               // varint runs off the end
  // Non-minimal varint for the codec (0x55 as 0xd5 0x00).
  EXPECT_FALSE(ParseCidBytes(Hex("01d500") + good.substr(2)));
  // Size limit: a 100-byte CID parses, 101 bytes does not.
  std::string digest96(96, 'x');
  Cid big = MakeCidV1(kRawCodec, kSha256Code, digest96);
  ASSERT_EQ(big.bytes().size(), 100u);
  EXPECT_TRUE(ParseCidBytes(big.bytes()));
  Cid bigger = MakeCidV1(kRawCodec, kSha256Code, digest96 + "x");
  EXPECT_FALSE(ParseCidBytes(bigger.bytes()));
  EXPECT_FALSE(ParseCid(bigger.ToString()));
  EXPECT_TRUE(ParseCid(big.ToString()));
  EXPECT_TRUE(ParseCid("z" + EncodeBase58Btc(big.bytes())));
  EXPECT_FALSE(ParseCid("z" + std::string(100000, 'z')));  // rejected before decoding
}

TEST(Cid, MultiByteVarints) {
  // Codec 0x0129 (dag-json) needs a two-byte varint.
  Cid cid = MakeCidV1(0x0129, kSha256Code, std::string(32, '\x01'));
  EXPECT_EQ(EncodeHex(cid.bytes().substr(0, 5)), "01a9021220");
  auto parsed = ParseCid(cid.ToString());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->codec(), 0x0129u);
  EXPECT_EQ(parsed->digest(), std::string(32, '\x01'));
}

// --- DAG-CBOR fixtures ---------------------------------------------------------------------

TEST(DagCbor, InteropFixturesReproduceExactly) {
  auto fixtures = LoadJson("/interop/data-model/data-model-fixtures.json");
  ASSERT_TRUE(fixtures.is_array());
  int checked = 0;
  for (const auto& f : fixtures.as_array()) {
    SCOPED_TRACE(std::string(f.at("cid").as_string()));
    const json::value& input = f.at("json");
    auto expected = DecodeBase64(f.at("cbor_base64").as_string());
    ASSERT_TRUE(expected);

    std::string cbor;
    std::string error;
    ASSERT_TRUE(EncodeDagCbor(input, cbor, &error)) << error;
    EXPECT_EQ(EncodeHex(cbor), EncodeHex(*expected));
    EXPECT_EQ(ComputeRecordCid(input), f.at("cid").as_string());
    EXPECT_EQ(ComputeDagCborCid(*expected).ToString(), f.at("cid").as_string());

    auto decoded = DecodeDagCbor(*expected);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, input) << json::serialize(*decoded);
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(DagCbor, AppendsToExistingOutput) {
  std::string out = "xy";
  ASSERT_TRUE(EncodeDagCbor(json::value(1), out));
  EXPECT_EQ(out, std::string("xy\x01"));
}

// --- Encoder -----------------------------------------------------------------------------

TEST(DagCbor, IntegersUseTheShortestHead) {
  struct Case {
    std::int64_t value;
    std::string_view hex;
  };
  const Case cases[] = {
      {0, "00"},
      {23, "17"},
      {24, "1818"},
      {255, "18ff"},
      {256, "190100"},
      {65535, "19ffff"},
      {65536, "1a00010000"},
      {4294967295, "1affffffff"},
      {4294967296, "1b0000000100000000"},
      {9007199254740991, "1b001fffffffffffff"},
      {-1, "20"},
      {-24, "37"},
      {-25, "3818"},
      {-256, "38ff"},
      {-257, "390100"},
      {-9007199254740991, "3b001ffffffffffffe"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(EncodeHexCbor(json::value(c.value)), c.hex) << c.value;
    auto decoded = DecodeDagCbor(Hex(c.hex));
    ASSERT_TRUE(decoded) << c.hex;
    EXPECT_EQ(decoded->as_int64(), c.value);
  }
  EXPECT_EQ(EncodeHexCbor(json::value(std::uint64_t{42})), "182a");
  EXPECT_FALSE(Encodes(json::value(std::uint64_t{1} << 63)));
}

// Beyond ±(2^53−1) the reference's encoder (@atproto/lex-cbor) throws, so a PDS cannot store the
// record: we must not hand out a CID for it. The decoder refuses the same integers, so that what
// it accepts still re-encodes to the same bytes.
TEST(DagCbor, IntegersBeyondTheSafeRangeDoNotEncode) {
  for (const json::value& v :
       {json::value(std::int64_t{1} << 53), json::value(-(std::int64_t{1} << 53)),
        json::value(std::numeric_limits<std::int64_t>::max()),
        json::value(std::numeric_limits<std::int64_t>::min()), json::value(std::uint64_t{1} << 53),
        json::value(9007199254740992.0), json::parse(R"({"a":[1,{"b":9007199254740993}]})")}) {
    std::string error;
    EXPECT_FALSE(Encodes(v, &error)) << json::serialize(v);
    EXPECT_NE(error.find("9007199254740991"), std::string::npos) << error;
  }
  std::string error;
  EXPECT_EQ(
      ComputeRecordCid(json::parse(R"({"$type":"com.example.x","n":9007199254740992})"), &error),
      "");
  EXPECT_FALSE(error.empty());
  for (std::string_view hex :
       {"1b0020000000000000", "3b001fffffffffffff", "1b7fffffffffffffff", "3b7fffffffffffffff",
        "81"
        "1b0020000000000000"}) {
    auto decoded = DecodeDagCbor(Hex(hex));
    EXPECT_FALSE(decoded) << hex;
    if (!decoded) {
      EXPECT_NE(decoded.error().message.find("9007199254740991"), std::string::npos);
    }
  }
}

TEST(DagCbor, IntegralDoublesBecomeIntegersOtherDoublesFail) {
  EXPECT_EQ(EncodeHexCbor(json::parse("123.0")), "187b");
  EXPECT_EQ(EncodeHexCbor(json::value(-0.0)), "00");
  EXPECT_EQ(EncodeHexCbor(json::value(-2.0)), "21");
  EXPECT_EQ(EncodeHexCbor(json::parse("1e3")), "1903e8");
  std::string error;
  EXPECT_FALSE(Encodes(json::parse("123.456"), &error));
  EXPECT_NE(error.find("float"), std::string::npos);
  EXPECT_FALSE(Encodes(json::value(0.5)));
  EXPECT_FALSE(Encodes(json::value(1e300)));  // integral, but outside int64
  EXPECT_FALSE(Encodes(json::value(std::numeric_limits<double>::infinity())));
  EXPECT_FALSE(Encodes(json::value(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_FALSE(Encodes(json::parse(R"({"a":[1,{"b":2.5}]})")));
}

TEST(DagCbor, ScalarsStringsAndLengths) {
  EXPECT_EQ(EncodeHexCbor(json::value(nullptr)), "f6");
  EXPECT_EQ(EncodeHexCbor(json::value(true)), "f5");
  EXPECT_EQ(EncodeHexCbor(json::value(false)), "f4");
  EXPECT_EQ(EncodeHexCbor(json::value("")), "60");
  EXPECT_EQ(EncodeHexCbor(json::value("abc")), "63616263");
  EXPECT_EQ(EncodeHexCbor(json::value("ü")), "62c3bc");
  EXPECT_EQ(EncodeHexCbor(json::value(std::string(23, 'a'))).substr(0, 2), "77");
  EXPECT_EQ(EncodeHexCbor(json::value(std::string(24, 'a'))).substr(0, 4), "7818");
  EXPECT_EQ(EncodeHexCbor(json::value(std::string(256, 'a'))).substr(0, 6), "790100");
  EXPECT_EQ(EncodeHexCbor(json::parse("[]")), "80");
  EXPECT_EQ(EncodeHexCbor(json::parse("{}")), "a0");
  EXPECT_EQ(EncodeHexCbor(json::parse("[1,[2,3]]")), "8201820203");
  json::array big(24, json::value(0));
  EXPECT_EQ(EncodeHexCbor(big).substr(0, 4), "9818");
}

TEST(DagCbor, MapKeysSortLengthFirstThenBytewise) {
  auto v = json::parse(R"({"aa":1,"b":2,"a":3,"ab":4,"":5,"B":6})");
  // "" < "B" < "a" < "b" < "aa" < "ab"
  EXPECT_EQ(EncodeHexCbor(v), "a6" "6005" "614206" "616103" "616202" "62616101" "62616204");
  auto decoded = DecodeDagCbor(Hex(EncodeHexCbor(v)));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, v);
}

TEST(DagCbor, ManyKeysTakeTheSortFallbacks) {
  // 20 keys (std::sort) and 50 keys (heap-allocated key list); the strict decoder checks order.
  for (int n : {20, 50}) {
    json::object obj;
    for (int i = n; i > 0; --i) obj.emplace("k" + std::to_string(i * 7919 % 1000), i);
    std::string cbor;
    ASSERT_TRUE(EncodeDagCbor(obj, cbor));
    auto decoded = DecodeDagCbor(cbor);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, json::value(obj));
  }
}

TEST(DagCbor, LinksAndBytes) {
  auto v = json::parse(R"({"l":{"$link":"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"},
                           "b":{"$bytes":"AQID"}})");
  std::string hex = EncodeHexCbor(v);
  EXPECT_EQ(hex, "a2" "6162" "43010203" "616c" "d82a" "5825" "00" +
                     EncodeHex(ComputeRawCid("hello").bytes()));
  // Padded base64 and base58 CIDs encode to the same bytes.
  auto same = json::parse(R"({"l":{"$link":"zb2rhZfjRh2FHHB2RkHVEvL2vJnCTcu7kwRqgVsf9gpkLgteo"},
                              "b":{"$bytes":"AQID"}})");
  EXPECT_EQ(EncodeHexCbor(same), hex);
  EXPECT_EQ(EncodeHexCbor(json::parse(R"({"$bytes":"AQ=="})")), "4101");
  EXPECT_EQ(EncodeHexCbor(json::parse(R"({"$bytes":""})")), "40");
}

TEST(DagCbor, RejectsMalformedSpecialObjects) {
  for (std::string_view bad : {
           R"({"$link":"."})",
           R"({"$link":1234})",
           R"({"$link":"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq","x":1})",
           R"({"$bytes":[1,2,3]})",
           R"({"$bytes":"AQID","other":"blah"})",
           R"({"$bytes":"A"})",
           R"({"a":[{"$bytes":"!!"}]})",
       }) {
    std::string error;
    EXPECT_FALSE(Encodes(json::parse(bad), &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(DagCbor, DepthIsBoundedNotRecursedWithoutLimit) {
  EXPECT_TRUE(Encodes(NestedArrays(kMaxCborDepth)));
  EXPECT_FALSE(Encodes(NestedArrays(kMaxCborDepth + 1)));
  EXPECT_FALSE(Encodes(NestedArrays(5000)));
}

// $link and $bytes are leaves (a tag and a byte string, as CheckDataModel and the decoder
// treat them), not maps: at the deepest level they encode like any scalar. The fuzzer found
// the encoder counting them as maps, so the decoder accepted what could not be re-encoded.
TEST(DagCbor, LinksAndBytesAddNoDepth) {
  const auto bytes = json::parse(R"({"$bytes":"AQID"})");
  const json::value link = {{"$link", kHelloRawCid}};
  std::string error;
  EXPECT_TRUE(Encodes(NestedArrays(kMaxCborDepth, bytes), &error)) << error;
  EXPECT_TRUE(Encodes(NestedArrays(kMaxCborDepth, link), &error)) << error;
  EXPECT_FALSE(Encodes(NestedArrays(kMaxCborDepth + 1, bytes)));
  // A real map at that level is one too deep.
  EXPECT_FALSE(Encodes(NestedArrays(kMaxCborDepth, json::parse(R"({"a":1})"))));
  EXPECT_TRUE(Encodes(NestedArrays(kMaxCborDepth - 1, json::parse(R"({"a":1})"))));
}

TEST(DagCbor, ComputeRecordCidReportsFailure) {
  std::string error;
  EXPECT_EQ(ComputeRecordCid(json::parse(R"({"a":1.5})"), &error), "");
  EXPECT_FALSE(error.empty());
  // The thread-local buffer is reset between calls.
  auto record = json::parse(R"({"$type":"com.example.x","n":1})");
  std::string cbor;
  ASSERT_TRUE(EncodeDagCbor(record, cbor));
  EXPECT_EQ(ComputeRecordCid(record), ComputeDagCborCid(cbor).ToString());
  EXPECT_EQ(ComputeRecordCid(record), ComputeRecordCid(record));
}

// --- Decoder -----------------------------------------------------------------------------

TEST(DagCborDecode, RejectsNonCanonicalAndForbiddenInput) {
  std::string link_bytes = EncodeHex(ComputeRawCid("hello").bytes());
  struct Case {
    std::string hex;
    std::string_view why;
  };
  const Case cases[] = {
      {"", "empty"},
      {"0000", "trailing bytes"},
      {"1817", "23 in a one-byte head"},
      {"190017", "23 in a two-byte head"},
      {"1a000000ff", "255 in a four-byte head"},
      {"1b00000000ffffffff", "2^32-1 in an eight-byte head"},
      {"1c", "reserved additional information"},
      {"9f00ff", "indefinite array"},
      {"bf616100ff", "indefinite map"},
      {"5f4100ff", "indefinite bytes"},
      {"7f6161ff", "indefinite text"},
      {"f93c00", "half float"},
      {"fa3fc00000", "single float"},
      {"fb3ff8000000000000", "double float"},
      {"f7", "undefined"},
      {"f0", "simple value 16"},
      {"f820", "simple value 32"},
      {"ff", "break"},
      {"c100", "tag 1"},
      {"d82b4100", "tag 43"},
      {"d82a6161", "tag 42 on text"},
      {"d82a5825" "01" + link_bytes, "tag 42 without the 0x00 prefix"},
      {"d82a4100", "tag 42 with an empty CID"},
      {"d82a4400017112", "tag 42 with a truncated CID"},
      {"a2616201616102", "unsorted keys"},
      {"a2616101616102", "duplicate keys"},
      {"a262616101616202", "longer key first"},
      {"a10102", "integer key"},
      {"a1410102", "byte-string key"},
      {"6261", "truncated text"},
      {"62c328", "invalid UTF-8"},
      {"63eda080", "UTF-16 surrogate in UTF-8"},
      {"62c0af", "overlong UTF-8"},
      {"1b8000000000000000", "unsigned above int64"},
      {"3b8000000000000000", "negative below int64"},
      {"9bffffffffffffffff", "absurd array length"},
      {"bbffffffffffffffff", "absurd map length"},
      {"5bffffffffffffffff", "absurd byte-string length"},
      {"8201", "truncated array"},
      // Found by fuzzing (tests/fuzz/cbor_fuzz.cc): maps the JSON form cannot hold.
      {"a1" "66246279746573" "6141", "map key $bytes with text: JSON would read it as bytes"},
      {"a1" "65246c696e6b" "6141", "map key $link alone"},
      {"a2" "6161" "01" "65246c696e6b" "01", "map key $link among others"},
  };
  for (const auto& c : cases) {
    auto result = DecodeDagCbor(Hex(c.hex));
    EXPECT_FALSE(result) << c.why << ": " << c.hex;
    if (!result) {
      EXPECT_FALSE(result.error().message.empty());
    }
  }
}

// 1 MiB of `levels` nested array (or map) heads, each declaring about as many items as bytes are
// left, then zeros. The counts are plausible one by one, yet together they claim 60 times the
// input: a decoder that sizes containers from the declared count takes gigabytes for it.
std::string NestedHeads(bool maps) {
  constexpr std::size_t kSize = std::size_t{1} << 20;
  constexpr int kLevels = 60;
  std::string in;
  for (int i = 0; i < kLevels; ++i) {
    const std::size_t head = maps ? 7 : 5;  // 0x9a/0xba + 4 bytes, and a map's key "a"
    std::uint32_t count = static_cast<std::uint32_t>(kSize - head * (i + 1));
    if (maps) count /= 2;
    in.push_back(static_cast<char>(maps ? 0xba : 0x9a));
    for (int k = 3; k >= 0; --k) in.push_back(static_cast<char>(count >> (8 * k)));
    if (maps) in += "\x61\x61";
  }
  in.resize(kSize, '\0');
  return in;
}

// Run in a child whose address space may grow by 256 MiB at most: a decoder that reserved what
// the heads declare runs out of memory and aborts instead of exiting 0.
void DecodeWithinMemory(const std::string& in, std::string_view want_error) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &limit), 0);
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  limit.rlim_cur =
      pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) + (std::size_t{256} << 20);
  if (setrlimit(RLIMIT_AS, &limit) != 0) std::_Exit(3);
  auto result = DecodeDagCbor(in);
  std::_Exit(!result && result.error().message == want_error ? 0 : 2);
}

TEST(DagCborDecodeDeathTest, DeclaredCountsDoNotSizeContainersBeforeTheItemsAreRead) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve terabytes of address space";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string arrays = NestedHeads(false);
  EXPECT_EXIT(DecodeWithinMemory(arrays, "unexpected end of input"), testing::ExitedWithCode(0),
              "");
  const std::string maps = NestedHeads(true);
  EXPECT_EXIT(DecodeWithinMemory(maps, "map keys must be text strings"), testing::ExitedWithCode(0),
              "");
#endif
}

TEST(DagCborDecode, DecodesToAtprotoJson) {
  std::string link = "d82a5825" "00" + EncodeHex(ComputeRawCid("hello").bytes());
  auto decoded = DecodeDagCbor(Hex("a3" "6162" "43010203" "616c" + link + "616e" "f6"));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded,
            json::parse(R"({"b":{"$bytes":"AQID"},"n":null,
                            "l":{"$link":"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"}})"));
}

TEST(DagCborDecode, DepthLimit) {
  std::string ok(static_cast<std::size_t>(kMaxCborDepth), '\x81');
  ok.push_back('\0');
  EXPECT_TRUE(DecodeDagCbor(ok));
  std::string deep(static_cast<std::size_t>(kMaxCborDepth) + 1, '\x81');
  deep.push_back('\0');
  EXPECT_FALSE(DecodeDagCbor(deep));
  std::string very_deep(100000, '\x81');
  very_deep.push_back('\0');
  EXPECT_FALSE(DecodeDagCbor(very_deep));
}

// Whatever the decoder accepts at the depth limit re-encodes: a byte string or a CID there is
// a leaf (tests/fuzz/corpus/cbor/ keeps the fuzzer's input).
TEST(DagCborDecode, LeavesAtTheDepthLimitRoundTrip) {
  const std::string arrays(static_cast<std::size_t>(kMaxCborDepth), '\x81');
  const std::string link = Hex("d82a5825" "00" + EncodeHex(ComputeRawCid("hello").bytes()));
  for (const std::string& leaf : {Hex("40"), Hex("43010203"), link}) {
    const std::string cbor = arrays + leaf;
    auto decoded = DecodeDagCbor(cbor);
    ASSERT_TRUE(decoded) << decoded.error().message;
    std::string again;
    std::string error;
    ASSERT_TRUE(EncodeDagCbor(*decoded, again, &error)) << error;
    EXPECT_EQ(EncodeHex(again), EncodeHex(cbor));
  }
  // One level deeper, a map: rejected both ways.
  EXPECT_FALSE(DecodeDagCbor(arrays + Hex("a0")));
}

// Mutated and truncated fixtures: the decoder must never crash, every prefix must fail, and
// whatever it accepts must be canonical, i.e. re-encode to the very same bytes.
TEST(DagCborDecode, MutatedFixturesAreRejectedOrCanonical) {
  auto fixtures = LoadJson("/interop/data-model/data-model-fixtures.json");
  int accepted = 0;
  int rejected = 0;
  for (const auto& f : fixtures.as_array()) {
    std::string cbor = DecodeBase64(f.at("cbor_base64").as_string()).value();
    for (std::size_t len = 0; len < cbor.size(); ++len) {
      EXPECT_FALSE(DecodeDagCbor(cbor.substr(0, len))) << len;
    }
    for (std::size_t i = 0; i < cbor.size(); ++i) {
      const auto original = static_cast<unsigned char>(cbor[i]);
      for (unsigned value : {0x00u, 0x17u, 0x18u, 0x1fu, 0x3bu, 0x5fu, 0x7fu, 0x9fu, 0xbfu, 0xd8u,
                             0xf9u, 0xffu, original ^ 1u, original ^ 0x80u, original + 1u}) {
        std::string mutated = cbor;
        mutated[i] = static_cast<char>(value & 0xff);
        auto decoded = DecodeDagCbor(mutated);
        if (!decoded) {
          ++rejected;
          continue;
        }
        ++accepted;
        std::string again;
        ASSERT_TRUE(EncodeDagCbor(*decoded, again)) << i << " " << value;
        EXPECT_EQ(EncodeHex(again), EncodeHex(mutated)) << i << " " << value;
      }
    }
  }
  // Both outcomes occur (e.g. a changed string byte is fine, a changed head is not).
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
}

TEST(DagCborDecode, RoundTripsARecord) {
  auto record = json::parse(R"({
    "$type": "com.atiproto.cart",
    "items": [{"type": "com.atiproto.item", "qty": 2, "price": -300},
              {"type": "com.atiproto.item", "qty": 1000000, "tags": ["a", "", "ü"]}],
    "img": {"$type": "blob", "ref": {"$link": "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"},
            "mimeType": "image/png", "size": 12345},
    "ok": true, "none": null, "raw": {"$bytes": "3q2+7w"}
  })");
  std::string cbor;
  ASSERT_TRUE(EncodeDagCbor(record, cbor));
  auto decoded = DecodeDagCbor(cbor);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, record);
  std::string again;
  ASSERT_TRUE(EncodeDagCbor(*decoded, again));
  EXPECT_EQ(again, cbor);
}

}  // namespace
}  // namespace atipay::lex
