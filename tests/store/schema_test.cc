// Migrations (ordered steps, each in a transaction, idempotent, newer refused) and the query
// plans of the store's queries (indexes, no full scans, no sorting for lists).
#include "store/schema.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "store/sql.h"
#include "store/sqlite.h"
#include "store_test_util.h"

namespace atipay::store {
namespace {

using schema::Migration;
using testing::RawDb;
using testing::StoreTest;
using testing::TempDir;

std::unique_ptr<sqlite::Connection> OpenConnection(const std::string& path) {
  Status status;
  auto connection =
      sqlite::Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000, &status);
  EXPECT_TRUE(status.ok()) << status.message;
  return connection;
}

// Each step also logs itself, so a step that ran twice would show.
constexpr Migration kTwoSteps[] = {
    {1, "CREATE TABLE log (step INTEGER); CREATE TABLE t (a TEXT); INSERT INTO log VALUES (1);"},
    {2, "ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 7; INSERT INTO log VALUES (2);"},
};

TEST(StoreMigrationTest, StepsRunInOrderOnceEach) {
  TempDir dir;
  const std::string path = dir.File("m.db");
  {
    auto connection = OpenConnection(path);
    // Up to version 1 first (an older build), then to 2, then again (up to date).
    Status status = schema::Migrate(*connection, std::span(kTwoSteps).first(1));
    ASSERT_TRUE(status.ok()) << status.message;
    status = schema::Migrate(*connection, kTwoSteps);
    ASSERT_TRUE(status.ok()) << status.message;
    status = schema::Migrate(*connection, kTwoSteps);
    ASSERT_TRUE(status.ok()) << status.message;
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 2);
  EXPECT_EQ(raw.Column("SELECT step FROM log ORDER BY rowid"),
            (std::vector<std::string>{"1", "2"}));
  raw.Exec("INSERT INTO t (a) VALUES ('x')");
  EXPECT_EQ(raw.Int("SELECT b FROM t"), 7);
}

TEST(StoreMigrationTest, FailedStepIsRolledBackAndKeepsThePreviousVersion) {
  TempDir dir;
  const std::string path = dir.File("m.db");
  const Migration with_bad_third[] = {
      kTwoSteps[0],
      kTwoSteps[1],
      {3, "CREATE TABLE half_done (x); INSERT INTO log VALUES (3); THIS IS NOT SQL;"},
  };
  {
    auto connection = OpenConnection(path);
    Status status = schema::Migrate(*connection, with_bad_third);
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message.find("migration to schema version 3 failed"), std::string::npos)
        << status.message;
    EXPECT_NE(status.message.find("syntax error"), std::string::npos) << status.message;
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 2);
  EXPECT_EQ(raw.Column("SELECT step FROM log ORDER BY rowid"),
            (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'"), 0);
}

TEST(StoreMigrationTest, NewerDatabaseAndBadListsAreRefused) {
  TempDir dir;
  auto connection = OpenConnection(dir.File("m.db"));
  ASSERT_TRUE(schema::Migrate(*connection, kTwoSteps).ok());
  Status status = schema::Migrate(*connection, std::span(kTwoSteps).first(1));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message.find("database schema version 2 is newer than this build supports (1)"),
            std::string::npos)
      << status.message;

  const Migration misnumbered[] = {{1, "SELECT 1"}, {3, "SELECT 1"}};
  EXPECT_FALSE(schema::Migrate(*connection, misnumbered).ok());
}

TEST(StoreMigrationTest, ShippedStepsAreNumberedFromOne) {
  auto steps = schema::Migrations();
  ASSERT_FALSE(steps.empty());
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].version, static_cast<int>(i) + 1);
  EXPECT_EQ(schema::LatestVersion(), static_cast<int>(steps.size()));
}

// --- Query plans ------------------------------------------------------------------------------

std::string Joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// EXPLAIN QUERY PLAN's detail lines for the SQL, parameters unbound.
std::vector<std::string> ExplainQueryPlan(sqlite3* db, const std::string& sql) {
  std::vector<std::string> details;
  sqlite3_stmt* stmt = nullptr;
  std::string explain = "EXPLAIN QUERY PLAN " + sql;
  EXPECT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    details.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)));
  }
  sqlite3_finalize(stmt);
  return details;
}

// The plan uses `index` and never scans a table or sorts.
void ExpectIndexedPlan(RawDb& raw, const std::string& sql, const std::string& index) {
  auto plan = ExplainQueryPlan(raw.db(), sql);
  std::string text = Joined(plan);
  SCOPED_TRACE(sql + "\n" + text);
  ASSERT_FALSE(plan.empty());
  bool uses_index = text.find("USING INDEX " + index + " ") != std::string::npos ||
                    text.find("USING COVERING INDEX " + index + " ") != std::string::npos;
  EXPECT_TRUE(uses_index) << "expected index " << index;
  for (const std::string& line : plan) {
    EXPECT_NE(line.rfind("SCAN ", 0), 0u) << "full scan: " << line;
    EXPECT_EQ(line.find("TEMP B-TREE"), std::string::npos) << "sorts: " << line;
  }
}

TEST_F(StoreTest, QueriesUseTheirIndexes) {
  RawDb raw(db_path());
  // Carts.
  ExpectIndexedPlan(raw, sql::ListRecordsSql(true, false, false), "records_by_owner");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(true, true, false), "records_by_owner_status");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(true, false, true), "records_by_owner_subject");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(true, false, true), "records_by_owner");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(true, true, true), "records_by_owner_status");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(true, true, true), "records_by_owner_subject");
  // Items and subscriptions.
  ExpectIndexedPlan(raw, sql::ListRecordsSql(false, false, false), "records_by_owner");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(false, true, false), "records_by_owner_status");
  ExpectIndexedPlan(raw, sql::ListRecordsSql(false, false, true), "records_by_owner_subject");
  // Status and subject both: either index narrows it; neither needs a sort.
  {
    auto plan = Joined(ExplainQueryPlan(raw.db(), sql::ListRecordsSql(false, true, true)));
    EXPECT_NE(plan.find("USING INDEX records_by_owner_s"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
  // Point lookups and sweeps.
  ExpectIndexedPlan(raw, sql::kGetRecord, "sqlite_autoindex_records_1");
  ExpectIndexedPlan(raw, sql::kExpireOpenCarts, "records_open_carts_by_expiry");
  ExpectIndexedPlan(raw, sql::kGetWorkflow, "sqlite_autoindex_workflows_1");
  ExpectIndexedPlan(raw, sql::kDeleteExpiredWorkflows, "workflows_by_expiry");
}

}  // namespace
}  // namespace atipay::store
