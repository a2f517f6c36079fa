#include "lex/text.h"

#include <gtest/gtest.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace atipay::lex {
namespace {

// Same code points as the interop vectors (lexicon/record-data-*.json, "graphemeString").
const std::string kFamily = "\U0001F469\u200D\U0001F469\u200D\U0001F466\u200D\U0001F466";
const std::string kFlagAndRainbow = "\U0001F1E9\U0001F1EA\U0001F3F3\uFE0F\u200D\U0001F308";

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

boost::json::value ReadJson(const std::string& rel) {
  std::ifstream in(std::string(ATIPAY_TEST_DATA) + rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream buf;
  buf << in.rdbuf();
  return boost::json::parse(buf.str());
}

// Finds the "graphemeString" of the named fixture.
std::string FixtureGraphemeString(const boost::json::value& fixtures, std::string_view name) {
  for (const auto& f : fixtures.as_array()) {
    if (f.at("name").as_string() == name) {
      return std::string(f.at("data").at("graphemeString").as_string());
    }
  }
  ADD_FAILURE() << "no fixture " << name;
  return {};
}

TEST(Utf8Test, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, longer than one word"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80"));              // U+0080
  EXPECT_TRUE(IsValidUtf8("\xDF\xBF"));              // U+07FF
  EXPECT_TRUE(IsValidUtf8("\xE0\xA0\x80"));          // U+0800
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));          // U+E000, just above
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBF"));          // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xF0\x90\x80\x80"));      // U+10000
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));  // NUL is a valid code point
  EXPECT_TRUE(IsValidUtf8(kFamily + kFlagAndRainbow));
}

TEST(Utf8Test, ToValidUtf8ReplacesEachByteThatStartsNoCharacter) {
  const std::string kBad = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ToValidUtf8(kFamily), kFamily);
  // A character cut short (e.g. by a length limit): one replacement per byte, as V8 shows it.
  EXPECT_EQ(ToValidUtf8("ab\xE2\x82"), "ab" + kBad + kBad);
  EXPECT_EQ(ToValidUtf8("\xFF" "a\xED\xA0\x80" "b"), kBad + "a" + kBad + kBad + kBad + "b");
  EXPECT_EQ(ToValidUtf8("0123456789abcdef\x80"), "0123456789abcdef" + kBad);
  for (std::string_view s : {"\xC0\xAF", "\xF4\x90\x80\x80", "x\xF0\x9F\x91"}) {
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(s))) << s;
  }
  EXPECT_EQ(Utf8SequenceAt("a\xF0\x9F\x91\x8D", 1), 4u);
  EXPECT_EQ(Utf8SequenceAt("a\xF0\x9F\x91\x8D", 2), 0u);  // a continuation byte
  EXPECT_EQ(Utf8SequenceAt("\xF0\x9F\x91", 0), 0u);       // cut short
}

// A decoder's step: a well-formed sequence, or the maximal subpart of an ill-formed one (what
// one U+FFFD replaces), never zero bytes.
TEST(Utf8Test, DecodeStepTakesASequenceOrTheMaximalSubpartOfABadOne) {
  struct Case {
    const char* text;
    std::size_t length;
    bool valid;
  } cases[] = {
      {"a", 1, true},
      {"\xC3\xA9", 2, true},
      {"\xF0\x9F\x91\x8D", 4, true},
      {"\xE2\x82", 2, false},        // cut short
      {"\xE2\x82" "A", 2, false},    // the A starts the next step
      {"\xED\xA0\x80", 1, false},    // a surrogate: its second byte is out of range
      {"\xF4\x90\x80", 1, false},    // above U+10FFFF
      {"\xF0\x9F\x91!", 3, false},
      {"\x80", 1, false},
      {"\xC0\xAF", 1, false},        // an overlong lead
      {"\xFF", 1, false},
  };
  for (const Case& c : cases) {
    bool valid = !c.valid;
    EXPECT_EQ(Utf8DecodeStep(c.text, 0, &valid), c.length) << testing::PrintToString(c.text);
    EXPECT_EQ(valid, c.valid) << testing::PrintToString(c.text);
  }
}

TEST(Utf8Test, RejectsIllFormed) {
  // Overlong encodings.
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));
  // Surrogates (CESU-style too).
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\xBD\xED\xB8\x80"));
  // Above U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  // Truncated sequences and stray continuation bytes.
  EXPECT_FALSE(IsValidUtf8("\xC3"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x91"));
  EXPECT_FALSE(
      IsValidUtf8("\xE2\x82"
                  "a"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("a\xBF"));
  // After the word-at-a-time ASCII path, and at the very end.
  EXPECT_FALSE(IsValidUtf8("0123456789abcdef\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("0123456789abcdef\xF0\x9F\x91"));
  EXPECT_FALSE(
      IsValidUtf8("01234567\x80"
                  "89abcdef"));
}

TEST(GraphemeTest, Ascii) {
  EXPECT_EQ(CountGraphemes(""), 0u);
  EXPECT_EQ(CountGraphemes("a"), 1u);
  EXPECT_EQ(CountGraphemes("hello world"), 11u);
  EXPECT_EQ(CountGraphemes("a\r\nb"), 3u);
  EXPECT_EQ(CountGraphemes("\r\n\r\n"), 2u);
  EXPECT_EQ(CountGraphemes("\r\r\n"), 2u);
  EXPECT_EQ(CountGraphemes("\n\r"), 2u);
  EXPECT_EQ(CountGraphemes("\r"), 1u);
}

// The ASCII fast path must agree with ICU: a leading "é" (its own cluster, never joined to
// what follows) forces the whole string through ICU.
TEST(GraphemeTest, AsciiFastPathMatchesIcu) {
  std::string all;
  for (int c = 0; c < 128; ++c) all += static_cast<char>(c);
  const std::vector<std::string> samples = {all,
                                            "\r\n",
                                            "a\r\n\r\nb\n\r",
                                            "\r\r\r\n\n",
                                            "tab\tand\x7f"
                                            "del",
                                            std::string(1000, 'x')};
  for (const std::string& s : samples) {
    EXPECT_EQ(CountGraphemes("\u00e9" + s), CountGraphemes(s) + 1) << s.size();
  }
}

TEST(GraphemeTest, VectorExamples) {
  EXPECT_EQ(CountGraphemes(kFamily), 1u);
  EXPECT_EQ(CountGraphemes(kFamily + kFamily), 2u);
  EXPECT_EQ(CountGraphemes(kFlagAndRainbow), 2u);
  EXPECT_EQ(CountGraphemes(Repeat(kFlagAndRainbow, 6)), 12u);

  const auto valid = ReadJson("/interop/lexicon/record-data-valid.json");
  const auto invalid = ReadJson("/interop/lexicon/record-data-invalid.json");
  const std::string full = FixtureGraphemeString(valid, "full");
  EXPECT_EQ(full, Repeat(kFlagAndRainbow, 6));
  EXPECT_EQ(CountGraphemes(full), 12u);
  EXPECT_TRUE(CheckGraphemes(full, 10, 20));
  const std::string too_short = FixtureGraphemeString(invalid, "string too short (graphemes)");
  EXPECT_EQ(CountGraphemes(too_short), 2u);
  EXPECT_FALSE(CheckGraphemes(too_short, 10, 20));
  const std::string too_long = FixtureGraphemeString(invalid, "string too long (graphemes)");
  EXPECT_EQ(CountGraphemes(too_long), 23u);
  EXPECT_FALSE(CheckGraphemes(too_long, 10, 20));
}

TEST(GraphemeTest, CombiningMarks) {
  EXPECT_EQ(CountGraphemes("e\u0301"), 1u);              // e + acute
  EXPECT_EQ(CountGraphemes("ae\u0301"), 2u);             // the base just before non-ASCII
  EXPECT_EQ(CountGraphemes("abc e\u0301\u0323 x"), 7u);  // two marks on one base
  EXPECT_EQ(CountGraphemes("\u0301"), 1u);               // a lone mark is a cluster
  EXPECT_EQ(CountGraphemes("\r\u0301"), 2u);             // nothing attaches to CR (GB4)
  EXPECT_EQ(CountGraphemes("\r\n\u0301"), 2u);
  EXPECT_EQ(CountGraphemes("\t\u0301"), 2u);
  EXPECT_EQ(CountGraphemes("a\u200D"), 1u);  // ZWJ extends
  EXPECT_EQ(CountGraphemes("\u00e9\u00e9"), 2u);
  EXPECT_EQ(CountGraphemes("a\u0600b"), 2u);  // U+0600 is Prepend (GB9b)
}

TEST(GraphemeTest, HangulJamo) {
  EXPECT_EQ(CountGraphemes("\u1100\u1161\u11A8"), 1u);  // L V T
  EXPECT_EQ(CountGraphemes("\u1100\u1100\u1161"), 1u);  // L L V
  EXPECT_EQ(CountGraphemes("\uAC00\u11A8"), 1u);        // LV T
  EXPECT_EQ(CountGraphemes("\uAC01\u11A8"), 1u);        // LVT T
  EXPECT_EQ(CountGraphemes("\uAC00\u1161"), 1u);        // LV V
  EXPECT_EQ(CountGraphemes("\uAC01\u1161"), 2u);        // LVT then V breaks
  EXPECT_EQ(CountGraphemes("\u11A8\u1100"), 2u);        // T then L breaks
  EXPECT_EQ(CountGraphemes("\uD55C\uAD6D\uC5B4"), 3u);  // precomposed syllables
}

TEST(GraphemeTest, RegionalIndicatorsPair) {
  const std::string ri = "\U0001F1E9";
  EXPECT_EQ(CountGraphemes(ri), 1u);
  EXPECT_EQ(CountGraphemes(ri + ri), 1u);
  EXPECT_EQ(CountGraphemes(ri + ri + ri), 2u);
  EXPECT_EQ(CountGraphemes(Repeat(ri, 64)), 32u);
}

TEST(GraphemeTest, IllFormedInputIsCountedNotFatal) {
  // ICU reads each ill-formed sequence as U+FFFD; the count is defined, just not meaningful.
  EXPECT_EQ(CountGraphemes("a\xFF"
                           "b"),
            3u);
  EXPECT_EQ(CountGraphemes("\xC0\xAF"), 2u);
}

TEST(GraphemeTest, LongStringsCountExactly) {
  EXPECT_EQ(CountGraphemes(Repeat(kFamily, 3000)), 3000u);
  EXPECT_EQ(CountGraphemes(Repeat("e\u0301", 20000)), 20000u);
  EXPECT_EQ(CountGraphemes(std::string(100000, 'a') + "\u00e9"), 100001u);
}

// Oracle: ICU over the whole string in one go, with none of CountGraphemes' shortcuts.
std::size_t ReferenceCount(const std::string& s) {
  UErrorCode status = U_ZERO_ERROR;
  UText text = UTEXT_INITIALIZER;
  utext_openUTF8(&text, s.data(), static_cast<std::int64_t>(s.size()), &status);
  UBreakIterator* bi = ubrk_open(UBRK_CHARACTER, "", nullptr, 0, &status);
  ubrk_setUText(bi, &text, &status);
  EXPECT_TRUE(U_SUCCESS(status)) << u_errorName(status);
  std::size_t n = 0;
  ubrk_first(bi);
  while (ubrk_next(bi) != UBRK_DONE) ++n;
  ubrk_close(bi);
  utext_close(&text);
  return n;
}

// Random mixes of pieces that interact across the ASCII / non-ASCII seams the fast paths
// cut at (bases and marks, CR LF, Prepend, ZWJ, flags, jamo, long ASCII runs).
TEST(GraphemeTest, MatchesPlainIcuOnRandomMixes) {
  const std::vector<std::string> pieces = {"a",
                                           "b",
                                           " ",
                                           "\r",
                                           "\n",
                                           "\r\n",
                                           "\t",
                                           "\x7f",
                                           "e\u0301",
                                           "\u0301",
                                           "\u200D",
                                           "\uFE0F",
                                           "\U0001F469",
                                           "\U0001F1E9",
                                           "\U0001F308",
                                           "\uAC00",
                                           "\u1100",
                                           "\u1161",
                                           "\u11A8",
                                           "\u0600",
                                           "\u0915",
                                           "\u094D",
                                           "\u00e9",
                                           "abcdefghijklmnopqrstuvwxyz",
                                           "0123456789ABCDEF",
                                           std::string(40, 'z'),
                                           "x\r\nyyyyyyyyyyyyyyyy",
                                           kFamily,
                                           "\xFF"};
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> len(0, 24);
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    for (int k = len(rng); k > 0; --k) s += pieces[pick(rng)];
    const std::size_t want = ReferenceCount(s);
    ASSERT_EQ(CountGraphemes(s), want) << "round " << round;
    // CheckGraphemes around the true count, including the early-stop paths.
    const auto w = static_cast<std::int64_t>(want);
    for (std::int64_t d : {-2, -1, 0, 1, 2}) {
      const std::int64_t b = w + d;
      std::size_t counted = 0;
      EXPECT_EQ(CheckGraphemes(s, b, std::nullopt, &counted), w >= b) << round;
      EXPECT_EQ(static_cast<std::int64_t>(counted) >= b, w >= b) << round;
      EXPECT_EQ(CheckGraphemes(s, std::nullopt, b, &counted), w <= b) << round;
      EXPECT_EQ(static_cast<std::int64_t>(counted) <= b, w <= b) << round;
      EXPECT_EQ(CheckGraphemes(s, b, b + 1), w >= b && w <= b + 1) << round;
    }
  }
}

// kFamily is 25 bytes but 1 cluster, so a reported 25 shows the byte length decided.
TEST(CheckGraphemesTest, DecidesFromByteLengthWithoutCounting) {
  std::size_t counted = 0;
  EXPECT_TRUE(CheckGraphemes(kFamily, std::nullopt, 25, &counted));  // bytes <= max
  EXPECT_EQ(counted, 25u);
  EXPECT_FALSE(CheckGraphemes(kFamily, 26, std::nullopt, &counted));  // bytes < min
  EXPECT_EQ(counted, 25u);
  EXPECT_TRUE(CheckGraphemes(kFamily, 1, std::nullopt, &counted));  // non-empty has >= 1
  EXPECT_EQ(counted, 25u);
  EXPECT_FALSE(CheckGraphemes(kFamily, std::nullopt, 0, &counted));
  EXPECT_EQ(counted, 1u);  // at least one cluster, above max 0
  EXPECT_TRUE(CheckGraphemes(kFamily, std::nullopt, std::nullopt, &counted));
  EXPECT_TRUE(CheckGraphemes("", 0, 0, &counted));
  EXPECT_EQ(counted, 0u);
  EXPECT_FALSE(CheckGraphemes("", 1, std::nullopt, &counted));
  EXPECT_EQ(counted, 0u);
  EXPECT_TRUE(CheckGraphemes("abc", 3, 3));
  EXPECT_FALSE(CheckGraphemes("abc", 4, std::nullopt));
}

TEST(CheckGraphemesTest, CountsWhenBytesDoNotDecide) {
  std::size_t counted = 0;
  const std::string two_families = kFamily + kFamily;  // 50 bytes, 2 clusters
  EXPECT_FALSE(CheckGraphemes(two_families, 10, std::nullopt, &counted));
  EXPECT_EQ(counted, 2u);
  EXPECT_TRUE(CheckGraphemes(two_families, 2, 2, &counted));
  EXPECT_EQ(counted, 2u);
  EXPECT_FALSE(CheckGraphemes(two_families, 3, 20, &counted));
  EXPECT_EQ(counted, 2u);
  EXPECT_FALSE(CheckGraphemes(two_families, std::nullopt, 1, &counted));
  EXPECT_EQ(counted, 2u);
  EXPECT_TRUE(CheckGraphemes(Repeat(kFlagAndRainbow, 6), 12, 12, &counted));
  EXPECT_EQ(counted, 12u);
  EXPECT_FALSE(CheckGraphemes(Repeat(kFlagAndRainbow, 6), 13, std::nullopt, &counted));
  EXPECT_FALSE(CheckGraphemes(Repeat(kFlagAndRainbow, 6), std::nullopt, 11, &counted));
  // ASCII with CR LF: 6 bytes, 4 clusters.
  EXPECT_TRUE(CheckGraphemes("a\r\nb\r\n", 4, 4, &counted));
  EXPECT_EQ(counted, 4u);
  EXPECT_FALSE(CheckGraphemes("a\r\nb\r\n", 5, std::nullopt, &counted));
  EXPECT_EQ(counted, 4u);
}

TEST(CheckGraphemesTest, StopsEarlyOnHugeInput) {
  const std::string huge = Repeat("\U0001F44D", 16384);  // 64 KiB, 16384 clusters
  std::size_t counted = 0;
  EXPECT_FALSE(CheckGraphemes(huge, std::nullopt, 300, &counted));
  EXPECT_EQ(counted, 301u);  // gave up one past max
  EXPECT_TRUE(CheckGraphemes(huge, 300, std::nullopt, &counted));
  EXPECT_EQ(counted, 300u);  // and at min
  EXPECT_FALSE(CheckGraphemes(huge, 10, 300, &counted));
  EXPECT_EQ(counted, 301u);
  EXPECT_TRUE(CheckGraphemes(huge, 16384, 16384, &counted));
  EXPECT_EQ(counted, 16384u);
  EXPECT_FALSE(CheckGraphemes(huge, 16385, std::nullopt, &counted));
  EXPECT_EQ(counted, 16384u);
  // Also when the cap falls inside a leading ASCII run.
  EXPECT_FALSE(CheckGraphemes(std::string(1000, 'a') + huge, std::nullopt, 300, &counted));
  EXPECT_GT(counted, 300u);
}

// A validator reports "longer than max" or "shorter than min" from *counted; that must name
// the bound that failed, whichever way the answer was reached.
TEST(CheckGraphemesTest, CountedNamesTheFailedBound) {
  const std::vector<std::string> samples = {"",
                                            "a",
                                            "abc",
                                            kFamily,
                                            kFamily + kFamily,
                                            Repeat(kFlagAndRainbow, 6),
                                            Repeat("e\u0301", 400),
                                            std::string(500, 'x') + kFamily};
  for (const std::string& s : samples) {
    const auto exact = static_cast<std::int64_t>(CountGraphemes(s));
    for (std::int64_t lo : {0, 1, 2, 5, 12, 13, 300, 1000}) {
      for (std::int64_t hi : {0, 1, 2, 11, 12, 25, 299, 400, 2000}) {
        if (lo > hi) continue;
        std::size_t counted = 0;
        const bool ok = CheckGraphemes(s, lo, hi, &counted);
        EXPECT_EQ(ok, exact >= lo && exact <= hi) << s.size() << " " << lo << " " << hi;
        const auto n = static_cast<std::int64_t>(counted);
        EXPECT_EQ(n > hi, exact > hi) << s.size() << " " << lo << " " << hi;
        EXPECT_EQ(n < lo, exact < lo) << s.size() << " " << lo << " " << hi;
      }
    }
  }
}

TEST(GraphemeTest, ThreadsEachUseTheirOwnIterator) {
  const std::string a = Repeat(kFamily, 200);
  const std::string b = Repeat("e\u0301x", 500);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (CountGraphemes(t % 2 ? a : b) != (t % 2 ? 200u : 1000u)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace atipay::lex
