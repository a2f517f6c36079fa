#include "payments/reconcile.h"

#include <map>
#include <optional>
#include <utility>

namespace atipay::payments {
namespace {

constexpr int kPage = 100;

// URI -> CID of what we keep of `did` in one collection; a failed read sets *failure (and
// what was read is then not all there is).
std::map<std::string, std::string> Ours(store::Store& store, const std::string& did,
                                        std::string_view collection, store::Status* failure) {
  std::map<std::string, std::string> ours;
  auto keep = [&](const store::Page<store::RecordRow>& page) {
    for (const auto& row : page.rows) ours[row.uri] = row.cid;
  };
  if (collection == store::kProfileCollection) {
    if (auto row =
            store.GetRecord("at://" + did + "/" + std::string(collection) + "/self", failure)) {
      ours[row->uri] = row->cid;
    }
    return ours;
  }
  std::optional<std::int64_t> before;
  do {
    store::Page<store::RecordRow> page;
    if (collection == store::kCartCollection) {
      store::CartQuery q;
      q.did = did;
      q.limit = kPage;
      q.before_seq = before;
      page = store.ListCarts(q, failure);
    } else {
      store::LineQuery q;
      q.did = did;
      q.collection = std::string(collection);
      q.limit = kPage;
      q.before_seq = before;
      page = store.ListLines(q, failure);
    }
    keep(page);
    before = page.next_before_seq;
  } while (before && failure->ok());
  return ours;
}

}  // namespace

std::string_view DriftName(Drift::Kind kind) {
  switch (kind) {
    case Drift::Kind::kOrphan: return "orphan";
    case Drift::Kind::kMissing: return "missing";
    case Drift::Kind::kChanged: return "changed";
  }
  return "";
}

ReconcileReport Reconcile(store::Store& store, const std::string& did, const RepoLister& list) {
  ReconcileReport report;
  for (std::string_view collection : {store::kCartCollection, store::kItemCollection,
                                      store::kSubscriptionCollection, store::kProfileCollection}) {
    auto listed = list(collection);
    if (auto* error = std::get_if<std::string>(&listed)) {
      report.error = std::string(collection) + ": " + *error;
      return report;
    }
    store::Status failure;
    std::map<std::string, std::string> ours = Ours(store, did, collection, &failure);
    if (!failure.ok()) {
      // Not read is not absent: every record in the repo would show as an orphan.
      report.error = std::string(collection) + ": " + failure.message;
      return report;
    }
    for (const RepoRecord& theirs : std::get<std::vector<RepoRecord>>(listed)) {
      ++report.records;
      auto it = ours.find(theirs.uri);
      if (it == ours.end()) {
        report.drift.push_back({Drift::Kind::kOrphan, theirs.uri, "in the repo, not ours"});
        continue;
      }
      if (it->second != theirs.cid) {
        report.drift.push_back({Drift::Kind::kChanged, theirs.uri,
                                "the repo has " + theirs.cid + ", we wrote " + it->second});
      }
      ours.erase(it);
    }
    for (const auto& [uri, cid] : ours) {
      ++report.records;
      report.drift.push_back({Drift::Kind::kMissing, uri, "ours (" + cid + "), not in the repo"});
    }
  }
  return report;
}

}  // namespace atipay::payments
