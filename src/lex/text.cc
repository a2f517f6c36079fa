#include "lex/text.h"

#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace atipay::lex {
namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

// Index of the first byte >= 0x80, or s.size().
std::size_t FirstNonAscii(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if (word & kHighBits) break;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

// Clusters in pure ASCII: one per byte, CR LF being the only pair UAX #29 joins (GB3).
std::size_t AsciiClusters(std::string_view s) {
  std::size_t pairs = 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    pairs += (s[i - 1] == '\r') & (s[i] == '\n');
  }
  return s.size() - pairs;
}

// Opening a break iterator loads and compiles rule data (microseconds), so each thread
// keeps one and only re-targets it at new text.
class BreakIteratorCache {
 public:
  BreakIteratorCache() = default;
  BreakIteratorCache(const BreakIteratorCache&) = delete;
  BreakIteratorCache& operator=(const BreakIteratorCache&) = delete;
  ~BreakIteratorCache() {
    if (iter_ != nullptr) ubrk_close(iter_);
  }

  UBreakIterator* Get() {
    if (iter_ == nullptr) {
      UErrorCode status = U_ZERO_ERROR;
      iter_ = ubrk_open(UBRK_CHARACTER, "", nullptr, 0, &status);
      if (U_FAILURE(status)) {
        // Without ICU's break data no grapheme limit can be enforced correctly.
        std::fprintf(stderr, "atipay: ICU character break iterator unavailable: %s\n",
                     u_errorName(status));
        std::abort();
      }
    }
    return iter_;
  }

 private:
  UBreakIterator* iter_ = nullptr;
};

// ICU costs tens of ns per character even on ASCII, while a call costs a few hundred. So ICU
// only gets the non-ASCII islands: it hands back control at a boundary followed by at least
// this many ASCII bytes.
constexpr std::size_t kMinAsciiRun = 16;
static_assert(kMinAsciiRun == 16, "AsciiRunAt checks two words");

bool AsciiRunAt(std::string_view s, std::size_t pos) {
  if (s.size() - pos < kMinAsciiRun) return false;
  std::uint64_t a, b;
  std::memcpy(&a, s.data() + pos, 8);
  std::memcpy(&b, s.data() + pos + 8, 8);
  return ((a | b) & kHighBits) == 0;
}

struct IcuCount {
  std::size_t count;
  std::size_t stop;  // where counting stopped: s.size(), or a boundary before the end
};

// Counts clusters in `s` (ill-formed UTF-8 is tolerated) with ICU. Stops at a boundary once
// `cap` is reached or when a long ASCII run follows. `s` must start at a cluster boundary.
IcuCount IcuClusters(std::string_view s, std::size_t cap) {
  if (s.empty()) return {0, 0};
  // Break positions are int32_t byte offsets; request limits keep inputs far below 2 GiB.
  thread_local BreakIteratorCache cache;
  UBreakIterator* iter = cache.Get();
  UErrorCode status = U_ZERO_ERROR;
  UText text = UTEXT_INITIALIZER;
  utext_openUTF8(&text, s.data(), static_cast<std::int64_t>(s.size()), &status);
  ubrk_setUText(iter, &text, &status);
  if (U_FAILURE(status)) {
    utext_close(&text);
    std::fprintf(stderr, "atipay: ICU could not take UTF-8 text: %s\n", u_errorName(status));
    std::abort();
  }
  IcuCount result{0, s.size()};
  ubrk_first(iter);
  for (std::int32_t pos = ubrk_next(iter); pos != UBRK_DONE; pos = ubrk_next(iter)) {
    ++result.count;
    const auto at = static_cast<std::size_t>(pos);
    if (at == s.size()) break;
    if (result.count >= cap || AsciiRunAt(s, at)) {
      result.stop = at;
      break;
    }
  }
  // The iterator keeps a shallow clone that points at `s`. It is never read again before the
  // next ubrk_setUText, so it is not worth re-targeting at empty text here.
  utext_close(&text);
  return result;
}

// Between two ASCII characters there is always a cluster boundary except inside CR LF: no
// ASCII character is Extend, ZWJ, SpacingMark, Prepend, Hangul, Regional_Indicator or
// Extended_Pictographic, which are what the other no-break rules of UAX #29 need.
// Counts clusters, or stops at a boundary once `cap` is reached; a cut-short result is >= cap
// and <= the full count.
std::size_t CountClusters(std::string_view s, std::size_t cap) {
  std::size_t count = 0;
  std::size_t pos = 0;  // always a cluster boundary
  while (pos < s.size()) {
    const std::size_t first = pos + FirstNonAscii(s.substr(pos));
    if (first == s.size()) return count + AsciiClusters(s.substr(pos));
    // A printable ASCII character can be the base of the marks that follow it, so ICU starts
    // there; a control never joins what follows (GB4).
    std::size_t start = first;
    if (first > pos) {
      const auto prev = static_cast<unsigned char>(s[first - 1]);
      if (prev >= 0x20 && prev != 0x7f) start = first - 1;
    }
    count += AsciiClusters(s.substr(pos, start - pos));
    if (count >= cap) return count;
    const IcuCount island = IcuClusters(s.substr(start), cap - count);
    count += island.count;
    pos = start + island.stop;
    if (count >= cap) return count;
  }
  return count;
}

}  // namespace

namespace {

// What a lead byte asks for (Unicode table 3-7): the sequence's length, 0 for a byte that
// leads none (a continuation byte, C0/C1 overlong leads, F5..FF), and the range its second
// byte must lie in.
struct Lead {
  std::size_t length = 0;
  unsigned char lo = 0x80, hi = 0xbf;
};

inline Lead LeadOf(unsigned char c) {
  Lead lead;
  if (c < 0x80) {
    lead.length = 1;
  } else if (c >= 0xc2 && c <= 0xdf) {
    lead.length = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    lead.length = 3;
    if (c == 0xe0) lead.lo = 0xa0;  // overlong
    if (c == 0xed) lead.hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    lead.length = 4;
    if (c == 0xf0) lead.lo = 0x90;  // overlong
    if (c == 0xf4) lead.hi = 0x8f;  // above U+10FFFF
  }
  return lead;
}

// The length of the well-formed sequence at p[0], or 0; `avail` (> 0) bytes may be read.
inline std::size_t SequenceLength(const unsigned char* p, std::size_t avail) {
  if (p[0] < 0x80) return 1;
  const Lead lead = LeadOf(p[0]);
  const std::size_t n = lead.length;
  if (n == 0 || avail < n || p[1] < lead.lo || p[1] > lead.hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if ((p[k] & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::size_t Utf8SequenceAt(std::string_view s, std::size_t pos) {
  return SequenceLength(reinterpret_cast<const unsigned char*>(s.data()) + pos, s.size() - pos);
}

std::size_t Utf8DecodeStep(std::string_view s, std::size_t pos, bool* valid) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const std::size_t avail = s.size() - pos;
  const Lead lead = LeadOf(p[0]);
  // Bytes taken: the lead, then each continuation byte in its allowed range (the second's
  // range depends on the lead), stopping at the first that is not: that one starts the next
  // step.
  std::size_t taken = 1;
  unsigned char lo = lead.lo, hi = lead.hi;
  while (taken < lead.length && taken < avail && p[taken] >= lo && p[taken] <= hi) {
    ++taken;
    lo = 0x80;
    hi = 0xbf;
  }
  *valid = lead.length != 0 && taken == lead.length;
  return taken;
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Skip ASCII a word at a time; most Lexicon text is mostly ASCII.
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & kHighBits) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = SequenceLength(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ToValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = Utf8SequenceAt(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return out;
}

std::size_t CountGraphemes(std::string_view utf8) {
  return CountClusters(utf8, std::numeric_limits<std::size_t>::max());
}

bool CheckGraphemes(std::string_view utf8, std::optional<std::int64_t> min,
                    std::optional<std::int64_t> max, std::size_t* counted) {
  // Every cluster takes at least one byte, and a non-empty string has at least one.
  const auto bytes = static_cast<std::int64_t>(utf8.size());
  const std::int64_t least = utf8.empty() ? 0 : 1;
  auto report = [counted](std::int64_t n) {
    if (counted != nullptr) *counted = static_cast<std::size_t>(n);
  };
  if (min && *min > bytes) {
    report(bytes);
    return false;
  }
  if (max && *max < least) {
    report(least);
    return false;
  }
  const bool need_min = min && *min > least;
  const bool need_max = max && *max < bytes;
  if (!need_min && !need_max) {
    report(bytes);
    return true;
  }
  // Count only as far as the answer needs: one past max, or up to min. A count cut short
  // is still at least `cap`, so it sits on the same side of both bounds as the full count.
  std::size_t cap = 0;
  if (need_max) cap = static_cast<std::size_t>(*max) + 1;
  if (need_min) cap = std::max(cap, static_cast<std::size_t>(*min));
  const auto n = static_cast<std::int64_t>(CountClusters(utf8, cap));
  report(n);
  if (need_min && n < *min) return false;
  if (need_max && n > *max) return false;
  return true;
}

}  // namespace atipay::lex
