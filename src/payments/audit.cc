#include "payments/audit.h"

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "lex/cbor.h"
#include "payments/records.h"

namespace atipay::payments {
namespace {

constexpr int kScanPage = 100;

class Auditor {
 public:
  Auditor(store::Store& store, std::size_t max_problems)
      : store_(store), max_problems_(max_problems) {}

  AuditReport Run() && {
    Scan(store::kCartCollection, [this](const store::RecordRow& cart) { CheckCart(cart); });
    for (std::string_view lines : {store::kItemCollection, store::kSubscriptionCollection}) {
      Scan(lines, [this](const store::RecordRow& line) { CheckLine(line); });
    }
    return std::move(report_);
  }

 private:
  template <class Check>
  void Scan(std::string_view collection, Check check) {
    std::optional<std::int64_t> before;
    for (;;) {
      auto page = store_.ScanRecords(collection, before, kScanPage);
      if (!page) {
        report_.read_failed = true;
        return;
      }
      for (const store::RecordRow& row : page->rows) check(row);
      if (!page->next_before_seq) return;
      before = page->next_before_seq;
    }
  }

  void Problem(const std::string& uri, std::string problem) {
    if (report_.problems.size() < max_problems_) {
      report_.problems.push_back({uri, std::move(problem)});
    } else {
      ++report_.more_problems;
    }
  }

  void CheckCid(const store::RecordRow& row) {
    auto record = ParseRecordJson(row.record_json);
    if (!record) return Problem(row.uri, "its record JSON does not parse");
    std::string error;
    const std::string cid = lex::ComputeRecordCid(*record, &error);
    if (cid != row.cid) {
      Problem(row.uri, "its CID " + row.cid + " is not its record's (" +
                           (cid.empty() ? error : cid) + ")");
    }
  }

  // The cart and its lines as one snapshot (the row scanned may be older than that).
  void CheckCart(const store::RecordRow& scanned) {
    ++report_.carts;
    store::Status failure;
    std::optional<CartAndLines> snapshot = ReadCartAndLines(store_, scanned, &failure);
    if (!failure.ok()) report_.read_failed = true;
    // Deleted since the scan, or edited faster than we read, or not read: nothing to conclude.
    if (!snapshot || !snapshot->consistent) return;
    const store::RecordRow& cart = snapshot->cart;
    const std::vector<std::string> lines = CartLineUris(cart);
    CheckCid(cart);
    std::map<std::string, const store::RecordRow*> found;
    for (const store::RecordRow& line : snapshot->lines) found[line.uri] = &line;
    std::int64_t total = 0;
    for (const std::string& uri : lines) {  // the cart's list, as read in the snapshot
      auto it = found.find(uri);
      if (it == found.end()) {
        Problem(cart.uri, "lists " + uri + ", which we do not have");
        continue;
      }
      const store::RecordRow& line = *it->second;
      const bool item = line.collection == store::kItemCollection;
      if (!item && line.collection != store::kSubscriptionCollection) {
        Problem(cart.uri, "lists " + uri + ", which is not an item or a subscription");
        continue;
      }
      if (line.did != cart.did) Problem(cart.uri, "lists " + uri + ", in another repo");
      if (line.cart_uri != cart.uri) {
        Problem(cart.uri, "lists " + uri + ", which says it is in " +
                              (line.cart_uri.empty() ? "no cart" : line.cart_uri));
      }
      if (line.currency != cart.currency) {
        Problem(cart.uri, "lists " + uri + " in " + line.currency + ", not " + cart.currency);
      }
      total += line.amount;
      CheckLineStatus(cart, line, item);
    }
    if (total != cart.amount) {
      Problem(cart.uri, "its total is " + std::to_string(cart.amount) + " but its lines add up to " +
                            std::to_string(total));
    }
  }

  // Paid carts have paid lines; unpaid carts have none (items may have failed a payment).
  void CheckLineStatus(const store::RecordRow& cart, const store::RecordRow& line, bool item) {
    const bool paid = cart.status == "completed";
    const bool line_paid = item ? line.status == "completed" : line.status != "pending";
    const bool line_unpaid = line.status == "pending" || (item && line.status == "failed");
    if (paid && !line_paid) {
      Problem(cart.uri, "is completed but " + line.uri + " is " + line.status);
    } else if (!paid && !line_unpaid) {
      Problem(cart.uri, "is " + cart.status + " but " + line.uri + " is " + line.status);
    }
  }

  void CheckLine(const store::RecordRow& scanned) {
    ++report_.lines;
    if (scanned.cart_uri.empty()) {
      CheckCid(scanned);
      return;
    }
    // The line and the cart it names as one snapshot; again if it has moved since the scan.
    std::string cart_uri = scanned.cart_uri;
    std::vector<store::RecordRow> rows;
    for (int attempt = 0;; ++attempt) {
      if (attempt == 3) return;  // moved faster than we read: nothing to conclude
      store::Status failure;
      rows = store_.GetRecords({scanned.uri, cart_uri}, &failure);
      if (!failure.ok()) {
        report_.read_failed = true;  // a row not read is not a row missing
        return;
      }
      if (rows.empty() || rows.front().uri != scanned.uri) return;  // deleted since the scan
      if (rows.front().cart_uri == cart_uri) break;
      cart_uri = rows.front().cart_uri;
    }
    const store::RecordRow& line = rows.front();
    CheckCid(line);
    if (line.cart_uri.empty()) return;  // left its cart since the scan
    const bool listed = rows.size() == 2 && rows[1].uri == line.cart_uri &&
                        [&] {
                          for (const std::string& uri : CartLineUris(rows[1])) {
                            if (uri == line.uri) return true;
                          }
                          return false;
                        }();
    if (!listed) Problem(line.uri, "says it is in " + line.cart_uri + ", which does not list it");
  }

  store::Store& store_;
  const std::size_t max_problems_;
  AuditReport report_;
};

}  // namespace

AuditReport Audit(store::Store& store, std::size_t max_problems) {
  return Auditor(store, max_problems).Run();
}

}  // namespace atipay::payments
