// Sweep (store.h): bounded transactions over any Store engine.
#include <algorithm>

#include "store/store.h"

namespace atipay::store {

SweepResult Sweep(Store& store, std::int64_t now_us, std::int64_t chunk) {
  SweepResult result;
  chunk = std::max<std::int64_t>(chunk, 1);
  for (const bool carts : {true, false}) {
    std::int64_t& total = carts ? result.carts_expired : result.workflows_deleted;
    for (;;) {
      std::int64_t changed = 0;
      result.status = store.WriteSync([&](WriteTxn& txn) {
        changed = carts ? txn.ExpireOpenCarts(now_us, chunk)
                        : txn.DeleteExpiredWorkflows(now_us, chunk);
        return Status::Ok();  // a failed statement fails the job through the transaction
      });
      if (!result.status.ok()) return result;
      total += changed;
      if (changed < chunk) break;
    }
  }
  return result;
}

}  // namespace atipay::store
