#include "app/methods.h"

#include "payments/payments.h"
#include "store/store.h"

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

}  // namespace

std::unique_ptr<Services> StartServices(xrpc::Router& router, const Config& config,
                                        std::string* error) {
  store::StoreOptions options;
  options.path = config.db;
  options.synchronous = config.db_synchronous;
  auto store = store::OpenSqliteStore(options, error);
  if (!store) return nullptr;
  auto services = std::make_unique<PaymentServices>(std::move(store), config);
  services->service().Register(router);
  services->service().StartSweeper();
  return services;
}

}  // namespace atipay::app
