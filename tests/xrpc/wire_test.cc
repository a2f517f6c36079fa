// Unit tests of the HTTP-level XRPC rules (no sockets).
#include <gtest/gtest.h>

#include "xrpc/wire.h"

namespace atipay::xrpc {
namespace {

XrpcPath Extract(std::string_view path, std::string* nsid = nullptr) {
  std::string_view out;
  XrpcPath result = ExtractXrpcNsid(path, out);
  if (nsid != nullptr) *nsid = std::string(out);
  return result;
}

TEST(XrpcWire, ExtractsNsidLikeXrpcServer) {
  std::string nsid;
  EXPECT_EQ(Extract("/xrpc/com.example.fooBar", &nsid), XrpcPath::kValid);
  EXPECT_EQ(nsid, "com.example.fooBar");
  EXPECT_EQ(Extract("/xrpc/com.example.foo/", &nsid), XrpcPath::kValid);
  EXPECT_EQ(nsid, "com.example.foo");
  EXPECT_EQ(Extract("/xrpc/ab"), XrpcPath::kValid);
  EXPECT_EQ(Extract("/xrpc/a"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/not_an_nsid"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/a..b"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/.ab"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/ab-"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/ab-/"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/a.b//"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc/a.b/c"), XrpcPath::kInvalid);
  EXPECT_EQ(Extract("/xrpc"), XrpcPath::kNotXrpc);
  EXPECT_EQ(Extract("/"), XrpcPath::kNotXrpc);
  EXPECT_EQ(Extract("/XRPC/a.b"), XrpcPath::kNotXrpc);
}

TEST(XrpcWire, QueryStrings) {
  auto params = ParseQueryString("a=1&b=x+y&c=%41%zz&&d=&e&a=2&k%20ey=v");
  lex::ParamList expected = {{"a", "1"}, {"b", "x y"}, {"c", "A%zz"}, {"a", "2"}, {"k ey", "v"}};
  EXPECT_EQ(params, expected);
  EXPECT_TRUE(ParseQueryString("").empty());
}

// URLSearchParams decodes the escaped bytes as UTF-8 with one U+FFFD for each maximal bad
// subpart (WHATWG Encoding): handlers, and maxLength, see what the reference's handlers see.
TEST(XrpcWire, QueryStringsDecodeBadUtf8AsUrlSearchParams) {
  const std::string bad = "\xEF\xBF\xBD";
  auto params = ParseQueryString(
      "a=%E2%82&b=%E2%82A&c=%F0%80&d=%ED%A0%80&e=%C0%AF&f=%F4%90%80%80&g=%FF&%E2%82=h"
      "&i=%EF%BB%BFx&j=%E2%82%AC%F0%9F%98%80&k=%e2%82%ac");
  lex::ParamList expected = {{"a", bad},
                             {"b", bad + "A"},
                             {"c", bad + bad},
                             {"d", bad + bad + bad},
                             {"e", bad + bad},
                             {"f", bad + bad + bad + bad},
                             {"g", bad},
                             {bad, "h"},
                             {"i", "\xEF\xBB\xBFx"},  // a BOM is kept
                             {"j", "\xE2\x82\xAC\xF0\x9F\x98\x80"},
                             {"k", "\xE2\x82\xAC"}};
  EXPECT_EQ(params, expected);
}

TEST(XrpcWire, MediaTypesAndEncodings) {
  EXPECT_EQ(MediaType("application/json; charset=utf-8"), "application/json");
  EXPECT_EQ(MediaType("  text/plain "), "text/plain");
  EXPECT_EQ(MediaType(""), "");
  EXPECT_TRUE(EncodingMatches("application/json", "application/json"));
  EXPECT_FALSE(EncodingMatches("application/json", "APPLICATION/JSON"));
  EXPECT_TRUE(EncodingMatches("*/*", "image/png"));
  EXPECT_TRUE(EncodingMatches("image/*", "image/png"));
  EXPECT_FALSE(EncodingMatches("image/*", "text/png"));
  EXPECT_TRUE(EncodingMatches("text/plain, application/json", "application/json"));
}

std::optional<XrpcError> ParseErr(std::string_view body, std::size_t depth = 1024) {
  boost::json::value out;
  return ParseJsonBody(body, depth, out);
}

TEST(XrpcWire, JsonBodiesWithV8Messages) {
  boost::json::value out;
  EXPECT_FALSE(ParseJsonBody(" {\"a\":[1,2]} \n", 1024, out));
  EXPECT_EQ(out.at("a").as_array().size(), 2u);
  EXPECT_FALSE(ParseJsonBody("[1]", 1024, out));

  auto null_body = ParseErr("null");
  ASSERT_TRUE(null_body);
  EXPECT_EQ(null_body->name, "SyntaxError");
  EXPECT_EQ(null_body->message, "Unexpected token 'n', \"null\" is not valid JSON");
  EXPECT_EQ(ParseErr("{\"uri\":")->message, "Unexpected end of JSON input");
  EXPECT_EQ(ParseErr("   ")->message, "Unexpected end of JSON input");
  EXPECT_EQ(ParseErr("\"str\"")->message, "Unexpected string in JSON at position 0");
  EXPECT_EQ(ParseErr("42")->message, "Unexpected number in JSON at position 0");
  EXPECT_EQ(ParseErr("{\"a\":1}x")->message,
            "Unexpected non-whitespace character after JSON at position 7");
  EXPECT_EQ(ParseErr("{a}")->message, "Unexpected token 'a', \"{a}\" is not valid JSON");
  EXPECT_EQ(ParseErr("{\"aaaaaaaaaaaaaaaaaaaa\": x}")->message,
            "Unexpected token 'x', ...\"aaaaaaa\": x}\" is not valid JSON");
  EXPECT_EQ(ParseErr("true and something longer")->message,
            "Unexpected token 't', \"true and s\"... is not valid JSON");

  // Whole characters only, and U+FFFD for bytes that start none (as V8 sees the decoded
  // body): the message stays UTF-8, so the error body stays JSON.
  EXPECT_EQ(ParseErr("{\"a\":1\xff}")->message,
            "Unexpected token '\xEF\xBF\xBD', \"{\"a\":1\xEF\xBF\xBD}\" is not valid JSON");
  EXPECT_EQ(ParseErr("{\"a\":1\xc3}")->message,
            "Unexpected token '\xEF\xBF\xBD', \"{\"a\":1\xEF\xBF\xBD}\" is not valid JSON");
  std::string accents;
  for (int i = 0; i < 20; ++i) accents += "\xc3\xa9";  // é: 40 bytes, 20 characters
  EXPECT_EQ(ParseErr("{\"" + accents + "\": x}")->message,
            "Unexpected token 'x', ...\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\": x}\" is not valid JSON");

  std::string deep(2000, '[');
  deep += std::string(2000, ']');
  auto too_deep = ParseErr(deep);
  ASSERT_TRUE(too_deep);
  EXPECT_EQ(too_deep->name, "InvalidRequest");
  EXPECT_EQ(too_deep->message, "Maximum call stack size exceeded");
  EXPECT_FALSE(ParseErr(deep, 4000));
}

TEST(XrpcWire, ErrorBodyAndDidWeb) {
  EXPECT_EQ(ErrorBody({400, "InvalidRequest", "say \"hi\""}),
            "{\"error\":\"InvalidRequest\",\"message\":\"say \\\"hi\\\"\"}");
  // A message cut inside a character (or quoting bytes that are not UTF-8) still makes JSON.
  EXPECT_EQ(ErrorBody({400, "InvalidRequest", "caf\xC3"}),
            "{\"error\":\"InvalidRequest\",\"message\":\"caf\xEF\xBF\xBD\"}");
  EXPECT_EQ(DidWebFromHostPort("127.0.0.1:2585"), "did:web:127.0.0.1%3A2585");
  EXPECT_EQ(DidWebFromHostPort("pay.example.com"), "did:web:pay.example.com");
}

}  // namespace
}  // namespace atipay::xrpc
