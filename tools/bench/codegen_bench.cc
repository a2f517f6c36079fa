// Lexicon compiler and generated-code benchmarks.
//   bench_codegen --benchmark_filter=Corpus     whole-corpus generation (439 documents)
//   bench_codegen --benchmark_filter=Cart       parse + validate of a typical cart record
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>

#include "com/atiproto/cart.h"
#include "cpp/generator.h"
#include "schema/loader.h"

namespace {

constexpr const char* kCartJson = R"({
  "$type": "com.atiproto.cart",
  "items": [
    {"type": "com.atiproto.item", "recordUri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.item/3lbq3kxzqsc2a"},
    {"type": "com.atiproto.item", "recordUri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.item/3lbq3kxzqsc2b"},
    {"type": "com.atiproto.subscription", "recordUri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.subscription/3lbq3kxzqsc2c"}
  ],
  "currency": "USD",
  "total": 4200,
  "status": "open",
  "createdAt": "2026-11-21T10:00:00.000Z",
  "expiresAt": "2026-11-28T10:00:00.000Z"
})";

void BM_GenerateCorpus(benchmark::State& state) {
  for (auto _ : state) {
    auto docs = atipay::lexicon::LoadInputs(
        {ATIPAY_TEST_DATA "/atproto-corpus", ATIPAY_SOURCE_DIR "/lexicons"});
    if (!docs) state.SkipWithError(docs.error().message.c_str());
    atipay::lexicon::Catalog catalog(std::move(docs).value());
    auto files = atipay::codegen::GenerateCpp(catalog, {});
    if (!files) state.SkipWithError(files.error().message.c_str());
    benchmark::DoNotOptimize(files->size());
    state.counters["documents"] = static_cast<double>(catalog.documents().size());
  }
}
BENCHMARK(BM_GenerateCorpus)->Unit(benchmark::kMillisecond);

void BM_ParseValidateCart(benchmark::State& state) {
  const boost::json::value json = boost::json::parse(kCartJson);
  lexicons::com::atiproto::cart::Record record;
  for (auto _ : state) {
    atipay::lex::Errors errors;
    bool ok = Parse(json, record, atipay::lex::Path("Record"), errors);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseValidateCart);

void BM_ParseValidateCartFromText(benchmark::State& state) {
  const std::string text = kCartJson;
  lexicons::com::atiproto::cart::Record record;
  for (auto _ : state) {
    boost::json::value json = boost::json::parse(text);
    atipay::lex::Errors errors;
    bool ok = Parse(json, record, atipay::lex::Path("Record"), errors);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseValidateCartFromText);

void BM_SerializeCart(benchmark::State& state) {
  lexicons::com::atiproto::cart::Record record;
  atipay::lex::Errors errors;
  Parse(boost::json::parse(kCartJson), record, atipay::lex::Path("Record"), errors);
  for (auto _ : state) {
    boost::json::value json = ToJson(record);
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SerializeCart);

}  // namespace
