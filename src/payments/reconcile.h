// Reconciliation of one user's repo with what we keep for them. The atiproto protocol leaves
// orphans by design (an agent that wrote records and died before its callback), and a user can
// delete or rewrite our records in their own repo; this finds both kinds of drift.
#ifndef ATIPAY_PAYMENTS_RECONCILE_H_
#define ATIPAY_PAYMENTS_RECONCILE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/store.h"

namespace atipay::payments {

struct RepoRecord {
  std::string uri;
  std::string cid;
};

// Every record of one collection in the user's repo (all pages), or why they could not be
// listed. The caller decides how: com.atproto.repo.listRecords on their PDS, a test's repo.
using RepoLister =
    std::function<std::variant<std::vector<RepoRecord>, std::string>(std::string_view collection)>;

struct Drift {
  enum class Kind {
    kOrphan,   // in the repo, not ours: a write whose workflow never called back
    kMissing,  // ours, not in the repo: deleted by the user (or never written)
    kChanged,  // in both, another CID: rewritten by someone else
  };
  Kind kind;
  std::string uri;
  std::string detail;
};

struct ReconcileReport {
  std::int64_t records = 0;  // ours and theirs, each URI once
  std::vector<Drift> drift;
  std::string error;  // a listing or a read failed: the report is incomplete
};

// Compares carts, items, subscriptions and the profile of `did`.
ReconcileReport Reconcile(store::Store& store, const std::string& did, const RepoLister& list);

std::string_view DriftName(Drift::Kind kind);  // "orphan", "missing", "changed"

}  // namespace atipay::payments

#endif  // ATIPAY_PAYMENTS_RECONCILE_H_
