// Group-commit throughput of the SQLite store for a clone-like write: one job inserts a cart
// row and two item rows and updates one workflow row (record JSON of about 300 bytes each).
// N submitter threads each wait for their own commit (WriteSync), as request handlers do, so
// batches form only from jobs that queue while a commit runs.
//
//   build/bin/bench_store                       (or build/tools/bench/bench_store)
//   items_per_second  committed jobs per second (all threads)
//   batch             average jobs per commit
//
// The database goes in a fresh directory under $ATIPAY_BENCH_DIR (default: the system temp
// dir). Under synchronous=FULL every commit waits for an fsync, so results depend on that disk.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace {

namespace store = atipay::store;

constexpr char kDid[] = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

// A JSON-ish payload of `size` bytes: what the store keeps is opaque text of about that size.
std::string Json(const std::string& head, std::size_t size) {
  std::string json =
      "{\"$type\":\"" + head + "\",\"createdAt\":\"2024-05-01T12:00:00.000Z\",\"note\":\"";
  if (json.size() + 2 < size) json.append(size - json.size() - 2, 'x');
  json += "\"}";
  return json;
}

struct Bench {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::string cart_json = Json("com.atiproto.cart", 320);
  std::string item_json = Json("com.atiproto.item", 300);
  std::string plan_json = Json("plan", 300);
};
Bench* bench = nullptr;

void Open(const benchmark::State& state, const char* synchronous) {
  bench = new Bench;
  const char* base = std::getenv("ATIPAY_BENCH_DIR");
  static int run = 0;
  bench->dir =
      std::filesystem::path(base != nullptr ? base : std::filesystem::temp_directory_path()) /
      ("atipay-store-bench-" + std::to_string(::getpid()) + "-" + std::to_string(run++));
  std::filesystem::create_directories(bench->dir);
  store::StoreOptions options;
  options.path = (bench->dir / "bench.db").string();
  options.synchronous = synchronous;
  std::string error;
  bench->store = store::OpenSqliteStore(options, &error);
  if (!bench->store) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    std::abort();
  }
  // One workflow per submitter thread, updated by each of its jobs.
  store::Status status = bench->store->WriteSync([&](store::WriteTxn& txn) {
    for (int t = 0; t < state.threads(); ++t) {
      store::WorkflowRow workflow;
      workflow.id = "wf-" + std::to_string(t);
      workflow.did = kDid;
      workflow.nsid = "com.atiproto.cart.clone";
      workflow.fingerprint = "sha256:0123456789abcdef0123456789abcdef";
      workflow.state = "pending";
      workflow.plan_json = bench->plan_json;
      workflow.created_at_us = 1;
      workflow.expires_at_us = 1'000'000'000'000'000;
      store::Status inserted = txn.InsertWorkflow(workflow);
      if (!inserted.ok()) return inserted;
    }
    return store::Status::Ok();
  });
  if (!status.ok()) {
    std::fprintf(stderr, "setup: %s\n", status.message.c_str());
    std::abort();
  }
}
void OpenFull(const benchmark::State& state) { Open(state, "FULL"); }
void OpenNormal(const benchmark::State& state) { Open(state, "NORMAL"); }

void Close(const benchmark::State&) {
  bench->store->Close();
  std::error_code ignored;
  std::filesystem::remove_all(bench->dir, ignored);
  delete bench;
  bench = nullptr;
}

store::RecordRow Row(std::string_view collection, const std::string& rkey,
                     const std::string& json) {
  store::RecordRow row;
  row.did = kDid;
  row.collection = std::string(collection);
  row.rkey = rkey;
  row.uri = "at://" + row.did + "/" + row.collection + "/" + rkey;
  row.record_json = json;
  row.cid = "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
  row.status = "open";
  row.currency = "usd";
  row.amount = 1500;
  row.created_at_us = row.updated_at_us = 1'714'564'800'000'000;
  return row;
}

// What cart.clone writes once the PDS has accepted the new records.
store::WriteJob CloneJob(int thread, std::int64_t n) {
  return [thread, n](store::WriteTxn& txn) {
    const std::string key = std::to_string(thread) + "-" + std::to_string(n);
    store::RecordRow cart = Row(store::kCartCollection, "c" + key, bench->cart_json);
    cart.expires_at_us = 1'714'566'600'000'000;
    cart.redirect_url = "https://shop.example.com/checkout/return";
    cart.cloned_from = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atiproto.cart/3kabcdefghij2";
    store::Status status = txn.InsertRecord(cart);
    for (int i = 0; status.ok() && i < 2; ++i) {
      store::RecordRow item =
          Row(store::kItemCollection, "i" + key + "-" + std::to_string(i), bench->item_json);
      item.cart_uri = cart.uri;
      item.subject = "did:plc:recipient" + std::to_string(i);
      status = txn.InsertRecord(item);
    }
    if (!status.ok()) return status;
    auto workflow = txn.GetWorkflow("wf-" + std::to_string(thread));
    if (!workflow) return store::Status::Error(store::Status::Code::kNotFound, "workflow");
    workflow->round = static_cast<int>(n % 1000) + 1;
    workflow->state = "done";
    workflow->result_json = R"({"uri":")" + cart.uri + R"(","cid":")" + cart.cid + "\"}";
    return txn.UpdateWorkflow(*workflow);
  };
}

void BM_CloneJob(benchmark::State& state, const char* synchronous) {
  state.SetLabel(std::string("synchronous=") + synchronous);
  store::Store& db = *bench->store;
  const store::Store::Stats before = db.stats();
  std::int64_t n = 0;
  for (auto _ : state) {
    store::Status status = db.WriteSync(CloneJob(state.thread_index(), n++));
    if (!status.ok()) {
      state.SkipWithError(status.message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {  // counters add up over threads: one thread reports
    const store::Store::Stats after = db.stats();
    const double commits = static_cast<double>(after.commits - before.commits);
    state.counters["batch"] =
        commits > 0 ? static_cast<double>(after.jobs - before.jobs) / commits : 0;
  }
}

BENCHMARK_CAPTURE(BM_CloneJob, full, "FULL")
    ->Setup(OpenFull)
    ->Teardown(Close)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_CloneJob, normal, "NORMAL")
    ->Setup(OpenNormal)
    ->Teardown(Close)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->UseRealTime();

}  // namespace
