// String-format and grapheme benchmarks. The grapheme cases report bytes/s so that a cost
// that is not linear in input size shows up as falling throughput across the sizes.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "lex/formats.h"
#include "lex/text.h"

namespace atipay::lex {
namespace {

std::string Repeat(std::string_view s, std::size_t bytes) {
  std::string out;
  while (out.size() + s.size() <= bytes) out += s;
  return out;
}

void BM_IsValidDatetime(benchmark::State& state) {
  const std::string s = "1985-04-12T23:20:50.123-07:00";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidDatetime(s));
}
BENCHMARK(BM_IsValidDatetime);

void BM_IsValidAtUri(benchmark::State& state) {
  const std::string s = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3jzfcijpj2z2a";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidAtUri(s));
}
BENCHMARK(BM_IsValidAtUri);

void BM_IsValidAtUriHandle(benchmark::State& state) {
  const std::string s = "at://alice.bsky.social/app.bsky.actor.profile/self";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidAtUri(s));
}
BENCHMARK(BM_IsValidAtUriHandle);

void BM_IsValidDid(benchmark::State& state) {
  const std::string s = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidDid(s));
}
BENCHMARK(BM_IsValidDid);

void BM_IsValidLanguageShort(benchmark::State& state) {
  const std::string s = "pt-BR";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidLanguage(s));
}
BENCHMARK(BM_IsValidLanguageShort);

void BM_IsValidLanguageLong(benchmark::State& state) {
  const std::string s = "en-GB-boont-r-extended-sequence-x-private";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidLanguage(s));
}
BENCHMARK(BM_IsValidLanguageLong);

void BM_IsValidHandle(benchmark::State& state) {
  const std::string s = "alice.bsky.social";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidHandle(s));
}
BENCHMARK(BM_IsValidHandle);

void BM_IsValidNsid(benchmark::State& state) {
  const std::string s = "app.bsky.feed.getPostThread";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidNsid(s));
}
BENCHMARK(BM_IsValidNsid);

void BM_IsValidTid(benchmark::State& state) {
  const std::string s = "3jzfcijpj2z2a";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidTid(s));
}
BENCHMARK(BM_IsValidTid);

void BM_IsValidUtf8(benchmark::State& state) {
  const std::string s = Repeat("Gr\xC3\xBC\xC3\x9F Gott \xF0\x9F\x91\x8B ", state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(IsValidUtf8(s));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.size()));
}
BENCHMARK(BM_IsValidUtf8)->Arg(64)->Arg(64 << 10);

void GraphemeBench(benchmark::State& state, std::string_view unit) {
  const std::string s = Repeat(unit, static_cast<std::size_t>(state.range(0)));
  std::size_t n = 0;
  for (auto _ : state) {
    n = CountGraphemes(s);
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.size()));
  state.counters["graphemes"] = static_cast<double>(n);
  state.counters["ns/grapheme"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Plain ASCII text (fast path, no ICU).
void BM_CountGraphemesAscii(benchmark::State& state) {
  GraphemeBench(state, "The quick brown fox jumps over the lazy dog.\r\n");
}
BENCHMARK(BM_CountGraphemesAscii)->Arg(64)->Arg(300)->Arg(4 << 10)->Arg(64 << 10);

// A typical post: English prose with an emoji or accent every few dozen characters. ICU
// sees only the islands around the non-ASCII characters.
void BM_CountGraphemesPost(benchmark::State& state) {
  GraphemeBench(state,
                "Just shipped the new release \xF0\x9F\x9A\x80 thanks to everyone who tested "
                "it over the weekend, especially the caf\xC3\xA9 crew. More soon! ");
}
BENCHMARK(BM_CountGraphemesPost)->Arg(300)->Arg(4 << 10)->Arg(64 << 10);

// Dense mix: non-ASCII every few characters, so it is all one ICU island.
void BM_CountGraphemesMixed(benchmark::State& state) {
  GraphemeBench(state, "hello \xF0\x9F\x91\x8B world, caf\xC3\xA9 au lait. ");
}
BENCHMARK(BM_CountGraphemesMixed)->Arg(64)->Arg(300)->Arg(4 << 10)->Arg(64 << 10);

// Emoji ZWJ family sequences (25 bytes, 7 code points per cluster).
void BM_CountGraphemesZwj(benchmark::State& state) {
  GraphemeBench(state,
                "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA6\xE2\x80"
                "\x8D\xF0\x9F\x91\xA6");
}
BENCHMARK(BM_CountGraphemesZwj)->Arg(64)->Arg(300)->Arg(4 << 10)->Arg(64 << 10);

// Flag + rainbow flag pairs from the vectors, and combining-mark stacks: grapheme-heavy.
void BM_CountGraphemesFlags(benchmark::State& state) {
  GraphemeBench(state,
                "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F"
                "\x8C\x88");
}
BENCHMARK(BM_CountGraphemesFlags)->Arg(64)->Arg(4 << 10)->Arg(64 << 10);

void BM_CountGraphemesCombining(benchmark::State& state) {
  GraphemeBench(state, "e\xCC\x81\xCC\xA3 a\xCC\x8A ");
}
BENCHMARK(BM_CountGraphemesCombining)->Arg(64)->Arg(4 << 10)->Arg(64 << 10);

// A 64 KiB hostile value against maxGraphemes 300: stops after 301 clusters.
void BM_CheckGraphemesHugeCapped(benchmark::State& state) {
  const std::string s = Repeat("\xF0\x9F\x91\x8D", 64 << 10);
  for (auto _ : state) benchmark::DoNotOptimize(CheckGraphemes(s, std::nullopt, 300));
}
BENCHMARK(BM_CheckGraphemesHugeCapped);

}  // namespace
}  // namespace atipay::lex
