// The SQL the store runs, private to src/store (tests read it to check query plans).
#ifndef ATIPAY_STORE_SQL_H_
#define ATIPAY_STORE_SQL_H_

#include <string>

namespace atipay::store::sql {

// Columns read for a RecordRow, in the order ReadRecord expects them.
#define ATIPAY_STORE_RECORD_COLUMNS                                                \
  "seq, uri, did, collection, rkey, record_json, cid, status, cart_uri, subject, " \
  "record_uri, private_json, amount, currency, created_at_us, updated_at_us, "     \
  "expires_at_us, completed_at_us, redirect_url, cloned_from"
#define ATIPAY_STORE_WORKFLOW_COLUMNS                                                 \
  "id, did, nsid, fingerprint, round, state, plan_json, result_json, created_at_us, " \
  "expires_at_us"

inline constexpr char kGetRecord[] =
    "SELECT " ATIPAY_STORE_RECORD_COLUMNS " FROM records WHERE uri = :uri";

inline constexpr char kInsertRecord[] =
    "INSERT INTO records (uri, did, collection, rkey, record_json, cid, status, cart_uri, "
    "subject, record_uri, private_json, amount, currency, created_at_us, updated_at_us, "
    "expires_at_us, completed_at_us, redirect_url, cloned_from) VALUES (:uri, :did, "
    ":collection, :rkey, :record_json, :cid, :status, :cart_uri, :subject, :record_uri, "
    ":private_json, :amount, :currency, :created_at_us, :updated_at_us, :expires_at_us, "
    ":completed_at_us, :redirect_url, :cloned_from)";

inline constexpr char kUpdateRecord[] =
    "UPDATE records SET did = :did, collection = :collection, rkey = :rkey, "
    "record_json = :record_json, cid = :cid, status = :status, cart_uri = :cart_uri, "
    "subject = :subject, record_uri = :record_uri, private_json = :private_json, "
    "amount = :amount, currency = :currency, created_at_us = :created_at_us, "
    "updated_at_us = :updated_at_us, expires_at_us = :expires_at_us, "
    "completed_at_us = :completed_at_us, redirect_url = :redirect_url, "
    "cloned_from = :cloned_from WHERE uri = :uri";

// A page of every owner's records of one collection: a walk down the rowid, no index needed.
inline constexpr char kScanRecords[] =
    "SELECT " ATIPAY_STORE_RECORD_COLUMNS " FROM records WHERE collection = :collection "
    "AND seq < :before ORDER BY seq DESC LIMIT :limit";

inline constexpr char kDeleteRecord[] = "DELETE FROM records WHERE uri = :uri";

// expires_at_us = 0 means the cart has no expiry, so it never expires. The row's updated_at_us
// is the sweep's time, as for every other change of status.
// The literals match the partial index records_open_carts_by_expiry (schema version 2); seq is
// the rowid. At most :limit rows, so that a backlog is swept in bounded transactions.
inline constexpr char kExpireOpenCarts[] =
    "UPDATE records SET status = :expired, updated_at_us = :now WHERE seq IN ("
    "SELECT seq FROM records WHERE collection = 'com.atiproto.cart' AND status = 'open' "
    "AND expires_at_us > 0 AND expires_at_us <= :now ORDER BY expires_at_us LIMIT :limit)";

inline constexpr char kGetWorkflow[] =
    "SELECT " ATIPAY_STORE_WORKFLOW_COLUMNS " FROM workflows WHERE id = :id";

inline constexpr char kInsertWorkflow[] =
    "INSERT INTO workflows (id, did, nsid, fingerprint, round, state, plan_json, result_json, "
    "created_at_us, expires_at_us) VALUES (:id, :did, :nsid, :fingerprint, :round, :state, "
    ":plan_json, :result_json, :created_at_us, :expires_at_us)";

inline constexpr char kUpdateWorkflow[] =
    "UPDATE workflows SET did = :did, nsid = :nsid, fingerprint = :fingerprint, "
    "round = :round, state = :state, plan_json = :plan_json, result_json = :result_json, "
    "created_at_us = :created_at_us, expires_at_us = :expires_at_us WHERE id = :id";

// As for carts, expires_at_us = 0 means no expiry, and at most :limit rows.
inline constexpr char kDeleteExpiredWorkflows[] =
    "DELETE FROM workflows WHERE rowid IN (SELECT rowid FROM workflows "
    "WHERE expires_at_us > 0 AND expires_at_us <= :now ORDER BY expires_at_us LIMIT :limit)";

inline constexpr char kInsertPaymentEvent[] =
    "INSERT INTO payment_events (cart_uri, outcome, source, at_us) "
    "VALUES (:cart_uri, :outcome, :source, :at_us)";

// Which records a list or a sum reads. One SQL text per combination, so that each gets its own
// plan (and index).
struct RecordSelection {
  enum class Of {
    kCarts,      // :collection, the carts
    kLines,      // :collection, items or subscriptions
    kBothLines,  // items and subscriptions together (:item, :subscription)
  };
  Of of = Of::kLines;
  bool by_status = false;      // :status
  bool by_subject = false;     // :subject. Carts: a line of the cart pays it. Lines: their own
  bool by_record_uri = false;  // :record_uri, the record a line tips. Lines only
  // Every owner's records, not :did's. Only with by_subject or by_record_uri, which bound the
  // read (without either the text is the owner's: the store answers those calls itself).
  bool any_owner = false;
};

// A page of the selected records, newest first. Parameters: :did, :before, :limit, the
// collection(s) as above (carts by subject take :item and :subscription too), each filter's,
// and for lines the windows :completed_from, :completed_to, :created_from and :created_to
// (inclusive, always there: an absent bound is bound to the extreme). Carts have two windows on
// expires_at_us instead: it must be within :expires_from..:expires_to and outside
// :overdue_from..:overdue_to (an empty window, from > to, leaves nothing out).
const std::string& ListRecordsSql(const RecordSelection& selection);

// The selected lines summed per currency (currency, sum of amount, count), by currency.
// Parameters as for ListRecordsSql without :before and :limit.
const std::string& SumLinesSql(const RecordSelection& selection);

}  // namespace atipay::store::sql

#endif  // ATIPAY_STORE_SQL_H_
