#include <gtest/gtest.h>

#include "lex/params.h"
#include "lex/path.h"

namespace atipay::lex {
namespace {

TEST(Path, RendersLikeTheReference) {
  Path root("Record");
  Path items = root.Key("items");
  Path first = items.Index(0);
  EXPECT_EQ(first.Key("recordUri").ToString(), "Record/items/0/recordUri");
  EXPECT_EQ(root.ToString(), "Record");
}

TEST(Errors, KeepsTheFirstFailure) {
  Errors errors;
  Path input("Input");
  EXPECT_FALSE(errors.Fail(input.Key("uri"), "must be a valid at-uri"));
  EXPECT_FALSE(errors.Fail(input.Key("other"), "must be a string"));
  EXPECT_TRUE(errors.failed());
  EXPECT_EQ(errors.message(), "Input/uri must be a valid at-uri");
}

TEST(Params, IntegersAreStrict) {
  EXPECT_EQ(DecodeIntegerParam("42"), 42);
  EXPECT_EQ(DecodeIntegerParam("-7"), -7);
  EXPECT_EQ(DecodeIntegerParam("9223372036854775807"), INT64_MAX);
  EXPECT_FALSE(DecodeIntegerParam("9223372036854775808"));
  EXPECT_FALSE(DecodeIntegerParam(""));
  EXPECT_FALSE(DecodeIntegerParam("-"));
  EXPECT_FALSE(DecodeIntegerParam("+1"));
  EXPECT_FALSE(DecodeIntegerParam("1.0"));
  EXPECT_FALSE(DecodeIntegerParam(" 1"));
  EXPECT_FALSE(DecodeIntegerParam("0x10"));
}

TEST(Params, BooleansAreExact) {
  EXPECT_EQ(DecodeBooleanParam("true"), true);
  EXPECT_EQ(DecodeBooleanParam("false"), false);
  EXPECT_FALSE(DecodeBooleanParam("True"));
  EXPECT_FALSE(DecodeBooleanParam("1"));
  EXPECT_FALSE(DecodeBooleanParam(""));
}

TEST(Params, QueryStringEncoding) {
  ParamList params{{"uri", "at://did:plc:abc/com.atiproto.cart/1"}, {"tag", "a b"}, {"tag", "c&d"}};
  EXPECT_EQ(EncodeQueryString(params),
            "uri=at%3A%2F%2Fdid%3Aplc%3Aabc%2Fcom.atiproto.cart%2F1&tag=a%20b&tag=c%26d");
}

}  // namespace
}  // namespace atipay::lex
