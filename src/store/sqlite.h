// Thin RAII over the SQLite C API, private to src/store: a connection with its prepared
// statements (prepared once, reused), one use of a statement (Query), and how SQLite result
// codes map to Status.
#ifndef ATIPAY_STORE_SQLITE_H_
#define ATIPAY_STORE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.h"

namespace atipay::store::sqlite {

// Unique and primary-key violations are kConflict; busy, locked, full disk, I/O errors
// kUnavailable (a retry may succeed); anything else kInternal. The message is
// "<what>: <SQLite's text>".
Status ErrorStatus(int result_code, std::string_view what, sqlite3* db);

// One SQLite connection. Used by one thread at a time (opened with SQLITE_OPEN_NOMUTEX).
class Connection {
 public:
  // flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE or SQLITE_OPEN_READONLY.
  // `vfs`: a registered VFS name, or nullptr for the default.
  static std::unique_ptr<Connection> Open(const std::string& path, int flags, int busy_timeout_ms,
                                          Status* status, const char* vfs = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  // Runs SQL without results, possibly several statements (DDL, migrations). Not cached.
  Status ExecScript(const char* sql);
  // Runs one cached statement to completion (transaction control, pragmas).
  Status Exec(std::string_view sql);
  // The cached statement for this SQL, prepared on first use; nullptr and *status on failure.
  sqlite3_stmt* Statement(std::string_view sql, Status* status);

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> statements_;
};

// One use of a cached statement: bind by name, step, read columns. The statement is reset and
// its bindings cleared when the Query goes away, so it holds no read snapshot afterwards.
// The first failure (prepare, bind, step) sticks in status(); later calls do nothing.
class Query {
 public:
  Query(Connection& connection, std::string_view sql);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Text is bound without copying: it must outlive the Query's last Step().
  Query& Bind(const char* name, std::string_view value);
  Query& Bind(const char* name, std::int64_t value);

  // true for a row; false when done or failed (see status()).
  bool Step();
  // Steps to the end; for statements without results.
  Status Run();
  const Status& status() const { return status_; }
  // Rows changed by the last Run() (INSERT, UPDATE, DELETE).
  std::int64_t changes() const;

  std::string Text(int column) const;
  std::int64_t Int(int column) const;

 private:
  int Index(const char* name);

  Connection& connection_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

}  // namespace atipay::store::sqlite

#endif  // ATIPAY_STORE_SQLITE_H_
