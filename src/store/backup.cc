// BackupSqliteDatabase and CheckSqliteIntegrity: an online copy of the database that is whole
// or absent, and the check it passes.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "store/sqlite.h"
#include "store/store.h"

namespace atipay::store {
namespace {

using Code = Status::Code;
using sqlite::Connection;
using sqlite::Query;

constexpr int kBusyTimeoutMs = 5000;

Status Errno(const std::string& what) {
  return Status::Error(Code::kUnavailable, what + ": " + std::strerror(errno));
}

// fsync of a file or a directory: a new name is durable only once its directory is.
Status Sync(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  const bool synced = ::fsync(fd) == 0;
  const Status status = synced ? Status::Ok() : Errno("fsync " + path);
  ::close(fd);
  return status;
}

// The copy in `partial`, checked and durable; the caller links it into place.
Status CopyTo(const std::string& path, const std::string& partial) {
  Status status;
  // Read-only: a wrong path is an error here, not a new empty database.
  auto source = Connection::Open(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs, &status);
  if (!source) return Status::Error(status.code, path + ": " + status.message);
  Query vacuum(*source, "VACUUM INTO :to");
  vacuum.Bind(":to", partial);
  if (Status s = vacuum.Run(); !s.ok()) return s;
  if (Status s = CheckSqliteIntegrity(partial); !s.ok()) return s;
  return Sync(partial, false);
}

}  // namespace

Status CheckSqliteIntegrity(const std::string& path) {
  Status status;
  auto connection = Connection::Open(path, SQLITE_OPEN_READONLY, kBusyTimeoutMs, &status);
  if (!connection) return Status::Error(status.code, path + ": " + status.message);
  Query check(*connection, "PRAGMA integrity_check");
  std::string verdict;
  if (check.Step()) verdict = check.Text(0);
  if (!check.status().ok()) return check.status();
  if (verdict != "ok") {
    return Status::Error(Code::kInternal, path + " fails integrity_check: " + verdict);
  }
  return Status::Ok();
}

BackupResult BackupSqliteDatabase(const std::string& path, const std::string& to) {
  namespace fs = std::filesystem;
  BackupResult result;
  std::error_code ec;
  const bool exists = fs::exists(to, ec);
  if (ec || exists) {
    result.status = ec ? Status::Error(Code::kUnavailable, to + ": " + ec.message())
                       : Status::Error(Code::kConflict, to + " exists; a backup never overwrites");
    return result;
  }
  // Beside `to`, so that the link stays in one file system; named by our pid, so that two
  // backups at once never share it.
  const std::string partial = to + ".partial-" + std::to_string(::getpid());
  fs::remove(partial, ec);
  result.status = CopyTo(path, partial);
  // link, not rename: rename would replace a file that took the name while we copied (another
  // backup to the same name); link refuses.
  if (result.status.ok() && ::link(partial.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) {
      result.status = Status::Error(Code::kConflict, to + " exists; a backup never overwrites");
    } else if (errno != EPERM && errno != EOPNOTSUPP) {
      result.status = Errno("link to " + to);
    } else if (fs::exists(to, ec)) {
      result.status = Status::Error(Code::kConflict, to + " exists; a backup never overwrites");
    } else if (::rename(partial.c_str(), to.c_str()) != 0) {
      // A file system without hard links (FAT, some network mounts): the check just before is
      // the closest it allows.
      result.status = Errno("rename to " + to);
    }
  }
  fs::remove(partial, ec);
  if (!result.status.ok()) return result;
  fs::path directory = fs::path(to).parent_path();
  result.status = Sync(directory.empty() ? "." : directory.string(), true);
  result.bytes = static_cast<std::int64_t>(fs::file_size(to, ec));
  return result;
}

}  // namespace atipay::store
