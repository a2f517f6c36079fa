// Record CID cost for a typical cart record: the work done on every record write.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "lex/cbor.h"
#include "lex/cid.h"
#include "lex/data_model.h"
#include "lex/path.h"

namespace {

namespace json = boost::json;
namespace lex = atipay::lex;

const json::value& CartRecord() {
  static const json::value record = json::parse(R"({
    "$type": "com.atiproto.cart",
    "items": [
      {"type": "com.atiproto.item",
       "recordUri": "at://did:plc:abcdefghijklmnopqrstuvwx/com.atiproto.item/3kabc2def3ghi"},
      {"type": "com.atiproto.item",
       "recordUri": "at://did:plc:abcdefghijklmnopqrstuvwx/com.atiproto.item/3kabc2def3ghj"},
      {"type": "com.atiproto.item",
       "recordUri": "at://did:plc:abcdefghijklmnopqrstuvwx/com.atiproto.item/3kabc2def3ghk"}
    ],
    "currency": "USD",
    "total": 4200,
    "status": "open",
    "createdAt": "2026-11-21T10:00:00.000Z",
    "expiresAt": "2026-11-28T10:00:00.000Z"
  })");
  return record;
}

std::string CartCbor() {
  std::string cbor;
  lex::EncodeDagCbor(CartRecord(), cbor);
  return cbor;
}

// The headline figure: JSON value -> DAG-CBOR -> sha2-256 -> "bafyrei..." string.
void BM_ComputeRecordCid(benchmark::State& state) {
  const json::value& record = CartRecord();
  for (auto _ : state) {
    std::string cid = lex::ComputeRecordCid(record);
    benchmark::DoNotOptimize(cid);
  }
  state.counters["cbor_bytes"] = static_cast<double>(CartCbor().size());
  state.counters["json_bytes"] = static_cast<double>(json::serialize(CartRecord()).size());
}
BENCHMARK(BM_ComputeRecordCid);

void BM_EncodeDagCbor(benchmark::State& state) {
  const json::value& record = CartRecord();
  std::string out;
  for (auto _ : state) {
    out.clear();
    lex::EncodeDagCbor(record, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_EncodeDagCbor);

void BM_Sha256Cid(benchmark::State& state) {
  const std::string cbor = CartCbor();
  for (auto _ : state) {
    std::string cid = lex::ComputeDagCborCid(cbor).ToString();
    benchmark::DoNotOptimize(cid);
  }
}
BENCHMARK(BM_Sha256Cid);

void BM_CheckDataModel(benchmark::State& state) {
  const json::value& record = CartRecord();
  for (auto _ : state) {
    lex::Errors errors;
    bool ok = lex::CheckDataModel(record, lex::Path("Record"), errors);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_CheckDataModel);

void BM_DecodeDagCbor(benchmark::State& state) {
  const std::string cbor = CartCbor();
  for (auto _ : state) {
    auto value = lex::DecodeDagCbor(cbor);
    benchmark::DoNotOptimize(value);
  }
}
BENCHMARK(BM_DecodeDagCbor);

// For scale: parsing the JSON text costs more than encoding and hashing it.
void BM_ParseJsonThenComputeRecordCid(benchmark::State& state) {
  const std::string text = json::serialize(CartRecord());
  for (auto _ : state) {
    std::string cid = lex::ComputeRecordCid(json::parse(text));
    benchmark::DoNotOptimize(cid);
  }
}
BENCHMARK(BM_ParseJsonThenComputeRecordCid);

}  // namespace
