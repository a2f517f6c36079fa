#include "lex/formats.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace atipay::lex {
namespace {

// One table lookup per byte answers every class question below. Bytes >= 0x80 belong to
// no class, so non-ASCII input fails every format without a separate check.
enum CharClass : std::uint16_t {
  kAlpha = 1 << 0,
  kDigit = 1 << 1,
  kHandleChar = 1 << 2,   // [A-Za-z0-9-]
  kDidIdChar = 1 << 3,    // [A-Za-z0-9._:%-]
  kRkeyChar = 1 << 4,     // [A-Za-z0-9_~.:-]
  kPointerChar = 1 << 5,  // [A-Za-z0-9._~:@!$&')(*+,;=%\[\]/-]
  kCidChar = 1 << 6,      // [A-Za-z0-9+=]
  kGraph = 1 << 7,        // 0x21-0x7e
  kSchemeChar = 1 << 8,   // [a-z.-]
  kTidChar = 1 << 9,      // [2-7a-z]
  kTidFirst = 1 << 10,    // [2-7a-j]
  kHex = 1 << 11,
};

constexpr bool In(std::string_view set, char c) { return set.find(c) != std::string_view::npos; }

constexpr std::array<std::uint16_t, 256> MakeClassTable() {
  std::array<std::uint16_t, 256> t{};
  for (int i = 0; i < 128; ++i) {
    const char c = static_cast<char>(i);
    const bool lower = c >= 'a' && c <= 'z';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool digit = c >= '0' && c <= '9';
    const bool alnum = lower || upper || digit;
    std::uint16_t m = 0;
    if (lower || upper) m |= kAlpha;
    if (digit) m |= kDigit;
    if (alnum || c == '-') m |= kHandleChar;
    if (alnum || In("._:%-", c)) m |= kDidIdChar;
    if (alnum || In("_~.:-", c)) m |= kRkeyChar;
    if (alnum || In("._~:@!$&')(*+,;=%[]/-", c)) m |= kPointerChar;
    if (alnum || c == '+' || c == '=') m |= kCidChar;
    if (i >= 0x21 && i <= 0x7e) m |= kGraph;
    if (lower || c == '.' || c == '-') m |= kSchemeChar;
    if ((c >= '2' && c <= '7') || lower) m |= kTidChar;
    if ((c >= '2' && c <= '7') || (c >= 'a' && c <= 'j')) m |= kTidFirst;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) m |= kHex;
    t[static_cast<std::size_t>(i)] = m;
  }
  return t;
}

constexpr std::array<std::uint16_t, 256> kClass = MakeClassTable();

inline bool Is(char c, std::uint16_t mask) {
  return (kClass[static_cast<unsigned char>(c)] & mask) != 0;
}
inline bool IsAlpha(char c) { return Is(c, kAlpha); }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlnum(char c) { return Is(c, kAlpha | kDigit); }
inline bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

inline bool AllIn(std::string_view s, std::uint16_t mask) {
  for (char c : s) {
    if (!Is(c, mask)) return false;
  }
  return true;
}

// --- handle, did, at-identifier -------------------------------------------------------

bool ScanHandle(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t labels = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t end = start;
    while (end < s.size() && s[end] != '.') {
      if (!Is(s[end], kHandleChar)) return false;
      ++end;
    }
    const std::size_t len = end - start;
    if (len == 0 || len > 63 || s[start] == '-' || s[end - 1] == '-') return false;
    ++labels;
    if (end == s.size()) {
      // The TLD must start with a letter, which is what keeps IP addresses out.
      return labels >= 2 && IsAlpha(s[start]);
    }
    start = end + 1;
  }
}

bool ScanDid(std::string_view s) {
  if (s.size() > 2048 || s.size() < 7 || s.substr(0, 4) != "did:") return false;
  std::size_t i = 4;
  while (i < s.size() && IsLower(s[i])) ++i;
  if (i == 4 || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (i == s.size()) return false;
  for (std::size_t j = i; j < s.size(); ++j) {
    if (!Is(s[j], kDidIdChar)) return false;
  }
  const char last = s.back();
  return last != ':' && last != '%';
}

bool ScanAtIdentifier(std::string_view s) {
  return s.starts_with("did:") ? ScanDid(s) : ScanHandle(s);
}

// --- nsid, record-key, tid ------------------------------------------------------------

bool ScanNsid(std::string_view s) {
  // TS allows up to 253 + 1 + 63 in total but does not cap the authority at 253 on its own;
  // the vectors hold a valid NSID with a 283-character authority.
  if (s.size() > 317 || s.size() < 5) return false;
  std::size_t segments = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t end = start;
    bool hyphen = false;
    while (end < s.size() && s[end] != '.') {
      const char c = s[end];
      if (!Is(c, kHandleChar)) return false;
      hyphen |= (c == '-');
      ++end;
    }
    const std::size_t len = end - start;
    if (len == 0 || len > 63) return false;
    ++segments;
    const char first = s[start];
    if (end == s.size()) {
      // Name: letters and digits only, starting with a letter.
      return segments >= 3 && !hyphen && IsAlpha(first);
    }
    if (first == '-' || s[end - 1] == '-') return false;
    if (segments == 1 && IsDigit(first)) return false;
    start = end + 1;
  }
}

bool ScanRecordKey(std::string_view s) {
  if (s.empty() || s.size() > 512 || s == "." || s == "..") return false;
  return AllIn(s, kRkeyChar);
}

bool ScanTid(std::string_view s) {
  if (s.size() != 13 || !Is(s[0], kTidFirst)) return false;
  return AllIn(s.substr(1), kTidChar);
}

// --- cid, uri ---------------------------------------------------------------------------

bool ScanCid(std::string_view s) {
  if (s.size() < 8 || s.size() > 256 || s.starts_with("Qmb")) return false;
  return AllIn(s, kCidChar);
}

bool ScanUri(std::string_view s) {
  if (s.empty() || s.size() > 8192 || !IsLower(s[0])) return false;
  std::size_t i = 1;
  while (i < s.size() && Is(s[i], kSchemeChar)) ++i;
  // Scheme of 1 + {0,80}; ':' is outside the scheme class, so this colon is the only one
  // the Go regex could pick.
  if (i > 81 || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (i == s.size()) return false;
  return AllIn(s.substr(i), kGraph);
}

// --- datetime ---------------------------------------------------------------------------

inline int Digits2(std::string_view s, std::size_t at) {
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

bool IsLeapYear(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

bool ScanDatetime(std::string_view s) {
  // Shortest form: YYYY-MM-DDTHH:MM:SSZ. TS caps the length at 64.
  if (s.size() < 20 || s.size() > 64) return false;
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == 'd' ? !IsDigit(s[i]) : s[i] != kShape[i]) return false;
  }
  const int year = Digits2(s, 0) * 100 + Digits2(s, 2);
  const int month = Digits2(s, 5);
  const int day = Digits2(s, 8);
  const int hour = Digits2(s, 11);
  const int minute = Digits2(s, 14);
  const int second = Digits2(s, 17);
  // The TS regex admits second 60, but the date parse after it does not, and no vector
  // needs it: reject, as Go does.
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return false;
  }
  std::size_t i = 19;
  if (s[i] == '.') {
    const std::size_t frac = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == frac) return false;
  }
  if (i >= s.size()) return false;  // A time zone is required.
  int offset_minutes = 0;
  if (s[i] == 'Z') {
    if (i + 1 != s.size()) return false;
  } else if (s[i] == '+' || s[i] == '-') {
    if (s.size() - i != 6 || !IsDigit(s[i + 1]) || !IsDigit(s[i + 2]) || s[i + 3] != ':' ||
        !IsDigit(s[i + 4]) || !IsDigit(s[i + 5])) {
      return false;
    }
    const int oh = Digits2(s, i + 1);
    const int om = Digits2(s, i + 4);
    if (oh > 23 || om > 59) return false;
    offset_minutes = oh * 60 + om;
    if (s[i] == '-') {
      // RFC 3339 "unknown local offset"; ISO 8601 does not have it.
      if (offset_minutes == 0) return false;
      offset_minutes = -offset_minutes;
    }
  } else {
    return false;
  }
  // The UTC instant must stay within years 0000..9999 (TS rejects a negative or five-digit
  // year after normalizing). An offset is under one day, so only the first and last day of
  // the range can cross.
  const int local_minutes = hour * 60 + minute;
  if (year == 0 && month == 1 && day == 1 && local_minutes - offset_minutes < 0) return false;
  if (year == 9999 && month == 12 && day == 31 && local_minutes - offset_minutes >= 24 * 60) {
    return false;
  }
  return true;
}

// --- language ---------------------------------------------------------------------------

// RFC 5646 grandfathered tags, matched case-sensitively as the TS regex does.
constexpr std::array<std::string_view, 26> kGrandfathered = {
    "en-GB-oed", "i-ami",     "i-bnn",     "i-default",  "i-enochian",  "i-hak",  "i-klingon",
    "i-lux",     "i-mingo",   "i-navajo",  "i-pwn",      "i-tao",       "i-tay",  "i-tsu",
    "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE", "art-lojban", "cel-gaulish", "no-bok", "no-nyn",
    "zh-guoyu",  "zh-hakka",  "zh-min",    "zh-min-nan", "zh-xiang"};

inline char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool AllAlpha(std::string_view s) { return AllIn(s, kAlpha); }
bool AllDigit(std::string_view s) { return AllIn(s, kDigit); }

// Walks a tag subtag by subtag (the tag was already checked for empty subtags).
class SubtagReader {
 public:
  explicit SubtagReader(std::string_view s) : s_(s) { Load(0); }
  bool Done() const { return done_; }
  std::string_view Peek() const { return cur_; }
  void Next() { Load(static_cast<std::size_t>(cur_.data() - s_.data()) + cur_.size() + 1); }

 private:
  void Load(std::size_t pos) {
    if (pos > s_.size()) {
      done_ = true;
      cur_ = {};
      return;
    }
    std::size_t end = pos;
    while (end < s_.size() && s_[end] != '-') ++end;
    cur_ = s_.substr(pos, end - pos);
  }

  std::string_view s_;
  std::string_view cur_;
  bool done_ = false;
};

bool IsVariant(std::string_view t) {
  return (t.size() >= 5 && t.size() <= 8) || (t.size() == 4 && IsDigit(t[0]));
}

// Lower-cased subtag packed into 64 bits (subtags are at most 8 alphanumerics), for the
// case-insensitive duplicate check.
std::uint64_t SubtagKey(std::string_view t) {
  std::uint64_t k = 0;
  for (char c : t) k = k << 8 | static_cast<unsigned char>(ToLower(c));
  return k;
}

// The grammar is unambiguous position by position (every slot has a distinct subtag shape),
// so a single greedy pass decides it exactly as the backtracking TS regex does.
bool ScanLanguage(std::string_view s) {
  if (s.empty()) return false;
  // Grandfathered tags are 5-11 characters and start with one of these letters.
  if (s.size() >= 5 && s.size() <= 11 &&
      std::string_view("aceinsz").find(s[0]) != std::string_view::npos) {
    for (std::string_view g : kGrandfathered) {
      if (g == s) return true;
    }
  }
  // Every subtag must be 1-8 alphanumerics.
  std::size_t run = 0;
  for (char c : s) {
    if (c == '-') {
      if (run == 0) return false;
      run = 0;
    } else if (!IsAlnum(c) || ++run > 8) {
      return false;
    }
  }
  if (run == 0) return false;

  SubtagReader r(s);
  std::string_view t = r.Peek();
  if (t == "x" || t == "X") {  // Private use only: x-1*8alnum...
    r.Next();
    return !r.Done();
  }
  if (t.size() < 2 || t.size() > 3 || !IsLower(t[0]) || !IsLower(t[1]) ||
      (t.size() == 3 && !IsLower(t[2]))) {
    return false;
  }
  r.Next();
  for (int n = 0; n < 3 && !r.Done() && r.Peek().size() == 3 && AllAlpha(r.Peek()); ++n) {
    r.Next();  // extlang
  }
  if (!r.Done() && r.Peek().size() == 4 && AllAlpha(r.Peek())) r.Next();  // script
  if (!r.Done()) {
    t = r.Peek();
    if ((t.size() == 2 && AllAlpha(t)) || (t.size() == 3 && AllDigit(t))) r.Next();  // region
  }
  // Variants must not repeat. Real tags have one or two; a hostile tag can have thousands,
  // so past a small inline buffer the keys are sorted instead of compared pairwise.
  std::array<std::uint64_t, 8> inline_keys;  // only [0, inline_count) is read
  std::size_t inline_count = 0;
  std::vector<std::uint64_t> many_keys;
  while (!r.Done() && IsVariant(r.Peek())) {
    const std::uint64_t key = SubtagKey(r.Peek());
    r.Next();
    if (!many_keys.empty()) {
      many_keys.push_back(key);
      continue;
    }
    for (std::size_t k = 0; k < inline_count; ++k) {
      if (inline_keys[k] == key) return false;
    }
    if (inline_count < inline_keys.size()) {
      inline_keys[inline_count++] = key;
    } else {
      many_keys.assign(inline_keys.begin(), inline_keys.end());
      many_keys.push_back(key);
    }
  }
  if (!many_keys.empty()) {
    std::sort(many_keys.begin(), many_keys.end());
    if (std::adjacent_find(many_keys.begin(), many_keys.end()) != many_keys.end()) return false;
  }
  // Extensions: a singleton other than x, then 1+ subtags of 2-8; singletons must not repeat.
  std::uint64_t singletons = 0;  // bit per 0-9a-z
  while (!r.Done() && r.Peek().size() == 1 && r.Peek() != "x" && r.Peek() != "X") {
    const char c = ToLower(r.Peek()[0]);
    const std::uint64_t bit = std::uint64_t{1} << (IsDigit(c) ? c - '0' : 10 + (c - 'a'));
    if (singletons & bit) return false;
    singletons |= bit;
    r.Next();
    std::size_t payload = 0;
    for (; !r.Done() && r.Peek().size() >= 2; ++payload) r.Next();
    if (payload == 0) return false;
  }
  if (r.Done()) return true;
  // Private use: x then 1+ subtags of 1-8 (lengths were checked above).
  t = r.Peek();
  if (t != "x" && t != "X") return false;
  r.Next();
  return !r.Done();
}

// --- at-uri -------------------------------------------------------------------------------

// decodeURIComponent in TS must succeed on the fragment: every '%' takes two hex digits and
// the decoded bytes must be well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidPercentEncoding(std::string_view s) {
  int need = 0;
  unsigned lo = 0x80, hi = 0xbf;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned b;
    if (s[i] == '%') {
      if (s.size() - i < 3) return false;
      if (!Is(s[i + 1], kHex) || !Is(s[i + 2], kHex)) return false;
      auto hex = [](char c) -> unsigned {
        return IsDigit(c) ? static_cast<unsigned>(c - '0')
                          : static_cast<unsigned>(ToLower(c) - 'a' + 10);
      };
      b = hex(s[i + 1]) << 4 | hex(s[i + 2]);
      i += 2;
    } else {
      b = static_cast<unsigned char>(s[i]);
    }
    if (need > 0) {
      if (b < lo || b > hi) return false;
      lo = 0x80;
      hi = 0xbf;
      --need;
      continue;
    }
    if (b < 0x80) continue;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
  }
  return need == 0;
}

bool ParseAtUriInto(std::string_view s, AtUriParts& out) {
  if (s.size() > 8192 || !s.starts_with("at://")) return false;
  // TS first rejects characters outside the URI set and then matches the structure. Every
  // part below is checked against a class that is a subset of that set, and none admits
  // '?', so that pass and the query check are implied by the part checks.
  std::string_view main = s.substr(5);
  std::string_view fragment;
  bool has_fragment = false;
  if (const std::size_t hash = main.find('#'); hash != std::string_view::npos) {
    fragment = main.substr(hash + 1);
    main = main.substr(0, hash);
    has_fragment = true;
  }
  // authority[/collection[/rkey]] with every segment non-empty: this also refuses a trailing
  // slash, empty segments and extra segments.
  std::size_t slash = main.find('/');
  out.authority = main.substr(0, slash);
  out.collection = {};
  out.rkey = {};
  if (slash != std::string_view::npos) {
    std::string_view path = main.substr(slash + 1);
    slash = path.find('/');
    out.collection = path.substr(0, slash);
    if (out.collection.empty()) return false;
    if (slash != std::string_view::npos) {
      out.rkey = path.substr(slash + 1);
      if (!ScanRecordKey(out.rkey)) return false;  // also refuses empty, '/' and '?')
    }
    if (!ScanNsid(out.collection)) return false;
  }
  if (!ScanAtIdentifier(out.authority)) return false;
  if (has_fragment) {
    // A JSON pointer: "/" then pointer characters, with valid percent-encoding.
    if (fragment.empty() || fragment[0] != '/' || !AllIn(fragment, kPointerChar)) return false;
    if (!IsValidPercentEncoding(fragment)) return false;
  }
  return true;
}

}  // namespace

std::optional<StringFormat> StringFormatFromName(std::string_view name) {
  if (name == "at-identifier") return StringFormat::kAtIdentifier;
  if (name == "at-uri") return StringFormat::kAtUri;
  if (name == "cid") return StringFormat::kCid;
  if (name == "datetime") return StringFormat::kDatetime;
  if (name == "did") return StringFormat::kDid;
  if (name == "handle") return StringFormat::kHandle;
  if (name == "language") return StringFormat::kLanguage;
  if (name == "nsid") return StringFormat::kNsid;
  if (name == "record-key") return StringFormat::kRecordKey;
  if (name == "tid") return StringFormat::kTid;
  if (name == "uri") return StringFormat::kUri;
  return std::nullopt;
}

std::string_view StringFormatName(StringFormat f) {
  switch (f) {
    case StringFormat::kAtIdentifier:
      return "at-identifier";
    case StringFormat::kAtUri:
      return "at-uri";
    case StringFormat::kCid:
      return "cid";
    case StringFormat::kDatetime:
      return "datetime";
    case StringFormat::kDid:
      return "did";
    case StringFormat::kHandle:
      return "handle";
    case StringFormat::kLanguage:
      return "language";
    case StringFormat::kNsid:
      return "nsid";
    case StringFormat::kRecordKey:
      return "record-key";
    case StringFormat::kTid:
      return "tid";
    case StringFormat::kUri:
      return "uri";
  }
  return "";
}

// Wording from TS @atproto/lexicon packages/lexicon/src/validators/formats.ts (read at
// bluesky-social/atproto 666c22e6e04c), kept verbatim including "an valid".
std::string_view StringFormatError(StringFormat f) {
  switch (f) {
    case StringFormat::kAtIdentifier:
      return "must be a valid did or a handle";
    case StringFormat::kAtUri:
      return "must be a valid at-uri";
    case StringFormat::kCid:
      return "must be a cid string";
    case StringFormat::kDatetime:
      return "must be an valid atproto datetime (both RFC-3339 and ISO-8601)";
    case StringFormat::kDid:
      return "must be a valid did";
    case StringFormat::kHandle:
      return "must be a valid handle";
    case StringFormat::kLanguage:
      return "must be a well-formed BCP 47 language tag";
    case StringFormat::kNsid:
      return "must be a valid nsid";
    case StringFormat::kRecordKey:
      return "must be a valid Record Key";
    case StringFormat::kTid:
      return "must be a valid TID";
    case StringFormat::kUri:
      return "must be a uri";
  }
  return "";
}

bool IsValidFormat(StringFormat f, std::string_view s) {
  switch (f) {
    case StringFormat::kAtIdentifier:
      return ScanAtIdentifier(s);
    case StringFormat::kAtUri:
      return IsValidAtUri(s);
    case StringFormat::kCid:
      return ScanCid(s);
    case StringFormat::kDatetime:
      return ScanDatetime(s);
    case StringFormat::kDid:
      return ScanDid(s);
    case StringFormat::kHandle:
      return ScanHandle(s);
    case StringFormat::kLanguage:
      return ScanLanguage(s);
    case StringFormat::kNsid:
      return ScanNsid(s);
    case StringFormat::kRecordKey:
      return ScanRecordKey(s);
    case StringFormat::kTid:
      return ScanTid(s);
    case StringFormat::kUri:
      return ScanUri(s);
  }
  return false;
}

bool IsValidAtIdentifier(std::string_view s) { return ScanAtIdentifier(s); }
bool IsValidAtUri(std::string_view s) {
  AtUriParts parts;
  return ParseAtUriInto(s, parts);
}
bool IsValidCidString(std::string_view s) { return ScanCid(s); }
bool IsValidDatetime(std::string_view s) { return ScanDatetime(s); }
bool IsValidDid(std::string_view s) { return ScanDid(s); }
bool IsValidHandle(std::string_view s) { return ScanHandle(s); }
bool IsValidLanguage(std::string_view s) { return ScanLanguage(s); }
bool IsValidNsid(std::string_view s) { return ScanNsid(s); }
bool IsValidRecordKey(std::string_view s) { return ScanRecordKey(s); }
bool IsValidTid(std::string_view s) { return ScanTid(s); }
bool IsValidUri(std::string_view s) { return ScanUri(s); }

std::optional<AtUriParts> ParseAtUri(std::string_view s) {
  AtUriParts parts;
  if (!ParseAtUriInto(s, parts)) return std::nullopt;
  return parts;
}

}  // namespace atipay::lex
