// Interop record-data vectors against catalog/record.json, through both validators: the
// schema-driven one (lexgen validate) and the generated example::lexicon::record types.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>

#include "example/lexicon/record.h"
#include "lex/encoding.h"
#include "schema/loader.h"
#include "schema/validator.h"
#include "support/test_files.h"

namespace atipay::lexicon {
namespace {

using atipay::test_files::ReadJson;

// $bytes may be written with non-zero trailing bits ("123"); we re-encode canonically ("120").
void CanonicalizeBytes(boost::json::value& v) {
  if (auto* obj = v.if_object()) {
    if (obj->size() == 1 && obj->contains("$bytes") && obj->at("$bytes").is_string()) {
      obj->at("$bytes") = lex::EncodeBase64Unpadded(*lex::DecodeBase64(obj->at("$bytes").as_string()));
      return;
    }
    for (auto& member : *obj) CanonicalizeBytes(member.value());
  } else if (auto* array = v.if_array()) {
    for (auto& item : *array) CanonicalizeBytes(item);
  }
}

class RecordData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The catalog refs app.bsky.actor.defs, so the corpus is loaded beside it.
    auto docs = LoadInputs({ATIPAY_TEST_DATA "/interop/lexicon/catalog", ATIPAY_TEST_DATA "/atproto-corpus"});
    ASSERT_TRUE(docs.ok()) << docs.error().message;
    catalog_ = new Catalog(std::move(docs).value());
  }
  static void TearDownTestSuite() { delete catalog_; }

  static std::string Dynamic(const boost::json::value& data) {
    Validator validator(*catalog_);
    lex::Errors errors;
    return validator.Validate(data, "example.lexicon.record", MethodPart::kNone, errors)
               ? "valid"
               : errors.message();
  }
  static std::string Generated(const boost::json::value& data) {
    lexicons::example::lexicon::record::Record record;
    lex::Errors errors;
    return Parse(data, record, lex::Path("Record"), errors) ? "valid" : errors.message();
  }

  static Catalog* catalog_;
};
Catalog* RecordData::catalog_ = nullptr;

TEST_F(RecordData, AllValidCasesPassAndRoundTrip) {
  boost::json::value cases = ReadJson(ATIPAY_TEST_DATA "/interop/lexicon/record-data-valid.json");
  ASSERT_EQ(cases.as_array().size(), 3u);
  for (const auto& c : cases.as_array()) {
    const std::string name(c.at("name").as_string());
    const boost::json::value& data = c.at("data");
    EXPECT_EQ(Dynamic(data), "valid") << name;
    lexicons::example::lexicon::record::Record record;
    lex::Errors errors;
    ASSERT_TRUE(Parse(data, record, lex::Path("Record"), errors)) << name << ": " << errors.message();
    boost::json::value expected = data;
    CanonicalizeBytes(expected);
    EXPECT_EQ(ToJson(record), expected) << name;
  }
}

TEST_F(RecordData, AllInvalidCasesFailInBothValidatorsWithTheSameMessage) {
  boost::json::value cases = ReadJson(ATIPAY_TEST_DATA "/interop/lexicon/record-data-invalid.json");
  ASSERT_EQ(cases.as_array().size(), 50u);
  for (const auto& c : cases.as_array()) {
    const std::string name(c.at("name").as_string());
    const boost::json::value& data = c.at("data");
    const std::string dynamic = Dynamic(data);
    EXPECT_NE(dynamic, "valid") << name;
    EXPECT_EQ(Generated(data), dynamic) << name;
  }
}

TEST_F(RecordData, MessagesFollowTheReference) {
  auto record = [](const char* fields) {
    return boost::json::parse(std::string(R"({"$type":"example.lexicon.record","integer":1)") +
                              fields + "}");
  };
  EXPECT_EQ(Generated(boost::json::parse(R"({"$type":"example.lexicon.record"})")),
            "Record must have the property \"integer\"");
  EXPECT_EQ(Generated(record(R"(,"formats":{"aturi":"123"})")),
            "Record/formats/aturi must be a valid at-uri");
  EXPECT_EQ(Generated(record(R"(,"lenArray":[0])")),
            "Record/lenArray must not have fewer than 2 elements");
  EXPECT_EQ(Generated(record(R"(,"array":[1,true])")), "Record/array/1 must be an integer");
  EXPECT_EQ(Generated(record(R"(,"enumString":"x")")), "Record/enumString must be one of (fish|tree|rock)");
  EXPECT_EQ(Generated(record(R"(,"closedUnion":{"$type":"example.unknown-lexicon.blah"})")),
            "Record/closedUnion $type must be one of example.lexicon.record#demoObject");
  EXPECT_EQ(Generated(boost::json::parse(R"({"$type":"example.lexicon.other","integer":1})")),
            "Invalid $type: must be example.lexicon.record, got example.lexicon.other");
}

}  // namespace
}  // namespace atipay::lexicon
