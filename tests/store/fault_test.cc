// I/O failures at commit time, injected with a pass-through SQLite VFS: the whole batch is
// reported kUnavailable, nothing of it is visible, and the writer works again once the cause
// is gone.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace atipay::store {
namespace {

using testing::InsertAll;
using testing::kAlice;
using testing::kBob;
using testing::MakeCart;
using testing::MakeLine;
using testing::MakeWorkflow;
using testing::StoreTest;
using testing::Uri;
using Code = Status::Code;

// While set, writes to WAL files fail as if the disk were full / fsync of WAL files fails /
// every read of a file fails as a bad sector does.
std::atomic<bool> fail_wal_writes{false};
std::atomic<bool> fail_wal_syncs{false};
std::atomic<bool> fail_reads{false};

// The file as the wrapping VFS sees it: our methods in front, the real file right behind.
struct ShimFile {
  sqlite3_file base;
  bool is_wal;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};
ShimFile* Shim(sqlite3_file* file) { return reinterpret_cast<ShimFile*>(file); }

sqlite3_vfs* real_vfs = nullptr;

int ShimClose(sqlite3_file* f) { return Shim(f)->real()->pMethods->xClose(Shim(f)->real()); }
int ShimRead(sqlite3_file* f, void* buffer, int amount, sqlite3_int64 offset) {
  if (fail_reads) return SQLITE_IOERR_READ;
  return Shim(f)->real()->pMethods->xRead(Shim(f)->real(), buffer, amount, offset);
}
int ShimWrite(sqlite3_file* f, const void* buffer, int amount, sqlite3_int64 offset) {
  if (Shim(f)->is_wal && fail_wal_writes) return SQLITE_FULL;
  return Shim(f)->real()->pMethods->xWrite(Shim(f)->real(), buffer, amount, offset);
}
int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Shim(f)->real()->pMethods->xTruncate(Shim(f)->real(), size);
}
int ShimSync(sqlite3_file* f, int flags) {
  if (Shim(f)->is_wal && fail_wal_syncs) return SQLITE_IOERR_FSYNC;
  return Shim(f)->real()->pMethods->xSync(Shim(f)->real(), flags);
}
int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Shim(f)->real()->pMethods->xFileSize(Shim(f)->real(), size);
}
int ShimLock(sqlite3_file* f, int lock) {
  return Shim(f)->real()->pMethods->xLock(Shim(f)->real(), lock);
}
int ShimUnlock(sqlite3_file* f, int lock) {
  return Shim(f)->real()->pMethods->xUnlock(Shim(f)->real(), lock);
}
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  return Shim(f)->real()->pMethods->xCheckReservedLock(Shim(f)->real(), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return Shim(f)->real()->pMethods->xFileControl(Shim(f)->real(), op, arg);
}
int ShimSectorSize(sqlite3_file* f) {
  return Shim(f)->real()->pMethods->xSectorSize(Shim(f)->real());
}
int ShimDeviceCharacteristics(sqlite3_file* f) {
  return Shim(f)->real()->pMethods->xDeviceCharacteristics(Shim(f)->real());
}
int ShimShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Shim(f)->real()->pMethods->xShmMap(Shim(f)->real(), page, size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Shim(f)->real()->pMethods->xShmLock(Shim(f)->real(), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) { Shim(f)->real()->pMethods->xShmBarrier(Shim(f)->real()); }
int ShimShmUnmap(sqlite3_file* f, int delete_flag) {
  return Shim(f)->real()->pMethods->xShmUnmap(Shim(f)->real(), delete_flag);
}

// Version 2: shared memory (WAL) but no memory-mapped I/O, which the store does not turn on.
const sqlite3_io_methods kShimMethods = {
    2,
    ShimClose,
    ShimRead,
    ShimWrite,
    ShimTruncate,
    ShimSync,
    ShimFileSize,
    ShimLock,
    ShimUnlock,
    ShimCheckReservedLock,
    ShimFileControl,
    ShimSectorSize,
    ShimDeviceCharacteristics,
    ShimShmMap,
    ShimShmLock,
    ShimShmBarrier,
    ShimShmUnmap,
    nullptr,
    nullptr,
};

int ShimOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  ShimFile* shim = Shim(file);
  shim->base.pMethods = nullptr;
  shim->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  int rc = real_vfs->xOpen(real_vfs, name, shim->real(), flags, out_flags);
  if (shim->real()->pMethods != nullptr) shim->base.pMethods = &kShimMethods;
  return rc;
}
int ShimDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  return real_vfs->xDelete(real_vfs, name, sync_dir);
}
int ShimAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return real_vfs->xAccess(real_vfs, name, flags, out);
}
int ShimFullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return real_vfs->xFullPathname(real_vfs, name, size, out);
}

// Installs the shim as the default VFS for the test's lifetime.
class StoreFaultyDiskTest : public StoreTest {
 protected:
  void SetUp() override {
    real_vfs = sqlite3_vfs_find(nullptr);
    ASSERT_NE(real_vfs, nullptr);
    shim_vfs_ = *real_vfs;
    shim_vfs_.iVersion = std::min(real_vfs->iVersion, 3);
    shim_vfs_.szOsFile = static_cast<int>(sizeof(ShimFile)) + real_vfs->szOsFile;
    shim_vfs_.pNext = nullptr;
    shim_vfs_.zName = "atipay-faulty-disk";
    shim_vfs_.xOpen = ShimOpen;
    shim_vfs_.xDelete = ShimDelete;
    shim_vfs_.xAccess = ShimAccess;
    shim_vfs_.xFullPathname = ShimFullPathname;
    ASSERT_EQ(sqlite3_vfs_register(&shim_vfs_, 1), SQLITE_OK);
    StoreTest::SetUp();
  }
  void TearDown() override {
    fail_wal_writes = false;
    fail_wal_syncs = false;
    fail_reads = false;
    StoreTest::TearDown();
    store.reset();
    sqlite3_vfs_unregister(&shim_vfs_);
    sqlite3_vfs_register(real_vfs, 1);
  }

  sqlite3_vfs shim_vfs_{};
};

TEST_F(StoreFaultyDiskTest, FailedCommitFailsTheWholeBatchAndTheWriterRecovers) {
  RecordRow before = MakeCart(kAlice, "before");
  ASSERT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(before); }).ok());

  // Five jobs queue behind a job that holds the writer, so that they form one batch. Job 2
  // fails on its own; the others succeed until the commit cannot write the WAL.
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<Status> holder_done;
  store->Submit(
      [&entered, released](WriteTxn&) {
        entered.set_value();
        released.wait();
        return Status::Ok();  // writes nothing, so its own commit needs no disk
      },
      [&holder_done](Status status) { holder_done.set_value(std::move(status)); });
  entered.get_future().wait();
  std::vector<std::promise<Status>> done(5);
  for (int i = 0; i < 5; ++i) {
    store->Submit(
        [i](WriteTxn& txn) {
          RecordRow row = MakeCart(kAlice, "batch" + std::to_string(i));
          Status status = txn.InsertRecord(row);
          if (status.ok() && i == 2) return Status::Error(Code::kAborted, "job 2 says no");
          return status;
        },
        [&done, i](Status status) { done[static_cast<size_t>(i)].set_value(std::move(status)); });
  }
  const Store::Stats before_stats = store->stats();
  const auto commits_before = before_stats.commits;
  EXPECT_EQ(before_stats.queued, 5u);  // all five wait behind the holder
  EXPECT_EQ(before_stats.failed_batches, 0u);
  fail_wal_writes = true;
  release.set_value();
  EXPECT_TRUE(holder_done.get_future().get().ok());
  for (int i = 0; i < 5; ++i) {
    Status status = done[static_cast<size_t>(i)].get_future().get();
    if (i == 2) {
      EXPECT_EQ(status.code, Code::kAborted) << status.message;
    } else {
      EXPECT_EQ(status.code, Code::kUnavailable) << i;
      EXPECT_NE(status.message.find("batch not committed"), std::string::npos) << status.message;
      EXPECT_NE(status.message.find("full"), std::string::npos) << status.message;
    }
  }
  const Store::Stats after_stats = store->stats();
  EXPECT_EQ(after_stats.commits, commits_before + 1);  // the holder's empty batch only
  EXPECT_EQ(after_stats.failed_batches, 1u);
  EXPECT_EQ(after_stats.jobs, before_stats.jobs + 6);  // the failed batch's jobs ran too
  EXPECT_EQ(after_stats.queued, 0u);

  // The disk has room again: the writer goes on, and nothing of the failed batch shows.
  fail_wal_writes = false;
  RecordRow after = MakeCart(kAlice, "after");
  Status status = store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(after); });
  EXPECT_TRUE(status.ok()) << status.message;
  CartQuery query;
  query.did = kAlice;
  std::vector<std::string> rkeys;
  for (const RecordRow& row : store->ListCarts(query).rows) rkeys.push_back(row.rkey);
  EXPECT_EQ(rkeys, (std::vector<std::string>{"after", "before"}));

  // And it survives a reopen the same way.
  store->Close();
  store = Open();
  rkeys.clear();
  for (const RecordRow& row : store->ListCarts(query).rows) rkeys.push_back(row.rkey);
  EXPECT_EQ(rkeys, (std::vector<std::string>{"after", "before"}));
}

TEST_F(StoreFaultyDiskTest, FailedFsyncIsUnavailableAndTheWriterRecovers) {
  store->Close();
  StoreOptions options = Options();
  options.synchronous = "FULL";  // every commit syncs the WAL
  store = Open(options);
  RecordRow lost = MakeCart(kAlice, "lost");
  fail_wal_syncs = true;
  Status status = store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(lost); });
  EXPECT_EQ(status.code, Code::kUnavailable) << status.message;
  fail_wal_syncs = false;
  EXPECT_EQ(store->stats().failed_batches, 1u);
  RecordRow kept = MakeCart(kAlice, "kept");
  status = store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(kept); });
  EXPECT_TRUE(status.ok()) << status.message;
  EXPECT_FALSE(store->GetRecord(lost.uri).has_value());
  EXPECT_TRUE(store->GetRecord(kept.uri).has_value());

  // Nor does it come back after a reopen.
  store->Close();
  store = Open(options);
  EXPECT_FALSE(store->GetRecord(lost.uri).has_value());
  EXPECT_TRUE(store->GetRecord(kept.uri).has_value());
}

TEST_F(StoreFaultyDiskTest, AReadTheDiskFailsIsReportedNotTakenForAMissingRow) {
  RecordRow cart = MakeCart(kAlice, "cart");
  RecordRow item = MakeLine(kAlice, kItemCollection, "item", cart.uri, kBob);
  InsertAll(*store, {&cart, &item});
  ASSERT_TRUE(store
                  ->WriteSync([](WriteTxn& txn) {
                    return txn.InsertWorkflow(MakeWorkflow("w1", 2'000'000'000'000'000));
                  })
                  .ok());
  CartQuery carts;
  carts.did = kAlice;
  LineQuery lines;
  lines.did = kAlice;
  // Each read, with the disk failing and then working again: nothing, and why; then the row.
  const std::vector<std::pair<std::string, std::function<bool(Status*)>>> reads = {
      {"GetRecord", [&](Status* f) { return store->GetRecord(cart.uri, f).has_value(); }},
      {"GetRecords",
       [&](Status* f) {
         return !store->GetRecords({cart.uri, item.uri}, f).empty();
       }},
      {"ListCarts", [&](Status* f) { return !store->ListCarts(carts, f).rows.empty(); }},
      {"ListLines", [&](Status* f) { return !store->ListLines(lines, f).rows.empty(); }},
      {"SumLines", [&](Status* f) { return !store->SumLines(lines, f).empty(); }},
      {"GetWorkflow", [&](Status* f) { return store->GetWorkflow("w1", f).has_value(); }},
  };
  for (const auto& [name, read] : reads) {
    // A commit first: every reader's page cache is stale, so the read must go to the disk.
    RecordRow other = MakeCart(kBob, "other-" + name);
    InsertAll(*store, {&other});
    fail_reads = true;
    Status failure;
    EXPECT_FALSE(read(&failure)) << name;
    EXPECT_EQ(failure.code, Code::kUnavailable) << name << ": " << failure.message;
    EXPECT_NE(failure.message.find("disk I/O error"), std::string::npos) << failure.message;
    EXPECT_FALSE(read(nullptr)) << name << ": without a status, as before: nothing";
    fail_reads = false;
    failure = Status::Ok();
    EXPECT_TRUE(read(&failure)) << name;
    EXPECT_TRUE(failure.ok()) << name << ": " << failure.message;
  }
  Status failure;
  EXPECT_FALSE(store->GetRecord(Uri(kAlice, kCartCollection, "none"), &failure));
  EXPECT_TRUE(failure.ok()) << "a row that is not there is no failure";
}

}  // namespace
}  // namespace atipay::store
