// An audit of the database: what must hold between carts, their lines and the records we had
// written, checked over every owner's rows (atipay-admin check; the crash test).
#ifndef ATIPAY_PAYMENTS_AUDIT_H_
#define ATIPAY_PAYMENTS_AUDIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace atipay::payments {

struct AuditProblem {
  std::string uri;
  std::string problem;
};

struct AuditReport {
  std::int64_t carts = 0;
  std::int64_t lines = 0;
  std::vector<AuditProblem> problems;  // at most max_problems
  std::int64_t more_problems = 0;      // found beyond those
  bool read_failed = false;            // a read failed: the audit is incomplete
};

// Checks, each cart with its lines read in one snapshot (so a commit in progress is never half
// seen):
// - a record's CID is the CID of the record JSON we keep for it;
// - a cart's lines exist, are items or subscriptions in its owner's repo, say they are in it,
//   are in its currency and add up to its total;
// - a completed cart has no pending or failed item and no pending subscription;
// - a line that names a cart is listed by that cart.
// Safe while the server runs.
AuditReport Audit(store::Store& store, std::size_t max_problems = 1000);

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_AUDIT_H_
