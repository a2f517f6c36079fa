#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "lex/validate.h"

namespace atipay::lex {
namespace {

namespace json = boost::json;

// The union's $type, or the error message.
std::string TypeOrError(std::string_view text) {
  Errors errors;
  const json::value value = json::parse(text);
  auto type = UnionType(value, Path("Record/embed"), errors);
  EXPECT_EQ(type.has_value(), !errors.failed());
  return type ? std::string(*type) : "error: " + errors.message();
}

TEST(UnionType, NamesTheMember) {
  EXPECT_EQ(TypeOrError(R"({"$type":"app.bsky.embed.external"})"), "app.bsky.embed.external");
  EXPECT_EQ(TypeOrError(R"({"$type":"app.bsky.embed.external#main"})"),
            "app.bsky.embed.external#main");
  EXPECT_EQ(TypeOrError(R"({"$type":"app.bsky.embed.record#view"})"), "app.bsky.embed.record#view");
  EXPECT_EQ(TypeOrError(R"({"$type":""})"),
            "error: Record/embed must be an object which includes the \"$type\" property");
}

// The reference turns a union's $type into a lexicon URI, which throws for more than one '#'
// ("Uri can only have one hash segment") and for a bare fragment (no document to resolve it
// against). We refuse both, in the generated parsers and the interpreter alike (both call
// UnionType), rather than strip one "#main" in one and take an unknown member in the other.
TEST(UnionType, RefusesMoreThanOneHashOrALeadingHash) {
  EXPECT_EQ(TypeOrError(R"({"$type":"app.bsky.embed.external#main#main"})"),
            "error: Record/embed/$type can only have one hash segment");
  EXPECT_EQ(TypeOrError(R"({"$type":"app.bsky.embed.external#a#b"})"),
            "error: Record/embed/$type can only have one hash segment");
  EXPECT_EQ(TypeOrError(R"({"$type":"a##"})"),
            "error: Record/embed/$type can only have one hash segment");
  EXPECT_EQ(TypeOrError(R"({"$type":"#main"})"),
            "error: Record/embed/$type must be an NSID, not a bare #fragment");
  EXPECT_EQ(TypeOrError(R"({"$type":"#"})"),
            "error: Record/embed/$type must be an NSID, not a bare #fragment");
}

}  // namespace
}  // namespace atipay::lex
