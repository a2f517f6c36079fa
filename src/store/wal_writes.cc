#include "store/wal_writes.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace atipay::store::sqlite {
namespace {

// Written out once this much is waiting, consecutive or not.
constexpr std::size_t kMaxBuffered = 4u << 20;

// A WAL file as SQLite sees it through this VFS: our methods in front, the base VFS's file
// right behind (the VFS's szOsFile covers both).
struct WalFile {
  sqlite3_file base;
  std::vector<char> pending;     // bytes not yet handed to the file, from offset `start`
  sqlite3_int64 start = 0;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

WalFile* Wal(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }

// The unix VFS writes at most 128 KiB - 1 per call (it masks the length to 17 bits: a
// longer write is cut short and then reported as a full disk), so the buffer goes out in
// pieces of 64 KiB.
constexpr std::size_t kMaxWrite = 64u << 10;

int Flush(WalFile* f) {
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < f->pending.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t n = std::min(kMaxWrite, f->pending.size() - done);
    rc = f->real()->pMethods->xWrite(f->real(), f->pending.data() + done, static_cast<int>(n),
                                     f->start + static_cast<sqlite3_int64>(done));
  }
  f->pending.clear();
  return rc;
}

int WalClose(sqlite3_file* file) {
  WalFile* f = Wal(file);
  int flushed = Flush(f);
  int rc = f->real()->pMethods->xClose(f->real());
  f->~WalFile();
  return flushed != SQLITE_OK ? flushed : rc;
}

int WalRead(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real()->pMethods->xRead(f->real(), buffer, amount, offset);
}

int WalWrite(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  WalFile* f = Wal(file);
  const bool follows = !f->pending.empty() &&
                       offset == f->start + static_cast<sqlite3_int64>(f->pending.size());
  if (!follows || f->pending.size() + static_cast<std::size_t>(amount) > kMaxBuffered) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
    f->start = offset;
  }
  const char* bytes = static_cast<const char*>(buffer);
  f->pending.insert(f->pending.end(), bytes, bytes + amount);
  return SQLITE_OK;
}

int WalTruncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real()->pMethods->xTruncate(f->real(), size);
}

int WalSync(sqlite3_file* file, int flags) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real()->pMethods->xSync(f->real(), flags);
}

int WalFileSize(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real()->pMethods->xFileSize(f->real(), size);
}

int WalLock(sqlite3_file* file, int lock) {
  return Wal(file)->real()->pMethods->xLock(Wal(file)->real(), lock);
}
int WalUnlock(sqlite3_file* file, int lock) {
  return Wal(file)->real()->pMethods->xUnlock(Wal(file)->real(), lock);
}
int WalCheckReservedLock(sqlite3_file* file, int* out) {
  return Wal(file)->real()->pMethods->xCheckReservedLock(Wal(file)->real(), out);
}
int WalFileControl(sqlite3_file* file, int op, void* arg) {
  WalFile* f = Wal(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real()->pMethods->xFileControl(f->real(), op, arg);
}
int WalSectorSize(sqlite3_file* file) {
  return Wal(file)->real()->pMethods->xSectorSize(Wal(file)->real());
}
int WalDeviceCharacteristics(sqlite3_file* file) {
  return Wal(file)->real()->pMethods->xDeviceCharacteristics(Wal(file)->real());
}

// Version 1: SQLite uses shared memory and memory mapping on the database file only.
const sqlite3_io_methods kWalMethods = {
    1,         WalClose,    WalRead,       WalWrite,           WalTruncate,
    WalSync,   WalFileSize, WalLock,       WalUnlock,          WalCheckReservedLock,
    WalFileControl, WalSectorSize, WalDeviceCharacteristics,
    nullptr,   nullptr,     nullptr,       nullptr,            nullptr,
    nullptr,
};

sqlite3_vfs* Base(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

int VfsOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
            int* out_flags) {
  sqlite3_vfs* base = Base(vfs);
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    // Everything else is the base VFS's own file, in the same memory.
    return base->xOpen(base, name, file, flags, out_flags);
  }
  WalFile* f = new (file) WalFile();
  f->base.pMethods = nullptr;
  int rc = base->xOpen(base, name, f->real(), flags, out_flags);
  if (f->real()->pMethods == nullptr) {
    f->~WalFile();
    return rc;
  }
  f->base.pMethods = &kWalMethods;
  return rc;
}
int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Base(vfs)->xDelete(Base(vfs), name, sync_dir);
}
int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Base(vfs)->xAccess(Base(vfs), name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Base(vfs)->xFullPathname(Base(vfs), name, size, out);
}

}  // namespace

struct WalWriteVfs::State {
  sqlite3_vfs vfs{};
  std::string name;
};

std::unique_ptr<WalWriteVfs> WalWriteVfs::Register(std::string* error) {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (base == nullptr) {
    if (error != nullptr) *error = "no default SQLite VFS";
    return nullptr;
  }
  static std::atomic<int> counter{0};
  auto state = std::make_unique<State>();
  state->name = "atipay-wal-writes-" + std::to_string(counter++);
  state->vfs = *base;  // the calls that do not name a file go straight to the base
  state->vfs.iVersion = std::min(base->iVersion, 3);
  state->vfs.szOsFile =
      std::max(base->szOsFile, static_cast<int>(sizeof(WalFile)) + base->szOsFile);
  state->vfs.pNext = nullptr;
  state->vfs.zName = state->name.c_str();
  state->vfs.pAppData = base;
  state->vfs.xOpen = VfsOpen;
  state->vfs.xDelete = VfsDelete;
  state->vfs.xAccess = VfsAccess;
  state->vfs.xFullPathname = VfsFullPathname;
  if (int rc = sqlite3_vfs_register(&state->vfs, 0); rc != SQLITE_OK) {
    if (error != nullptr) *error = std::string("registering the WAL VFS: ") + sqlite3_errstr(rc);
    return nullptr;
  }
  return std::unique_ptr<WalWriteVfs>(new WalWriteVfs(std::move(state)));
}

WalWriteVfs::WalWriteVfs(std::unique_ptr<State> state) : state_(std::move(state)) {}

WalWriteVfs::~WalWriteVfs() { sqlite3_vfs_unregister(&state_->vfs); }

const char* WalWriteVfs::name() const { return state_->name.c_str(); }

void DiscardUnsyncedWal(sqlite3* db) {
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK) return;
  if (wal != nullptr && wal->pMethods == &kWalMethods) Wal(wal)->pending.clear();
}

}  // namespace atipay::store::sqlite
