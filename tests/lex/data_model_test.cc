#include "lex/data_model.h"
#include "support/test_files.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace atipay::lex {
namespace {

namespace json = boost::json;

json::value LoadJson(const std::string& relative) {
  return atipay::test_files::ReadJson(std::string(ATIPAY_TEST_DATA) + relative);
}

constexpr std::string_view kRawLink = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";

// Returns the error message, or "" when the value passes.
std::string CheckRecord(const json::value& v, int max_depth = kDefaultMaxDataDepth) {
  Errors errors;
  bool ok = CheckDataModel(v, Path("Record"), errors, max_depth);
  EXPECT_EQ(ok, !errors.failed());
  return errors.message();
}

std::string CheckText(std::string_view text) { return CheckRecord(json::parse(text)); }

json::value NestedObjects(int levels) {
  json::value v = 1;
  for (int i = 0; i < levels; ++i) {
    json::object o;
    o.emplace("a", std::move(v));
    v = std::move(o);
  }
  return v;
}

// --- Interop vectors ---------------------------------------------------------------------

TEST(DataModel, InteropValidCasesPass) {
  auto cases = LoadJson("/interop/data-model/data-model-valid.json");
  int passed = 0;
  for (const auto& c : cases.as_array()) {
    EXPECT_EQ(CheckRecord(c.at("json")), "") << c.at("note").as_string();
    ++passed;
  }
  EXPECT_EQ(passed, 5);
}

TEST(DataModel, InteropInvalidCasesFail) {
  auto cases = LoadJson("/interop/data-model/data-model-invalid.json");
  int rejected = 0;
  for (const auto& c : cases.as_array()) {
    std::string message = CheckRecord(c.at("json"));
    EXPECT_NE(message, "") << c.at("note").as_string();
    if (!message.empty()) ++rejected;
  }
  EXPECT_EQ(rejected, 12);
}

TEST(DataModel, InteropFixturesPass) {
  auto fixtures = LoadJson("/interop/data-model/data-model-fixtures.json");
  for (const auto& f : fixtures.as_array()) EXPECT_EQ(CheckRecord(f.at("json")), "");
}

// --- Messages and paths ------------------------------------------------------------------

TEST(DataModel, ErrorsNameThePath) {
  EXPECT_EQ(CheckText("\"blah\""), "Record must be an object");
  EXPECT_EQ(CheckText("[]"), "Record must be an object");
  EXPECT_EQ(CheckText(R"({"a":[1,{"b":2.5}]})"), "Record/a/1/b must be an integer, not a float");
  EXPECT_EQ(CheckText(R"({"r":{"$type":null}})"), "Record/r/$type must be a non-empty string");
  EXPECT_EQ(CheckText(R"({"r":{"$type":""}})"), "Record/r/$type must be a non-empty string");
  EXPECT_EQ(CheckText(R"({"$type":7})"), "Record/$type must be a non-empty string");
  EXPECT_EQ(CheckText(R"({"b":{"$bytes":[1]}})"), "Record/b must be a byte array");
  EXPECT_EQ(CheckText(R"({"b":{"$bytes":"!!"}})"), "Record/b must be a byte array");
  EXPECT_EQ(CheckText(R"({"l":[{"$link":"."}]})"), "Record/l/0 must be a CID");
  EXPECT_EQ(CheckText(R"({"x":{"$type":"blob","size":1}})"), "Record/x should be a blob ref");
  EXPECT_EQ(CheckText(R"({"":1})"), "Record must not have an empty key");
  EXPECT_EQ(CheckText(R"({"o":{"":1}})"), "Record/o must not have an empty key");
  EXPECT_EQ(CheckRecord(json::value{{"n", std::numeric_limits<std::uint64_t>::max()}}),
            "Record/n must be an integer from -9007199254740991 to 9007199254740991");
}

TEST(DataModel, AcceptsTheWholeModel) {
  std::string record = R"({
    "$type": "com.example.record",
    "s": "text", "i": -9007199254740991, "big": 9007199254740991, "f": 5.0,
    "t": true, "n": null, "arr": [[], {}, [null]],
    "b": {"$bytes": "AQID"}, "bp": {"$bytes": "AQ=="},
    "l": {"$link": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
    "blob": {"$type": "blob", "ref": {"$link": "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"},
             "mimeType": "image/png", "size": 0},
    "typed": {"$type": "com.example.other#thing", "x": 1},
    "legacy": {"cid": "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", "mimeType": "image/png"},
    "$unknownDollar": 1
  })";
  EXPECT_EQ(CheckText(record), "");
}

// The reference cannot store an integer beyond ±(2^53−1): @atproto/lex-cbor's encoder throws on
// anything that fails Number.isSafeInteger. So a record holding one is not in the data model.
TEST(DataModel, IntegersBeyondTheSafeRangeAreRefused) {
  EXPECT_EQ(CheckText(R"({"n":9007199254740991,"m":-9007199254740991,"d":9007199254740991.0})"),
            "");
  const std::string kRange = " must be an integer from -9007199254740991 to 9007199254740991";
  EXPECT_EQ(CheckText(R"({"n":9007199254740992})"), "Record/n" + kRange);
  EXPECT_EQ(CheckText(R"({"n":-9007199254740992})"), "Record/n" + kRange);
  EXPECT_EQ(CheckText(R"({"a":[9223372036854775807]})"), "Record/a/0" + kRange);
  EXPECT_EQ(CheckText(R"({"o":{"n":-9223372036854775808}})"), "Record/o/n" + kRange);
  EXPECT_EQ(CheckText(R"({"n":9007199254740992.0})"), "Record/n" + kRange);
  EXPECT_EQ(CheckText(R"({"n":9223372036854775808})"), "Record/n" + kRange);
  EXPECT_EQ(CheckText(R"({"n":1e300})"), "Record/n" + kRange);
  Errors errors;
  EXPECT_FALSE(CheckDataValue(json::value(std::int64_t{1} << 53), Path("Object"), errors));
  EXPECT_EQ(errors.message(), "Object" + kRange);
}

TEST(DataModel, TopLevelSpecialObjectsAreNotObjects) {
  EXPECT_EQ(CheckText(R"({"$bytes":"AQID"})"), "Record must be an object");
  EXPECT_EQ(CheckRecord(json::value{{"$link", kRawLink}}), "Record must be an object");
  EXPECT_EQ(CheckRecord(json::parse(R"({"$type":"blob","mimeType":"a/b","size":1,"ref":{"$link":")" +
                                    std::string(kRawLink) + "\"}}")),
            "Record must be an object");
}

TEST(DataModel, CheckDataValueAcceptsAnyShape) {
  Errors errors;
  Path path("Object");
  EXPECT_TRUE(CheckDataValue(json::value("s"), path, errors));
  EXPECT_TRUE(CheckDataValue(json::parse("[1, 2.0, null]"), path, errors));
  EXPECT_TRUE(CheckDataValue(json::value{{"$link", kRawLink}}, path, errors));
  EXPECT_FALSE(errors.failed());
  EXPECT_FALSE(CheckDataValue(json::parse("[1, 2.5]"), path, errors));
  EXPECT_EQ(errors.message(), "Object/1 must be an integer, not a float");
}

TEST(DataModel, DepthLimitIsEnforcedWithoutCrashing) {
  EXPECT_EQ(CheckRecord(NestedObjects(32)), "");
  EXPECT_NE(CheckRecord(NestedObjects(33)), "");
  EXPECT_NE(CheckRecord(NestedObjects(33)).find("nested too deeply (more than 32 levels)"),
            std::string::npos);
  EXPECT_EQ(CheckRecord(NestedObjects(5), 5), "");
  EXPECT_NE(CheckRecord(NestedObjects(6), 5), "");
  // Arrays count too; special objects are leaves.
  json::value arrays = json::array{json::array{json::array{json::value{{"$link", kRawLink}}}}};
  EXPECT_EQ(CheckRecord(json::value{{"a", arrays}}, 4), "");
  EXPECT_NE(CheckRecord(json::value{{"a", arrays}}, 3), "");
  EXPECT_NE(CheckRecord(NestedObjects(5000)), "");
}

TEST(DataModel, KeyLengthLimit) {
  json::object ok;
  ok.emplace(std::string(kMaxObjectKeyBytes, 'k'), 1);
  EXPECT_EQ(CheckRecord(json::value(ok)), "");
  json::object too_long;
  too_long.emplace(std::string(kMaxObjectKeyBytes + 1, 'k'), 1);
  EXPECT_EQ(CheckRecord(json::value(too_long)), "Record has a key that is too long");
}

// --- Typed values ------------------------------------------------------------------------

TEST(Bytes, ParsesAndSerializes) {
  Errors errors;
  Bytes bytes;
  ASSERT_TRUE(ParseBytes(json::parse(R"({"$bytes":"AQID"})"), bytes, Path("Record"), errors));
  EXPECT_EQ(bytes.data, std::string("\x01\x02\x03", 3));
  EXPECT_EQ(ToJson(bytes), json::parse(R"({"$bytes":"AQID"})"));
  Bytes padded;
  ASSERT_TRUE(ParseBytes(json::parse(R"({"$bytes":"AQ=="})"), padded, Path("Record"), errors));
  EXPECT_EQ(ToJson(padded), json::parse(R"({"$bytes":"AQ"})"));  // written unpadded
  EXPECT_EQ(bytes, Bytes{std::string("\x01\x02\x03", 3)});
  EXPECT_FALSE(bytes == padded);
}

TEST(Bytes, RejectsMalformed) {
  for (std::string_view bad : {R"("AQID")", R"({"$bytes":[1,2,3]})", R"({"$bytes":"AQID","x":1})",
                               R"({"$bytes":"A"})", R"({"bytes":"AQID"})", "null", "[]"}) {
    Errors errors;
    Bytes out;
    EXPECT_FALSE(ParseBytes(json::parse(bad), out, Path("Record").Key("data"), errors)) << bad;
    EXPECT_EQ(errors.message(), "Record/data must be a byte array");
  }
}

TEST(CidLink, ParsesCanonicalizesAndSerializes) {
  Errors errors;
  CidLink link;
  ASSERT_TRUE(ParseCidLink(json::value{{"$link", kRawLink}}, link, Path("Record"), errors));
  EXPECT_EQ(link.cid, kRawLink);
  EXPECT_EQ(ToJson(link), json::value({{"$link", kRawLink}}));
  // A base58btc CIDv1 is accepted (multiformats CID.parse) and stored in base32.
  CidLink z;
  ASSERT_TRUE(ParseCidLink(
      json::parse(R"({"$link":"zb2rhZfjRh2FHHB2RkHVEvL2vJnCTcu7kwRqgVsf9gpkLgteo"})"), z,
      Path("Record"), errors));
  EXPECT_EQ(z, link);
}

TEST(CidLink, RejectsMalformed) {
  std::string huge = "b" + std::string(3000, 'a');
  for (const json::value& bad : {
           json::parse(R"({"$link":"."})"),
           json::parse(R"({"$link":1234})"),
           json::value{{"$link", kRawLink}, {"other", "blah"}},
           json::value{{"$link", huge}},
           json::value(kRawLink),
           json::parse(R"({"$link":"QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR2"})"),
       }) {
    Errors errors;
    CidLink out;
    EXPECT_FALSE(ParseCidLink(bad, out, Path("Record").Key("ref"), errors)) << bad;
    EXPECT_EQ(errors.message(), "Record/ref must be a CID");
  }
}

json::value BlobJson() {
  return json::parse(R"({"$type":"blob","ref":{"$link":")" + std::string(kRawLink) +
                     R"("},"mimeType":"image/jpeg","size":10000})");
}

TEST(Blob, ParsesAndSerializes) {
  Errors errors;
  Blob blob;
  ASSERT_TRUE(ParseBlob(BlobJson(), blob, Path("Record"), errors));
  EXPECT_EQ(blob.ref.cid, kRawLink);
  EXPECT_EQ(blob.mime_type, "image/jpeg");
  EXPECT_EQ(blob.size, 10000);
  EXPECT_EQ(ToJson(blob), BlobJson());
  EXPECT_EQ(blob, (Blob{CidLink{std::string(kRawLink)}, "image/jpeg", 10000}));

  // Integral double sizes, zero sizes and dag-cbor refs (as in the lexicon vectors) are fine.
  json::value v = BlobJson();
  v.as_object()["size"] = 0.0;
  v.as_object()["ref"] =
      json::value{{"$link", "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"}};
  ASSERT_TRUE(ParseBlob(v, blob, Path("Record"), errors));
  EXPECT_EQ(blob.size, 0);
}

TEST(Blob, RejectsMalformed) {
  auto with = [](std::string_view key, json::value value) {
    json::value v = BlobJson();
    v.as_object()[key] = std::move(value);
    return v;
  };
  auto without = [](std::string_view key) {
    json::value v = BlobJson();
    v.as_object().erase(key);
    return v;
  };
  const json::value cases[] = {
      with("size", "10000"),
      with("size", -1),
      with("size", 1.5),
      with("size", nullptr),
      with("mimeType", ""),
      with("mimeType", "jpeg"),
      with("mimeType", 5),
      with("ref", json::value(kRawLink)),
      with("ref", json::parse(R"({"$link":"."})")),
      with("ref", json::value{{"$link", kRawLink}, {"x", 1}}),
      with("$type", "image"),
      with("extra", 1),
      without("ref"),
      without("size"),
      without("mimeType"),
      without("$type"),
      json::value{{"cid", kRawLink}, {"mimeType", "image/jpeg"}},  // legacy form
      json::value("blob"),
  };
  for (const auto& bad : cases) {
    Errors errors;
    Blob out;
    EXPECT_FALSE(ParseBlob(bad, out, Path("Record").Key("img"), errors)) << bad;
    EXPECT_EQ(errors.message(), "Record/img should be a blob ref");
  }
}

TEST(JsonToInt64, AcceptsIntegersAndIntegralDoubles) {
  EXPECT_EQ(JsonToInt64(json::value(42)), 42);
  EXPECT_EQ(JsonToInt64(json::value(-42)), -42);
  EXPECT_EQ(JsonToInt64(json::parse("123.0")), 123);
  EXPECT_EQ(JsonToInt64(json::parse("-1e3")), -1000);
  EXPECT_EQ(JsonToInt64(json::parse("9223372036854775807")), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(JsonToInt64(json::parse("-9223372036854775808")), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(JsonToInt64(json::value(std::uint64_t{7})), 7);
  EXPECT_EQ(JsonToInt64(json::value(-9223372036854775808.0)), std::numeric_limits<std::int64_t>::min());
}

TEST(JsonToInt64, RejectsEverythingElse) {
  EXPECT_FALSE(JsonToInt64(json::parse("9223372036854775808")));  // parses as uint64
  EXPECT_FALSE(JsonToInt64(json::value(9223372036854775808.0)));
  EXPECT_FALSE(JsonToInt64(json::value(1e300)));
  EXPECT_FALSE(JsonToInt64(json::value(0.5)));
  EXPECT_FALSE(JsonToInt64(json::value(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_FALSE(JsonToInt64(json::value(std::numeric_limits<double>::infinity())));
  EXPECT_FALSE(JsonToInt64(json::value("1")));
  EXPECT_FALSE(JsonToInt64(json::value(true)));
  EXPECT_FALSE(JsonToInt64(json::value(nullptr)));
}

}  // namespace
}  // namespace atipay::lex
