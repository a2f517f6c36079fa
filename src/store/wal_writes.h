// Coalesced WAL writes for the writer connection. Private to src/store.
//
// SQLite writes each WAL frame with two pwrite calls (its 24-byte header, then the page) at
// offsets that straddle page-cache pages, so a commit of n frames costs 2n system calls and
// about 3n page-cache updates: a tenth of atipay-server's cycles under a clone load. This VFS
// keeps a connection's consecutive WAL writes in memory and hands them to the file in 64 KiB
// writes when SQLite syncs, reads, truncates or asks the size of the WAL, or when they stop
// being consecutive (clone load: kernel instructions per clone 233 k -> 125 k).
//
// Durability is unchanged: with synchronous=FULL a commit syncs the WAL before it publishes the
// new frames to readers (wal.c walFrames), and the sync is where the buffer is written. Only
// for synchronous=FULL: at NORMAL a commit publishes unsynced frames, which must already be in
// the file.
//
// Buffered frames must never outlive their write transaction: if they did, a later flush could
// land them over frames another process (atipay-admin) committed meanwhile. A commit's sync
// flushes them; the writer turns cache_spill off, so no frames are written before the commit;
// and after a failed batch the store discards whatever is left (DiscardUnsyncedWal).
#ifndef ATIPAY_STORE_WAL_WRITES_H_
#define ATIPAY_STORE_WAL_WRITES_H_

#include <memory>
#include <string>

struct sqlite3;

namespace atipay::store::sqlite {

class WalWriteVfs {
 public:
  // Registers a VFS (not the default) over whatever the default VFS is now.
  static std::unique_ptr<WalWriteVfs> Register(std::string* error);
  // Unregisters it: every connection opened with it must be closed first.
  ~WalWriteVfs();
  WalWriteVfs(const WalWriteVfs&) = delete;
  WalWriteVfs& operator=(const WalWriteVfs&) = delete;

  // For sqlite3_open_v2.
  const char* name() const;

 private:
  struct State;
  explicit WalWriteVfs(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Drops WAL bytes a failed transaction left unwritten on `db` (a connection opened through a
// WalWriteVfs; otherwise nothing to do). They belong to no commit.
void DiscardUnsyncedWal(sqlite3* db);

}  // namespace atipay::store::sqlite

#endif  // ATIPAY_STORE_WAL_WRITES_H_
