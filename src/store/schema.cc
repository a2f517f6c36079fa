#include "store/schema.h"

#include <string>

namespace atipay::store::schema {
namespace {

// Version 1.
//
// records: carts, items and subscriptions in one table with a `collection` column. They share
// every column, GetRecord/GetRecords look a URI up without knowing its collection, a cart's
// items and subscriptions are read together, and AUTOINCREMENT then gives one seq counter for
// the whole database (never reused, even after the newest row is deleted) that orders lists
// and backs cursors. seq is the rowid, so every index ends in it for free.
//
// No foreign keys although they are enforced (foreign_keys=ON): lines may be written before
// their cart, and the payment log must outlive what it talks about.
constexpr char kVersion1[] = R"sql(
CREATE TABLE records (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  uri             TEXT NOT NULL UNIQUE,
  did             TEXT NOT NULL,
  collection      TEXT NOT NULL,
  rkey            TEXT NOT NULL,
  record_json     TEXT NOT NULL,
  cid             TEXT NOT NULL,
  status          TEXT NOT NULL,
  cart_uri        TEXT NOT NULL,
  subject         TEXT NOT NULL,
  private_json    TEXT NOT NULL,
  amount          INTEGER NOT NULL,
  currency        TEXT NOT NULL,
  created_at_us   INTEGER NOT NULL,
  updated_at_us   INTEGER NOT NULL,
  expires_at_us   INTEGER NOT NULL,
  completed_at_us INTEGER NOT NULL,
  redirect_url    TEXT NOT NULL,
  cloned_from     TEXT NOT NULL
);
-- ListCarts / ListLines, newest first, unfiltered.
CREATE INDEX records_by_owner ON records (did, collection, seq);
-- ... filtered by status.
CREATE INDEX records_by_owner_status ON records (did, collection, status, seq);
-- ListLines filtered by subject.
CREATE INDEX records_by_owner_subject ON records (did, collection, subject, seq);
-- ListCarts' subject filter (a line with cart_uri = the cart and subject = ?); dropped in
-- version 2.
CREATE INDEX records_by_cart ON records (cart_uri, subject);
-- ExpireOpenCarts: open carts by expiry (replaced by a partial index in version 2).
CREATE INDEX records_by_expiry ON records (collection, status, expires_at_us);

CREATE TABLE workflows (
  id            TEXT PRIMARY KEY NOT NULL,
  did           TEXT NOT NULL,
  nsid          TEXT NOT NULL,
  fingerprint   TEXT NOT NULL,
  round         INTEGER NOT NULL,
  state         TEXT NOT NULL,
  plan_json     TEXT NOT NULL,
  result_json   TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  expires_at_us INTEGER NOT NULL
);
-- DeleteExpiredWorkflows.
CREATE INDEX workflows_by_expiry ON workflows (expires_at_us);

-- Append-only log of payment outcomes.
CREATE TABLE payment_events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  cart_uri TEXT NOT NULL,
  outcome  TEXT NOT NULL,
  source   TEXT NOT NULL,
  at_us    INTEGER NOT NULL
);
CREATE INDEX payment_events_by_cart ON payment_events (cart_uri, id);
)sql";

// Version 2: two indexes fewer to keep up on every insert (each index page a commit touches is
// a page written to the WAL; these two were a sixth of a clone load's frames).
// - The expiry sweep's index holds open carts only: items and subscriptions (always at
//   expires_at_us 0) and finished carts never enter it. Its SQL names the collection and
//   status as literals: SQLite uses a partial index only when the WHERE implies the index's.
// - records_by_cart goes: ListCarts' subject filter finds the owner's lines with that subject
//   through records_by_owner_subject (lines live in their cart's repo), and nothing else
//   looked lines up by cart_uri (a cart lists its lines' URIs in its record).
constexpr char kVersion2[] = R"sql(
DROP INDEX records_by_expiry;
CREATE INDEX records_open_carts_by_expiry ON records (expires_at_us)
  WHERE collection = 'com.atiproto.cart' AND status = 'open';
DROP INDEX records_by_cart;
)sql";

// Version 3: items keep the record they tip (their recordUri) in a column, so that the lines
// tipping one record can be listed and summed through an index: a private item has it only in
// private_json, and JSON is out of any index's reach.
// - Existing items take it from record_json, or from private_json if private. A public item's
//   private_json is "", which is not JSON (json_extract would fail the step): hence json_valid.
//   Only the items that name a record are rewritten.
// - The index is partial, like the expiry sweep's: carts, subscriptions and items that tip no
//   record never enter it, so their inserts write no page of it. Its SQL names the literal
//   `record_uri <> ''` for SQLite to use it.
constexpr char kVersion3[] = R"sql(
ALTER TABLE records ADD COLUMN record_uri TEXT NOT NULL DEFAULT '';
UPDATE records SET record_uri = tipped.record_uri
  FROM (SELECT seq, coalesce(
          CASE WHEN json_valid(record_json) THEN json_extract(record_json, '$.recordUri') END,
          CASE WHEN json_valid(private_json) THEN json_extract(private_json, '$.recordUri') END)
          AS record_uri
        FROM records WHERE collection = 'com.atiproto.item') AS tipped
  WHERE records.seq = tipped.seq AND tipped.record_uri <> '';
CREATE INDEX records_by_tipped_record ON records (record_uri, did, seq) WHERE record_uri <> '';
)sql";

// Version 4: a recipient's lines across every owner (payer): what pays them, and through the
// lines their carts. records_by_owner_subject leads with the owner, so it cannot serve them.
// - The index is partial on subject <> '': carts and profiles have no subject and never enter
//   it. The cost is one more index entry to write for every line inserted.
// - (subject, collection, seq), like the owner's indexes: a recipient's page of one collection is
//   read newest first off it without a sort. Its SQL names the literal `subject <> ''`.
constexpr char kVersion4[] = R"sql(
CREATE INDEX records_by_recipient ON records (subject, collection, seq) WHERE subject <> '';
)sql";

// Version 5: items stored by versions 3 and 4 from a workflow plan read back from the database
// (after a restart or a plan-cache eviction) lost their record_uri: the plan's encoding left it
// out. They take it again from their JSON, as version 3 did.
constexpr char kVersion5[] = R"sql(
UPDATE records SET record_uri = tipped.record_uri
  FROM (SELECT seq, coalesce(
          CASE WHEN json_valid(record_json) THEN json_extract(record_json, '$.recordUri') END,
          CASE WHEN json_valid(private_json) THEN json_extract(private_json, '$.recordUri') END)
          AS record_uri
        FROM records WHERE collection = 'com.atiproto.item' AND record_uri = '') AS tipped
  WHERE records.seq = tipped.seq AND tipped.record_uri <> '';
)sql";

// Append only. A released step never changes: databases in the field have already run it.
constexpr Migration kMigrations[] = {
    {1, kVersion1}, {2, kVersion2}, {3, kVersion3}, {4, kVersion4}, {5, kVersion5},
};

// PRAGMA user_version, or -1 with *status set.
int UserVersion(sqlite::Connection& connection, Status* status) {
  sqlite::Query query(connection, "PRAGMA user_version");
  int version = query.Step() ? static_cast<int>(query.Int(0)) : -1;
  *status = query.status();
  if (status->ok() && version < 0) {
    *status = Status::Error(Status::Code::kInternal, "PRAGMA user_version returned nothing");
  }
  return status->ok() ? version : -1;
}

Status TooNew(int found, int latest) {
  return Status::Error(Status::Code::kInternal, "database schema version " + std::to_string(found) +
                                                    " is newer than this build supports (" +
                                                    std::to_string(latest) +
                                                    "); refusing to open it");
}

// Runs one step inside its own transaction. Another process may have migrated while we
// waited for the write lock, hence the second look at the version.
Status ApplyStep(sqlite::Connection& connection, const Migration& step, int latest) {
  Status status = connection.ExecScript("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  int current = UserVersion(connection, &status);
  if (status.ok() && current > latest) status = TooNew(current, latest);
  if (status.ok() && current < step.version) {
    status = connection.ExecScript(step.sql);
    if (status.ok()) {
      std::string bump = "PRAGMA user_version = " + std::to_string(step.version);
      status = connection.ExecScript(bump.c_str());
    }
  }
  if (status.ok()) status = connection.ExecScript("COMMIT");
  if (!status.ok()) {
    connection.ExecScript("ROLLBACK");
    status.message = "migration to schema version " + std::to_string(step.version) +
                     " failed: " + status.message;
  }
  return status;
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Status Migrate(sqlite::Connection& connection, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Status::Error(Status::Code::kInternal, "migrations are not numbered 1, 2, ...");
    }
  }
  const int latest = static_cast<int>(migrations.size());
  Status status;
  int current = UserVersion(connection, &status);
  if (!status.ok()) return status;
  if (current > latest) return TooNew(current, latest);
  for (const Migration& step : migrations.subspan(static_cast<std::size_t>(current))) {
    status = ApplyStep(connection, step, latest);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status CheckCurrent(sqlite::Connection& connection, std::span<const Migration> migrations) {
  const int latest = static_cast<int>(migrations.size());
  Status status;
  const int current = UserVersion(connection, &status);
  if (!status.ok()) return status;
  if (current > latest) return TooNew(current, latest);
  if (current < latest) {
    return Status::Error(Status::Code::kInternal,
                         "database schema version " + std::to_string(current) +
                             " is older than this build's (" + std::to_string(latest) +
                             "); start this build's atipay-server on it first, which upgrades it");
  }
  return Status::Ok();
}

}  // namespace atipay::store::schema
