// The writer's coalesced WAL writes (src/store/wal_writes.h), which only synchronous=FULL uses:
// every commit is readable at once by other connections and processes, whatever its size, and
// survives reopening.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace atipay::store {
namespace {

using testing::InsertAll;
using testing::kAlice;
using testing::MakeCart;
using testing::RawDb;
using testing::StoreTest;

class WalWritesTest : public StoreTest {
 protected:
  void SetUp() override { store = Open(FullOptions()); }
  StoreOptions FullOptions() const {
    StoreOptions options = Options();
    options.synchronous = "FULL";
    return options;
  }
  // A cart whose record is `size` bytes: commits of any size, up to several MiB of WAL.
  static RecordRow BigCart(int i, std::size_t size) {
    RecordRow row = MakeCart(kAlice, "c" + std::to_string(i));
    row.record_json = R"({"pad":")" + std::string(size, static_cast<char>('a' + i % 26)) + R"("})";
    return row;
  }
};

TEST_F(WalWritesTest, CommitsOfEverySizeAreReadableAtOnceAndAfterReopening) {
  // Sizes around the 64 KiB pieces the buffer goes out in and the unix VFS's 128 KiB limit on
  // one write, up to a commit larger than the 4 MiB the buffer holds.
  const std::vector<std::size_t> sizes = {10,          3000,        65536 - 100, 65536,
                                          131072 - 50, 131072,      131072 + 1,  200000,
                                          1'000'000,   5'000'000};
  std::vector<RecordRow> rows;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    rows.push_back(BigCart(static_cast<int>(i), sizes[i]));
    RecordRow& row = rows.back();
    ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(row); }).ok())
        << sizes[i];
    // The store's readers and another connection, outside the store, see it at once.
    auto got = store->GetRecord(row.uri);
    ASSERT_TRUE(got) << sizes[i];
    EXPECT_EQ(got->record_json, row.record_json) << sizes[i];
    RawDb raw(db_path());
    EXPECT_EQ(raw.Column("SELECT length(record_json) FROM records WHERE uri = '" + row.uri + "'"),
              std::vector<std::string>{std::to_string(row.record_json.size())});
  }
  // Many rows in one batch of jobs.
  std::vector<RecordRow> batch;
  for (int i = 100; i < 400; ++i) batch.push_back(BigCart(i, 2000));
  std::vector<RecordRow*> pointers;
  for (auto& row : batch) pointers.push_back(&row);
  InsertAll(*store, pointers);

  store->Close();
  store = Open(FullOptions());
  ASSERT_TRUE(store);
  for (const auto* list : {&rows, &batch}) {
    for (const auto& row : *list) {
      auto got = store->GetRecord(row.uri);
      ASSERT_TRUE(got) << row.uri;
      EXPECT_EQ(got->record_json, row.record_json) << row.uri;
    }
  }
  EXPECT_EQ(RawDb(db_path()).Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

// Another process writes the same database between our commits (atipay-admin recording a
// payment while the server runs): neither side loses a commit.
TEST_F(WalWritesTest, CommitsOfAnotherConnectionInBetweenAreKept) {
  RawDb other(db_path());  // the default VFS, as another process would have
  std::vector<RecordRow> ours;
  for (int i = 0; i < 40; ++i) {
    ours.push_back(BigCart(i, i % 2 ? 70000 : 300));
    RecordRow& row = ours.back();
    ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(row); }).ok());
    other.Exec("INSERT INTO payment_events (cart_uri, outcome, source, at_us) VALUES ('" +
               row.uri + "', 'completed', 'other', " + std::to_string(i) + ")");
  }
  for (const auto& row : ours) {
    auto got = store->GetRecord(row.uri);
    ASSERT_TRUE(got) << row.uri;
    EXPECT_EQ(got->record_json, row.record_json);
  }
  EXPECT_EQ(other.Column("SELECT count(*) FROM payment_events WHERE source = 'other'"),
            std::vector<std::string>{"40"});
  store->Close();
  store.reset();
  RawDb reopened(db_path());
  EXPECT_EQ(reopened.Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(reopened.Column("SELECT count(*) FROM records"), std::vector<std::string>{"40"});
  EXPECT_EQ(reopened.Column("SELECT count(*) FROM payment_events"), std::vector<std::string>{"40"});
}

}  // namespace
}  // namespace atipay::store
