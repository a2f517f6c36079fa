#include "app/methods.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "payments/payments.h"
#include "store/store.h"
#include "xrpc/metrics.h"

namespace atipay::app {
namespace {

class PaymentServices : public Services {
 public:
  PaymentServices(std::unique_ptr<store::Store> store, const Config& config)
      : store_(std::move(store)), provider_(config.checkout_url) {
    payments::Options options;
    options.cart_ttl_seconds = config.cart_ttl;
    options.sweep_interval_seconds = config.sweep_interval;
    options.max_lines = static_cast<std::size_t>(config.max_cart_lines);
    options.workflow.ttl_us = config.workflow_ttl * 1000000;
    service_ = std::make_unique<payments::Service>(*store_, provider_, options);
  }
  ~PaymentServices() override {
    service_.reset();  // stops the sweeper first
    store_->Close();
  }
  payments::Service& service() { return *service_; }

 private:
  std::unique_ptr<store::Store> store_;
  payments::ManualProvider provider_;
  std::unique_ptr<payments::Service> service_;
};

// The store's group commit in Prometheus text: batches, jobs, time in COMMIT, the queue.
std::string StoreMetrics(const store::Store::Stats& stats) {
  std::string out;
  xrpc::AppendMetric(out, "atipay_store_commits_total", "counter",
                     "Batches of write jobs committed (one fsync each).",
                     std::to_string(stats.commits));
  xrpc::AppendMetric(out, "atipay_store_jobs_total", "counter", "Write jobs run by the writer.",
                     std::to_string(stats.jobs));
  xrpc::AppendMetric(out, "atipay_store_failed_batches_total", "counter",
                     "Batches rolled back whole (I/O error, disk full).",
                     std::to_string(stats.failed_batches));
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.9f", static_cast<double>(stats.commit_ns) / 1e9);
  xrpc::AppendMetric(out, "atipay_store_commit_seconds_total", "counter",
                     "Time spent in COMMIT, fsync included.", seconds);
  xrpc::AppendMetric(out, "atipay_store_queued_jobs", "gauge", "Write jobs waiting for the writer.",
                     std::to_string(stats.queued));
  std::snprintf(seconds, sizeof seconds, "%.9f", static_cast<double>(stats.batch_ns) / 1e9);
  xrpc::AppendMetric(out, "atipay_store_batch_seconds", "gauge",
                     "How long the writer has been on its current batch (0: idle).", seconds);
  return out;
}

}  // namespace

std::optional<std::string> StoreHealth(const store::Store::Stats& stats) {
  // A batch that waits for the write lock gives up after the busy timeout (5 s): one that has
  // run for twice that is held up by the disk, and no write is answered until it ends.
  constexpr std::uint64_t kStuckBatchNs = 10'000'000'000;
  if (stats.batch_ns < kStuckBatchNs) return std::nullopt;
  return "the store has been committing one batch for " +
         std::to_string(stats.batch_ns / 1'000'000'000) + " s (" + std::to_string(stats.queued) +
         " more write(s) waiting)";
}

std::unique_ptr<Services> StartServices(xrpc::Router& router, const Config& config,
                                        std::string* error) {
  store::StoreOptions options;
  options.path = config.db;
  options.synchronous = config.db_synchronous;
  // A read connection for every blocking-pool thread (the payment methods run there), so
  // that none of them waits for another's read.
  options.read_connections =
      std::max(options.read_connections, static_cast<int>(config.blocking_threads));
  auto store = store::OpenSqliteStore(options, error);
  if (!store) return nullptr;
  router.AddMetrics([raw = store.get()] { return StoreMetrics(raw->stats()); });
  router.AddHealthCheck([raw = store.get()] { return StoreHealth(raw->stats()); });
  auto services = std::make_unique<PaymentServices>(std::move(store), config);
  services->service().Register(router);
  services->service().StartSweeper();
  return services;
}

}  // namespace atipay::app
