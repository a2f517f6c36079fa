#include "store/sql.h"

#include <array>
#include <string_view>

namespace atipay::store::sql {
namespace {

using Of = RecordSelection::Of;

// Whether the selection reads every owner's records: only through a recipient or a tipped
// record, each an index's key. Without either it stays the owner's.
bool AnyOwner(const RecordSelection& selection) {
  return selection.any_owner && (selection.by_subject || selection.by_record_uri);
}

// FROM and WHERE for the owner's (or every owner's) records whose collection passes
// `collection_test` (e.g. "= :collection"), with the selection's filters.
std::string FromWhere(const RecordSelection& selection, std::string_view collection_test) {
  const bool carts = selection.of == Of::kCarts;
  const bool any_owner = AnyOwner(selection);
  std::string text = " FROM records AS r";
  // Without statistics SQLite ranks indexes by the columns a query pins, and would pick
  // records_by_owner_status or _subject (three) over this one (two), although one owner's tips
  // of one record are a handful where their open lines can be thousands. Likewise over
  // records_by_recipient for any owner: a record's tips are a part of what pays its author.
  if (selection.by_record_uri) text += " INDEXED BY records_by_tipped_record";
  text += any_owner ? " WHERE r.collection " : " WHERE r.did = :did AND r.collection ";
  text += collection_test;
  if (selection.by_status) text += " AND r.status = :status";
  if (selection.by_subject && carts) {
    // A cart's lines are in its owner's repo: the owner's lines with this subject (by
    // records_by_owner_subject), or any owner's (by records_by_recipient), name the carts that
    // qualify. Any owner's reads every line paying the subject for each page.
    text += " AND r.uri IN (SELECT line.cart_uri FROM records AS line WHERE ";
    text += any_owner ? "line.subject <> ''" : "line.did = :did";
    text += " AND line.collection IN (:item, :subscription) AND line.subject = :subject)";
  } else if (selection.by_subject) {
    // The literals let SQLite use a partial index: they must imply the index's WHERE.
    if (any_owner) text += " AND r.subject <> ''";
    text += " AND r.subject = :subject";
  }
  if (selection.by_record_uri) text += " AND r.record_uri <> '' AND r.record_uri = :record_uri";
  // Residual filters, never an index's key: always there (absent bounds are the extremes), so
  // that they add no variants.
  if (carts) {
    // A cart's expiry must lie in one window and outside another: the two make "open" leave
    // out carts past their expiry, and find those for "expired", before the sweeper has run.
    text +=
        " AND r.expires_at_us BETWEEN :expires_from AND :expires_to"
        " AND r.expires_at_us NOT BETWEEN :overdue_from AND :overdue_to";
  } else {
    text +=
        " AND r.completed_at_us BETWEEN :completed_from AND :completed_to"
        " AND r.created_at_us BETWEEN :created_from AND :created_to";
  }
  return text;
}

// The newest :limit rows before :before, read in seq order off the index (no sort). Every
// owner's tips of a record are the exception: records_by_tipped_record orders them by owner
// first, so each page sorts all of the record's tips.
std::string PageSql(const RecordSelection& selection, std::string_view collection_test) {
  return "SELECT " ATIPAY_STORE_RECORD_COLUMNS + FromWhere(selection, collection_test) +
         " AND r.seq < :before ORDER BY r.seq DESC LIMIT :limit";
}

std::string BuildListRecordsSql(const RecordSelection& selection) {
  if (selection.of != Of::kBothLines) return PageSql(selection, "= :collection");
  // No index orders both collections by seq: a page of each from its own index, then the
  // newest of those at most 2 x :limit rows. MATERIALIZED keeps SQLite from flattening the two
  // pages into a merge that sorts each of them again.
  return "WITH both_pages AS MATERIALIZED (SELECT * FROM (" + PageSql(selection, "= :item") +
         ") UNION ALL SELECT * FROM (" + PageSql(selection, "= :subscription") +
         ")) SELECT * FROM both_pages ORDER BY seq DESC LIMIT :limit";
}

std::string BuildSumLinesSql(const RecordSelection& selection) {
  const char* collection_test =
      selection.of == Of::kBothLines ? "IN (:item, :subscription)" : "= :collection";
  return "SELECT r.currency, SUM(r.amount), COUNT(*)" + FromWhere(selection, collection_test) +
         " GROUP BY r.currency ORDER BY r.currency";
}

constexpr std::size_t kVariants = 3 * 16;

std::size_t VariantIndex(const RecordSelection& selection) {
  return static_cast<std::size_t>(selection.of) * 16 + (selection.any_owner ? 8 : 0) +
         (selection.by_status ? 4 : 0) + (selection.by_subject ? 2 : 0) +
         (selection.by_record_uri ? 1 : 0);
}

// Every variant built once: a call only picks its text, which also keys the prepared statement.
std::array<std::string, kVariants> BuildVariants(std::string (*build)(const RecordSelection&)) {
  std::array<std::string, kVariants> variants;
  for (Of of : {Of::kCarts, Of::kLines, Of::kBothLines}) {
    for (int filters = 0; filters < 16; ++filters) {
      RecordSelection selection{of, (filters & 4) != 0, (filters & 2) != 0, (filters & 1) != 0,
                                (filters & 8) != 0};
      variants[VariantIndex(selection)] = build(selection);
    }
  }
  return variants;
}

}  // namespace

const std::string& ListRecordsSql(const RecordSelection& selection) {
  static const auto kTexts = BuildVariants(BuildListRecordsSql);
  return kTexts[VariantIndex(selection)];
}

const std::string& SumLinesSql(const RecordSelection& selection) {
  static const auto kTexts = BuildVariants(BuildSumLinesSql);
  return kTexts[VariantIndex(selection)];
}

}  // namespace atipay::store::sql
