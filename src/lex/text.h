// UTF-8 checks and grapheme counting for Lexicon string constraints
// (minGraphemes / maxGraphemes count Unicode extended grapheme clusters, UAX #29).
#ifndef ATIPAY_LEX_TEXT_H_
#define ATIPAY_LEX_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atipay::lex {

// Strict UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
// no truncated sequences.
bool IsValidUtf8(std::string_view s);

// The length of the well-formed UTF-8 sequence at s[pos] (by the rule above), or 0 if none
// starts there (a stray or continuation byte, an overlong form, a surrogate, beyond U+10FFFF,
// or cut short). pos < s.size().
std::size_t Utf8SequenceAt(std::string_view s, std::size_t pos);

// One step of a UTF-8 decoder at s[pos] (pos < s.size()): the length of the well-formed
// sequence there (*valid true), or of the maximal subpart of an ill-formed one, at least one
// byte, which a decoder replaces with one U+FFFD (*valid false; Unicode 3.9, as the WHATWG
// Encoding Standard's decoder and URLSearchParams do).
std::size_t Utf8DecodeStep(std::string_view s, std::size_t pos, bool* valid);

// `s` with each byte that starts no well-formed sequence replaced by U+FFFD (as a decoder
// that replaces errors, e.g. V8's, shows it); `s` itself when it is valid.
std::string ToValidUtf8(std::string_view s);

// Extended grapheme clusters (ICU character break iterator). Pure ASCII is counted without
// ICU: one cluster per byte, except that "\r\n" is one cluster. Ill-formed UTF-8 is counted
// as ICU sees it (each bad sequence becomes U+FFFD); validate first if that matters.
std::size_t CountGraphemes(std::string_view utf8);

// True when min <= graphemes(utf8) <= max (either bound optional). A string of N bytes has
// at most N clusters, so the byte length alone settles "N <= max" and "N < min"; otherwise
// the count stops as soon as the answer is known (one past max, or at min).
//
// If `counted` is given it receives the exact count when the whole string was counted.
// When the answer came earlier it receives a stand-in on the same side of min and of max as
// the exact count (for min <= max): the byte length, or the count reached when counting
// stopped. So `*counted > *max` tells a caller that the max bound is the one that failed.
bool CheckGraphemes(std::string_view utf8, std::optional<std::int64_t> min,
                    std::optional<std::int64_t> max, std::size_t* counted = nullptr);

}  // namespace atipay::lex

#endif  // ATIPAY_LEX_TEXT_H_
