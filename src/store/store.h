// The store: carts, items, subscriptions and pending workflows, keyed by AT-URI.
//
// This header is the whole public face of src/store. It knows no HTTP and no lexicons: rows
// carry the record JSON exactly as written to the user's PDS, its CID, and the columns the
// queries need. The SQLite engine (OpenSqliteStore) is the default; a second engine implements
// Store and WriteTxn.
//
// Writes are group-committed: Submit() queues a job; one writer thread runs queued jobs
// back to back inside a single BEGIN IMMEDIATE transaction, each job inside its own SAVEPOINT
// (a job that fails is rolled back alone), commits once (one fsync under synchronous=FULL for
// the whole batch), then calls every job's completion. A completion therefore never reports
// success for a write that is not durable.
#ifndef ATIPAY_STORE_STORE_H_
#define ATIPAY_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atipay::store {

struct Status {
  enum class Code {
    kOk,
    kNotFound,
    kConflict,     // unique key taken (a row with that URI / workflow id exists)
    kUnavailable,  // busy beyond the timeout, disk full, I/O error: retry later
    kAborted,      // the job itself returned an error (its message is the job's)
    kInternal,
  };
  Code code = Code::kOk;
  std::string message;

  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
  static Status Error(Code code, std::string message) { return {code, std::move(message)}; }
};

// Collections we keep. Values are the NSIDs, as in AT-URIs.
inline constexpr std::string_view kCartCollection = "com.atiproto.cart";
inline constexpr std::string_view kItemCollection = "com.atiproto.item";
inline constexpr std::string_view kSubscriptionCollection = "com.atiproto.subscription";
inline constexpr std::string_view kProfileCollection = "com.atiproto.profile";

// One record in a user's repo that we keep the truth for. Times are microseconds since the
// UNIX epoch (0 = absent).
struct RecordRow {
  std::string uri;         // at://<did>/<collection>/<rkey>; the key
  std::string did;         // repo DID (the owner, the payer)
  std::string collection;  // one of the k*Collection values
  std::string rkey;

  std::string record_json;  // the record we last asked the PDS to hold (with $type)
  std::string cid;          // CID of record_json (CIDv1 dag-cbor sha256, base32)
  std::string status;       // our truth; may be ahead of record_json's status

  std::string cart_uri;      // items/subscriptions: the cart that lists this line ("" if none)
  std::string subject;       // items/subscriptions: recipient DID, also when private
  std::string record_uri;    // items: the record tipped ("" if none), also when private
  std::string private_json;  // server-only fields (e.g. a private item's subject/recordUri)
  std::int64_t amount = 0;   // items/subscriptions: minor units; carts: total
  std::string currency;

  std::int64_t created_at_us = 0;
  std::int64_t updated_at_us = 0;
  std::int64_t expires_at_us = 0;    // carts
  std::int64_t completed_at_us = 0;  // carts, items

  std::string redirect_url;  // carts: where checkout returns
  std::string cloned_from;   // carts: the source cart's URI for clones

  std::int64_t seq = 0;  // assigned by the store on insert; list order and cursors

  bool operator==(const RecordRow&) const = default;
};

// A workflow that we issued and that is waiting for (or has had) its callback.
struct WorkflowRow {
  std::string id;           // unique; the intent carries it
  std::string did;          // the caller it was issued to
  std::string nsid;         // the method it belongs to
  std::string fingerprint;  // hash of the original input (without `workflow`)
  int round = 1;
  std::string state;        // "pending", "done", "failed", "conflict"
  std::string plan_json;    // what we asked for (names, URIs, CIDs) and what to do next
  std::string result_json;  // the answer given once done/failed (replayed verbatim)
  std::int64_t created_at_us = 0;
  std::int64_t expires_at_us = 0;
};

struct CartQuery {
  std::string did;                     // the owner (payer); "" = any owner, if subject is set
  std::optional<std::string> status;   // filter
  // When set, the status filter is judged at this time: an open cart past its expiry is
  // "expired", not "open", whether or not the sweeper has written that yet.
  std::optional<std::int64_t> now_us;
  std::optional<std::string> subject;  // carts with at least one line paying this DID
  int limit = 20;
  std::optional<std::int64_t> before_seq;  // cursor: rows with seq < before_seq
};

struct LineQuery {
  // The owner (payer); "" = any owner, if subject or record_uri is set (a recipient's lines, or
  // every tip of a record).
  std::string did;
  // kItemCollection, kSubscriptionCollection, or "" for both (one list, newest first).
  std::string collection;
  std::optional<std::string> status;
  std::optional<std::string> subject;
  std::optional<std::string> record_uri;  // items tipping this record
  // Time windows in microseconds, bounds inclusive, each optional. A line without the time
  // (0) is outside any window on it.
  std::optional<std::int64_t> completed_from_us, completed_to_us;  // on completed_at_us
  std::optional<std::int64_t> created_from_us, created_to_us;      // on created_at_us
  int limit = 20;  // ListLines only
  std::optional<std::int64_t> before_seq;  // ListLines only
};

// The lines a LineQuery matches, summed per currency.
struct LineTotal {
  std::string currency;
  std::int64_t amount = 0;
  std::int64_t count = 0;
};

template <class T>
struct Page {
  std::vector<T> rows;  // newest first (seq descending)
  std::optional<std::int64_t> next_before_seq;  // set when more rows may follow
};

// The view of the database a write job gets. Valid only during the job, on the writer thread.
class WriteTxn {
 public:
  virtual ~WriteTxn() = default;

  virtual std::optional<RecordRow> GetRecord(std::string_view uri) = 0;
  // kConflict if the URI exists. Fills row.seq.
  virtual Status InsertRecord(RecordRow& row) = 0;
  // Replaces every column of the row with this URI (seq kept); kNotFound if absent.
  virtual Status UpdateRecord(const RecordRow& row) = 0;
  virtual Status DeleteRecord(std::string_view uri) = 0;
  // At most `limit` open carts with expires_at_us <= now_us (the earliest first) become
  // "expired"; returns how many.
  virtual std::int64_t ExpireOpenCarts(std::int64_t now_us, std::int64_t limit) = 0;

  virtual std::optional<WorkflowRow> GetWorkflow(std::string_view id) = 0;
  virtual Status InsertWorkflow(const WorkflowRow& row) = 0;  // kConflict if the id exists
  virtual Status UpdateWorkflow(const WorkflowRow& row) = 0;  // kNotFound if absent
  // Removes at most `limit` workflows with expires_at_us <= now_us (the earliest first);
  // returns how many.
  virtual std::int64_t DeleteExpiredWorkflows(std::int64_t now_us, std::int64_t limit) = 0;

  // Appends to the payment log (who recorded which outcome for which cart, when).
  virtual Status InsertPaymentEvent(std::string_view cart_uri, std::string_view outcome,
                                    std::string_view source, std::int64_t at_us) = 0;
};

// A write job: runs on the writer thread inside its own savepoint. A non-ok Status rolls the
// job's changes back (the batch goes on) and is passed to `done` as kAborted with its message,
// unless it already carries another code.
using WriteJob = std::function<Status(WriteTxn&)>;
// Called on the writer thread once the batch is durable (ok) or rolled back (error). Must be
// quick and must not call Store::WriteSync (it would wait for itself).
using WriteDone = std::function<void(Status)>;

struct StoreOptions {
  std::string path;  // database file; created with its schema on first open
  // "FULL" (default: money must survive power loss), "NORMAL" or "OFF" (benchmarks only).
  std::string synchronous = "FULL";
  int busy_timeout_ms = 5000;
  int max_batch = 256;   // jobs per group commit at most
  int read_connections = 4;
  // Off: a database at an older schema version is refused rather than migrated. For tools
  // beside a running server, which an upgrade under it would break: the server migrates.
  bool migrate = true;
  // On: a database this process cannot write is refused at open. SQLite would open it and read
  // it (a write-protected file is opened read-only; an existing -wal or -shm it may not write
  // still lets it read), and then every write would fail. Off for tools that only read, and may
  // be pointed at a read-only copy.
  bool require_writable = true;
};

class Store {
 public:
  virtual ~Store() = default;

  // Reads: thread-safe, any thread, never blocked by the writer (WAL snapshots). A read the
  // database fails (an I/O error, a corrupt page, the store closed) answers as if nothing
  // matched and sets *failure (kUnavailable) when given one. Code that answers a caller passes
  // one: a disk that fails must not be reported as a missing cart, or a partial list as whole.
  virtual std::optional<RecordRow> GetRecord(std::string_view uri, Status* failure = nullptr) = 0;
  // The rows for these URIs that exist, in the order given.
  virtual std::vector<RecordRow> GetRecords(const std::vector<std::string>& uris,
                                            Status* failure = nullptr) = 0;
  virtual Page<RecordRow> ListCarts(const CartQuery& query, Status* failure = nullptr) = 0;
  virtual Page<RecordRow> ListLines(const LineQuery& query, Status* failure = nullptr) = 0;
  // Every owner's records of one collection, newest first, `limit` at a time from `before_seq`
  // (audits: a full scan, not for serving calls). nullopt if the read failed: an audit must not
  // take a failed read for an empty database.
  virtual std::optional<Page<RecordRow>> ScanRecords(std::string_view collection,
                                                     std::optional<std::int64_t> before_seq,
                                                     int limit) = 0;
  // Every line the query matches (limit and cursor ignored), one total per currency, sorted by
  // currency.
  virtual std::vector<LineTotal> SumLines(const LineQuery& query, Status* failure = nullptr) = 0;
  virtual std::optional<WorkflowRow> GetWorkflow(std::string_view id,
                                                 Status* failure = nullptr) = 0;

  // Writes: queue a job for the next group commit. Thread-safe; never blocks on I/O.
  virtual void Submit(WriteJob job, WriteDone done) = 0;
  // Submit and wait for the commit (tools, tests, the sweeper). Not from a WriteDone.
  virtual Status WriteSync(WriteJob job) = 0;

  // Finishes queued jobs and stops the writer. Idempotent; the destructor calls it.
  virtual void Close() = 0;

  // Group commit at work: jobs / commits is the mean batch, commit_ns / commits the mean time a
  // COMMIT took (the fsync, at synchronous=FULL).
  struct Stats {
    std::uint64_t commits = 0;         // batches made durable
    std::uint64_t jobs = 0;            // jobs run, in committed and failed batches
    std::uint64_t failed_batches = 0;  // batches rolled back whole (I/O error, disk full, ...)
    std::uint64_t commit_ns = 0;       // time spent in COMMIT
    std::uint64_t queued = 0;          // jobs waiting for the writer now
    // How long the writer has been on the batch it is running (waiting for the write lock,
    // running jobs, committing); 0 when it is idle. Long: the disk or a lock holds it up.
    std::uint64_t batch_ns = 0;
  };
  virtual Stats stats() const = 0;
};

// Expires overdue open carts and drops expired workflows in transactions of at most `chunk`
// of each, each committed before the next is queued: a backlog (an hour of workflows under load
// is millions of rows) then never holds the writer, or the WAL and memory, for more than one
// chunk. Stops at the first failure.
struct SweepResult {
  std::int64_t carts_expired = 0;
  std::int64_t workflows_deleted = 0;
  Status status;
};
SweepResult Sweep(Store& store, std::int64_t now_us, std::int64_t chunk = 500);

// Opens (creating and migrating as needed) a SQLite database: WAL, the given synchronous
// level, foreign keys on, busy timeout, prepared statements reused. Error text on failure.
std::unique_ptr<Store> OpenSqliteStore(const StoreOptions& options, std::string* error);

// Copies the SQLite database at `path` to the new file `to` while a server may be writing it:
// one consistent snapshot (VACUUM INTO, from a read transaction that blocks no writer), checked
// with integrity_check, made durable, then linked as `to`, so `to` never holds a partial copy.
// `to` must not exist, before or when the copy takes its name (kConflict). `bytes` is the
// copy's size.
struct BackupResult {
  Status status;
  std::int64_t bytes = 0;
};
BackupResult BackupSqliteDatabase(const std::string& path, const std::string& to);

// PRAGMA integrity_check of the SQLite database at `path` (read-only; safe while a server
// writes it): OK, or kInternal with SQLite's first complaint.
Status CheckSqliteIntegrity(const std::string& path);

}  // namespace atipay::store

#endif  // ATIPAY_STORE_STORE_H_
