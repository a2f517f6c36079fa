#include "store/sqlite.h"

#include <utility>

namespace atipay::store::sqlite {

Status ErrorStatus(int result_code, std::string_view what, sqlite3* db) {
  // sqlite3_errmsg describes the connection's latest error, which is this one as long as the
  // caller asks right away on the connection's own thread; without a connection, the code's
  // generic text.
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(result_code);
  using Code = Status::Code;
  switch (result_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status::Error(Code::kConflict, std::move(message));
    default:
      break;
  }
  switch (result_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return Status::Error(Code::kUnavailable, std::move(message));
    default:
      return Status::Error(Code::kInternal, std::move(message));
  }
}

std::unique_ptr<Connection> Connection::Open(const std::string& path, int flags,
                                             int busy_timeout_ms, Status* status,
                                             const char* vfs) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    *status = ErrorStatus(rc, "open", db);
    sqlite3_close_v2(db);  // a handle comes back even on failure (unless out of memory)
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);  // tells a unique violation from other constraints
  sqlite3_busy_timeout(db, busy_timeout_ms);
  *status = Status::Ok();
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::ExecScript(const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  Status status = ErrorStatus(rc, "exec", nullptr);
  if (error != nullptr) {
    status.message = std::string("exec: ") + error;
    sqlite3_free(error);
  }
  return status;
}

Status Connection::Exec(std::string_view sql) {
  Query query(*this, sql);
  return query.Run();
}

sqlite3_stmt* Connection::Statement(std::string_view sql, Status* status) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    *status = ErrorStatus(rc, "prepare", db_);
    return nullptr;
  }
  statements_.emplace(std::string(sql), stmt);
  return stmt;
}

Query::Query(Connection& connection, std::string_view sql) : connection_(connection) {
  stmt_ = connection_.Statement(sql, &status_);
}

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

int Query::Index(const char* name) {
  if (!status_.ok()) return 0;
  int index = sqlite3_bind_parameter_index(stmt_, name);
  if (index == 0) {
    status_ = Status::Error(Status::Code::kInternal, std::string("bind: no parameter ") + name +
                                                         " in " + sqlite3_sql(stmt_));
  }
  return index;
}

Query& Query::Bind(const char* name, std::string_view value) {
  int index = Index(name);
  if (index == 0) return *this;
  // A null pointer would bind SQL NULL; an empty view may have one, so point at "" instead.
  const char* data = value.data() != nullptr ? value.data() : "";
  int rc = sqlite3_bind_text(stmt_, index, data, static_cast<int>(value.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) status_ = ErrorStatus(rc, "bind", connection_.db());
  return *this;
}

Query& Query::Bind(const char* name, std::int64_t value) {
  int index = Index(name);
  if (index == 0) return *this;
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) status_ = ErrorStatus(rc, "bind", connection_.db());
  return *this;
}

bool Query::Step() {
  if (!status_.ok()) return false;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = ErrorStatus(rc, "step", connection_.db());
  return false;
}

Status Query::Run() {
  while (Step()) {
  }
  return status_;
}

std::int64_t Query::changes() const { return sqlite3_changes64(connection_.db()); }

std::string Query::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Query::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

}  // namespace atipay::store::sqlite
