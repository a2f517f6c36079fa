// The schema steps as released builds ran them, copied from the commits that shipped them
// (comments left out): what databases in the field were made with. Tests make their "older
// databases" with these, never with the steps of the build under test, and check that the
// build's own steps still make exactly these schemas: a released step may never change
// (src/store/schema.cc), and a change to one would otherwise go unnoticed, the old databases
// changing with it. (Version 2 was once changed in place: 3bf365f shipped it keeping
// records_by_cart, f369be0 made it drop that index too.)
//
// When a new step ships, append it here as it is.
#ifndef ATIPAY_TESTS_STORE_RELEASED_SCHEMA_H_
#define ATIPAY_TESTS_STORE_RELEASED_SCHEMA_H_

#include "store/schema.h"

namespace atipay::store::testing {

// Version 1, as released in 5a3af72 (`git show 5a3af72:src/store/schema.cc`).
inline constexpr char kReleasedVersion1[] = R"sql(
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
CREATE INDEX records_by_owner ON records (did, collection, seq);
CREATE INDEX records_by_owner_status ON records (did, collection, status, seq);
CREATE INDEX records_by_owner_subject ON records (did, collection, subject, seq);
CREATE INDEX records_by_cart ON records (cart_uri, subject);
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
CREATE INDEX workflows_by_expiry ON workflows (expires_at_us);
CREATE TABLE payment_events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  cart_uri TEXT NOT NULL,
  outcome  TEXT NOT NULL,
  source   TEXT NOT NULL,
  at_us    INTEGER NOT NULL
);
CREATE INDEX payment_events_by_cart ON payment_events (cart_uri, id);
)sql";

// Version 2, as it stands since f369be0 (`git show f369be0:src/store/schema.cc`).
inline constexpr char kReleasedVersion2[] = R"sql(
DROP INDEX records_by_expiry;
CREATE INDEX records_open_carts_by_expiry ON records (expires_at_us)
  WHERE collection = 'com.atiproto.cart' AND status = 'open';
DROP INDEX records_by_cart;
)sql";

// Version 3, as released in 3bad5a5 (`git show 3bad5a5:src/store/schema.cc`).
inline constexpr char kReleasedVersion3[] = R"sql(
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

// Version 4, as released in 9ce79e9 (`git show 9ce79e9:src/store/schema.cc`).
inline constexpr char kReleasedVersion4[] = R"sql(
CREATE INDEX records_by_recipient ON records (subject, collection, seq) WHERE subject <> '';
)sql";

// Version 5, as released in 98efe57 (`git show 98efe57:src/store/schema.cc`).
inline constexpr char kReleasedVersion5[] = R"sql(
UPDATE records SET record_uri = tipped.record_uri
  FROM (SELECT seq, coalesce(
          CASE WHEN json_valid(record_json) THEN json_extract(record_json, '$.recordUri') END,
          CASE WHEN json_valid(private_json) THEN json_extract(private_json, '$.recordUri') END)
          AS record_uri
        FROM records WHERE collection = 'com.atiproto.item' AND record_uri = '') AS tipped
  WHERE records.seq = tipped.seq AND tipped.record_uri <> '';
)sql";

inline constexpr schema::Migration kReleasedSteps[] = {
    {1, kReleasedVersion1}, {2, kReleasedVersion2}, {3, kReleasedVersion3},
    {4, kReleasedVersion4}, {5, kReleasedVersion5},
};

}  // namespace atipay::store::testing

#endif  // ATIPAY_TESTS_STORE_RELEASED_SCHEMA_H_
