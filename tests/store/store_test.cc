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
#include "store_test_util.h"

namespace atipay::store {
namespace {

using testing::InsertAll;
using testing::kAlice;
using testing::kBob;
using testing::kCarol;
using testing::MakeCart;
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

// A database written by a version-1 build (before the partial expiry index, with
// records_by_cart) is upgraded in place on open, and its open carts still expire.
TEST_F(StoreTest, VersionOneDatabaseIsUpgradedAndItsOpenCartsStillExpire) {
  RecordRow cart = MakeCart(kAlice, "old");
  cart.status = "open";
  cart.expires_at_us = 1'000;
  InsertAll(*store, {&cart});
  store->Close();
  {
    RawDb raw(db_path());  // what version 1 left: its expiry index, user_version 1
    raw.Exec("DROP INDEX records_open_carts_by_expiry");
    raw.Exec("CREATE INDEX records_by_expiry ON records (collection, status, expires_at_us)");
    raw.Exec("CREATE INDEX records_by_cart ON records (cart_uri, subject)");
    raw.Exec("PRAGMA user_version = 1");
  }
  store = Open();
  ASSERT_NE(store, nullptr);
  RawDb raw(db_path());
  EXPECT_EQ(raw.Int("PRAGMA user_version"), schema::LatestVersion());
  EXPECT_EQ(raw.Column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                       "'records' ORDER BY name"),
            (std::vector<std::string>{"records_by_owner", "records_by_owner_status",
                                      "records_by_owner_subject", "records_open_carts_by_expiry",
                                      "sqlite_autoindex_records_1"}));
  EXPECT_EQ(ExpireOpenCarts(*store, 2'000), 1);
  EXPECT_EQ(store->GetRecord(cart.uri)->status, "expired");
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
  // Only the status changes.
  RecordRow want = past;
  want.status = "expired";
  ExpectSameRecord(*store->GetRecord(past.uri), want);

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

// Follows next_before_seq to the end; every row once, newest first throughout.
std::vector<std::int64_t> WalkCarts(Store& store, CartQuery query, std::vector<size_t>* sizes) {
  std::vector<std::int64_t> seqs;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = store.ListCarts(query);
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
  auto seqs = WalkCarts(*store, query, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 10, 10, 10, 3}));
  std::vector<std::int64_t> want;
  for (auto it = carts.rbegin(); it != carts.rend(); ++it) want.push_back(it->seq);
  EXPECT_EQ(seqs, want);

  // Filtered: 27 open carts in pages of 9 fill exactly three pages; the fourth is empty.
  query.status = "open";
  query.limit = 9;
  sizes.clear();
  seqs = WalkCarts(*store, query, &sizes);
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
