// atipay-admin's exit statuses, as its help text gives them: 0 done, 1 refused or not found,
// 2 usage or database error. Scripts tell "do not retry" (1) from "retry later" (2) by them.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/test_server.h"
#include "devid/devid.h"
#include "store/schema.h"
#include "store/store_test_util.h"
#include "support/run_tool.h"

namespace atipay::store {
namespace {

using testing::kAlice;
using testing::MakeCart;
using testing::RawDb;
using testing::StoreTest;

int Admin(const std::string& db, const std::string& args) {
  return test_support::RunTool(ATIPAY_ADMIN_BIN, "--db " + db + " " + args).status;
}

TEST_F(StoreTest, AdminPaymentThatTheDatabaseFailsToWriteIsADatabaseErrorNotARefusal) {
  RecordRow open = MakeCart(kAlice, "open");
  RecordRow abandoned = MakeCart(kAlice, "abandoned");
  abandoned.status = "abandoned";
  testing::InsertAll(*store, {&open, &abandoned});
  EXPECT_EQ(Admin(db_path(), "payment " + abandoned.uri + " completed"), 1);
  EXPECT_EQ(Admin(db_path(), "payment " + open.uri + "x completed"), 1);

  // The database refuses every update, as a read-only file or a failing disk would.
  RawDb(db_path()).Exec(
      "CREATE TRIGGER no_updates BEFORE UPDATE ON records BEGIN SELECT RAISE(ABORT, 'no'); END");
  EXPECT_EQ(Admin(db_path(), "payment " + open.uri + " completed"), 2);
  EXPECT_EQ(store->GetRecord(open.uri)->status, "open");
}

// An empty file at the path (a copy that failed) is not a database: atipay-admin does not
// make it a new one, which every command would then find clean.
TEST_F(StoreTest, AdminRefusesAnEmptyFileAndLeavesItEmpty) {
  const std::string empty = dir.File("empty.db");
  std::ofstream{empty};
  EXPECT_EQ(Admin(empty, "check"), 2);
  EXPECT_EQ(Admin(empty, "sweep"), 2);
  EXPECT_EQ(std::filesystem::file_size(empty), 0u);
  EXPECT_EQ(Admin(db_path(), "check"), 0);
}

// A database at an older schema version may be in use by an older server: atipay-admin leaves
// the upgrade to the new server rather than change the schema under the old one.
TEST_F(StoreTest, AdminDoesNotUpgradeADatabaseAnOlderServerMayBeUsing) {
  const std::string old_db = dir.File("old.db");
  const int older = schema::LatestVersion() - 1;
  testing::MakeDatabaseAtVersion(old_db, older);
  EXPECT_EQ(Admin(old_db, "check"), 2);
  EXPECT_EQ(RawDb(old_db).Int("PRAGMA user_version"), older);
  EXPECT_EQ(Admin(db_path(), "check"), 0) << "a current database is opened as before";
}

// `show` is what an operator runs on a row `check` calls damaged: a record JSON that does not
// parse is shown as the text it is (the command used to abort on boost::json's exception).
TEST_F(StoreTest, AdminShowsARowWhoseRecordJsonIsDamaged) {
  RecordRow cart = MakeCart(kAlice, "damaged");
  testing::InsertAll(*store, {&cart});
  RawDb(db_path()).Exec("UPDATE records SET record_json = '{bad' WHERE uri = '" + cart.uri + "'");
  test_support::ToolRun run =
      test_support::RunTool(ATIPAY_ADMIN_BIN, "--db " + db_path() + " show " + cart.uri);
  ASSERT_EQ(run.status, 0);
  boost::json::value shown = boost::json::parse(run.out);
  EXPECT_EQ(shown.at("uri").as_string(), cart.uri);
  EXPECT_EQ(shown.at("record").as_string(), "{bad");
  EXPECT_EQ(Admin(db_path(), "check"), 1);
}

// A PDS whose listRecords keeps answering a cursor it gave before was paged a hundred thousand
// times per collection (minutes of requests), and the comparison then made on a list that is
// not the repo's. Such a PDS is a failure to read the repo: exit 2, after the second page.
TEST_F(StoreTest, AdminReconcileStopsAtACursorThePdsRepeats) {
  std::atomic<int> pages{0};
  agent::test::TestServer pds([&](const agent::test::HttpRequest&) {
    ++pages;
    return agent::test::HttpReply{
        200, R"({"cursor":"same","records":[{"uri":"at://did:plc:alice/com.atiproto.cart/3k2",)"
             R"("cid":"bafyreid3vmtgjbluaqg4rb2csfrtrra623afphuafteib63k7umvbm6vn4"}]})"};
  });
  devid::NewIdentityOptions options;
  options.pds = pds.url();
  auto id = devid::NewIdentity(options);
  ASSERT_TRUE(id.ok());
  const std::string dids = dir.File("dids");
  ASSERT_EQ(devid::WriteDidDocument(dids, *id), "");
  EXPECT_EQ(Admin(db_path(), "reconcile " + id->did + " --dev-did-dir " + dids), 2);
  EXPECT_EQ(pages, 2);
}

TEST_F(StoreTest, AdminCommandsRefuseExtraArguments) {
  EXPECT_EQ(Admin(db_path(), "sweep now"), 2);
  EXPECT_EQ(Admin(db_path(), "check all"), 2);
  EXPECT_EQ(Admin(db_path(), "sweep"), 0);
}

}  // namespace
}  // namespace atipay::store
