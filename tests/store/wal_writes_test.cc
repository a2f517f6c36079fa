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

}  // namespace
}  // namespace atipay::store
