// BackupSqliteDatabase: a copy taken while the writer works is one consistent snapshot, never
// waits for a write in progress, and is whole at its path or not there at all.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace atipay::store {
namespace {

using testing::kAlice;
using testing::MakeCart;
using testing::MakeLine;
using testing::RawDb;
using testing::StoreTest;
using Code = Status::Code;
namespace fs = std::filesystem;

// Carts and lines in a copy; every job below writes one cart with two lines.
struct Counts {
  std::int64_t carts = 0, lines = 0;
};
Counts CountsIn(const std::string& path) {
  RawDb db(path);
  EXPECT_EQ(db.Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  return {db.Int("SELECT COUNT(*) FROM records WHERE collection = 'com.atiproto.cart'"),
          db.Int("SELECT COUNT(*) FROM records WHERE collection <> 'com.atiproto.cart'")};
}

Status InsertCartWithTwoLines(WriteTxn& txn, int i) {
  RecordRow cart = MakeCart(kAlice, "c" + std::to_string(i));
  RecordRow a = MakeLine(kAlice, kItemCollection, "a" + std::to_string(i), cart.uri, kAlice);
  RecordRow b = MakeLine(kAlice, kItemCollection, "b" + std::to_string(i), cart.uri, kAlice);
  for (RecordRow* row : {&cart, &a, &b}) {
    if (Status s = txn.InsertRecord(*row); !s.ok()) return s;
  }
  return Status::Ok();
}

TEST_F(StoreTest, BackupsTakenWhileWritesGoOnAreConsistentSnapshots) {
  std::atomic<int> written{0};
  std::atomic<bool> stop{false}, writer_done{false};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      Status s = store->WriteSync([i](WriteTxn& txn) { return InsertCartWithTwoLines(txn, i); });
      EXPECT_TRUE(s.ok()) << s.message;
      if (!s.ok()) break;
      written = i + 1;
    }
    writer_done = true;
  });
  std::vector<Counts> copies;
  for (int n = 0; n < 5; ++n) {
    // Each copy of a later moment than the one before.
    const std::int64_t previous = copies.empty() ? 0 : copies.back().carts;
    while (written <= previous && !writer_done) std::this_thread::yield();
    const int before = written;
    const std::string to = dir.File("backup-" + std::to_string(n) + ".db");
    BackupResult result = BackupSqliteDatabase(db_path(), to);
    ASSERT_TRUE(result.status.ok()) << result.status.message;
    EXPECT_EQ(static_cast<std::uintmax_t>(result.bytes), fs::file_size(to));
    copies.push_back(CountsIn(to));
    EXPECT_GE(copies.back().carts, before);
    EXPECT_EQ(copies.back().lines, 2 * copies.back().carts) << "no job is half in a copy";
    if (n > 0) {
      EXPECT_GT(copies[n].carts, copies[n - 1].carts);
    }
  }
  stop = true;
  writer.join();
  const std::string last = dir.File("backup-last.db");
  ASSERT_TRUE(BackupSqliteDatabase(db_path(), last).status.ok());
  EXPECT_EQ(CountsIn(last).carts, written.load());

  // A copy opens as a store, with the rows as written.
  StoreOptions options;
  options.path = last;
  std::string error;
  auto restored = OpenSqliteStore(options, &error);
  ASSERT_TRUE(restored) << error;
  auto cart = restored->GetRecord(MakeCart(kAlice, "c7").uri);
  ASSERT_TRUE(cart);
  EXPECT_EQ(cart->record_json, MakeCart(kAlice, "c7").record_json);
}

// The writer holds a transaction open (a batch being built): the backup neither waits for it
// nor contains any of it.
TEST_F(StoreTest, BackupDoesNotWaitForAWriteInProgress) {
  ASSERT_TRUE(store->WriteSync([](WriteTxn& txn) { return InsertCartWithTwoLines(txn, 0); }).ok());
  std::atomic<bool> release{false}, entered{false};
  std::thread writer([&] {
    store->WriteSync([&](WriteTxn& txn) {
      Status s = InsertCartWithTwoLines(txn, 1);
      entered = true;
      while (!release) std::this_thread::yield();
      return s;
    });
  });
  while (!entered) std::this_thread::yield();
  const std::string to = dir.File("during.db");
  BackupResult result = BackupSqliteDatabase(db_path(), to);
  release = true;
  writer.join();
  ASSERT_TRUE(result.status.ok()) << result.status.message;
  Counts counts = CountsIn(to);
  EXPECT_EQ(counts.carts, 1);
  EXPECT_EQ(counts.lines, 2);
}

// Whole or absent: an existing file is never overwritten, and a failed backup leaves nothing.
TEST_F(StoreTest, BackupNeverOverwritesAndLeavesNothingWhenItFails) {
  const std::string taken = dir.File("taken.db");
  std::ofstream(taken) << "keep me";
  BackupResult result = BackupSqliteDatabase(db_path(), taken);
  EXPECT_EQ(result.status.code, Code::kConflict);
  std::string kept;
  std::getline(std::ifstream(taken), kept);
  EXPECT_EQ(kept, "keep me");

  const std::string to = dir.File("from-nowhere.db");
  result = BackupSqliteDatabase(dir.File("missing.db"), to);
  EXPECT_FALSE(result.status.ok());
  EXPECT_FALSE(fs::exists(dir.File("missing.db"))) << "the source is not created";

  result = BackupSqliteDatabase(db_path(), dir.File("no-such-dir/copy.db"));
  EXPECT_FALSE(result.status.ok());

  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    left.push_back(entry.path().filename().string());
  }
  for (const auto& name : left) {
    EXPECT_EQ(name.find(".partial-"), std::string::npos) << name;
    EXPECT_NE(name, "from-nowhere.db");
  }
}

// Two backups to the same name at once (two cron jobs naming their file by date): the file
// that takes the name first is kept, and the other backup is refused, not renamed over it.
TEST_F(StoreTest, BackupNeverOverwritesAFileThatAppearsWhileItCopies) {
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        store->WriteSync([i](WriteTxn& txn) { return InsertCartWithTwoLines(txn, i); }).ok());
  }
  const std::string to = dir.File("nightly.db");
  const std::string partial = to + ".partial-" + std::to_string(::getpid());
  std::atomic<bool> polling{false}, finished{false}, appeared{false};
  std::thread other([&] {
    polling = true;
    while (!finished && !fs::exists(partial)) std::this_thread::yield();
    if (finished) return;
    std::ofstream(to) << "keep me";
    appeared = true;
  });
  while (!polling) std::this_thread::yield();
  BackupResult result = BackupSqliteDatabase(db_path(), to);
  finished = true;
  other.join();
  ASSERT_TRUE(appeared) << "the copy was never seen in progress";
  EXPECT_EQ(result.status.code, Code::kConflict) << result.status.message;
  std::string kept;
  std::getline(std::ifstream(to), kept);
  EXPECT_EQ(kept, "keep me");
  EXPECT_FALSE(fs::exists(partial));
}

// The check a backup passes finds a damaged page, and names the file.
TEST_F(StoreTest, IntegrityCheckFindsADamagedPage) {
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store->WriteSync([i](WriteTxn& txn) { return InsertCartWithTwoLines(txn, i); }).ok());
  }
  EXPECT_TRUE(CheckSqliteIntegrity(db_path()).ok());
  store->Close();
  store.reset();
  {
    RawDb db(db_path());
    db.Exec("PRAGMA wal_checkpoint(TRUNCATE)");  // every page in the main file
  }
  ASSERT_GT(fs::file_size(db_path()), 8u * 4096);
  {
    std::fstream file(db_path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(6 * 4096);
    const std::string garbage(4096, '\xA5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  Status damaged = CheckSqliteIntegrity(db_path());
  EXPECT_FALSE(damaged.ok());
  EXPECT_NE(damaged.message.find(db_path()), std::string::npos) << damaged.message;
}

}  // namespace
}  // namespace atipay::store
