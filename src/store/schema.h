// The database schema as an ordered list of migrations, private to src/store.
#ifndef ATIPAY_STORE_SCHEMA_H_
#define ATIPAY_STORE_SCHEMA_H_

#include <span>

#include "store/sqlite.h"
#include "store/store.h"

namespace atipay::store::schema {

// Step `version` takes a database from version - 1 to version (PRAGMA user_version).
struct Migration {
  int version;
  const char* sql;
};

// Every migration of this build, oldest first.
std::span<const Migration> Migrations();
// The version a fully migrated database has.
int LatestVersion();

// Brings the database up to the last of `migrations` (which must be numbered 1, 2, ... in
// order): each missing step runs in its own BEGIN IMMEDIATE transaction together with its
// user_version bump, so a failed step leaves the previous version intact. Up to date: nothing
// is written. A database newer than the last step is refused (kInternal, saying so).
Status Migrate(sqlite::Connection& connection, std::span<const Migration> migrations);
// Ok when the database is at the last step's version; otherwise kInternal, saying whether it
// is older or newer. Changes nothing.
Status CheckCurrent(sqlite::Connection& connection, std::span<const Migration> migrations);

}  // namespace atipay::store::schema

#endif  // ATIPAY_STORE_SCHEMA_H_
