// Coalesced WAL writes for the writer connection. Private to src/store.
//
// SQLite writes each WAL frame with two pwrite calls (its 24-byte header, then the page) at
// offsets that straddle page-cache pages, so a commit of n frames costs 2n system calls and
// about 3n page-cache updates: a tenth of atipay-server's cycles under a clone load. This VFS
// keeps a connection's consecutive WAL writes in memory and hands them to the file in 64 KiB
// writes when SQLite syncs, reads, truncates or asks the size of the WAL, or when they stop
// being consecutive (clone load: kernel instructions per clone 233 k -> 125 k). Durability is unchanged: with synchronous=FULL a commit syncs the WAL
// before it publishes the new frames to readers (wal.c walFrames), and the sync is where the
// buffer is written. Only for synchronous=FULL: at NORMAL a commit publishes unsynced frames,
// which must already be in the file.
#ifndef ATIPAY_STORE_WAL_WRITES_H_
#define ATIPAY_STORE_WAL_WRITES_H_

#include <memory>
#include <string>

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

}  // namespace atipay::store::sqlite

#endif  // ATIPAY_STORE_WAL_WRITES_H_
