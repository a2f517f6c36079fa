// The SQLite store: opening and migrating, records, queries, workflows, the payment log.
#include "store/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store_test_util.h"

namespace atipay::store {
namespace {

using testing::InsertAll;
using testing::kAlice;
using testing::kBob;
using testing::kCarol;
using testing::MakeCart;
using testing::MakeDatabaseAtVersion;
using testing::MakeLine;
using testing::MakeRecord;
using testing::MakeWorkflow;
using testing::RawDb;
using testing::StoreTest;
using testing::TempDir;
using Code = Status::Code;

// Runs the expiry sweep in its own commit; the number of carts it expired, -1 if it failed.
std::int64_t ExpireOpenCarts(Store& store, std::int64_t now_us, std::int64_t limit = 1000) {
  std::int64_t expired = -1;
  Status status = store.WriteSync([&](WriteTxn& txn) {
    expired = txn.ExpireOpenCarts(now_us, limit);
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.message;
  return status.ok() ? expired : -1;
}

void ExpectSameRecord(const RecordRow& got, const RecordRow& want) {
  EXPECT_EQ(got.uri, want.uri);
  EXPECT_EQ(got.did, want.did);
  EXPECT_EQ(got.collection, want.collection);
  EXPECT_EQ(got.rkey, want.rkey);
  EXPECT_EQ(got.record_json, want.record_json);
  EXPECT_EQ(got.cid, want.cid);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.cart_uri, want.cart_uri);
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.record_uri, want.record_uri);
  EXPECT_EQ(got.private_json, want.private_json);
  EXPECT_EQ(got.amount, want.amount);
  EXPECT_EQ(got.currency, want.currency);
  EXPECT_EQ(got.created_at_us, want.created_at_us);
  EXPECT_EQ(got.updated_at_us, want.updated_at_us);
  EXPECT_EQ(got.expires_at_us, want.expires_at_us);
  EXPECT_EQ(got.completed_at_us, want.completed_at_us);
  EXPECT_EQ(got.redirect_url, want.redirect_url);
  EXPECT_EQ(got.cloned_from, want.cloned_from);
  EXPECT_EQ(got.seq, want.seq);
}

void ExpectSameWorkflow(const WorkflowRow& got, const WorkflowRow& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.did, want.did);
  EXPECT_EQ(got.nsid, want.nsid);
  EXPECT_EQ(got.fingerprint, want.fingerprint);
  EXPECT_EQ(got.round, want.round);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.plan_json, want.plan_json);
  EXPECT_EQ(got.result_json, want.result_json);
  EXPECT_EQ(got.created_at_us, want.created_at_us);
  EXPECT_EQ(got.expires_at_us, want.expires_at_us);
}

std::vector<std::string> Rkeys(const std::vector<RecordRow>& rows) {
  std::vector<std::string> rkeys;
  for (const RecordRow& row : rows) rkeys.push_back(row.rkey);
  return rkeys;
}

// Totals as "<currency> <amount> x<count>", in the order given.
std::vector<std::string> Totals(const std::vector<LineTotal>& totals) {
  std::vector<std::string> texts;
  for (const LineTotal& total : totals) {
    texts.push_back(total.currency + " " + std::to_string(total.amount) + " x" +
                    std::to_string(total.count));
  }
  return texts;
}

// Records of a database at an older schema `version` (1 to 4; before 3, no record_uri column):
// the schema made by this build's own first steps, and the rows of the database at `from` as
// that version would have written them.
void CopyIntoOldDatabase(const std::string& from, const std::string& to, int version) {
  MakeDatabaseAtVersion(to, version);
  std::string columns =
      "seq, uri, did, collection, rkey, record_json, cid, status, cart_uri, subject, "
      "private_json, amount, currency, created_at_us, updated_at_us, expires_at_us, "
      "completed_at_us, redirect_url, cloned_from";
  if (version >= 3) columns += ", record_uri";
  RawDb raw(to);
  raw.Exec("ATTACH DATABASE '" + from + "' AS current");
  raw.Exec("INSERT INTO records (" + columns + ") SELECT " + columns + " FROM current.records");
  raw.Exec("DETACH DATABASE current");
}

// The schema as SQLite keeps it: every CREATE statement, in order.
std::vector<std::string> SchemaDump(const std::string& path) {
  RawDb raw(path);
  return raw.Column(
      "SELECT type || ' ' || name || ': ' || coalesce(sql, '') "
      "FROM sqlite_master ORDER BY type, name");
}

// --- Opening and migrating -------------------------------------------------------------------

TEST_F(StoreTest, OpenCreatesFileWithSchemaInWalMode) {
  ASSERT_TRUE(std::filesystem::exists(db_path()));
  RawDb raw(db_path());
  EXPECT_EQ(raw.Int("PRAGMA user_version"), schema::LatestVersion());
  EXPECT_EQ(raw.Column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  auto tables = raw.Column("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  EXPECT_EQ(tables, (std::vector<std::string>{"payment_events", "records", "sqlite_sequence",
                                              "workflows"}));
}

TEST_F(StoreTest, ReopenKeepsDataAndDoesNotMigrateAgain) {
  RecordRow cart = MakeCart(kAlice, "c1");
  RecordRow item = MakeLine(kAlice, kItemCollection, "i1", cart.uri, kBob);
  InsertAll(*store, {&cart, &item});
  ASSERT_TRUE(
      store->WriteSync([](WriteTxn& txn) { return txn.InsertWorkflow(MakeWorkflow("w1", 99)); })
          .ok());
  store->Close();
  const auto schema_before = SchemaDump(db_path());

  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SchemaDump(db_path()), schema_before);
  EXPECT_EQ(RawDb(db_path()).Int("PRAGMA user_version"), schema::LatestVersion());
  auto got = store->GetRecord(cart.uri);
  ASSERT_TRUE(got.has_value());
  ExpectSameRecord(*got, cart);
  ASSERT_TRUE(store->GetRecord(item.uri).has_value());
  ASSERT_TRUE(store->GetWorkflow("w1").has_value());

  // seq keeps counting up from where it was.
  RecordRow later = MakeCart(kAlice, "c2");
  InsertAll(*store, {&later});
  EXPECT_GT(later.seq, item.seq);
}

// Each row is in the store as given.
void ExpectStored(Store& store, std::initializer_list<const RecordRow*> rows) {
  for (const RecordRow* row : rows) {
    SCOPED_TRACE(row->rkey);
    auto got = store.GetRecord(row->uri);
    ASSERT_TRUE(got.has_value());
    ExpectSameRecord(*got, *row);
  }
}

// The rows a partial index holds; `where` must imply its WHERE.
std::int64_t IndexEntries(RawDb& raw, const std::string& index, const std::string& where) {
  return raw.Int("SELECT count(*) FROM records INDEXED BY " + index + " WHERE " + where);
}

// Opens databases written by older builds.
class StoreUpgradeTest : public StoreTest {
 protected:
  // Closes the store, copies its records into a new database at schema `version` and opens
  // that (the store migrates it); the new database's path.
  std::string ReopenAsVersion(int version) {
    store->Close();
    StoreOptions options = Options();
    options.path = dir.File("version" + std::to_string(version) + ".db");
    CopyIntoOldDatabase(db_path(), options.path, version);
    store = Open(options);
    if (store) {
      EXPECT_EQ(RawDb(options.path).Int("PRAGMA user_version"), schema::LatestVersion());
    }
    return options.path;
  }
};

// A database written by a version-1 build (before the partial expiry index, with
// records_by_cart) is upgraded in place on open, and its open carts still expire.
TEST_F(StoreUpgradeTest, VersionOneDatabaseIsUpgradedAndItsOpenCartsStillExpire) {
  RecordRow cart = MakeCart(kAlice, "old");
  cart.status = "open";
  cart.expires_at_us = 1'000;
  InsertAll(*store, {&cart});
  const std::string path = ReopenAsVersion(1);
  ASSERT_NE(store, nullptr);
  RawDb raw(path);
  EXPECT_EQ(raw.Column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                       "'records' ORDER BY name"),
            (std::vector<std::string>{"records_by_owner", "records_by_owner_status",
                                      "records_by_owner_subject", "records_by_recipient",
                                      "records_by_tipped_record", "records_open_carts_by_expiry",
                                      "sqlite_autoindex_records_1"}));
  ExpectSameRecord(*store->GetRecord(cart.uri), cart);
  EXPECT_EQ(ExpireOpenCarts(*store, 2'000), 1);
  EXPECT_EQ(store->GetRecord(cart.uri)->status, "expired");
}

// Version 2 had no record_uri column: opening adds it, fills it in from each item's JSON
// (record_json, or private_json for a private item) and indexes the items that tip a record.
TEST_F(StoreUpgradeTest, VersionTwoItemsGetTheRecordTheyTipFromTheirJson) {
  const std::string post1 = "at://did:plc:bob/app.bsky.feed.post/p1";
  const std::string post2 = "at://did:plc:bob/app.bsky.feed.post/p2";
  RecordRow public_tip = MakeLine(kAlice, kItemCollection, "public", "", kBob);
  public_tip.record_json =
      R"({"$type":"com.atiproto.item","subject":"did:plc:bob","recordUri":")" + post1 + R"("})";
  public_tip.private_json = "";  // not JSON
  RecordRow private_tip = MakeLine(kAlice, kItemCollection, "private", "", kBob);
  private_tip.record_json = R"({"$type":"com.atiproto.item","amount":1234})";
  private_tip.private_json = R"({"subject":"did:plc:bob","recordUri":")" + post2 + R"("})";
  RecordRow public_plain = MakeLine(kAlice, kItemCollection, "public-plain", "", kBob);
  public_plain.private_json = "";
  RecordRow private_plain = MakeLine(kAlice, kItemCollection, "private-plain", "", kBob);
  private_plain.private_json = R"({"subject":"did:plc:bob"})";
  RecordRow subscription = MakeLine(kAlice, kSubscriptionCollection, "sub", "", kBob);
  subscription.private_json = "";
  InsertAll(*store, {&public_tip, &private_tip, &public_plain, &private_plain, &subscription});
  const std::string path = ReopenAsVersion(2);
  ASSERT_NE(store, nullptr);
  RawDb raw(path);
  public_tip.record_uri = post1;
  private_tip.record_uri = post2;
  ExpectStored(*store, {&public_tip, &private_tip, &public_plain, &private_plain, &subscription});
  // Only the two tips entered the partial index, and the queries find them through it.
  EXPECT_EQ(IndexEntries(raw, "records_by_tipped_record", "record_uri <> ''"), 2);
  LineQuery query;
  query.did = kAlice;
  query.record_uri = post2;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), std::vector<std::string>{"private"});
  EXPECT_EQ(Totals(store->SumLines(query)), std::vector<std::string>{"usd 1234 x1"});
}

// Version 3 had no index by recipient: opening adds it, over the lines (not the carts or
// profiles), and leaves every row as it was.
TEST_F(StoreUpgradeTest, VersionThreeDatabaseGetsTheRecipientIndexOverItsLines) {
  RecordRow cart = MakeCart(kAlice, "c1");
  RecordRow profile = MakeRecord(kAlice, kProfileCollection, "self");
  RecordRow tip = MakeLine(kAlice, kItemCollection, "i1", cart.uri, kBob);
  tip.record_uri = "at://did:plc:bob/app.bsky.feed.post/p1";
  RecordRow carols = MakeLine(kCarol, kSubscriptionCollection, "s1", "", kBob);
  RecordRow to_carol = MakeLine(kAlice, kItemCollection, "i2", cart.uri, kCarol);
  InsertAll(*store, {&cart, &profile, &tip, &carols, &to_carol});
  const std::string path = ReopenAsVersion(3);
  ASSERT_NE(store, nullptr);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                    "AND name = 'records_by_recipient'"),
            1);
  ExpectStored(*store, {&cart, &profile, &tip, &carols, &to_carol});
  EXPECT_EQ(IndexEntries(raw, "records_by_recipient", "subject <> ''"), 3);
  LineQuery query;
  query.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"s1", "i1"}));
  CartQuery carts;
  carts.subject = kCarol;
  EXPECT_EQ(Rkeys(store->ListCarts(carts).rows), std::vector<std::string>{"c1"});
}

// Versions 3 and 4 stored some items without their record_uri (a workflow plan read back
// from the database left it out): opening takes it again from their JSON, for those only.
TEST_F(StoreUpgradeTest, VersionFourItemsThatLostTheRecordTheyTipGetItBack) {
  const std::string post1 = "at://did:plc:bob/app.bsky.feed.post/p1";
  const std::string post2 = "at://did:plc:bob/app.bsky.feed.post/p2";
  RecordRow lost_public = MakeLine(kAlice, kItemCollection, "public", "", kBob);
  lost_public.record_json =
      R"({"$type":"com.atiproto.item","subject":"did:plc:bob","recordUri":")" + post1 + R"("})";
  lost_public.private_json = "";
  RecordRow lost_private = MakeLine(kAlice, kItemCollection, "private", "", kBob);
  lost_private.record_json = R"({"$type":"com.atiproto.item","amount":1234})";
  lost_private.private_json = R"({"subject":"did:plc:bob","recordUri":")" + post2 + R"("})";
  RecordRow kept = MakeLine(kAlice, kItemCollection, "kept", "", kBob);
  kept.record_uri = post2;
  RecordRow plain = MakeLine(kAlice, kItemCollection, "plain", "", kBob);
  plain.private_json = "";
  InsertAll(*store, {&lost_public, &lost_private, &kept, &plain});
  const std::string path = ReopenAsVersion(4);
  ASSERT_NE(store, nullptr);
  lost_public.record_uri = post1;
  lost_private.record_uri = post2;
  ExpectStored(*store, {&lost_public, &lost_private, &kept, &plain});
  RawDb raw(path);
  EXPECT_EQ(IndexEntries(raw, "records_by_tipped_record", "record_uri <> ''"), 3);
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  store->Close();
  RawDb(db_path()).Exec("PRAGMA user_version = " + std::to_string(schema::LatestVersion() + 1));
  std::string error;
  StoreOptions options = Options();
  EXPECT_EQ(OpenSqliteStore(options, &error), nullptr);
  EXPECT_NE(error.find("newer than this build supports"), std::string::npos) << error;
  EXPECT_NE(error.find(db_path()), std::string::npos) << error;
  // Left as it was.
  EXPECT_EQ(RawDb(db_path()).Int("PRAGMA user_version"), schema::LatestVersion() + 1);
}

TEST(StoreOpenTest, RefusesBadOptionsAndFilesWithAMessage) {
  TempDir dir;
  std::string error;
  StoreOptions options;
  options.path = dir.File("a.db");

  options.synchronous = "EXTRA-SAFE";
  EXPECT_EQ(OpenSqliteStore(options, &error), nullptr);
  EXPECT_NE(error.find("synchronous must be FULL, NORMAL or OFF"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(options.path));
  options.synchronous = "normal";  // case does not matter
  EXPECT_NE(OpenSqliteStore(options, &error), nullptr) << error;

  options.max_batch = 0;
  EXPECT_EQ(OpenSqliteStore(options, &error), nullptr);
  EXPECT_NE(error.find("max_batch"), std::string::npos) << error;
  options.max_batch = 256;
  options.read_connections = 0;
  EXPECT_EQ(OpenSqliteStore(options, &error), nullptr);
  EXPECT_NE(error.find("read_connections"), std::string::npos) << error;
  options.read_connections = 4;

  options.path = dir.File("no/such/dir/a.db");
  EXPECT_EQ(OpenSqliteStore(options, &error), nullptr);
  EXPECT_NE(error.find("unable to open"), std::string::npos) << error;

  options.path = dir.File("text.db");
  std::ofstream(options.path) << "this is not a database, it is a text file of some length...";
  EXPECT_EQ(OpenSqliteStore(options, &error), nullptr);
  EXPECT_NE(error.find("not a database"), std::string::npos) << error;

  EXPECT_EQ(OpenSqliteStore(options, nullptr), nullptr);  // no error out-parameter: fine too
}

TEST(StoreOpenTest, DefaultsAreFullSyncAndUsable) {
  TempDir dir;
  StoreOptions options;
  options.path = dir.File("a.db");
  std::string error;
  auto store = OpenSqliteStore(options, &error);
  ASSERT_NE(store, nullptr) << error;
  RecordRow cart = MakeCart(kAlice, "c1");
  InsertAll(*store, {&cart});
  EXPECT_TRUE(store->GetRecord(cart.uri).has_value());
}

// --- Records ----------------------------------------------------------------------------------

TEST_F(StoreTest, RecordColumnsRoundTrip) {
  RecordRow item = MakeLine(kAlice, kItemCollection, "i1", "at://did:plc:alice/cart/c1", kBob);
  item.completed_at_us = 1'700'000'000'000'009;
  item.cloned_from = "at://did:plc:alice/com.atiproto.cart/old";
  item.record_json = R"({"$type":"com.atiproto.item","note":"caf\u00e9 ☕ \"quoted\""})";
  item.record_uri = "at://did:plc:bob/app.bsky.feed.post/3k2a";
  item.amount = -42;  // whatever the caller stores comes back
  InsertAll(*store, {&item});
  EXPECT_GT(item.seq, 0);

  auto got = store->GetRecord(item.uri);
  ASSERT_TRUE(got.has_value());
  ExpectSameRecord(*got, item);

  // The writer's view sees the same row.
  std::optional<RecordRow> in_txn;
  ASSERT_TRUE(store
                  ->WriteSync([&](WriteTxn& txn) {
                    in_txn = txn.GetRecord(item.uri);
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(in_txn.has_value());
  ExpectSameRecord(*in_txn, item);
}

TEST_F(StoreTest, UpdateReplacesEveryColumnButSeq) {
  RecordRow cart = MakeCart(kAlice, "c1");
  InsertAll(*store, {&cart});

  RecordRow changed = cart;
  changed.did = kCarol;
  changed.collection = std::string(kSubscriptionCollection);
  changed.rkey = "other";
  changed.record_json = R"({"$type":"com.atiproto.subscription"})";
  changed.cid = "bafyreichanged";
  changed.status = "paid";
  changed.cart_uri = "at://x/y/z";
  changed.subject = kBob;
  changed.record_uri = "at://did:plc:bob/app.bsky.feed.post/3k2a";
  changed.private_json = "{}";
  changed.amount = 999;
  changed.currency = "eur";
  changed.created_at_us = 11;
  changed.updated_at_us = 12;
  changed.expires_at_us = 13;
  changed.completed_at_us = 14;
  changed.redirect_url = "";
  changed.cloned_from = "at://somewhere";
  changed.seq = 12345;  // ignored: seq stays what the insert gave
  Status status = store->WriteSync([&](WriteTxn& txn) { return txn.UpdateRecord(changed); });
  ASSERT_TRUE(status.ok()) << status.message;

  auto got = store->GetRecord(cart.uri);
  ASSERT_TRUE(got.has_value());
  changed.seq = cart.seq;
  ExpectSameRecord(*got, changed);
}

TEST_F(StoreTest, UpdateAndDeleteOfMissingRowsAreNotFound) {
  RecordRow ghost = MakeCart(kAlice, "ghost");
  Status status = store->WriteSync([&](WriteTxn& txn) { return txn.UpdateRecord(ghost); });
  EXPECT_EQ(status.code, Code::kNotFound) << status.message;
  status = store->WriteSync([&](WriteTxn& txn) { return txn.DeleteRecord(ghost.uri); });
  EXPECT_EQ(status.code, Code::kNotFound) << status.message;
  EXPECT_FALSE(store->GetRecord(ghost.uri).has_value());
}

TEST_F(StoreTest, DeleteRemovesTheRow) {
  RecordRow a = MakeCart(kAlice, "a");
  RecordRow b = MakeCart(kAlice, "b");
  InsertAll(*store, {&a, &b});
  ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.DeleteRecord(a.uri); }).ok());
  EXPECT_FALSE(store->GetRecord(a.uri).has_value());
  EXPECT_TRUE(store->GetRecord(b.uri).has_value());
}

TEST_F(StoreTest, SeqIsMonotonicAndNeverReused) {
  RecordRow a = MakeCart(kAlice, "a");
  RecordRow b = MakeRecord(kBob, kItemCollection, "b");
  InsertAll(*store, {&a, &b});
  EXPECT_GT(b.seq, a.seq);
  // Deleting the newest row must not hand its seq out again (cursors would repeat rows).
  ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.DeleteRecord(b.uri); }).ok());
  RecordRow c = MakeCart(kAlice, "c");
  InsertAll(*store, {&c});
  EXPECT_GT(c.seq, b.seq);
}

TEST_F(StoreTest, DuplicateUriIsConflict) {
  RecordRow cart = MakeCart(kAlice, "c1");
  InsertAll(*store, {&cart});
  RecordRow again = MakeCart(kAlice, "c1");
  again.amount = 1;
  Status inner;
  Status status = store->WriteSync([&](WriteTxn& txn) {
    inner = txn.InsertRecord(again);
    return inner;
  });
  EXPECT_EQ(inner.code, Code::kConflict) << inner.message;
  EXPECT_EQ(status.code, Code::kConflict);
  EXPECT_NE(status.message.find("UNIQUE"), std::string::npos) << status.message;
  EXPECT_EQ(store->GetRecord(cart.uri)->amount, cart.amount);

  // A job may treat the conflict as expected and go on: the rest of its work commits.
  RecordRow other = MakeCart(kAlice, "c2");
  status = store->WriteSync([&](WriteTxn& txn) {
    if (txn.InsertRecord(again).code != Code::kConflict) return Status::Error(Code::kInternal, "?");
    return txn.InsertRecord(other);
  });
  EXPECT_TRUE(status.ok()) << status.message;
  EXPECT_TRUE(store->GetRecord(other.uri).has_value());
}

TEST_F(StoreTest, GetRecordsKeepsOrderAndSkipsMissing) {
  RecordRow a = MakeCart(kAlice, "a");
  RecordRow b = MakeCart(kBob, "b");
  RecordRow c = MakeRecord(kAlice, kItemCollection, "c");
  InsertAll(*store, {&a, &b, &c});
  auto rows = store->GetRecords(
      {c.uri, "at://did:plc:nobody/com.atiproto.cart/x", a.uri, b.uri, "", a.uri});
  EXPECT_EQ(Rkeys(rows), (std::vector<std::string>{"c", "a", "b", "a"}));
  ExpectSameRecord(rows[0], c);
  EXPECT_TRUE(store->GetRecords({}).empty());
}

// A profile is a record like any other (rkey "self", no subject): kept, read and replaced, and
// in no list or sum of carts or lines, its owner's or a recipient's.
TEST_F(StoreTest, ProfilesAreOrdinaryRecords) {
  RecordRow profile = MakeRecord(kBob, kProfileCollection, "self");
  profile.record_json = R"({"$type":"com.atiproto.profile","displayName":"Bob"})";
  RecordRow tip = MakeLine(kAlice, kItemCollection, "i1", "", kBob);
  InsertAll(*store, {&profile, &tip});
  ASSERT_TRUE(store->GetRecord(profile.uri).has_value());
  ExpectSameRecord(*store->GetRecord(profile.uri), profile);
  profile.record_json = R"({"$type":"com.atiproto.profile","displayName":"Robert"})";
  ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.UpdateRecord(profile); }).ok());
  EXPECT_EQ(Rkeys(store->GetRecords({profile.uri, tip.uri})),
            (std::vector<std::string>{"self", "i1"}));
  ExpectSameRecord(store->GetRecords({profile.uri})[0], profile);

  CartQuery carts;
  carts.did = kBob;
  EXPECT_TRUE(store->ListCarts(carts).rows.empty());
  LineQuery lines;
  lines.did = kBob;
  EXPECT_TRUE(store->ListLines(lines).rows.empty());
  EXPECT_TRUE(store->SumLines(lines).empty());
  lines.did = "";
  lines.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListLines(lines).rows), std::vector<std::string>{"i1"});
}

TEST_F(StoreTest, ExpireOpenCartsTouchesOnlyOpenCartsPastExpiry) {
  const std::int64_t now = 5'000;
  auto cart = [&](const std::string& rkey, const std::string& status, std::int64_t expires) {
    RecordRow row = MakeCart(kAlice, rkey);
    row.status = status;
    row.expires_at_us = expires;
    return row;
  };
  RecordRow past = cart("past", "open", now - 1);
  RecordRow exactly = cart("exactly", "open", now);
  RecordRow future = cart("future", "open", now + 1);
  RecordRow no_expiry = cart("none", "open", 0);
  RecordRow paid = cart("paid", "paid", now - 1);
  RecordRow item = MakeRecord(kAlice, kItemCollection, "item");  // an open line, not a cart
  item.expires_at_us = now - 1;
  InsertAll(*store, {&past, &exactly, &future, &no_expiry, &paid, &item});

  EXPECT_EQ(ExpireOpenCarts(*store, now), 2);
  EXPECT_EQ(store->GetRecord(past.uri)->status, "expired");
  EXPECT_EQ(store->GetRecord(exactly.uri)->status, "expired");
  EXPECT_EQ(store->GetRecord(future.uri)->status, "open");
  EXPECT_EQ(store->GetRecord(no_expiry.uri)->status, "open");
  EXPECT_EQ(store->GetRecord(paid.uri)->status, "paid");
  EXPECT_EQ(store->GetRecord(item.uri)->status, "open");
  // The status changes, and with it the time the row last changed; nothing else does.
  RecordRow want = past;
  want.status = "expired";
  want.updated_at_us = now;
  ExpectSameRecord(*store->GetRecord(past.uri), want);
  EXPECT_EQ(store->GetRecord(future.uri)->updated_at_us, future.updated_at_us);
  EXPECT_EQ(store->GetRecord(paid.uri)->updated_at_us, paid.updated_at_us);

  EXPECT_EQ(ExpireOpenCarts(*store, now), 0) << "nothing left to expire";
}

// A backlog goes in bounded transactions, the longest overdue first.
TEST_F(StoreTest, SweepWorksThroughABacklogInChunks) {
  const std::int64_t now = 10'000;
  std::vector<RecordRow> carts;
  for (int i = 0; i < 7; ++i) {
    carts.push_back(MakeCart(kAlice, "c" + std::to_string(i)));
    carts.back().expires_at_us = now - 100 + i;  // c0 is the longest overdue
  }
  carts.push_back(MakeCart(kAlice, "later"));
  carts.back().expires_at_us = now + 1;
  std::vector<RecordRow*> all;
  for (auto& cart : carts) all.push_back(&cart);
  InsertAll(*store, all);
  for (int i = 0; i < 5; ++i) {
    WorkflowRow w = MakeWorkflow("old" + std::to_string(i), now - 10 + i);
    ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.InsertWorkflow(w); }).ok());
  }
  WorkflowRow young = MakeWorkflow("young", now + 1);
  ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.InsertWorkflow(young); }).ok());

  // One bounded step: the three longest overdue carts only.
  EXPECT_EQ(ExpireOpenCarts(*store, now, 3), 3);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(store->GetRecord(carts[static_cast<std::size_t>(i)].uri)->status,
              i < 3 ? "expired" : "open")
        << i;
  }

  const auto commits_before = store->stats().commits;
  SweepResult swept = Sweep(*store, now, 2);
  ASSERT_TRUE(swept.status.ok()) << swept.status.message;
  EXPECT_EQ(swept.carts_expired, 4);
  EXPECT_EQ(swept.workflows_deleted, 5);
  // Each commit takes up to two carts and two workflows: 2+2, 2+2, 0+1.
  EXPECT_EQ(store->stats().commits - commits_before, 3u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(store->GetRecord(carts[static_cast<std::size_t>(i)].uri)->status, "expired") << i;
  }
  EXPECT_EQ(store->GetRecord(carts.back().uri)->status, "open");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(store->GetWorkflow("old" + std::to_string(i))) << i;
  EXPECT_TRUE(store->GetWorkflow("young").has_value());

  const auto commits_idle = store->stats().commits;
  swept = Sweep(*store, now);
  EXPECT_TRUE(swept.status.ok());
  EXPECT_EQ(swept.carts_expired, 0);
  EXPECT_EQ(swept.workflows_deleted, 0);
  EXPECT_EQ(store->stats().commits - commits_idle, 1u) << "nothing to do is one commit";
}

// --- Lists ------------------------------------------------------------------------------------

TEST_F(StoreTest, ListCartsNewestFirstWithFilters) {
  RecordRow c1 = MakeCart(kAlice, "c1");
  RecordRow c2 = MakeCart(kAlice, "c2");
  c2.status = "paid";
  RecordRow c3 = MakeCart(kAlice, "c3");
  RecordRow bobs = MakeCart(kBob, "b1");
  RecordRow to_bob = MakeLine(kAlice, kItemCollection, "i1", c1.uri, kBob);
  RecordRow to_carol = MakeLine(kAlice, kItemCollection, "i2", c2.uri, kCarol);
  RecordRow sub_to_bob = MakeLine(kAlice, kSubscriptionCollection, "s1", c2.uri, kBob);
  RecordRow to_bob_again = MakeLine(kAlice, kItemCollection, "i3", c2.uri, kBob);
  InsertAll(*store, {&c1, &c2, &bobs, &to_bob, &to_carol, &c3, &sub_to_bob, &to_bob_again});

  CartQuery query;
  query.did = kAlice;
  auto page = store->ListCarts(query);
  EXPECT_EQ(Rkeys(page.rows), (std::vector<std::string>{"c3", "c2", "c1"}));
  EXPECT_FALSE(page.next_before_seq.has_value());
  ExpectSameRecord(page.rows[0], c3);

  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), (std::vector<std::string>{"c3", "c1"}));
  query.status = "paid";
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), (std::vector<std::string>{"c2"}));
  query.status.reset();

  // Carts with a line paying Bob, each once although c2 has two such lines.
  query.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), (std::vector<std::string>{"c2", "c1"}));
  query.subject = kCarol;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), (std::vector<std::string>{"c2"}));
  query.status = "open";
  EXPECT_TRUE(store->ListCarts(query).rows.empty());
  query.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), (std::vector<std::string>{"c1"}));

  CartQuery bob;
  bob.did = kBob;
  EXPECT_EQ(Rkeys(store->ListCarts(bob).rows), (std::vector<std::string>{"b1"}));
  CartQuery nobody;
  nobody.did = "did:plc:nobody";
  EXPECT_TRUE(store->ListCarts(nobody).rows.empty());
}

TEST_F(StoreTest, ListLinesByCollectionWithFilters) {
  RecordRow cart = MakeCart(kAlice, "c1");
  RecordRow i1 = MakeLine(kAlice, kItemCollection, "i1", cart.uri, kBob);
  RecordRow s1 = MakeLine(kAlice, kSubscriptionCollection, "s1", cart.uri, kBob);
  RecordRow i2 = MakeLine(kAlice, kItemCollection, "i2", cart.uri, kCarol);
  i2.status = "paid";
  RecordRow i3 = MakeLine(kAlice, kItemCollection, "i3", "", kBob);  // not in a cart
  RecordRow bobs = MakeLine(kBob, kItemCollection, "b1", "", kAlice);
  InsertAll(*store, {&cart, &i1, &s1, &i2, &i3, &bobs});

  LineQuery query;
  query.did = kAlice;
  query.collection = std::string(kItemCollection);
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i3", "i2", "i1"}));
  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i3", "i1"}));
  query.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i3", "i1"}));
  query.status.reset();
  query.subject = kCarol;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i2"}));
  query.status = "open";
  EXPECT_TRUE(store->ListLines(query).rows.empty());

  LineQuery subs;
  subs.did = kAlice;
  subs.collection = std::string(kSubscriptionCollection);
  auto page = store->ListLines(subs);
  EXPECT_EQ(Rkeys(page.rows), std::vector<std::string>{"s1"});
  ExpectSameRecord(page.rows[0], s1);
}

Page<RecordRow> ListPage(Store& store, const CartQuery& query) { return store.ListCarts(query); }
Page<RecordRow> ListPage(Store& store, const LineQuery& query) { return store.ListLines(query); }

// Follows next_before_seq to the end; every row once, newest first throughout.
template <class Query>
std::vector<std::int64_t> Walk(Store& store, Query query, std::vector<size_t>* sizes) {
  std::vector<std::int64_t> seqs;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = ListPage(store, query);
    sizes->push_back(page.rows.size());
    for (const RecordRow& row : page.rows) seqs.push_back(row.seq);
    if (!page.next_before_seq) break;
    EXPECT_EQ(*page.next_before_seq, page.rows.back().seq);
    query.before_seq = page.next_before_seq;
  }
  return seqs;
}

TEST_F(StoreTest, CursorPagingVisitsEveryRowOnce) {
  std::vector<RecordRow> carts;
  for (int i = 0; i < 53; ++i) {
    carts.push_back(MakeCart(kAlice, "c" + std::to_string(i)));
    carts.back().status = i % 2 == 0 ? "open" : "paid";
  }
  RecordRow bobs = MakeCart(kBob, "b");
  std::vector<RecordRow*> pointers{&bobs};
  for (RecordRow& cart : carts) pointers.push_back(&cart);
  InsertAll(*store, pointers);

  CartQuery query;
  query.did = kAlice;
  query.limit = 10;
  std::vector<size_t> sizes;
  auto seqs = Walk(*store, query, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 10, 10, 10, 3}));
  std::vector<std::int64_t> want;
  for (auto it = carts.rbegin(); it != carts.rend(); ++it) want.push_back(it->seq);
  EXPECT_EQ(seqs, want);

  // Filtered: 27 open carts in pages of 9 fill exactly three pages; the fourth is empty.
  query.status = "open";
  query.limit = 9;
  sizes.clear();
  seqs = Walk(*store, query, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{9, 9, 9, 0}));
  EXPECT_EQ(std::set<std::int64_t>(seqs.begin(), seqs.end()).size(), 27u);
  EXPECT_TRUE(std::is_sorted(seqs.rbegin(), seqs.rend()));

  // Rows added while paging show up on a new first page, not in the middle of the walk.
  CartQuery first;
  first.did = kAlice;
  first.limit = 5;
  auto page1 = store->ListCarts(first);
  RecordRow newer = MakeCart(kAlice, "newer");
  InsertAll(*store, {&newer});
  first.before_seq = page1.next_before_seq;
  auto page2 = store->ListCarts(first);
  EXPECT_EQ(page2.rows.front().seq, carts[47].seq);
}

// Judged at a time, "open" and "expired" go by expiry as a read does, before the sweeper has
// written "expired": each overdue open cart is in "expired", once, and no longer in "open".
TEST_F(StoreTest, ListCartsByStatusAtATimeCountsOverdueOpenCartsAsExpired) {
  const std::int64_t now = 1'800'000'000'000'000;
  std::vector<RecordRow> carts;
  for (int i = 0; i < 12; ++i) {
    carts.push_back(MakeCart(kAlice, "c" + std::to_string(i)));
    RecordRow& cart = carts.back();
    switch (i % 4) {
      case 0: cart.status = "expired"; break;                         // swept
      case 1: cart.expires_at_us = now; break;                        // overdue, not swept
      case 2: cart.expires_at_us = now + 1; break;                    // still open
      case 3: cart.expires_at_us = 0; break;                          // never expires
    }
  }
  RecordRow bobs = MakeCart(kBob, "b");
  bobs.expires_at_us = now - 1;
  std::vector<RecordRow*> pointers{&bobs};
  for (RecordRow& cart : carts) pointers.push_back(&cart);
  InsertAll(*store, pointers);
  auto rkeys_where = [&](auto pick) {
    std::vector<std::string> want;
    for (auto it = carts.rbegin(); it != carts.rend(); ++it) {
      if (pick(std::stoi(it->rkey.substr(1)) % 4)) want.push_back(it->rkey);
    }
    return want;
  };

  CartQuery query;
  query.did = kAlice;
  query.status = "expired";
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), rkeys_where([](int k) { return k == 0; }))
      << "without a time, the stored status";
  query.now_us = now;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), rkeys_where([](int k) { return k <= 1; }));
  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), rkeys_where([](int k) { return k >= 2; }));

  // Paging through both kinds: every expired cart once, newest first, in pages of 4.
  query.status = "expired";
  query.limit = 4;
  std::vector<size_t> sizes;
  std::vector<std::int64_t> seqs = Walk(*store, query, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{4, 2}));
  std::vector<std::int64_t> want;
  for (auto it = carts.rbegin(); it != carts.rend(); ++it) {
    if (std::stoi(it->rkey.substr(1)) % 4 <= 1) want.push_back(it->seq);
  }
  EXPECT_EQ(seqs, want);

  // Once swept, the same carts, each once.
  EXPECT_EQ(ExpireOpenCarts(*store, now), 4);  // three of Alice's and Bob's
  query.limit = 20;
  query.before_seq.reset();
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), rkeys_where([](int k) { return k <= 1; }));

  // A recipient's view (any owner, by subject) goes by expiry too.
  RecordRow overdue = MakeCart(kBob, "b2");
  overdue.expires_at_us = now;
  RecordRow line = MakeLine(kBob, kItemCollection, "i", overdue.uri, kCarol);
  InsertAll(*store, {&overdue, &line});
  CartQuery carols;
  carols.subject = kCarol;
  carols.status = "expired";
  carols.now_us = now;
  EXPECT_EQ(Rkeys(store->ListCarts(carols).rows), std::vector<std::string>{"b2"});
  carols.status = "open";
  EXPECT_TRUE(store->ListCarts(carols).rows.empty());
}

TEST_F(StoreTest, ListLinesOfBothCollectionsNewestFirstWithFilters) {
  RecordRow cart = MakeCart(kAlice, "c1");  // not a line
  RecordRow i1 = MakeLine(kAlice, kItemCollection, "i1", cart.uri, kBob);
  RecordRow s1 = MakeLine(kAlice, kSubscriptionCollection, "s1", cart.uri, kBob);
  RecordRow i2 = MakeLine(kAlice, kItemCollection, "i2", cart.uri, kCarol);
  i2.status = "paid";
  RecordRow s2 = MakeLine(kAlice, kSubscriptionCollection, "s2", "", kCarol);
  s2.status = "paid";
  RecordRow bobs = MakeLine(kBob, kSubscriptionCollection, "b1", "", kAlice);
  RecordRow s3 = MakeLine(kAlice, kSubscriptionCollection, "s3", "", kBob);
  s3.status = "paid";
  RecordRow i3 = MakeLine(kAlice, kItemCollection, "i3", "", kBob);
  InsertAll(*store, {&cart, &i1, &s1, &i2, &s2, &bobs, &s3, &i3});

  LineQuery query;
  query.did = kAlice;
  query.collection = "";
  auto page = store->ListLines(query);
  EXPECT_EQ(Rkeys(page.rows), (std::vector<std::string>{"i3", "s3", "s2", "i2", "s1", "i1"}));
  EXPECT_FALSE(page.next_before_seq.has_value());
  ExpectSameRecord(page.rows[0], i3);
  ExpectSameRecord(page.rows[1], s3);

  query.status = "paid";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"s3", "s2", "i2"}));
  query.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), std::vector<std::string>{"s3"});
  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i3", "s1", "i1"}));
  query.status.reset();
  EXPECT_EQ(Rkeys(store->ListLines(query).rows),
            (std::vector<std::string>{"i3", "s3", "s1", "i1"}));

  LineQuery bob;
  bob.did = kBob;
  EXPECT_EQ(Rkeys(store->ListLines(bob).rows), std::vector<std::string>{"b1"});
}

// A private item's record is not in its record_json, but the row has it all the same.
TEST_F(StoreTest, ListLinesByTippedRecord) {
  const std::string post1 = "at://did:plc:bob/app.bsky.feed.post/p1";
  const std::string post2 = "at://did:plc:bob/app.bsky.feed.post/p2";
  auto tip = [](const std::string& rkey, const std::string& subject, const std::string& record) {
    RecordRow row = MakeLine(kAlice, kItemCollection, rkey, "", subject);
    row.record_uri = record;
    return row;
  };
  RecordRow public_tip = tip("i1", kBob, post1);
  public_tip.record_json =
      R"({"$type":"com.atiproto.item","subject":"did:plc:bob","recordUri":")" + post1 + R"("})";
  RecordRow private_tip = tip("i2", kBob, post1);
  private_tip.record_json = R"({"$type":"com.atiproto.item"})";
  private_tip.private_json = R"({"subject":"did:plc:bob","recordUri":")" + post1 + R"("})";
  RecordRow paid_tip = tip("i3", kBob, post1);
  paid_tip.status = "paid";
  RecordRow carols_tip = tip("i4", kCarol, post1);
  RecordRow other_post = tip("i5", kBob, post2);
  RecordRow no_record = tip("i6", kBob, "");
  RecordRow subscription = MakeLine(kAlice, kSubscriptionCollection, "s1", "", kBob);
  RecordRow bobs_tip = MakeLine(kBob, kItemCollection, "b1", "", kCarol);
  bobs_tip.record_uri = post1;
  InsertAll(*store, {&public_tip, &private_tip, &paid_tip, &carols_tip, &other_post, &no_record,
                     &subscription, &bobs_tip});

  LineQuery query;
  query.did = kAlice;
  query.collection = std::string(kItemCollection);
  query.record_uri = post1;
  auto page = store->ListLines(query);
  EXPECT_EQ(Rkeys(page.rows), (std::vector<std::string>{"i4", "i3", "i2", "i1"}));
  ASSERT_EQ(page.rows.size(), 4u);
  ExpectSameRecord(page.rows[2], private_tip);
  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i4", "i2", "i1"}));
  query.subject = kBob;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i2", "i1"}));
  query.status.reset();
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"i3", "i2", "i1"}));
  query.subject.reset();

  // Page by page too.
  query.limit = 1;
  std::vector<size_t> sizes;
  auto seqs = Walk(*store, query, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 1, 0}));
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{carols_tip.seq, paid_tip.seq, private_tip.seq,
                                             public_tip.seq}));
  query.limit = 20;

  // Both collections: subscriptions tip no record.
  query.collection = "";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows),
            (std::vector<std::string>{"i4", "i3", "i2", "i1"}));
  query.collection = std::string(kSubscriptionCollection);
  EXPECT_TRUE(store->ListLines(query).rows.empty());

  query.collection = std::string(kItemCollection);
  query.record_uri = post2;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), std::vector<std::string>{"i5"});
  // No record is called "": items that tip none are not found by it.
  query.record_uri = "";
  EXPECT_TRUE(store->ListLines(query).rows.empty());
  query.record_uri = "at://did:plc:bob/app.bsky.feed.post/none";
  EXPECT_TRUE(store->ListLines(query).rows.empty());
}

// Insert, update and both reads carry record_uri, and an update moves the line from one
// record's list to the other's (in and out of the partial index).
TEST_F(StoreTest, RecordUriFollowsInsertAndUpdate) {
  const std::string post1 = "at://did:plc:bob/app.bsky.feed.post/p1";
  const std::string post2 = "at://did:plc:bob/app.bsky.feed.post/p2";
  RecordRow item = MakeLine(kAlice, kItemCollection, "i1", "", kBob);
  item.record_uri = post1;
  InsertAll(*store, {&item});
  auto tipping = [&](const std::string& record) {
    LineQuery query;
    query.did = kAlice;
    query.collection = std::string(kItemCollection);
    query.record_uri = record;
    return Rkeys(store->ListLines(query).rows);
  };
  EXPECT_EQ(store->GetRecord(item.uri)->record_uri, post1);
  EXPECT_EQ(tipping(post1), std::vector<std::string>{"i1"});

  std::optional<RecordRow> in_txn;
  item.record_uri = post2;
  Status status = store->WriteSync([&](WriteTxn& txn) {
    Status updated = txn.UpdateRecord(item);
    in_txn = txn.GetRecord(item.uri);
    return updated;
  });
  ASSERT_TRUE(status.ok()) << status.message;
  ASSERT_TRUE(in_txn.has_value());
  EXPECT_EQ(in_txn->record_uri, post2);
  EXPECT_EQ(store->GetRecord(item.uri)->record_uri, post2);
  EXPECT_TRUE(tipping(post1).empty());
  EXPECT_EQ(tipping(post2), std::vector<std::string>{"i1"});

  item.record_uri = "";
  status = store->WriteSync([&](WriteTxn& txn) { return txn.UpdateRecord(item); });
  ASSERT_TRUE(status.ok()) << status.message;
  ExpectSameRecord(*store->GetRecord(item.uri), item);
  EXPECT_TRUE(tipping(post2).empty());
}

TEST_F(StoreTest, SumLinesPerCurrencyWithFilters) {
  const std::string post = "at://did:plc:bob/app.bsky.feed.post/p1";
  auto line = [](std::string_view collection, const std::string& rkey, const std::string& subject,
                 std::int64_t amount, const std::string& currency, const std::string& status) {
    RecordRow row = MakeLine(kAlice, collection, rkey, "", subject);
    row.amount = amount;
    row.currency = currency;
    row.status = status;
    return row;
  };
  RecordRow i1 = line(kItemCollection, "i1", kBob, 100, "usd", "open");
  i1.record_uri = post;
  RecordRow i2 = line(kItemCollection, "i2", kBob, 250, "usd", "paid");
  RecordRow i3 = line(kItemCollection, "i3", kCarol, 70, "eur", "open");
  i3.record_uri = post;
  RecordRow s1 = line(kSubscriptionCollection, "s1", kBob, 500, "usd", "open");
  RecordRow s2 = line(kSubscriptionCollection, "s2", kCarol, 300, "eur", "paid");
  RecordRow s3 = line(kSubscriptionCollection, "s3", kBob, 1000, "gbp", "open");
  RecordRow cart = MakeCart(kAlice, "c1");  // a cart's amount is its total, not a line
  cart.amount = 99'999;
  RecordRow bobs = MakeLine(kBob, kItemCollection, "b1", "", kAlice);
  bobs.amount = 5;
  InsertAll(*store, {&i1, &cart, &i2, &s1, &i3, &bobs, &s2, &s3});

  LineQuery query;
  query.did = kAlice;
  query.collection = std::string(kItemCollection);
  EXPECT_EQ(Totals(store->SumLines(query)), (std::vector<std::string>{"eur 70 x1", "usd 350 x2"}));
  query.collection = std::string(kSubscriptionCollection);
  EXPECT_EQ(Totals(store->SumLines(query)),
            (std::vector<std::string>{"eur 300 x1", "gbp 1000 x1", "usd 500 x1"}));
  query.collection = "";
  const std::vector<std::string> everything{"eur 370 x2", "gbp 1000 x1", "usd 850 x3"};
  EXPECT_EQ(Totals(store->SumLines(query)), everything);
  // The page size and cursor are for lists only.
  query.limit = 1;
  query.before_seq = i1.seq;
  EXPECT_EQ(Totals(store->SumLines(query)), everything);

  query.status = "open";
  EXPECT_EQ(Totals(store->SumLines(query)),
            (std::vector<std::string>{"eur 70 x1", "gbp 1000 x1", "usd 600 x2"}));
  query.status.reset();
  query.subject = kBob;
  EXPECT_EQ(Totals(store->SumLines(query)),
            (std::vector<std::string>{"gbp 1000 x1", "usd 850 x3"}));
  query.subject.reset();
  query.record_uri = post;
  EXPECT_EQ(Totals(store->SumLines(query)), (std::vector<std::string>{"eur 70 x1", "usd 100 x1"}));
  query.collection = std::string(kItemCollection);
  query.status = "open";
  query.subject = kCarol;
  EXPECT_EQ(Totals(store->SumLines(query)), std::vector<std::string>{"eur 70 x1"});
  query.status = "refunded";
  EXPECT_TRUE(store->SumLines(query).empty());

  LineQuery nobody;
  nobody.did = "did:plc:nobody";
  EXPECT_TRUE(store->SumLines(nobody).empty());
}

// Runs of items, runs of subscriptions and the two alternating: pages cut across them all.
TEST_F(StoreTest, CursorPagingAcrossItemsAndSubscriptions) {
  std::vector<RecordRow> lines;
  auto add = [&](std::string_view collection, int count) {
    for (int i = 0; i < count; ++i) {
      const int n = static_cast<int>(lines.size());
      lines.push_back(MakeLine(kAlice, collection, "l" + std::to_string(n), "", kBob));
      lines.back().status = n % 3 == 0 ? "paid" : "open";
    }
  };
  add(kItemCollection, 12);
  add(kSubscriptionCollection, 9);
  for (int i = 0; i < 5; ++i) {
    add(kItemCollection, 1);
    add(kSubscriptionCollection, 1);
  }
  add(kItemCollection, 9);
  RecordRow cart = MakeCart(kAlice, "c");
  RecordRow bobs = MakeLine(kBob, kItemCollection, "b", "", kAlice);
  std::vector<RecordRow*> pointers{&cart, &bobs};
  for (RecordRow& row : lines) pointers.push_back(&row);
  InsertAll(*store, pointers);

  // The lines matching, newest first.
  auto want = [&](const std::optional<std::string>& status) {
    std::vector<std::int64_t> seqs;
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
      if (!status || it->status == *status) seqs.push_back(it->seq);
    }
    return seqs;
  };
  LineQuery query;
  query.did = kAlice;
  query.collection = "";
  query.limit = 5;
  std::vector<size_t> sizes;
  EXPECT_EQ(Walk(*store, query, &sizes), want(std::nullopt));
  EXPECT_EQ(sizes, (std::vector<size_t>{5, 5, 5, 5, 5, 5, 5, 5, 0}));

  query.limit = 7;
  sizes.clear();
  EXPECT_EQ(Walk(*store, query, &sizes), want(std::nullopt));
  EXPECT_EQ(sizes, (std::vector<size_t>{7, 7, 7, 7, 7, 5}));

  // 14 paid lines in pages of 4.
  query.status = "paid";
  query.limit = 4;
  sizes.clear();
  EXPECT_EQ(Walk(*store, query, &sizes), want("paid"));
  EXPECT_EQ(sizes, (std::vector<size_t>{4, 4, 4, 2}));
  query.status = "open";
  sizes.clear();
  EXPECT_EQ(Walk(*store, query, &sizes), want("open"));
}

// --- Any owner: a recipient's lines and carts, every tip of a record --------------------------

constexpr char kDave[] = "did:plc:dave";

// The seqs of `rows` that `keep` accepts, newest first.
template <class Keep>
std::vector<std::int64_t> NewestFirst(const std::vector<RecordRow>& rows, Keep keep) {
  std::vector<std::int64_t> seqs;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (keep(*it)) seqs.push_back(it->seq);
  }
  return seqs;
}

// Lines of three owners, most paying Bob, in both collections; Bob's own line, a cart and a
// profile pay nobody.
TEST_F(StoreTest, ListLinesOfARecipientAcrossOwners) {
  const std::string post = "at://did:plc:bob/app.bsky.feed.post/p1";
  const std::string owners[] = {kAlice, kCarol, kDave};
  std::vector<RecordRow> lines;
  for (int n = 0; n < 30; ++n) {
    const std::string_view collection = n % 4 < 2 ? kItemCollection : kSubscriptionCollection;
    lines.push_back(MakeLine(owners[n % 3], collection, "l" + std::to_string(n), "",
                             n % 5 == 4 ? kCarol : kBob));
    lines.back().status = n % 2 == 0 ? "paid" : "open";
    if (collection == kItemCollection && n % 3 == 1) lines.back().record_uri = post;
  }
  RecordRow bobs = MakeLine(kBob, kItemCollection, "b", "", kAlice);
  RecordRow cart = MakeCart(kAlice, "c");
  RecordRow profile = MakeRecord(kBob, kProfileCollection, "self");
  std::vector<RecordRow*> pointers{&bobs, &cart, &profile};
  for (RecordRow& row : lines) pointers.push_back(&row);
  InsertAll(*store, pointers);

  auto to_bob = [&](const RecordRow& row) { return row.subject == kBob; };
  LineQuery query;
  query.subject = kBob;
  query.limit = 4;
  std::vector<size_t> sizes;
  // 24 lines pay Bob: both collections in pages of 4, every one once, newest first.
  EXPECT_EQ(Walk(*store, query, &sizes), NewestFirst(lines, to_bob));
  EXPECT_EQ(sizes, (std::vector<size_t>{4, 4, 4, 4, 4, 4, 0}));

  query.collection = std::string(kItemCollection);
  query.limit = 5;
  sizes.clear();
  EXPECT_EQ(Walk(*store, query, &sizes), NewestFirst(lines, [&](const RecordRow& row) {
              return to_bob(row) && row.collection == kItemCollection;
            }));
  EXPECT_EQ(sizes, (std::vector<size_t>{5, 5, 2}));

  query.collection = std::string(kSubscriptionCollection);
  query.status = "paid";
  query.limit = 2;
  sizes.clear();
  EXPECT_EQ(Walk(*store, query, &sizes), NewestFirst(lines, [&](const RecordRow& row) {
              return to_bob(row) && row.collection == kSubscriptionCollection &&
                     row.status == "paid";
            }));

  query.collection = "";
  query.status.reset();
  query.record_uri = post;
  query.limit = 20;
  auto tips = NewestFirst(
      lines, [&](const RecordRow& row) { return to_bob(row) && row.record_uri == post; });
  std::vector<std::int64_t> got;
  for (const RecordRow& row : store->ListLines(query).rows) got.push_back(row.seq);
  EXPECT_EQ(got, tips);
  EXPECT_FALSE(tips.empty());
  query.record_uri.reset();

  // The rows themselves, not only their order.
  auto page = store->ListLines(query);
  ASSERT_FALSE(page.rows.empty());
  ExpectSameRecord(page.rows[0], lines[28]);

  // Alice's lines paying Bob, as before.
  query.did = kAlice;
  sizes.clear();
  EXPECT_EQ(Walk(*store, query, &sizes), NewestFirst(lines, [&](const RecordRow& row) {
              return to_bob(row) && row.did == kAlice;
            }));
  // Bob pays Alice: she is his line's recipient, and nobody's payer there.
  LineQuery to_alice;
  to_alice.subject = kAlice;
  EXPECT_EQ(Rkeys(store->ListLines(to_alice).rows), std::vector<std::string>{"b"});

  LineQuery sum;
  sum.subject = kCarol;
  EXPECT_EQ(Totals(store->SumLines(sum)), std::vector<std::string>{"usd 7404 x6"});
  sum.collection = std::string(kItemCollection);
  EXPECT_EQ(Totals(store->SumLines(sum)), std::vector<std::string>{"usd 4936 x4"});
}

// Tips of one record from every owner; a private tip has the record in its row all the same.
TEST_F(StoreTest, ListLinesTippingARecordAcrossOwners) {
  const std::string post1 = "at://did:plc:bob/app.bsky.feed.post/p1";
  const std::string post2 = "at://did:plc:bob/app.bsky.feed.post/p2";
  auto tip = [](const std::string& did, const std::string& rkey, const std::string& record,
                std::int64_t amount, const std::string& currency) {
    RecordRow row = MakeLine(did, kItemCollection, rkey, "", kBob);
    row.record_uri = record;
    row.amount = amount;
    row.currency = currency;
    return row;
  };
  RecordRow alices = tip(kAlice, "a1", post1, 100, "usd");
  RecordRow carols = tip(kCarol, "c1", post1, 200, "usd");
  carols.status = "paid";
  RecordRow private_tip = tip(kDave, "d1", post1, 300, "eur");
  private_tip.record_json = R"({"$type":"com.atiproto.item"})";
  private_tip.private_json = R"({"subject":"did:plc:bob","recordUri":")" + post1 + R"("})";
  RecordRow other_post = tip(kCarol, "c2", post2, 400, "usd");
  RecordRow no_record = tip(kAlice, "a2", "", 500, "usd");
  RecordRow alices_again = tip(kAlice, "a3", post1, 600, "usd");
  RecordRow subscription = MakeLine(kCarol, kSubscriptionCollection, "s1", "", kBob);
  InsertAll(*store, {&alices, &carols, &private_tip, &other_post, &no_record, &alices_again,
                     &subscription});

  LineQuery query;
  query.record_uri = post1;
  query.collection = std::string(kItemCollection);
  auto page = store->ListLines(query);
  EXPECT_EQ(Rkeys(page.rows), (std::vector<std::string>{"a3", "d1", "c1", "a1"}));
  ASSERT_EQ(page.rows.size(), 4u);
  ExpectSameRecord(page.rows[1], private_tip);
  query.collection = "";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows),
            (std::vector<std::string>{"a3", "d1", "c1", "a1"}));
  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"a3", "d1", "a1"}));
  query.status.reset();
  query.subject = kCarol;
  EXPECT_TRUE(store->ListLines(query).rows.empty());
  query.subject.reset();

  // Page by page: the owner order of the index does not show.
  query.limit = 1;
  std::vector<size_t> sizes;
  EXPECT_EQ(Walk(*store, query, &sizes),
            (std::vector<std::int64_t>{alices_again.seq, private_tip.seq, carols.seq, alices.seq}));
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 1, 0}));

  EXPECT_EQ(Totals(store->SumLines(query)), (std::vector<std::string>{"eur 300 x1", "usd 900 x3"}));
  query.status = "paid";
  EXPECT_EQ(Totals(store->SumLines(query)), std::vector<std::string>{"usd 200 x1"});
  query.status.reset();
  query.record_uri = post2;
  EXPECT_EQ(Totals(store->SumLines(query)), std::vector<std::string>{"usd 400 x1"});
  // No record is called "".
  query.record_uri = "";
  EXPECT_TRUE(store->ListLines(query).rows.empty());
  EXPECT_TRUE(store->SumLines(query).empty());

  // Alice's tips of it, as before.
  query.record_uri = post1;
  query.did = kAlice;
  query.limit = 20;
  EXPECT_EQ(Rkeys(store->ListLines(query).rows), (std::vector<std::string>{"a3", "a1"}));
}

// A recipient's carts: any owner's with a line (item or subscription) paying them, each once.
TEST_F(StoreTest, ListCartsOfARecipientAcrossOwners) {
  RecordRow a1 = MakeCart(kAlice, "a1");
  RecordRow a2 = MakeCart(kAlice, "a2");
  RecordRow c1 = MakeCart(kCarol, "c1");
  c1.status = "paid";
  RecordRow d1 = MakeCart(kDave, "d1");
  RecordRow b1 = MakeCart(kBob, "b1");
  RecordRow profile = MakeRecord(kBob, kProfileCollection, "self");
  RecordRow a1_to_bob = MakeLine(kAlice, kItemCollection, "i1", a1.uri, kBob);
  RecordRow a2_to_carol = MakeLine(kAlice, kSubscriptionCollection, "s1", a2.uri, kCarol);
  RecordRow c1_to_bob = MakeLine(kCarol, kSubscriptionCollection, "s1", c1.uri, kBob);
  RecordRow c1_to_bob_again = MakeLine(kCarol, kItemCollection, "i1", c1.uri, kBob);
  RecordRow d1_to_bob = MakeLine(kDave, kItemCollection, "i1", d1.uri, kBob);
  RecordRow b1_to_alice = MakeLine(kBob, kItemCollection, "i1", b1.uri, kAlice);
  RecordRow no_cart = MakeLine(kAlice, kItemCollection, "i2", "", kBob);
  InsertAll(*store, {&a1, &a2, &c1, &d1, &b1, &profile, &a1_to_bob, &a2_to_carol, &c1_to_bob,
                     &c1_to_bob_again, &d1_to_bob, &b1_to_alice, &no_cart});

  CartQuery query;
  query.subject = kBob;
  auto page = store->ListCarts(query);
  EXPECT_EQ(Rkeys(page.rows), (std::vector<std::string>{"d1", "c1", "a1"}));
  EXPECT_FALSE(page.next_before_seq.has_value());
  ASSERT_EQ(page.rows.size(), 3u);
  ExpectSameRecord(page.rows[1], c1);
  query.status = "paid";
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), std::vector<std::string>{"c1"});
  query.status = "open";
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), (std::vector<std::string>{"d1", "a1"}));
  query.status.reset();
  query.subject = kCarol;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), std::vector<std::string>{"a2"});
  query.subject = "did:plc:nobody";
  EXPECT_TRUE(store->ListCarts(query).rows.empty());

  query.subject = kBob;
  query.limit = 1;
  std::vector<size_t> sizes;
  EXPECT_EQ(Walk(*store, query, &sizes), (std::vector<std::int64_t>{d1.seq, c1.seq, a1.seq}));
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 0}));

  // With an owner, only theirs.
  query.limit = 20;
  query.did = kCarol;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), std::vector<std::string>{"c1"});
  query.did = kAlice;
  EXPECT_EQ(Rkeys(store->ListCarts(query).rows), std::vector<std::string>{"a1"});
  query.did = kBob;
  EXPECT_TRUE(store->ListCarts(query).rows.empty());
}

// Windows on created_at_us and completed_at_us, inclusive, each bound optional, for sums and
// lists alike. A line not completed (0) is in no completion window.
TEST_F(StoreTest, TimeWindowsOnSumLinesAndListLines) {
  auto line = [](const std::string& did, std::string_view collection, const std::string& rkey,
                 std::int64_t created, std::int64_t completed, std::int64_t amount) {
    RecordRow row = MakeLine(did, collection, rkey, "", kBob);
    row.created_at_us = created;
    row.completed_at_us = completed;
    row.amount = amount;
    return row;
  };
  RecordRow l1 = line(kAlice, kItemCollection, "l1", 100, 0, 1);
  RecordRow l2 = line(kAlice, kSubscriptionCollection, "l2", 200, 250, 10);
  RecordRow l3 = line(kAlice, kItemCollection, "l3", 300, 350, 100);
  RecordRow l4 = line(kAlice, kItemCollection, "l4", 400, 450, 1000);
  RecordRow carols = line(kCarol, kItemCollection, "c1", 300, 350, 10000);
  InsertAll(*store, {&l1, &l2, &l3, &l4, &carols});

  LineQuery query;
  query.did = kAlice;
  auto expect = [&](const std::vector<std::string>& rkeys, const std::string& total) {
    EXPECT_EQ(Rkeys(store->ListLines(query).rows), rkeys);
    auto totals = Totals(store->SumLines(query));
    EXPECT_EQ(totals, total.empty() ? std::vector<std::string>{} : std::vector{total});
  };
  expect({"l4", "l3", "l2", "l1"}, "usd 1111 x4");
  query.completed_from_us = 250;
  query.completed_to_us = 350;
  expect({"l3", "l2"}, "usd 110 x2");
  query.completed_to_us.reset();
  expect({"l4", "l3", "l2"}, "usd 1110 x3");
  query.completed_from_us.reset();
  query.completed_to_us = 350;
  expect({"l3", "l2"}, "usd 110 x2");
  query.completed_from_us = 0;  // still only the completed ones
  expect({"l3", "l2"}, "usd 110 x2");
  query.completed_from_us = 351;
  expect({}, "");
  query.completed_from_us.reset();
  query.completed_to_us.reset();

  query.created_from_us = 200;
  query.created_to_us = 300;
  expect({"l3", "l2"}, "usd 110 x2");
  query.created_from_us.reset();
  query.created_to_us = 100;
  expect({"l1"}, "usd 1 x1");
  query.created_to_us.reset();
  query.created_from_us = 400;
  expect({"l4"}, "usd 1000 x1");

  // Both windows, one collection, a page at a time.
  query.created_from_us = 200;
  query.completed_to_us = 450;
  query.collection = std::string(kItemCollection);
  expect({"l4", "l3"}, "usd 1100 x2");
  query.limit = 1;
  std::vector<size_t> sizes;
  EXPECT_EQ(Walk(*store, query, &sizes), (std::vector<std::int64_t>{l4.seq, l3.seq}));

  // Any owner: the recipient's lines in a window.
  query = LineQuery{};
  query.subject = kBob;
  query.completed_from_us = 350;
  query.completed_to_us = 350;
  expect({"c1", "l3"}, "usd 10100 x2");
}

// "" for the owner needs a recipient or a record: without, nothing (not every owner's rows).
TEST_F(StoreTest, AnyOwnerWithoutRecipientOrRecordFindsNothing) {
  RecordRow cart = MakeCart(kAlice, "c1");
  RecordRow item = MakeLine(kAlice, kItemCollection, "i1", cart.uri, kBob);
  RecordRow subscription = MakeLine(kCarol, kSubscriptionCollection, "s1", "", kBob);
  InsertAll(*store, {&cart, &item, &subscription});

  LineQuery lines;
  for (const std::string& collection :
       {std::string(), std::string(kItemCollection), std::string(kSubscriptionCollection)}) {
    lines.collection = collection;
    for (const auto& status : std::vector<std::optional<std::string>>{std::nullopt, "open"}) {
      lines.status = status;
      auto page = store->ListLines(lines);
      EXPECT_TRUE(page.rows.empty());
      EXPECT_FALSE(page.next_before_seq.has_value());
      EXPECT_TRUE(store->SumLines(lines).empty());
    }
  }
  lines.completed_from_us = 1;
  EXPECT_TRUE(store->SumLines(lines).empty());

  CartQuery carts;
  EXPECT_TRUE(store->ListCarts(carts).rows.empty());
  carts.status = "open";
  EXPECT_TRUE(store->ListCarts(carts).rows.empty());
}

TEST_F(StoreTest, LimitIsClampedToOneThroughHundred) {
  std::vector<RecordRow> rows;
  for (int i = 0; i < 120; ++i)
    rows.push_back(MakeRecord(kAlice, kItemCollection, std::to_string(i)));
  std::vector<RecordRow*> pointers;
  for (RecordRow& row : rows) pointers.push_back(&row);
  InsertAll(*store, pointers);

  LineQuery query;
  query.did = kAlice;
  query.collection = std::string(kItemCollection);
  query.limit = 1000;
  auto page = store->ListLines(query);
  EXPECT_EQ(page.rows.size(), 100u);
  ASSERT_TRUE(page.next_before_seq.has_value());
  query.before_seq = page.next_before_seq;
  page = store->ListLines(query);
  EXPECT_EQ(page.rows.size(), 20u);
  EXPECT_FALSE(page.next_before_seq.has_value());

  query.before_seq.reset();
  for (int limit : {0, -5}) {
    query.limit = limit;
    page = store->ListLines(query);
    ASSERT_EQ(page.rows.size(), 1u);
    EXPECT_EQ(page.rows[0].rkey, "119");
    EXPECT_EQ(page.next_before_seq, page.rows[0].seq);
  }
}

// --- Workflows and the payment log --------------------------------------------------------

TEST_F(StoreTest, WorkflowsInsertGetUpdateExpire) {
  WorkflowRow w1 = MakeWorkflow("w1", 100);
  WorkflowRow w2 = MakeWorkflow("w2", 200);
  WorkflowRow forever = MakeWorkflow("forever", 0);
  ASSERT_TRUE(store
                  ->WriteSync([&](WriteTxn& txn) {
                    for (const auto* w : {&w1, &w2, &forever}) {
                      Status s = txn.InsertWorkflow(*w);
                      if (!s.ok()) return s;
                    }
                    return Status::Ok();
                  })
                  .ok());
  auto got = store->GetWorkflow("w1");
  ASSERT_TRUE(got.has_value());
  ExpectSameWorkflow(*got, w1);
  EXPECT_FALSE(store->GetWorkflow("nope").has_value());

  Status status = store->WriteSync([&](WriteTxn& txn) { return txn.InsertWorkflow(w1); });
  EXPECT_EQ(status.code, Code::kConflict) << status.message;

  w1.round = 2;
  w1.state = "done";
  w1.result_json = R"({"uri":"at://x"})";
  w1.did = kBob;
  w1.nsid = "com.atiproto.cart.create";
  w1.fingerprint = "sha256:other";
  w1.plan_json = "{}";
  w1.created_at_us = 1;
  w1.expires_at_us = 150;
  std::optional<WorkflowRow> seen_by_writer;
  ASSERT_TRUE(store
                  ->WriteSync([&](WriteTxn& txn) {
                    Status s = txn.UpdateWorkflow(w1);
                    seen_by_writer = txn.GetWorkflow("w1");
                    return s;
                  })
                  .ok());
  ExpectSameWorkflow(*store->GetWorkflow("w1"), w1);
  ASSERT_TRUE(seen_by_writer.has_value());
  ExpectSameWorkflow(*seen_by_writer, w1);

  status =
      store->WriteSync([&](WriteTxn& txn) { return txn.UpdateWorkflow(MakeWorkflow("x", 1)); });
  EXPECT_EQ(status.code, Code::kNotFound) << status.message;

  std::int64_t deleted = -1;
  ASSERT_TRUE(store
                  ->WriteSync([&](WriteTxn& txn) {
                    deleted = txn.DeleteExpiredWorkflows(150, 1000);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(deleted, 1);
  EXPECT_FALSE(store->GetWorkflow("w1").has_value());
  EXPECT_TRUE(store->GetWorkflow("w2").has_value());
  EXPECT_TRUE(store->GetWorkflow("forever").has_value());  // 0: no expiry
}

TEST_F(StoreTest, PaymentEventsAreAppended) {
  const std::string cart = "at://did:plc:alice/com.atiproto.cart/c1";
  ASSERT_TRUE(store
                  ->WriteSync([&](WriteTxn& txn) {
                    Status s = txn.InsertPaymentEvent(cart, "paid", "webhook:stripe", 10);
                    if (s.ok()) s = txn.InsertPaymentEvent(cart, "refunded", "admin", 20);
                    return s;
                  })
                  .ok());
  // A failed job's events are rolled back with it.
  Status status = store->WriteSync([&](WriteTxn& txn) {
    txn.InsertPaymentEvent(cart, "paid", "duplicate", 30);
    return Status::Error(Code::kAborted, "changed my mind");
  });
  EXPECT_EQ(status.code, Code::kAborted);
  EXPECT_EQ(status.message, "changed my mind");

  RawDb raw(db_path());
  EXPECT_EQ(
      raw.Column("SELECT cart_uri || '|' || outcome || '|' || source || '|' || at_us "
                 "FROM payment_events ORDER BY id"),
      (std::vector<std::string>{cart + "|paid|webhook:stripe|10", cart + "|refunded|admin|20"}));
}

TEST_F(StoreTest, ReadsAfterCloseAreEmpty) {
  RecordRow cart = MakeCart(kAlice, "c1");
  InsertAll(*store, {&cart});
  store->Close();
  store->Close();  // idempotent
  EXPECT_FALSE(store->GetRecord(cart.uri).has_value());
  EXPECT_TRUE(store->GetRecords({cart.uri}).empty());
  CartQuery query;
  query.did = kAlice;
  EXPECT_TRUE(store->ListCarts(query).rows.empty());
  EXPECT_FALSE(store->GetWorkflow("w").has_value());
}

}  // namespace
}  // namespace atipay::store
