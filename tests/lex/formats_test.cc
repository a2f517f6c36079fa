#include "lex/formats.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace atipay::lex {
namespace {

// Reads a vector file the way the TS harness (packages/syntax/tests/_utils.ts) does: split on
// \r?\n, drop empty lines and lines starting with '#', trim nothing.
std::vector<std::string> ReadCases(const std::string& name) {
  const std::string path = std::string(ATIPAY_TEST_DATA "/interop/syntax/") + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  std::vector<std::string> cases;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != '#') cases.push_back(std::move(line));
    start = end + 1;
  }
  return cases;
}

struct VectorFile {
  const char* file;
  StringFormat format;
  bool valid;
  std::size_t expected_cases;  // from tests/data/interop INDEX.md, so a misread file shows
};

constexpr VectorFile kVectorFiles[] = {
    {"atidentifier_syntax_valid.txt", StringFormat::kAtIdentifier, true, 11},
    {"atidentifier_syntax_invalid.txt", StringFormat::kAtIdentifier, false, 22},
    {"aturi_syntax_valid.txt", StringFormat::kAtUri, true, 23},
    {"aturi_syntax_invalid.txt", StringFormat::kAtUri, false, 72},
    {"cid_syntax_valid.txt", StringFormat::kCid, true, 8},
    {"cid_syntax_invalid.txt", StringFormat::kCid, false, 10},
    {"datetime_syntax_valid.txt", StringFormat::kDatetime, true, 35},
    {"datetime_syntax_invalid.txt", StringFormat::kDatetime, false, 45},
    {"datetime_parse_invalid.txt", StringFormat::kDatetime, false, 7},
    {"did_syntax_valid.txt", StringFormat::kDid, true, 24},
    {"did_syntax_invalid.txt", StringFormat::kDid, false, 18},
    {"handle_syntax_valid.txt", StringFormat::kHandle, true, 71},
    {"handle_syntax_invalid.txt", StringFormat::kHandle, false, 48},
    {"language_syntax_valid.txt", StringFormat::kLanguage, true, 18},
    {"language_syntax_invalid.txt", StringFormat::kLanguage, false, 7},
    {"language_parse_invalid.txt", StringFormat::kLanguage, false, 4},
    {"nsid_syntax_valid.txt", StringFormat::kNsid, true, 25},
    {"nsid_syntax_invalid.txt", StringFormat::kNsid, false, 27},
    {"recordkey_syntax_valid.txt", StringFormat::kRecordKey, true, 16},
    {"recordkey_syntax_invalid.txt", StringFormat::kRecordKey, false, 11},
    {"tid_syntax_valid.txt", StringFormat::kTid, true, 4},
    {"tid_syntax_invalid.txt", StringFormat::kTid, false, 9},
    {"uri_syntax_valid.txt", StringFormat::kUri, true, 9},
    {"uri_syntax_invalid.txt", StringFormat::kUri, false, 12},
};

bool CallNamed(StringFormat f, std::string_view s) {
  switch (f) {
    case StringFormat::kAtIdentifier:
      return IsValidAtIdentifier(s);
    case StringFormat::kAtUri:
      return IsValidAtUri(s);
    case StringFormat::kCid:
      return IsValidCidString(s);
    case StringFormat::kDatetime:
      return IsValidDatetime(s);
    case StringFormat::kDid:
      return IsValidDid(s);
    case StringFormat::kHandle:
      return IsValidHandle(s);
    case StringFormat::kLanguage:
      return IsValidLanguage(s);
    case StringFormat::kNsid:
      return IsValidNsid(s);
    case StringFormat::kRecordKey:
      return IsValidRecordKey(s);
    case StringFormat::kTid:
      return IsValidTid(s);
    case StringFormat::kUri:
      return IsValidUri(s);
  }
  return false;
}

class InteropSyntaxTest : public testing::TestWithParam<VectorFile> {};

TEST_P(InteropSyntaxTest, ClassifiesEveryCase) {
  const VectorFile& v = GetParam();
  const std::vector<std::string> cases = ReadCases(v.file);
  EXPECT_EQ(cases.size(), v.expected_cases);
  std::size_t passed = 0;
  for (const std::string& c : cases) {
    const bool got = IsValidFormat(v.format, c);
    EXPECT_EQ(got, v.valid) << v.file << ": \"" << c.substr(0, 120) << "\" (" << c.size()
                            << " bytes)";
    EXPECT_EQ(CallNamed(v.format, c), got) << c.substr(0, 120);
    if (got == v.valid) ++passed;
  }
  std::cout << "[ vectors  ] " << v.file << ": " << passed << "/" << cases.size()
            << (v.valid ? " accepted" : " rejected") << "\n";
}

INSTANTIATE_TEST_SUITE_P(Vectors, InteropSyntaxTest, testing::ValuesIn(kVectorFiles),
                         [](const testing::TestParamInfo<VectorFile>& info) {
                           std::string name = info.param.file;
                           name = name.substr(0, name.find('.'));
                           return name;
                         });

// The atproto monorepo copy of the vectors differs from the standalone snapshot; both sets
// must pass (tests/data/interop/INDEX.md, "Divergent copy").
TEST(FormatsTest, MonorepoVectorVariants) {
  for (const char* tid : {"a222222222222", "j222222222222", "azzzzzzzzzzzz"}) {
    EXPECT_TRUE(IsValidTid(tid)) << tid;
  }
  EXPECT_FALSE(IsValidLanguage("de-419-DE"));
  EXPECT_FALSE(IsValidLanguage("JA"));
  EXPECT_FALSE(IsValidLanguage("jaja"));
  EXPECT_FALSE(IsValidDatetime("0000-01-01T00:00:00+01:00"));
}

TEST(FormatsTest, NamesRoundTrip) {
  const std::vector<std::string_view> names = {"at-identifier", "at-uri", "cid",      "datetime",
                                               "did",           "handle", "language", "nsid",
                                               "record-key",    "tid",    "uri"};
  for (std::string_view name : names) {
    const auto f = StringFormatFromName(name);
    ASSERT_TRUE(f.has_value()) << name;
    EXPECT_EQ(StringFormatName(*f), name);
  }
  EXPECT_FALSE(StringFormatFromName("at_uri").has_value());
  EXPECT_FALSE(StringFormatFromName("URI").has_value());
  EXPECT_FALSE(StringFormatFromName("").has_value());
}

TEST(FormatsTest, ErrorWordingMatchesTsLexicon) {
  EXPECT_EQ(StringFormatError(StringFormat::kAtUri), "must be a valid at-uri");
  EXPECT_EQ(StringFormatError(StringFormat::kUri), "must be a uri");
  EXPECT_EQ(StringFormatError(StringFormat::kDid), "must be a valid did");
  EXPECT_EQ(StringFormatError(StringFormat::kHandle), "must be a valid handle");
  EXPECT_EQ(StringFormatError(StringFormat::kAtIdentifier), "must be a valid did or a handle");
  EXPECT_EQ(StringFormatError(StringFormat::kNsid), "must be a valid nsid");
  EXPECT_EQ(StringFormatError(StringFormat::kCid), "must be a cid string");
  EXPECT_EQ(StringFormatError(StringFormat::kDatetime),
            "must be an valid atproto datetime (both RFC-3339 and ISO-8601)");
  EXPECT_EQ(StringFormatError(StringFormat::kLanguage),
            "must be a well-formed BCP 47 language tag");
  EXPECT_EQ(StringFormatError(StringFormat::kRecordKey), "must be a valid Record Key");
  EXPECT_EQ(StringFormatError(StringFormat::kTid), "must be a valid TID");
}

TEST(FormatsTest, DatetimeCalendar) {
  EXPECT_TRUE(IsValidDatetime("2000-02-29T00:00:00Z"));   // divisible by 400
  EXPECT_FALSE(IsValidDatetime("1900-02-29T00:00:00Z"));  // divisible by 100 only
  EXPECT_TRUE(IsValidDatetime("2024-02-29T00:00:00Z"));
  EXPECT_FALSE(IsValidDatetime("2023-02-29T00:00:00Z"));
  EXPECT_TRUE(IsValidDatetime("0000-02-29T00:00:00Z"));  // proleptic Gregorian: year 0 leaps
  EXPECT_FALSE(IsValidDatetime("2023-04-31T00:00:00Z"));
  EXPECT_TRUE(IsValidDatetime("2023-12-31T23:59:59Z"));
  EXPECT_FALSE(IsValidDatetime("2023-12-31T23:59:60Z"));  // no leap second
  EXPECT_FALSE(IsValidDatetime("2023-12-31T24:00:00Z"));
  EXPECT_FALSE(IsValidDatetime("2023-06-15T12:00:00+24:00"));
  EXPECT_FALSE(IsValidDatetime("2023-06-15T12:00:00+05:60"));
  EXPECT_TRUE(IsValidDatetime("2023-06-15T12:00:00+23:59"));
  EXPECT_FALSE(IsValidDatetime("2023-06-15T12:00:00-00:00"));
  EXPECT_TRUE(IsValidDatetime("2023-06-15T12:00:00+00:00"));
}

TEST(FormatsTest, DatetimeUtcRange) {
  EXPECT_TRUE(IsValidDatetime("0000-01-01T00:00:00Z"));
  EXPECT_TRUE(IsValidDatetime("0000-01-01T00:00:00-01:00"));
  EXPECT_TRUE(IsValidDatetime("0000-01-01T01:00:00+01:00"));  // exactly 0000-01-01T00:00Z
  EXPECT_FALSE(IsValidDatetime("0000-01-01T00:59:59.999+01:00"));
  EXPECT_TRUE(IsValidDatetime("9999-12-31T23:59:59.999Z"));
  EXPECT_TRUE(IsValidDatetime("9999-12-31T22:59:59+01:00"));
  EXPECT_FALSE(IsValidDatetime("9999-12-31T23:00:00-01:00"));  // year 10000 in UTC
}

TEST(FormatsTest, DatetimeLength) {
  // 64 characters is the TS cap; the fraction makes up the rest.
  std::string s = "1985-04-12T23:20:50." + std::string(43, '1') + "Z";
  ASSERT_EQ(s.size(), 64u);
  EXPECT_TRUE(IsValidDatetime(s));
  s.insert(20, "1");
  EXPECT_FALSE(IsValidDatetime(s));
  EXPECT_FALSE(IsValidDatetime(""));
  EXPECT_FALSE(IsValidDatetime("1985-04-12T23:20:50.Z"));
  EXPECT_FALSE(IsValidDatetime("1985-04-12T23:20:50ZZ"));
  EXPECT_FALSE(IsValidDatetime("1985-04-12T23:20:50+01:00Z"));
}

TEST(FormatsTest, AtUriParts) {
  auto p = ParseAtUri("at://did:plc:asdf123/com.atproto.feed.post/3jzfcijpj2z2a");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->authority, "did:plc:asdf123");
  EXPECT_EQ(p->collection, "com.atproto.feed.post");
  EXPECT_EQ(p->rkey, "3jzfcijpj2z2a");

  p = ParseAtUri("at://alice.test/app.bsky.feed.post");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->authority, "alice.test");
  EXPECT_EQ(p->collection, "app.bsky.feed.post");
  EXPECT_TRUE(p->rkey.empty());

  p = ParseAtUri("at://alice.test");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->authority, "alice.test");
  EXPECT_TRUE(p->collection.empty());

  p = ParseAtUri("at://did:plc:asdf123/com.atproto.feed.post/r#/a/b");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->rkey, "r");

  EXPECT_FALSE(ParseAtUri("at://did:plc:asdf123/com.atproto.feed.post/r/").has_value());
  EXPECT_FALSE(ParseAtUri("at://alice.test/1com.example.foo").has_value());
}

TEST(FormatsTest, AtUriQueryAndFragment) {
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123?"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123?a=b"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123/com.atproto.feed.post?a=b#/x"));
  EXPECT_TRUE(IsValidAtUri("at://did:plc:asdf123#/frag"));
  EXPECT_TRUE(IsValidAtUri("at://did:plc:asdf123/com.atproto.feed.post#/a/b/c"));
  EXPECT_TRUE(IsValidAtUri("at://did:plc:asdf123#/"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#frag"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/a?b"));
  // Percent-escapes in the fragment must decode (decodeURIComponent) to well-formed UTF-8.
  EXPECT_TRUE(IsValidAtUri("at://did:plc:asdf123#/%C3%A9"));
  EXPECT_TRUE(IsValidAtUri("at://did:plc:asdf123#/%F0%9F%91%8D%20"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%4"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%zz"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%FF"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%C3"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%C0%AF"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%ED%A0%80"));
  EXPECT_FALSE(IsValidAtUri("at://did:plc:asdf123#/%F4%90%80%80"));
}

TEST(FormatsTest, AtUriLength) {
  const std::string head = "at://did:plc:asdf123/com.atproto.feed.post#/";
  std::string s = head + std::string(8192 - head.size(), 'a');
  EXPECT_TRUE(IsValidAtUri(s));
  EXPECT_FALSE(IsValidAtUri(s + "a"));
}

TEST(FormatsTest, UriGoRule) {
  EXPECT_TRUE(IsValidUri("a:b"));
  EXPECT_FALSE(IsValidUri("a:"));
  EXPECT_FALSE(IsValidUri("A:b"));                      // lower-case scheme only
  EXPECT_FALSE(IsValidUri("h2c://host"));               // Go's scheme class has no digits
  EXPECT_FALSE(IsValidUri("https://ex.com/\xc3\xa9"));  // [[:graph:]] is ASCII
  EXPECT_FALSE(IsValidUri("https://ex.com/\x7f"));
  const std::string scheme81 = "a" + std::string(80, 'b');
  EXPECT_TRUE(IsValidUri(scheme81 + ":x"));
  EXPECT_FALSE(IsValidUri(scheme81 + "b:x"));
  const std::string base = "https://example.com/";
  EXPECT_TRUE(IsValidUri(base + std::string(8192 - base.size(), 'x')));
  EXPECT_FALSE(IsValidUri(base + std::string(8193 - base.size(), 'x')));
}

TEST(FormatsTest, CidGoRule) {
  EXPECT_TRUE(IsValidCidString("abcdefgh"));
  EXPECT_FALSE(IsValidCidString("abcdefg"));
  EXPECT_TRUE(IsValidCidString(std::string(256, 'b')));
  EXPECT_FALSE(IsValidCidString(std::string(257, 'b')));
  EXPECT_FALSE(IsValidCidString("bafy/rei"));
  // Go refuses only the "Qmb" prefix, not every CIDv0.
  EXPECT_FALSE(IsValidCidString("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"));
  EXPECT_TRUE(IsValidCidString("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"));
}

TEST(FormatsTest, LengthLimits) {
  // handle: 253 total, 63 per label.
  std::string label63(63, 'a');
  std::string h = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(h.size(), 253u);
  EXPECT_TRUE(IsValidHandle(h));
  EXPECT_FALSE(IsValidHandle(h + "b"));
  EXPECT_FALSE(IsValidHandle(std::string(64, 'a') + ".test"));
  // did: 2048 total.
  std::string did = "did:web:" + std::string(2040, 'x');
  EXPECT_TRUE(IsValidDid(did));
  EXPECT_FALSE(IsValidDid(did + "x"));
  // nsid: 317 total; the authority alone may exceed 253 (a vector relies on it).
  std::string nsid = "com";
  while (nsid.size() + 1 + 63 < 317 - 4) nsid += "." + std::string(63, 'a');
  nsid += "." + std::string(317 - nsid.size() - 1, 'b');
  ASSERT_EQ(nsid.size(), 317u);
  EXPECT_TRUE(IsValidNsid(nsid));
  EXPECT_FALSE(IsValidNsid(nsid + "b"));
  // record-key: 512.
  EXPECT_TRUE(IsValidRecordKey(std::string(512, 'k')));
  EXPECT_FALSE(IsValidRecordKey(std::string(513, 'k')));
  EXPECT_FALSE(IsValidRecordKey(""));
}

TEST(FormatsTest, NsidShape) {
  EXPECT_TRUE(IsValidNsid("com.example.fooBar"));
  EXPECT_FALSE(IsValidNsid("com.example.foo-bar"));  // no hyphen in the name
  EXPECT_TRUE(IsValidNsid("com.exa-mple.fooBar"));
  EXPECT_FALSE(IsValidNsid("com.example.1foo"));
  EXPECT_FALSE(IsValidNsid("1com.example.foo"));
  EXPECT_TRUE(IsValidNsid("com.1example.foo"));
  EXPECT_FALSE(IsValidNsid("com.example-.foo"));
  EXPECT_FALSE(IsValidNsid("com.example.foo."));
}

TEST(FormatsTest, LanguageShape) {
  EXPECT_TRUE(IsValidLanguage("x-private"));
  EXPECT_TRUE(IsValidLanguage("X-a-b"));
  EXPECT_FALSE(IsValidLanguage("x"));
  EXPECT_FALSE(IsValidLanguage("en-x"));
  EXPECT_TRUE(IsValidLanguage("en-x-a"));
  EXPECT_FALSE(IsValidLanguage("en-a"));           // extension without payload
  EXPECT_FALSE(IsValidLanguage("en-a-b"));         // payload subtags are 2-8
  EXPECT_TRUE(IsValidLanguage("zh-yue-abc-def"));  // up to three extlangs
  EXPECT_FALSE(IsValidLanguage("zh-yue-abc-def-ghi"));
  EXPECT_TRUE(IsValidLanguage("zh-Hant-TW"));
  EXPECT_FALSE(IsValidLanguage("zh-TW-Hant"));       // script before region
  EXPECT_FALSE(IsValidLanguage("en-GB-123456789"));  // subtags are at most 8
  EXPECT_FALSE(IsValidLanguage("en--GB"));
  EXPECT_FALSE(IsValidLanguage("en_GB"));
  EXPECT_FALSE(IsValidLanguage(""));
  // Grandfathered tags match exactly, as in the TS regex.
  EXPECT_TRUE(IsValidLanguage("i-klingon"));
  EXPECT_FALSE(IsValidLanguage("I-KLINGON"));
  EXPECT_TRUE(IsValidLanguage("en-GB-oed"));
  // Duplicate checks: distinct keys pass, a repeat anywhere fails, also past the
  // inline buffer (more than 8 variants).
  std::string tag = "en";
  for (char c = 'a'; c <= 'l'; ++c) tag += std::string("-") + c + "vari";
  EXPECT_TRUE(IsValidLanguage(tag)) << tag;
  EXPECT_FALSE(IsValidLanguage(tag + "-CVARI")) << tag;
  EXPECT_FALSE(IsValidLanguage("en-a-aa-b-bb-A-cc"));
  EXPECT_TRUE(IsValidLanguage("en-a-aa-b-bb-x-a-a"));  // private use may repeat
}

TEST(FormatsTest, HostileInputsStayLinear) {
  // Long hostile inputs must be rejected (or accepted) without quadratic work; a regression
  // here would time out rather than fail.
  std::string lang = "en";
  for (int i = 0; i < 20000; ++i) {
    char v[16];
    std::snprintf(v, sizeof v, "-%05d", i);
    lang += v;
  }
  EXPECT_TRUE(IsValidLanguage(lang));
  EXPECT_FALSE(IsValidLanguage(lang + "-00007"));
  EXPECT_FALSE(IsValidHandle(std::string(1 << 20, 'a')));
  EXPECT_FALSE(IsValidAtUri("at://" + std::string(1 << 20, 'a')));
}

}  // namespace
}  // namespace atipay::lex
