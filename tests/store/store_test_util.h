// Shared by the store tests: a fresh temp directory per test, an opened store in it, and
// rows with every column filled.
#ifndef ATIPAY_TESTS_STORE_STORE_TEST_UTIL_H_
#define ATIPAY_TESTS_STORE_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "released_schema.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace atipay::store::testing {

// A directory of its own under the system temp dir, removed with everything in it.
using test_support::TempDir;

// Every test gets its own directory and database file (atipay.db), opened as `store`.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store = Open(); }
  void TearDown() override {
    if (store) store->Close();
  }

  StoreOptions Options() const {
    StoreOptions options;
    options.path = db_path();
    // FULL is the default; tests on a shared disk run faster without waiting for fsync and
    // do not test power loss.
    options.synchronous = "NORMAL";
    return options;
  }
  std::unique_ptr<Store> Open() { return Open(Options()); }
  std::unique_ptr<Store> Open(const StoreOptions& options) {
    std::string error;
    auto opened = OpenSqliteStore(options, &error);
    EXPECT_NE(opened, nullptr) << error;
    return opened;
  }
  std::string db_path() const { return dir.File("atipay.db"); }

  TempDir dir;
  std::unique_ptr<Store> store;
};

inline constexpr char kAlice[] = "did:plc:alice";
inline constexpr char kBob[] = "did:plc:bob";
inline constexpr char kCarol[] = "did:plc:carol";

inline std::string Uri(const std::string& did, std::string_view collection,
                       const std::string& rkey) {
  return "at://" + did + "/" + std::string(collection) + "/" + rkey;
}

// A row with every column set to something that tells it apart.
inline RecordRow MakeRecord(const std::string& did, std::string_view collection,
                            const std::string& rkey) {
  RecordRow row;
  row.uri = Uri(did, collection, rkey);
  row.did = did;
  row.collection = std::string(collection);
  row.rkey = rkey;
  row.record_json = R"({"$type":")" + row.collection + R"(","rkey":")" + rkey + R"("})";
  row.cid = "bafyreib" + rkey;
  row.status = "open";
  row.private_json = R"({"note":"private )" + rkey + R"("})";
  row.amount = 1234;
  row.currency = "usd";
  row.created_at_us = 1'700'000'000'000'001;
  row.updated_at_us = 1'700'000'000'000'002;
  row.expires_at_us = 1'700'000'000'000'003;
  row.completed_at_us = 0;
  row.redirect_url = "https://shop.example/return/" + rkey;
  row.cloned_from = "";
  return row;
}

inline RecordRow MakeCart(const std::string& did, const std::string& rkey) {
  return MakeRecord(did, kCartCollection, rkey);
}

inline RecordRow MakeLine(const std::string& did, std::string_view collection,
                          const std::string& rkey, const std::string& cart_uri,
                          const std::string& subject) {
  RecordRow row = MakeRecord(did, collection, rkey);
  row.cart_uri = cart_uri;
  row.subject = subject;
  row.redirect_url = "";
  return row;
}

inline WorkflowRow MakeWorkflow(const std::string& id, std::int64_t expires_at_us) {
  WorkflowRow row;
  row.id = id;
  row.did = kAlice;
  row.nsid = "com.atiproto.cart.clone";
  row.fingerprint = "sha256:" + id;
  row.round = 1;
  row.state = "pending";
  row.plan_json = R"({"create":["a","b"]})";
  row.result_json = "";
  row.created_at_us = 1'700'000'000'000'000;
  row.expires_at_us = expires_at_us;
  return row;
}

// Inserts rows in order in one job, filling their seq; fails the test on error.
inline void InsertAll(Store& store, std::vector<RecordRow*> rows) {
  Status status = store.WriteSync([&](WriteTxn& txn) {
    for (RecordRow* row : rows) {
      Status inserted = txn.InsertRecord(*row);
      if (!inserted.ok()) return inserted;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.message;
}

// A plain connection to the file, for checks the store API does not offer.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  sqlite3* db() const { return db_; }
  // Runs SQL; fails the test on error.
  void Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  // The first column of every row, as text.
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> values;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      values.emplace_back(text ? text : "");
    }
    sqlite3_finalize(stmt);
    return values;
  }
  std::int64_t Int(const std::string& sql) {
    auto values = Column(sql);
    EXPECT_EQ(values.size(), 1u) << sql;
    return values.empty() ? -1 : std::stoll(values[0]);
  }

 private:
  sqlite3* db_ = nullptr;
};

// A new database file at `path` with the schema of `version` as the build that released it made
// it (kReleasedSteps, not this build's steps), empty.
inline void MakeDatabaseAtVersion(const std::string& path, int version) {
  ASSERT_LE(static_cast<std::size_t>(version), std::size(kReleasedSteps)) << "not released yet";
  Status status;
  auto connection =
      sqlite::Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000, &status);
  ASSERT_NE(connection, nullptr) << status.message;
  status = schema::Migrate(*connection,
                           std::span(kReleasedSteps).first(static_cast<std::size_t>(version)));
  ASSERT_TRUE(status.ok()) << status.message;
}

}  // namespace atipay::store::testing

#endif  // ATIPAY_TESTS_STORE_STORE_TEST_UTIL_H_
