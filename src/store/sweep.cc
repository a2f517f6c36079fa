// Sweep (store.h): bounded transactions over any Store engine.
#include <algorithm>

#include "store/store.h"

namespace atipay::store {

SweepResult Sweep(Store& store, std::int64_t now_us, std::int64_t chunk) {
  SweepResult result;
  chunk = std::max<std::int64_t>(chunk, 1);
  // Carts and workflows share each transaction, so that a sweep with little to do is one commit.
  bool carts_left = true;
  bool workflows_left = true;
  while (carts_left || workflows_left) {
    std::int64_t carts = 0;
    std::int64_t workflows = 0;
    result.status = store.WriteSync([&](WriteTxn& txn) {
      if (carts_left) carts = txn.ExpireOpenCarts(now_us, chunk);
      if (workflows_left) workflows = txn.DeleteExpiredWorkflows(now_us, chunk);
      return Status::Ok();  // a failed statement fails the job through the transaction
    });
    if (!result.status.ok()) return result;
    result.carts_expired += carts;
    result.workflows_deleted += workflows;
    carts_left = carts_left && carts == chunk;
    workflows_left = workflows_left && workflows == chunk;
  }
  return result;
}

}  // namespace atipay::store
