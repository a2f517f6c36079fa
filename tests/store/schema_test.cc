// Migrations (ordered steps, each in a transaction, idempotent, newer refused) and the query
// plans of the store's queries (indexes, no full scans, no sorting for lists).
#include "store/schema.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <iterator>
#include <span>
#include <string>
#include <string_view>
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

// A released step never changes: databases in the field ran it as it was. Up to each released
// version, this build's steps make the very schema the released ones made, so that what the
// later steps expect is what those databases have.
TEST(StoreMigrationTest, ShippedStepsStillMakeTheReleasedSchemas) {
  ASSERT_LE(std::size(testing::kReleasedSteps), schema::Migrations().size());
  auto dump = [](const std::string& path) {
    return RawDb(path).Column(
        "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master "
        "ORDER BY type, name");
  };
  TempDir dir;
  for (std::size_t version = 1; version <= std::size(testing::kReleasedSteps); ++version) {
    SCOPED_TRACE("version " + std::to_string(version));
    const std::string released = dir.File("released" + std::to_string(version) + ".db");
    const std::string ours = dir.File("ours" + std::to_string(version) + ".db");
    ASSERT_TRUE(schema::Migrate(*OpenConnection(released),
                                std::span(testing::kReleasedSteps).first(version))
                    .ok());
    ASSERT_TRUE(schema::Migrate(*OpenConnection(ours), schema::Migrations().first(version)).ok());
    EXPECT_EQ(dump(ours), dump(released));
  }
}

// --- Query plans ------------------------------------------------------------------------------

struct PlanLine {
  int parent;  // 0 at the top
  std::string detail;
};

std::string Joined(const std::vector<PlanLine>& plan) {
  std::string text;
  for (const auto& line : plan) text += line.detail + "\n";
  return text;
}

// EXPLAIN QUERY PLAN's lines for the SQL, parameters unbound.
std::vector<PlanLine> ExplainQueryPlan(sqlite3* db, const std::string& sql) {
  std::vector<PlanLine> plan;
  sqlite3_stmt* stmt = nullptr;
  std::string explain = "EXPLAIN QUERY PLAN " + sql;
  EXPECT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    plan.push_back(
        {sqlite3_column_int(stmt, 1), reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3))});
  }
  sqlite3_finalize(stmt);
  return plan;
}

// How many of the plan's lines read `index`; a name ending in '*' stands for any index whose
// name starts with the rest.
int IndexUses(const std::vector<PlanLine>& plan, std::string index) {
  const bool any_suffix = !index.empty() && index.back() == '*';
  if (any_suffix) {
    index.pop_back();
  } else {
    index += " ";
  }
  int uses = 0;
  for (const PlanLine& line : plan) {
    if (line.detail.find("USING INDEX " + index) != std::string::npos ||
        line.detail.find("USING COVERING INDEX " + index) != std::string::npos) {
      ++uses;
    }
  }
  return uses;
}

// The plan uses `index` and never scans a table. It sorts nothing, unless `top_level_sort`
// names the one sort allowed at the top: of rows already found and counted (a page from each
// branch, or a group per currency); and `branch_sort` the one allowed in each branch (of the
// rows one index lookup found).
void ExpectIndexedPlan(RawDb& raw, const std::string& sql, const std::string& index,
                       std::string_view top_level_sort = {}, std::string_view branch_sort = {}) {
  auto plan = ExplainQueryPlan(raw.db(), sql);
  SCOPED_TRACE(sql + "\n" + Joined(plan));
  ASSERT_FALSE(plan.empty());
  EXPECT_GT(IndexUses(plan, index), 0) << "expected index " << index;
  for (const PlanLine& line : plan) {
    // A branch's page (a subquery) or the two pages together may be scanned: they hold at most
    // 2 x limit rows.
    const bool scans_table = line.detail.rfind("SCAN ", 0) == 0 &&
                             line.detail.rfind("SCAN (subquery-", 0) != 0 &&
                             line.detail != "SCAN both_pages";
    EXPECT_FALSE(scans_table) << "full scan: " << line.detail;
    if (line.detail.find("TEMP B-TREE") == std::string::npos) continue;
    const std::string_view allowed = line.parent == 0 ? top_level_sort : branch_sort;
    EXPECT_EQ(line.detail, allowed) << "sorts: " << line.detail;
  }
}

// Items and subscriptions together: each branch reads its page off `index` in seq order
// (unless `branch_sort` allows a sort), and the two pages are sorted.
void ExpectIndexPerBranch(RawDb& raw, const std::string& sql, const std::string& index,
                          std::string_view branch_sort = {}) {
  ExpectIndexedPlan(raw, sql, index, "USE TEMP B-TREE FOR ORDER BY", branch_sort);
  auto plan = ExplainQueryPlan(raw.db(), sql);
  EXPECT_EQ(IndexUses(plan, index), 2) << sql << "\n" << Joined(plan);
}

TEST_F(StoreTest, QueriesUseTheirIndexes) {
  using Of = sql::RecordSelection::Of;
  auto list = [](Of of, bool by_status, bool by_subject, bool by_record_uri = false) {
    return sql::ListRecordsSql({of, by_status, by_subject, by_record_uri});
  };
  auto sum = [](Of of, bool by_status, bool by_subject, bool by_record_uri) {
    return sql::SumLinesSql({of, by_status, by_subject, by_record_uri});
  };
  RawDb raw(db_path());
  // Carts.
  ExpectIndexedPlan(raw, list(Of::kCarts, false, false), "records_by_owner");
  ExpectIndexedPlan(raw, list(Of::kCarts, true, false), "records_by_owner_status");
  ExpectIndexedPlan(raw, list(Of::kCarts, false, true), "records_by_owner_subject");
  ExpectIndexedPlan(raw, list(Of::kCarts, false, true), "records_by_owner");
  ExpectIndexedPlan(raw, list(Of::kCarts, true, true), "records_by_owner_status");
  ExpectIndexedPlan(raw, list(Of::kCarts, true, true), "records_by_owner_subject");
  // Items and subscriptions.
  ExpectIndexedPlan(raw, list(Of::kLines, false, false), "records_by_owner");
  ExpectIndexedPlan(raw, list(Of::kLines, true, false), "records_by_owner_status");
  ExpectIndexedPlan(raw, list(Of::kLines, false, true), "records_by_owner_subject");
  // Status and subject both: either index narrows it; neither needs a sort.
  ExpectIndexedPlan(raw, list(Of::kLines, true, true), "records_by_owner_s*");
  // Both collections: an index per branch, and the same one as for a single collection.
  ExpectIndexPerBranch(raw, list(Of::kBothLines, false, false), "records_by_owner");
  ExpectIndexPerBranch(raw, list(Of::kBothLines, true, false), "records_by_owner_status");
  ExpectIndexPerBranch(raw, list(Of::kBothLines, false, true), "records_by_owner_subject");
  ExpectIndexPerBranch(raw, list(Of::kBothLines, true, true), "records_by_owner_s*");
  // By the record tipped: its partial index, whatever else filters.
  for (int filters = 0; filters < 4; ++filters) {
    const bool by_status = (filters & 2) != 0;
    const bool by_subject = (filters & 1) != 0;
    ExpectIndexedPlan(raw, list(Of::kLines, by_status, by_subject, true),
                      "records_by_tipped_record");
    ExpectIndexPerBranch(raw, list(Of::kBothLines, by_status, by_subject, true),
                         "records_by_tipped_record");
  }
  // Sums read every line that matches (one lookup per collection), grouped per currency.
  constexpr std::string_view kGroups = "USE TEMP B-TREE FOR GROUP BY";
  for (Of of : {Of::kLines, Of::kBothLines}) {
    SCOPED_TRACE(of == Of::kLines ? "one collection" : "both collections");
    ExpectIndexedPlan(raw, sum(of, false, false, false), "records_by_owner*", kGroups);
    ExpectIndexedPlan(raw, sum(of, true, false, false), "records_by_owner_status", kGroups);
    ExpectIndexedPlan(raw, sum(of, false, true, false), "records_by_owner_subject", kGroups);
    ExpectIndexedPlan(raw, sum(of, false, false, true), "records_by_tipped_record", kGroups);
    ExpectIndexedPlan(raw, sum(of, true, true, true), "records_by_tipped_record", kGroups);
  }
  // Point lookups and sweeps.
  ExpectIndexedPlan(raw, sql::kGetRecord, "sqlite_autoindex_records_1");
  ExpectIndexedPlan(raw, sql::kExpireOpenCarts, "records_open_carts_by_expiry");
  ExpectIndexedPlan(raw, sql::kGetWorkflow, "sqlite_autoindex_workflows_1");
  ExpectIndexedPlan(raw, sql::kDeleteExpiredWorkflows, "workflows_by_expiry");
}

// Any owner's records, read through the recipient or the record tipped: never the table.
TEST_F(StoreTest, AnyOwnerQueriesUseTheRecipientOrTippedRecordIndex) {
  using Of = sql::RecordSelection::Of;
  constexpr bool kAnyOwner = true;
  auto list = [](Of of, bool by_status, bool by_subject, bool by_record_uri) {
    return sql::ListRecordsSql({of, by_status, by_subject, by_record_uri, kAnyOwner});
  };
  auto sum = [](Of of, bool by_status, bool by_subject, bool by_record_uri) {
    return sql::SumLinesSql({of, by_status, by_subject, by_record_uri, kAnyOwner});
  };
  constexpr std::string_view kOrder = "USE TEMP B-TREE FOR ORDER BY";
  constexpr std::string_view kGroups = "USE TEMP B-TREE FOR GROUP BY";
  RawDb raw(db_path());
  for (const bool by_status : {false, true}) {
    SCOPED_TRACE(by_status ? "by status" : "any status");
    // A recipient's lines: a page read newest first off records_by_recipient, no sort.
    ExpectIndexedPlan(raw, list(Of::kLines, by_status, true, false), "records_by_recipient");
    ExpectIndexPerBranch(raw, list(Of::kBothLines, by_status, true, false), "records_by_recipient");
    // A record's tips, whoever sent them: its index is ordered by owner, so they are sorted.
    for (const bool by_subject : {false, true}) {
      ExpectIndexedPlan(raw, list(Of::kLines, by_status, by_subject, true),
                        "records_by_tipped_record", kOrder);
      ExpectIndexPerBranch(raw, list(Of::kBothLines, by_status, by_subject, true),
                           "records_by_tipped_record", kOrder);
    }
    for (Of of : {Of::kLines, Of::kBothLines}) {
      ExpectIndexedPlan(raw, sum(of, by_status, true, false), "records_by_recipient", kGroups);
      ExpectIndexedPlan(raw, sum(of, by_status, false, true), "records_by_tipped_record", kGroups);
      ExpectIndexedPlan(raw, sum(of, by_status, true, true), "records_by_tipped_record", kGroups);
    }
    // A recipient's carts: their lines name them, each looked up by URI, then sorted.
    ExpectIndexedPlan(raw, list(Of::kCarts, by_status, true, false), "records_by_recipient",
                      kOrder);
    ExpectIndexedPlan(raw, list(Of::kCarts, by_status, true, false), "sqlite_autoindex_records_1",
                      kOrder);

    // Without a recipient or a record, the text stays the owner's (the store does not run it).
    for (Of of : {Of::kCarts, Of::kLines, Of::kBothLines}) {
      EXPECT_EQ(list(of, by_status, false, false),
                sql::ListRecordsSql({of, by_status, false, false}));
      EXPECT_EQ(sum(of, by_status, false, false), sql::SumLinesSql({of, by_status, false, false}));
    }
  }
}

}  // namespace
}  // namespace atipay::store
