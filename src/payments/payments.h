// The payment methods: com.atiproto.payment.* procedures and queries on top of the store and
// the workflow engine. This is the only part that knows all three of XRPC, storage and
// workflows; it registers its methods on a router.
#ifndef ATIPAY_PAYMENTS_PAYMENTS_H_
#define ATIPAY_PAYMENTS_PAYMENTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "payments/provider.h"
#include "store/store.h"
#include "workflow/workflow.h"
#include "xrpc/router.h"

namespace atipay::payments {

struct Options {
  std::int64_t cart_ttl_seconds = 604800;  // a new or cloned cart stays open this long
  std::size_t max_lines = 100;             // items + subscriptions per cart
  std::int64_t sweep_interval_seconds = 30;
  std::int64_t sweep_chunk = 500;  // rows per sweep transaction (store::Sweep)
  workflow::Options workflow;
};

class Service {
 public:
  using Clock = std::function<std::int64_t()>;  // microseconds since the UNIX epoch

  // `store` and `provider` must outlive the service.
  Service(store::Store& store, const PaymentProvider& provider, Options options,
          Clock now_us = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Registers every implemented com.atiproto.payment method (service auth required).
  void Register(xrpc::Router& router);

  // Expires open carts past their expiry and drops expired workflows; returns carts expired.
  std::int64_t SweepOnce();
  // Runs SweepOnce every sweep_interval_seconds on a background thread until the destructor.
  void StartSweeper();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_PAYMENTS_H_
