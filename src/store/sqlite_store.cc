// The SQLite engine: one writer thread with its own connection that group-commits queued
// jobs, and a small pool of read-only connections. WAL lets readers (ours and other
// processes') work on a snapshot while a batch is being written, and lets another process
// (atipay-admin) write the same file: its writes wait on the busy timeout like ours do.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/schema.h"
#include "store/sql.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/wal_writes.h"

namespace atipay::store {
namespace {

using Code = Status::Code;
using sql::RecordSelection;
using sqlite::Connection;
using sqlite::Query;
using sqlite::WalWriteVfs;

// Nanoseconds on the steady clock (never 0: 0 stands for "no time").
std::int64_t SteadyNs() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
  return std::max<std::int64_t>(1, ns.count());
}

constexpr std::string_view kExpired = "expired";
constexpr int kMaxPageSize = 100;

RecordRow ReadRecord(const Query& query) {
  RecordRow row;
  row.seq = query.Int(0);
  row.uri = query.Text(1);
  row.did = query.Text(2);
  row.collection = query.Text(3);
  row.rkey = query.Text(4);
  row.record_json = query.Text(5);
  row.cid = query.Text(6);
  row.status = query.Text(7);
  row.cart_uri = query.Text(8);
  row.subject = query.Text(9);
  row.record_uri = query.Text(10);
  row.private_json = query.Text(11);
  row.amount = query.Int(12);
  row.currency = query.Text(13);
  row.created_at_us = query.Int(14);
  row.updated_at_us = query.Int(15);
  row.expires_at_us = query.Int(16);
  row.completed_at_us = query.Int(17);
  row.redirect_url = query.Text(18);
  row.cloned_from = query.Text(19);
  return row;
}

void BindRecord(Query& query, const RecordRow& row) {
  query.Bind(":uri", row.uri)
      .Bind(":did", row.did)
      .Bind(":collection", row.collection)
      .Bind(":rkey", row.rkey)
      .Bind(":record_json", row.record_json)
      .Bind(":cid", row.cid)
      .Bind(":status", row.status)
      .Bind(":cart_uri", row.cart_uri)
      .Bind(":subject", row.subject)
      .Bind(":record_uri", row.record_uri)
      .Bind(":private_json", row.private_json)
      .Bind(":amount", row.amount)
      .Bind(":currency", row.currency)
      .Bind(":created_at_us", row.created_at_us)
      .Bind(":updated_at_us", row.updated_at_us)
      .Bind(":expires_at_us", row.expires_at_us)
      .Bind(":completed_at_us", row.completed_at_us)
      .Bind(":redirect_url", row.redirect_url)
      .Bind(":cloned_from", row.cloned_from);
}

WorkflowRow ReadWorkflow(const Query& query) {
  WorkflowRow row;
  row.id = query.Text(0);
  row.did = query.Text(1);
  row.nsid = query.Text(2);
  row.fingerprint = query.Text(3);
  row.round = static_cast<int>(query.Int(4));
  row.state = query.Text(5);
  row.plan_json = query.Text(6);
  row.result_json = query.Text(7);
  row.created_at_us = query.Int(8);
  row.expires_at_us = query.Int(9);
  return row;
}

void BindWorkflow(Query& query, const WorkflowRow& row) {
  query.Bind(":id", row.id)
      .Bind(":did", row.did)
      .Bind(":nsid", row.nsid)
      .Bind(":fingerprint", row.fingerprint)
      .Bind(":round", std::int64_t{row.round})
      .Bind(":state", row.state)
      .Bind(":plan_json", row.plan_json)
      .Bind(":result_json", row.result_json)
      .Bind(":created_at_us", row.created_at_us)
      .Bind(":expires_at_us", row.expires_at_us);
}

// Lookups shared by the readers and the writer's transaction. A failed read leaves *status
// set and returns nothing.
std::optional<RecordRow> SelectRecord(Connection& connection, std::string_view uri,
                                      Status* status) {
  Query query(connection, sql::kGetRecord);
  query.Bind(":uri", uri);
  std::optional<RecordRow> row;
  if (query.Step()) row = ReadRecord(query);
  *status = query.status();
  return row;
}

std::optional<WorkflowRow> SelectWorkflow(Connection& connection, std::string_view id,
                                          Status* status) {
  Query query(connection, sql::kGetWorkflow);
  query.Bind(":id", id);
  std::optional<WorkflowRow> row;
  if (query.Step()) row = ReadWorkflow(query);
  *status = query.status();
  return row;
}

// Binds :limit and reads a page of rows (newest first); nullopt if the read failed.
std::optional<Page<RecordRow>> ReadRows(Query& query, int page_size) {
  query.Bind(":limit", std::int64_t{page_size});
  Page<RecordRow> page;
  while (query.Step()) page.rows.push_back(ReadRecord(query));
  if (!query.status().ok()) return std::nullopt;
  // A full page may have more behind it; the client asks again from the last row.
  if (static_cast<int>(page.rows.size()) == page_size) page.next_before_seq = page.rows.back().seq;
  return page;
}

// Lists and sums: "" is both kinds of line, anything else the collection named.
RecordSelection::Of LinesOf(const LineQuery& q) {
  return q.collection.empty() ? RecordSelection::Of::kBothLines : RecordSelection::Of::kLines;
}

RecordSelection Selection(RecordSelection::Of of, const LineQuery& q) {
  return {of, q.status.has_value(), q.subject.has_value(), q.record_uri.has_value(), q.did.empty()};
}

// Any owner's records need a recipient or a tipped record to bound the read: without either
// the query is a caller's bug, answered with nothing rather than every owner's records.
bool Unbounded(const LineQuery& q) { return q.did.empty() && !q.subject && !q.record_uri; }

// A time window's bounds for BETWEEN. No bound: no window. With one, a line without that time
// (0, absent) is outside it: times are after the epoch, so the lower bound is at least 1.
std::pair<std::int64_t, std::int64_t> Window(std::optional<std::int64_t> from,
                                             std::optional<std::int64_t> to) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  if (!from && !to) return {kMin, kMax};
  return {std::max<std::int64_t>(from.value_or(1), 1), to.value_or(kMax)};
}

// A cart list's windows on expires_at_us (sql::ListRecordsSql): by default neither leaves
// anything out.
struct ExpiryWindows {
  std::int64_t expires_from = std::numeric_limits<std::int64_t>::min();
  std::int64_t expires_to = std::numeric_limits<std::int64_t>::max();
  std::int64_t overdue_from = 1, overdue_to = 0;  // empty
};

// Binds every parameter of the selection's SQL but :before and :limit (binding one the text
// lacks is an error). The query's strings must outlive the Query (text is bound without
// copying).
void BindSelection(Query& query, const RecordSelection& selection, const LineQuery& q,
                   const ExpiryWindows& expiry = {}) {
  if (!selection.any_owner) query.Bind(":did", q.did);
  if (selection.of == RecordSelection::Of::kBothLines ||
      (selection.of == RecordSelection::Of::kCarts && selection.by_subject)) {
    query.Bind(":item", kItemCollection).Bind(":subscription", kSubscriptionCollection);
  }
  if (selection.of != RecordSelection::Of::kBothLines) query.Bind(":collection", q.collection);
  if (q.status) query.Bind(":status", *q.status);
  if (q.subject) query.Bind(":subject", *q.subject);
  if (q.record_uri) query.Bind(":record_uri", *q.record_uri);
  if (selection.of == RecordSelection::Of::kCarts) {
    query.Bind(":expires_from", expiry.expires_from)
        .Bind(":expires_to", expiry.expires_to)
        .Bind(":overdue_from", expiry.overdue_from)
        .Bind(":overdue_to", expiry.overdue_to);
    return;
  }
  const auto [completed_from, completed_to] = Window(q.completed_from_us, q.completed_to_us);
  const auto [created_from, created_to] = Window(q.created_from_us, q.created_to_us);
  query.Bind(":completed_from", completed_from)
      .Bind(":completed_to", completed_to)
      .Bind(":created_from", created_from)
      .Bind(":created_to", created_to);
}

// The writer's view of the database during one job. Errors the job is expected to handle
// (kConflict, kNotFound) are only returned; any other failure (I/O, disk full, a bug) is also
// remembered and fails the job even if the job ignores it: committing half of a job is worse
// than having it retried.
class SqliteWriteTxn final : public WriteTxn {
 public:
  explicit SqliteWriteTxn(Connection& connection) : connection_(connection) {}

  void StartJob() { failure_ = Status::Ok(); }
  const Status& failure() const { return failure_; }

  std::optional<RecordRow> GetRecord(std::string_view uri) override {
    Status status;
    auto row = SelectRecord(connection_, uri, &status);
    Note(status);
    return row;
  }

  Status InsertRecord(RecordRow& row) override {
    Query query(connection_, sql::kInsertRecord);
    BindRecord(query, row);
    Status status = query.Run();
    if (status.ok()) row.seq = sqlite3_last_insert_rowid(connection_.db());
    return Note(std::move(status));
  }

  Status UpdateRecord(const RecordRow& row) override {
    Query query(connection_, sql::kUpdateRecord);
    BindRecord(query, row);
    return Note(ChangedOne(query, "record", row.uri));
  }

  Status DeleteRecord(std::string_view uri) override {
    Query query(connection_, sql::kDeleteRecord);
    query.Bind(":uri", uri);
    return Note(ChangedOne(query, "record", uri));
  }

  std::int64_t ExpireOpenCarts(std::int64_t now_us, std::int64_t limit) override {
    Query query(connection_, sql::kExpireOpenCarts);
    query.Bind(":expired", kExpired).Bind(":now", now_us).Bind(":limit", limit);
    Status status = Note(query.Run());
    return status.ok() ? query.changes() : 0;
  }

  std::optional<WorkflowRow> GetWorkflow(std::string_view id) override {
    Status status;
    auto row = SelectWorkflow(connection_, id, &status);
    Note(status);
    return row;
  }

  Status InsertWorkflow(const WorkflowRow& row) override {
    Query query(connection_, sql::kInsertWorkflow);
    BindWorkflow(query, row);
    return Note(query.Run());
  }

  Status UpdateWorkflow(const WorkflowRow& row) override {
    Query query(connection_, sql::kUpdateWorkflow);
    BindWorkflow(query, row);
    return Note(ChangedOne(query, "workflow", row.id));
  }

  std::int64_t DeleteExpiredWorkflows(std::int64_t now_us, std::int64_t limit) override {
    Query query(connection_, sql::kDeleteExpiredWorkflows);
    query.Bind(":now", now_us).Bind(":limit", limit);
    Status status = Note(query.Run());
    return status.ok() ? query.changes() : 0;
  }

  Status InsertPaymentEvent(std::string_view cart_uri, std::string_view outcome,
                            std::string_view source, std::int64_t at_us) override {
    Query query(connection_, sql::kInsertPaymentEvent);
    query.Bind(":cart_uri", cart_uri)
        .Bind(":outcome", outcome)
        .Bind(":source", source)
        .Bind(":at_us", at_us);
    return Note(query.Run());
  }

 private:
  // Runs an UPDATE/DELETE by key: kNotFound when it matched no row.
  static Status ChangedOne(Query& query, std::string_view what, std::string_view key) {
    Status status = query.Run();
    if (status.ok() && query.changes() == 0) {
      status =
          Status::Error(Code::kNotFound, std::string(what) + " not found: " + std::string(key));
    }
    return status;
  }

  Status Note(Status status) {
    if (!status.ok() && status.code != Code::kConflict && status.code != Code::kNotFound &&
        failure_.ok()) {
      failure_ = status;
    }
    return status;
  }

  Connection& connection_;
  Status failure_;
};

// Read-only connections, each lent to one thread at a time.
class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool* pool, Connection* connection) : pool_(pool), connection_(connection) {}
    ~Lease() {
      if (connection_ != nullptr) pool_->Return(connection_);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    // nullptr once the pool is closed.
    Connection* get() const { return connection_; }

   private:
    ReaderPool* pool_;
    Connection* connection_;
  };

  Status Open(const std::string& path, int count, int busy_timeout_ms) {
    for (int i = 0; i < count; ++i) {
      Status status;
      auto connection = Connection::Open(path, SQLITE_OPEN_READONLY, busy_timeout_ms, &status);
      if (!connection) return status;
      free_.push_back(connection.get());
      all_.push_back(std::move(connection));
    }
    return Status::Ok();
  }

  Lease Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !free_.empty(); });
    if (closed_) return Lease(this, nullptr);
    Connection* connection = free_.back();
    free_.pop_back();
    return Lease(this, connection);
  }

  // Waits for lent connections to come back, then closes all of them.
  void Close() {
    std::unique_lock lock(mu_);
    closed_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return free_.size() == all_.size(); });
    free_.clear();
    all_.clear();
  }

 private:
  void Return(Connection* connection) {
    // A read cut short (an exception inside a read transaction) must not keep its snapshot.
    if (sqlite3_get_autocommit(connection->db()) == 0) connection->ExecScript("ROLLBACK");
    {
      std::lock_guard lock(mu_);
      free_.push_back(connection);
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  std::vector<std::unique_ptr<Connection>> all_;
  std::vector<Connection*> free_;
};

// A read that failed answers like one that found nothing; *failure (if any) says why.
void NoteReadFailure(Status* failure, const Status& status) {
  if (failure != nullptr && !status.ok() && failure->ok()) {
    *failure = Status::Error(status.code, "the database failed a read: " + status.message);
  }
}

// Runs a read on a pooled connection; `fallback`, with *failure set, when the store is closed
// or anything throws. `fn` notes its own failed queries.
template <class Result, class Fn>
Result WithReader(ReaderPool& pool, Status* failure, Fn&& fn, Result fallback = Result()) {
  try {
    auto lease = pool.Acquire();
    if (lease.get() == nullptr) {
      NoteReadFailure(failure, Status::Error(Code::kUnavailable, "the store is closed"));
      return fallback;
    }
    return fn(*lease.get());
  } catch (const std::exception& e) {
    NoteReadFailure(failure, Status::Error(Code::kInternal, e.what()));
    return fallback;
  } catch (...) {
    NoteReadFailure(failure, Status::Error(Code::kInternal, "unknown exception"));
    return fallback;
  }
}

Status Unavailable(std::string message) {
  return Status::Error(Code::kUnavailable, std::move(message));
}

void Complete(const WriteDone& done, Status status) {
  if (!done) return;
  try {
    done(std::move(status));
  } catch (...) {
    // Nobody to tell on the writer thread; the write itself is settled either way.
  }
}

class SqliteStore final : public Store {
 public:
  static std::unique_ptr<Store> Open(const StoreOptions& options, std::string* error);
  ~SqliteStore() override { Close(); }

  std::optional<RecordRow> GetRecord(std::string_view uri, Status* failure) override {
    return WithReader<std::optional<RecordRow>>(readers_, failure, [&](Connection& connection) {
      Status status;
      auto row = SelectRecord(connection, uri, &status);
      NoteReadFailure(failure, status);
      return row;
    });
  }

  std::vector<RecordRow> GetRecords(const std::vector<std::string>& uris,
                                    Status* failure) override {
    return WithReader<std::vector<RecordRow>>(readers_, failure, [&](Connection& connection) {
      std::vector<RecordRow> rows;
      // One read transaction: every row from the same snapshot.
      if (Status begun = connection.Exec("BEGIN"); !begun.ok()) {
        NoteReadFailure(failure, begun);
        return rows;
      }
      for (const std::string& uri : uris) {
        Status status;
        auto row = SelectRecord(connection, uri, &status);
        NoteReadFailure(failure, status);
        if (row) rows.push_back(std::move(*row));
      }
      connection.Exec("COMMIT");
      return rows;
    });
  }

  Page<RecordRow> ListCarts(const CartQuery& q, Status* failure) override;

  Page<RecordRow> ListLines(const LineQuery& q, Status* failure) override {
    return List(Selection(LinesOf(q), q), q, failure);
  }

  std::optional<Page<RecordRow>> ScanRecords(std::string_view collection,
                                             std::optional<std::int64_t> before_seq,
                                             int limit) override {
    const int page_size = std::clamp(limit, 1, kMaxPageSize);
    return WithReader<std::optional<Page<RecordRow>>>(
        readers_, nullptr,
        [&](Connection& connection) {
          Query query(connection, sql::kScanRecords);
          query.Bind(":collection", collection)
              .Bind(":before", before_seq.value_or(std::numeric_limits<std::int64_t>::max()));
          return ReadRows(query, page_size);
        },
        std::nullopt);
  }

  std::vector<LineTotal> SumLines(const LineQuery& q, Status* failure) override;

  std::optional<WorkflowRow> GetWorkflow(std::string_view id, Status* failure) override {
    return WithReader<std::optional<WorkflowRow>>(readers_, failure, [&](Connection& connection) {
      Status status;
      auto row = SelectWorkflow(connection, id, &status);
      NoteReadFailure(failure, status);
      return row;
    });
  }

  void Submit(WriteJob job, WriteDone done) override {
    Pending pending{std::move(job), std::move(done)};
    bool closed = false;
    {
      std::lock_guard lock(mu_);
      closed = closing_;
      if (!closed) {
        try {
          queue_.push_back(std::move(pending));  // leaves `pending` as it was if it throws
          cv_.notify_one();
          return;
        } catch (const std::exception&) {
          // Out of memory: reported below, outside the lock.
        }
      }
    }
    Complete(pending.done, closed ? Unavailable("store is closed")
                                  : Status::Error(Code::kInternal, "submit: out of memory"));
  }

  Status WriteSync(WriteJob job) override {
    if (std::this_thread::get_id() == writer_id_) {
      return Status::Error(Code::kInternal, "WriteSync on the writer thread would deadlock");
    }
    try {
      auto result = std::make_shared<std::promise<Status>>();
      auto future = result->get_future();
      Submit(std::move(job), [result](Status status) { result->set_value(std::move(status)); });
      return future.get();
    } catch (const std::exception& e) {
      return Status::Error(Code::kInternal, std::string("write: ") + e.what());
    }
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    // From a job or completion: the writer stops once the queue is drained; the thread is
    // joined by a later Close (at the latest the destructor's).
    if (std::this_thread::get_id() == writer_id_) return;
    std::lock_guard close_lock(close_mu_);
    if (writer_.joinable()) writer_.join();
    txn_.reset();
    writer_connection_.reset();
    readers_.Close();
  }

  Stats stats() const override {
    Stats stats;
    stats.commits = commits_.load(std::memory_order_relaxed);
    stats.jobs = jobs_.load(std::memory_order_relaxed);
    stats.failed_batches = failed_batches_.load(std::memory_order_relaxed);
    stats.commit_ns = commit_ns_.load(std::memory_order_relaxed);
    {
      std::lock_guard lock(mu_);
      stats.queued = queue_.size();
    }
    if (const std::int64_t started = batch_started_ns_.load(std::memory_order_relaxed)) {
      stats.batch_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, SteadyNs() - started));
    }
    return stats;
  }

 private:
  struct Pending {
    WriteJob job;
    WriteDone done;
  };

  explicit SqliteStore(const StoreOptions& options) : max_batch_(options.max_batch) {}

  Page<RecordRow> List(const RecordSelection& selection, const LineQuery& q, Status* failure,
                       const ExpiryWindows& expiry = {});

  void WriterLoop();
  void RunBatch(std::vector<Pending>& batch);
  Status RunJob(const WriteJob& job, Status* batch_failure);

  const int max_batch_;
  ReaderPool readers_;
  std::unique_ptr<WalWriteVfs> wal_vfs_;  // outlives the writer connection that uses it
  std::unique_ptr<Connection> writer_connection_;
  std::unique_ptr<SqliteWriteTxn> txn_;

  mutable std::mutex mu_;  // guards queue_ and closing_
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;

  std::mutex close_mu_;  // one Close at a time does the joining and closing
  std::thread writer_;
  std::thread::id writer_id_;

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> jobs_{0};
  std::atomic<std::uint64_t> failed_batches_{0};
  std::atomic<std::uint64_t> commit_ns_{0};
  std::atomic<std::int64_t> batch_started_ns_{0};  // SteadyNs() at the batch's start; 0: idle
};

int PageSize(const LineQuery& q) { return std::clamp(q.limit, 1, kMaxPageSize); }

// One page of the selection on `connection`; nullopt, with *failure set, if the read failed.
std::optional<Page<RecordRow>> ReadPage(Connection& connection, const RecordSelection& selection,
                                        const LineQuery& q, const ExpiryWindows& expiry,
                                        Status* failure) {
  const int page_size = PageSize(q);
  Query query(connection, sql::ListRecordsSql(selection));
  BindSelection(query, selection, q, expiry);
  query.Bind(":before", q.before_seq.value_or(std::numeric_limits<std::int64_t>::max()));
  auto page = ReadRows(query, page_size);
  NoteReadFailure(failure, query.status());
  return page;
}

// The newest page_size rows of two pages read before the same cursor; more may follow if
// either page was full or some of their rows did not fit.
Page<RecordRow> MergePages(Page<RecordRow> a, Page<RecordRow> b, int page_size) {
  Page<RecordRow> page;
  std::merge(std::make_move_iterator(a.rows.begin()), std::make_move_iterator(a.rows.end()),
             std::make_move_iterator(b.rows.begin()), std::make_move_iterator(b.rows.end()),
             std::back_inserter(page.rows),
             [](const RecordRow& x, const RecordRow& y) { return x.seq > y.seq; });
  bool more = a.next_before_seq || b.next_before_seq;
  if (static_cast<int>(page.rows.size()) > page_size) {
    page.rows.resize(static_cast<std::size_t>(page_size));
    more = true;
  }
  if (more) page.next_before_seq = page.rows.back().seq;
  return page;
}

Page<RecordRow> SqliteStore::List(const RecordSelection& selection, const LineQuery& q,
                                  Status* failure, const ExpiryWindows& expiry) {
  if (Unbounded(q)) return {};
  return WithReader<Page<RecordRow>>(readers_, failure, [&](Connection& connection) {
    return ReadPage(connection, selection, q, expiry, failure).value_or(Page<RecordRow>());
  });
}

Page<RecordRow> SqliteStore::ListCarts(const CartQuery& q, Status* failure) {
  LineQuery carts;
  carts.did = q.did;
  carts.collection = std::string(kCartCollection);
  carts.status = q.status;
  carts.subject = q.subject;
  carts.limit = q.limit;
  carts.before_seq = q.before_seq;
  const RecordSelection selection = Selection(RecordSelection::Of::kCarts, carts);
  if (!q.status || !q.now_us) return List(selection, carts, failure);
  // An open cart past its expiry is expired: "open" leaves it out, "expired" finds it.
  ExpiryWindows overdue;
  if (*q.status == "open") {
    overdue.overdue_to = *q.now_us;
    return List(selection, carts, failure, overdue);
  }
  if (*q.status != kExpired || Unbounded(carts)) return List(selection, carts, failure);
  overdue.expires_from = 1;
  overdue.expires_to = *q.now_us;
  LineQuery open = carts;
  open.status = "open";
  // Both pages from one snapshot, so that a cart the sweeper expires meanwhile is in one.
  return WithReader<Page<RecordRow>>(readers_, failure, [&](Connection& connection) {
    if (Status begun = connection.Exec("BEGIN"); !begun.ok()) {
      NoteReadFailure(failure, begun);
      return Page<RecordRow>();
    }
    auto expired = ReadPage(connection, selection, carts, {}, failure);
    auto past_expiry =
        expired ? ReadPage(connection, selection, open, overdue, failure) : std::nullopt;
    connection.Exec("COMMIT");
    if (!past_expiry) return Page<RecordRow>();
    return MergePages(std::move(*expired), std::move(*past_expiry), PageSize(carts));
  });
}

std::vector<LineTotal> SqliteStore::SumLines(const LineQuery& q, Status* failure) {
  if (Unbounded(q)) return {};
  return WithReader<std::vector<LineTotal>>(readers_, failure, [&](Connection& connection) {
    const RecordSelection selection = Selection(LinesOf(q), q);
    Query query(connection, sql::SumLinesSql(selection));
    BindSelection(query, selection, q);
    std::vector<LineTotal> totals;
    while (query.Step()) totals.push_back({query.Text(0), query.Int(1), query.Int(2)});
    // SUM fails rather than wrap on overflow: then no totals, like any failed read.
    if (!query.status().ok()) {
      NoteReadFailure(failure, query.status());
      return std::vector<LineTotal>();
    }
    return totals;
  });
}

void SqliteStore::WriterLoop() {
  std::vector<Pending> batch;
  batch.reserve(static_cast<std::size_t>(max_batch_));
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and everything queued before has run
      // Whatever queued up while the previous batch committed goes into this one.
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    batch_started_ns_.store(SteadyNs(), std::memory_order_relaxed);
    try {
      RunBatch(batch);
    } catch (...) {
      // Out of memory before any completion ran (Complete throws nothing): undo it all.
      if (sqlite3_get_autocommit(writer_connection_->db()) == 0) {
        writer_connection_->ExecScript("ROLLBACK");
      }
      for (Pending& pending : batch) Complete(pending.done, Status{Code::kInternal, {}});
    }
    batch_started_ns_.store(0, std::memory_order_relaxed);
    batch.clear();
  }
}

void SqliteStore::RunBatch(std::vector<Pending>& batch) {
  Connection& connection = *writer_connection_;
  std::vector<Status> results(batch.size());
  Status batch_failure = connection.Exec("BEGIN IMMEDIATE");
  if (batch_failure.ok()) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      results[i] = RunJob(batch[i].job, &batch_failure);
      // SQLite rolls the whole transaction back itself after some errors (disk full, I/O):
      // then the jobs before this one are gone too.
      if (sqlite3_get_autocommit(connection.db()) != 0) {
        batch_failure = Unavailable("transaction rolled back by SQLite: " + results[i].message);
      }
      if (!batch_failure.ok()) break;
    }
    if (batch_failure.ok()) {
      const auto started = std::chrono::steady_clock::now();
      batch_failure = connection.Exec("COMMIT");
      const auto took = std::chrono::steady_clock::now() - started;
      commit_ns_.fetch_add(
          static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()),
          std::memory_order_relaxed);
      if (batch_failure.ok()) commits_.fetch_add(1, std::memory_order_relaxed);
    }
    if (!batch_failure.ok() && sqlite3_get_autocommit(connection.db()) == 0) {
      connection.Exec("ROLLBACK");
    }
  }
  if (!batch_failure.ok()) {
    sqlite::DiscardUnsyncedWal(connection.db());
    failed_batches_.fetch_add(1, std::memory_order_relaxed);
    // Nothing of this batch is durable. A job that failed on its own keeps its own error.
    Status failed = Unavailable("batch not committed: " + batch_failure.message);
    for (Status& result : results) {
      if (result.ok()) result = failed;
    }
  }
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  for (std::size_t i = 0; i < batch.size(); ++i) Complete(batch[i].done, std::move(results[i]));
}

// Returns the job's status. Sets *batch_failure when the transaction can no longer be trusted
// to hold exactly the changes of the jobs that succeeded.
Status SqliteStore::RunJob(const WriteJob& job, Status* batch_failure) {
  Connection& connection = *writer_connection_;
  Status status = connection.Exec("SAVEPOINT job");
  if (!status.ok()) return status;
  txn_->StartJob();
  try {
    status = job ? job(*txn_) : Status::Ok();
  } catch (const std::exception& e) {
    status = Status::Error(Code::kInternal, std::string("write job threw: ") + e.what());
  } catch (...) {
    status = Status::Error(Code::kInternal, "write job threw");
  }
  if (status.ok() && !txn_->failure().ok()) status = txn_->failure();
  if (status.ok()) {
    Status released = connection.Exec("RELEASE job");
    if (released.ok()) return status;
    status = std::move(released);
  }
  Status undone = connection.Exec("ROLLBACK TO job");
  if (undone.ok()) undone = connection.Exec("RELEASE job");
  if (!undone.ok()) *batch_failure = Unavailable("rolling a failed job back: " + undone.message);
  return status;
}

// Checks the options SQLite would otherwise take silently (or misread).
Status CheckOptions(const StoreOptions& options, std::string* synchronous) {
  if (options.path.empty() || options.path == ":memory:") {
    return Status::Error(Code::kInternal, "store path must name a file");
  }
  std::string level;
  for (char c : options.synchronous)
    level += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (level != "FULL" && level != "NORMAL" && level != "OFF") {
    return Status::Error(Code::kInternal, "synchronous must be FULL, NORMAL or OFF, not \"" +
                                              options.synchronous + "\"");
  }
  if (options.busy_timeout_ms < 0) {
    return Status::Error(Code::kInternal, "busy_timeout_ms must not be negative");
  }
  if (options.max_batch < 1) return Status::Error(Code::kInternal, "max_batch must be >= 1");
  if (options.read_connections < 1) {
    return Status::Error(Code::kInternal, "read_connections must be >= 1");
  }
  *synchronous = level;
  return Status::Ok();
}

// Proves that the writer can commit: a write-protected file (which SQLite opens read-only
// rather than refuse), or a -wal or -shm this process may not write, would otherwise let the
// store open and then fail every write. Setting user_version to its own value (read inside the
// transaction: another process may be migrating) writes the header page, through the WAL or the
// rollback journal of a file not yet in WAL mode, and changes nothing: one small commit, at open.
Status CheckWritable(Connection& connection) {
  Status status;
  if (sqlite3_db_readonly(connection.db(), "main") == 1) {
    status = Status::Error(Code::kInternal, "the file is write-protected");
  } else {
    status = connection.ExecScript("BEGIN IMMEDIATE");
    std::int64_t version = 0;
    if (status.ok()) {
      Query query(connection, "PRAGMA user_version");
      if (query.Step()) version = query.Int(0);
      status = query.status();
    }
    if (status.ok()) {
      status = connection.ExecScript(
          ("PRAGMA user_version = " + std::to_string(version) + "; COMMIT").c_str());
    }
    const int code = sqlite3_errcode(connection.db()) & 0xff;
    if (!status.ok()) connection.ExecScript("ROLLBACK");
    // Anything else (not a database, busy) is reported as it is.
    if (status.ok() || (code != SQLITE_READONLY && code != SQLITE_PERM)) return status;
  }
  status.message = "cannot write the database: " + status.message +
                   " (the file, its -wal and -shm files and their directory must be writable)";
  return status;
}

// Per-connection settings of the writer, then the schema.
Status PrepareDatabase(Connection& connection, const std::string& synchronous, bool migrate) {
  // WAL is a property of the file; asking again on an existing WAL database changes nothing.
  std::string mode;
  {
    Query wal(connection, "PRAGMA journal_mode = WAL");
    if (wal.Step()) mode = wal.Text(0);
    if (!wal.status().ok()) return wal.status();
  }
  if (mode != "wal") {
    return Status::Error(Code::kInternal,
                         "could not switch to WAL (journal_mode is \"" + mode + "\")");
  }
  Status status = connection.ExecScript(("PRAGMA synchronous = " + synchronous).c_str());
  if (status.ok()) status = connection.ExecScript("PRAGMA foreign_keys = ON");
  // Each job runs in a savepoint, whose undo journal would otherwise be a temp file written
  // with pwrite for every page a job touches: keep it (and the page cache) in memory.
  if (status.ok()) status = connection.ExecScript("PRAGMA temp_store = MEMORY");
  if (status.ok()) status = connection.ExecScript("PRAGMA cache_size = -16384");
  // Dirty pages stay in memory until the commit rather than spill into the WAL mid-transaction:
  // the WAL VFS (wal_writes.h) needs every frame it holds to belong to a commit about to sync.
  if (status.ok()) status = connection.ExecScript("PRAGMA cache_spill = OFF");
  // Checkpoint less often: the same index pages are rewritten by commit after commit, and a
  // checkpoint copies each page once however many frames it has in the WAL (<= ~32 MiB).
  if (status.ok()) status = connection.ExecScript("PRAGMA wal_autocheckpoint = 8192");
  if (status.ok()) {
    status = migrate ? schema::Migrate(connection, schema::Migrations())
                     : schema::CheckCurrent(connection, schema::Migrations());
  }
  return status;
}

std::unique_ptr<Store> SqliteStore::Open(const StoreOptions& options, std::string* error) {
  std::string synchronous;
  Status status = CheckOptions(options, &synchronous);
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  if (status.ok()) {
    // At FULL the writer's WAL writes go out in one write per commit (wal_writes.h).
    std::string vfs_error;
    if (synchronous == "FULL") {
      store->wal_vfs_ = WalWriteVfs::Register(&vfs_error);
      if (!store->wal_vfs_) status = Status::Error(Code::kInternal, vfs_error);
    }
    if (status.ok()) {
      store->writer_connection_ =
          Connection::Open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           options.busy_timeout_ms, &status,
                           store->wal_vfs_ ? store->wal_vfs_->name() : nullptr);
      // SQLite's "unable to open database file" does not say why; the likeliest is a typo.
      std::filesystem::path dir = std::filesystem::path(options.path).parent_path();
      std::error_code ec;
      if (!status.ok() && !dir.empty() && !std::filesystem::is_directory(dir, ec)) {
        status.message += " (no directory " + dir.string() + ")";
      }
    }
  }
  // Before anything else writes (switching to WAL does), so that a read-only database is told
  // apart from other failures.
  if (status.ok() && options.require_writable) {
    status = CheckWritable(*store->writer_connection_);
  }
  if (status.ok()) {
    status = PrepareDatabase(*store->writer_connection_, synchronous, options.migrate);
  }
  // Readers open after the schema exists and the file is in WAL mode.
  if (status.ok()) {
    status = store->readers_.Open(options.path, options.read_connections, options.busy_timeout_ms);
  }
  if (!status.ok()) {
    if (error != nullptr) *error = "sqlite store " + options.path + ": " + status.message;
    store->Close();
    return nullptr;
  }
  store->txn_ = std::make_unique<SqliteWriteTxn>(*store->writer_connection_);
  store->writer_ = std::thread([raw = store.get()] { raw->WriterLoop(); });
  store->writer_id_ = store->writer_.get_id();
  return store;
}

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const StoreOptions& options, std::string* error) {
  try {
    return SqliteStore::Open(options, error);
  } catch (const std::exception& e) {
    if (error != nullptr) *error = "sqlite store " + options.path + ": " + e.what();
    return nullptr;
  }
}

}  // namespace atipay::store
