#include "store/sql.h"

#include <array>

namespace atipay::store::sql {
namespace {

std::string BuildListRecordsSql(bool carts, bool by_status, bool by_subject) {
  std::string text = "SELECT " ATIPAY_STORE_RECORD_COLUMNS
                     " FROM records AS r WHERE r.did = :did AND r.collection = :collection"
                     " AND r.seq < :before";
  if (by_status) text += " AND r.status = :status";
  if (by_subject) {
    // A cart's lines are in its owner's repo: the owner's lines with this subject, by
    // records_by_owner_subject, name the carts that qualify.
    text += carts ? " AND r.uri IN (SELECT line.cart_uri FROM records AS line"
                    " WHERE line.did = :did AND line.collection IN (:item, :subscription)"
                    " AND line.subject = :subject)"
                  : " AND r.subject = :subject";
  }
  text += " ORDER BY r.seq DESC LIMIT :limit";
  return text;
}

}  // namespace

const std::string& ListRecordsSql(bool carts, bool by_status, bool by_subject) {
  static const std::array<std::string, 8> kVariants = [] {
    std::array<std::string, 8> variants;
    for (int i = 0; i < 8; ++i) {
      variants[i] = BuildListRecordsSql((i & 4) != 0, (i & 2) != 0, (i & 1) != 0);
    }
    return variants;
  }();
  return kVariants[(carts ? 4 : 0) | (by_status ? 2 : 0) | (by_subject ? 1 : 0)];
}

}  // namespace atipay::store::sql
