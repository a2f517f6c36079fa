// The Lexicon language itself: interop lexicon-valid / lexicon-invalid documents.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>

#include "schema/catalog.h"
#include "schema/loader.h"
#include "support/test_files.h"

namespace atipay::lexicon {
namespace {

using atipay::test_files::ReadJson;

TEST(LexiconDocuments, EveryValidVectorLoads) {
  boost::json::value cases = ReadJson(ATIPAY_TEST_DATA "/interop/lexicon/lexicon-valid.json");
  ASSERT_EQ(cases.as_array().size(), 3u);
  for (const auto& c : cases.as_array()) {
    const std::string name(c.at("name").as_string());
    lex::Result<Document> doc = LoadDocument(c.at("lexicon"), "valid/" + name + ".json");
    EXPECT_TRUE(doc.ok()) << name << ": " << (doc.ok() ? "" : doc.error().message);
  }
}

TEST(LexiconDocuments, EveryInvalidVectorIsRejectedWithFilePathAndReason) {
  boost::json::value cases = ReadJson(ATIPAY_TEST_DATA "/interop/lexicon/lexicon-invalid.json");
  ASSERT_EQ(cases.as_array().size(), 7u);
  for (const auto& c : cases.as_array()) {
    const std::string name(c.at("name").as_string());
    const std::string file = "invalid/" + name + ".json";
    lex::Result<Document> doc = LoadDocument(c.at("lexicon"), file);
    ASSERT_FALSE(doc.ok()) << name << " loaded";
    const std::string& message = doc.error().message;
    EXPECT_EQ(message.rfind(file + ": $", 0), 0u) << message;  // file, then a JSON path
    EXPECT_GT(message.size(), file.size() + 6) << message;     // and a reason
  }
}

TEST(LexiconDocuments, ReasonsNameTheProblem) {
  auto load = [](const char* text) {
    lex::Result<Document> doc = LoadDocument(boost::json::parse(text), "x.json");
    return doc.ok() ? std::string("ok") : doc.error().message;
  };
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"demo":{"type":"unknown"}}})"),
            "x.json: $.defs.demo.type: type \"unknown\" can not be a named definition");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"demo":{"type":"record","key":"any","record":{"type":"object","properties":{}}}}})"),
            "x.json: $.defs.demo.type: primary type \"record\" may only be the main definition");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","required":["x"],"properties":{}}}})"),
            "x.json: $.defs.main.required[0]: required property \"x\" is not defined");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"string","format":"colour"}}})"),
            "x.json: $.defs.main.format: unknown string format \"colour\"");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"string","maxLength":2,"default":"abc"}}})"),
            "x.json: $.defs.main.default: violates minLength/maxLength");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"integer","const":1,"default":1}}})"),
            "x.json: $.defs.main: const and default are exclusive");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"record","key":"literal:..","record":{"type":"object","properties":{}}}}})"),
            "x.json: $.defs.main.key: must be tid, nsid, any or literal:<record-key>");
  EXPECT_EQ(
      load(
          R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"query","parameters":{"type":"params","properties":{"o":{"type":"object","properties":{}}}}}}})"),
      "x.json: $.defs.main.parameters.properties.o: params may only hold boolean, integer, string "
      "or arrays of those");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"union","refs":[]}}})"),
            "x.json: $.defs.main.type: type \"union\" can not be a named definition");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","properties":{"u":{"type":"union","refs":[],"closed":true}}}}})"),
            "x.json: $.defs.main.properties.u: a closed union needs at least one ref");
  EXPECT_EQ(load(R"({"lexicon":1,"id":"a.b.c","defs":{}})"), "x.json: $.defs: must not be empty");
  EXPECT_EQ(load(R"([1])"), "x.json: $: must be an object");
}

// A param of type unknown has no query-string form: the generated parser could neither decode
// it nor enforce `required` on it (the interpreter did, so the two disagreed). Go's lexicon
// package and lex-document refuse it; so do we.
TEST(LexiconDocuments, ParamsRefuseUnknown) {
  auto load = [](const std::string& property) {
    const std::string text =
        R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"query","parameters":{"type":"params","required":["x"],"properties":{"x":)" +
        property + "}}}}}";
    lex::Result<Document> doc = LoadDocument(boost::json::parse(text), "x.json");
    return doc.ok() ? std::string("ok") : doc.error().message;
  };
  const std::string kRefused =
      "x.json: $.defs.main.parameters.properties.x: params may only hold boolean, integer, string "
      "or arrays of those (unknown has no query-string form)";
  EXPECT_EQ(load(R"({"type":"unknown"})"), kRefused);
  EXPECT_EQ(load(R"({"type":"array","items":{"type":"unknown"}})"), kRefused);
  EXPECT_EQ(load(R"({"type":"integer"})"), "ok");
  EXPECT_EQ(load(R"({"type":"array","items":{"type":"string"}})"), "ok");
}

TEST(LexiconDocuments, RefsAreCheckedAcrossDocuments) {
  std::vector<Document> docs;
  docs.push_back(LoadDocument(boost::json::parse(
      R"({"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","properties":{"t":{"type":"ref","ref":"#tok"}}},"tok":{"type":"token"}}})"),
      "a.json").value());
  Catalog catalog(std::move(docs));
  std::optional<std::string> problem = catalog.CheckRefs(true);
  ASSERT_TRUE(problem);
  EXPECT_EQ(*problem, "a.json: $.defs.main.properties.t: ref \"a.b.c#tok\" points at a token");
}

TEST(LexiconDocuments, TheWholeCorpusLoads) {
  lex::Result<std::vector<Document>> docs =
      LoadInputs({ATIPAY_TEST_DATA "/atproto-corpus", ATIPAY_SOURCE_DIR "/lexicons"});
  ASSERT_TRUE(docs.ok()) << docs.error().message;
  EXPECT_EQ(docs->size(), 439u);
  Catalog catalog(std::move(docs).value());
  EXPECT_FALSE(catalog.CheckRefs(true)) << *catalog.CheckRefs(true);
}

}  // namespace
}  // namespace atipay::lexicon
