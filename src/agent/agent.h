// atipay::agent, the client side of the atiproto workflow protocol: what @atiproto/agent does
// for an app, in C++, for tests, the atipay-agent CLI and the atipay-load benchmark. Knows no
// server internals: only XRPC over HTTP and the com.atiproto.actions envelope.
//
//   HttpCallerOptions http;  // (GCC 12 -Wextra warns on partial designated initializers)
//   http.base_url = "http://127.0.0.1:2585";
//   http.token_source = [&](std::string_view nsid) { return MintToken(nsid); };
//   HttpXrpcCaller server(http);
//   MemoryRepo repo;  // or PdsSession::repo()
//   RunResult r = RunMethod(server, repo, "com.atiproto.payment.cart.clone", true,
//                           {{"uri", cart_uri}});
//   if (r.ok()) use(r.output); else log(r.Describe());
//
// RunMethod follows @atiproto/agent (agent.ts / workflow.ts) exactly: call the method; while the
// answer carries `workflow:{intent, actions:[...]}` with at least one action, run the actions in
// order against the repo (create -> createRecord, update -> putRecord, delete -> deleteRecord;
// #raise, even one that breaks its lexicon, stops everything and sends no callback; the other
// actions are checked against theirs first, and one that fails counts as a failed action),
// then call the same method again with
// {...original input, workflow:{intent, responses}}; on the first failed action call back with
// {...original input, workflow:{intent:"error", responses:<those that succeeded>,
// error:{action, name, message, code}}}. At most max_rounds action batches. A query runs its
// side-effect actions once and never calls back. The final output has `workflow` removed.
//
// Nothing here throws across the API; every type is movable. XrpcCaller and RepoWriter
// implementations decide their own thread-safety: MemoryRepo is thread-safe, HttpXrpcCaller is
// one connection (use one per thread), RunMethod itself keeps no state.
#ifndef ATIPAY_AGENT_AGENT_H_
#define ATIPAY_AGENT_AGENT_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lex/tid.h"

namespace atipay::agent {

// ---------------------------------------------------------------------------------------------
// XRPC calls

// One XRPC answer. `status` is the HTTP status, or 0 when no usable answer arrived (connection
// refused, timeout, a 2xx body that is not JSON); then `body` is a synthesized error object.
// Error bodies are {"error": name, "message": text}.
struct XrpcResult {
  int status = 0;
  boost::json::value body;

  bool ok() const { return status >= 200 && status < 300; }
  // body.error, else the @atproto/xrpc name for the status ("InvalidRequest" for 400, ...).
  std::string ErrorName() const;
  // body.message, else empty.
  std::string ErrorMessage() const;

  static XrpcResult Failure(int status, std::string name, std::string message);
};

class XrpcCaller {
 public:
  virtual ~XrpcCaller() = default;
  // A procedure POSTs `input_or_params` as its JSON body; a query sends it as URL parameters
  // (strings, integers, booleans; arrays as repeated keys).
  virtual XrpcResult Call(std::string_view nsid, bool procedure,
                          const boost::json::object& input_or_params) = 0;
};

// ---------------------------------------------------------------------------------------------
// Repo writes (com.atproto.repo.createRecord / putRecord / deleteRecord)

enum class WriteOp { kCreate, kPut, kDelete };
std::string_view WriteOpName(WriteOp op);  // "createRecord", "putRecord", "deleteRecord"

struct RepoWrite {
  WriteOp op = WriteOp::kCreate;
  std::string repo;
  std::string collection;
  std::optional<std::string> rkey;  // create: absent -> the PDS picks a TID
  boost::json::object record;       // create / put
  std::optional<std::string> swap_commit;
};

// Success: uri and cid as the PDS answered (deleteRecord answers neither). Failure: `error` is
// the XRPC error name (non-empty), with its HTTP status and message.
struct WriteResult {
  std::string uri;
  std::string cid;
  int status = 200;
  std::string error;
  std::string message;

  bool ok() const { return error.empty(); }
  static WriteResult Failure(int status, std::string error, std::string message);
};

class RepoWriter {
 public:
  virtual ~RepoWriter() = default;
  virtual WriteResult Write(const RepoWrite& write) = 0;
};

// ---------------------------------------------------------------------------------------------
// The workflow loop

struct RunOptions {
  int max_rounds = 10;  // action batches, as the agent's maxWorkflowSteps
  // Progress lines ("round 1: ...", "  createRecord at://... -> bafy..."), e.g. for --verbose.
  std::function<void(std::string_view)> log;
};

// One repo write the run performed (tests and logs; records stay in the repo).
struct WriteLog {
  WriteOp op = WriteOp::kCreate;
  std::string name;  // the action's name
  std::string uri;   // as answered, or built (delete / failure) as at://repo/collection/rkey
  std::string cid;
  std::string error;  // empty on success
  std::string message;
};

// An action that failed: the `#error` the callback carries.
struct ActionError {
  std::string action;  // the verb: "create", "update", "delete" or whatever $type named
  std::optional<std::string> name;
  std::string message;
  std::optional<std::string> code;  // the XRPC error name, when the PDS gave one
};

struct RunResult {
  enum class Kind {
    kOk,            // `output` is the final answer, `workflow` removed
    kRaised,        // a #raise: `message`, `code`; no callback was sent
    kXrpcError,     // the method answered non-2xx (or no answer): `status`, `error`, `message`
    kActionFailed,  // a query's side-effect action failed: `action_error`
    kMaxRounds,     // the server kept asking: "Workflow exceeded max steps (N) for <nsid>"
  };
  Kind kind = Kind::kOk;
  boost::json::value output;
  int status = 0;
  std::string error;  // kXrpcError: the error name
  std::string message;
  std::optional<std::string> code;  // kRaised
  std::optional<ActionError> action_error;
  int rounds = 0;  // calls made to the method
  std::vector<WriteLog> writes;

  bool ok() const { return kind == Kind::kOk; }
  // One line: "ok", "raised: <code>: <message>", "<status> <Error>: <message>", ...
  std::string Describe() const;
};

RunResult RunMethod(XrpcCaller& caller, RepoWriter& repo, std::string_view nsid, bool procedure,
                    const boost::json::object& input, const RunOptions& options = {});

// ---------------------------------------------------------------------------------------------
// MemoryRepo: an in-memory PDS repo for tests and the load tool. Thread-safe.
//
// Behaves as the reference PDS where it matters to a client: the record gets `$type` = the
// collection when it has none (a different `$type` is 400 InvalidRequest); the CID is
// lex::ComputeRecordCid of the stored record (identical to the PDS's); createRecord without
// rkey picks a TID; createRecord on an existing record fails as the reference does (its MST
// throws, so 500 InternalServerError "Internal Server Error"); putRecord creates or replaces;
// deleteRecord of a missing record succeeds quietly; swapCommit must equal CommitCid(repo)
// (else 400 InvalidSwap "Commit was at <cid>"); a non-DID repo is 400 "Could not find repo".
class MemoryRepo : public RepoWriter {
 public:
  struct Record {
    boost::json::object value;
    std::string cid;
  };

  MemoryRepo();
  WriteResult Write(const RepoWrite& write) override;

  // Fault injection. A fault answers a write with `failure` instead of performing it.
  // FailNthWrite(3): the third write from now (counting every write) fails, once.
  void FailNthWrite(int n, WriteResult failure = DefaultFailure());
  // Every write for which `match` is true fails (until ClearFaults).
  void FailWritesMatching(std::function<bool(const RepoWrite&)> match,
                          WriteResult failure = DefaultFailure());
  void ClearFaults();
  static WriteResult DefaultFailure();  // 500 InternalServerError "injected failure"

  std::optional<Record> Get(std::string_view uri) const;
  std::vector<std::string> Uris() const;  // sorted
  std::size_t size() const;
  std::int64_t writes() const;  // writes attempted, failed ones included
  // The current commit CID of a repo (changes with every successful write to it).
  std::string CommitCid(std::string_view repo) const;
  void Clear();  // records and faults

 private:
  struct Fault {
    std::int64_t at_write = 0;  // > 0: that write only
    std::function<bool(const RepoWrite&)> match;
    WriteResult failure;
  };
  std::string CommitCidLocked(const std::string& repo) const;

  mutable std::mutex mu_;
  std::map<std::string, Record, std::less<>> records_;
  std::map<std::string, std::int64_t, std::less<>> revs_;
  std::vector<Fault> faults_;
  std::int64_t writes_ = 0;
  lex::TidClock tids_;
};

// ---------------------------------------------------------------------------------------------
// HttpXrpcCaller: XRPC over one keep-alive HTTP/1.1 connection (http, or https verified against
// the system CA store). Not thread-safe: use one per thread. Reconnects when the server has
// closed the connection (a request that got no answer byte on a reused connection is resent
// once, on a fresh one). Every phase is bounded by the timeouts.
struct HttpCallerOptions {
  std::string base_url;  // "http://127.0.0.1:2585"; a path prefix is kept ("/xrpc/" follows)
  // Per call: a bearer token for `nsid` ("" sends no Authorization header).
  std::function<std::string(std::string_view nsid)> token_source;
  std::string proxy;  // atproto-proxy header value ("did:web:...#payments"); empty: none
  std::vector<std::pair<std::string, std::string>> headers;  // sent on every call
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  std::size_t max_response_bytes = 16 * 1024 * 1024;
  std::string user_agent = "atipay-agent";
  std::string extra_ca_file;  // https: PEM trust anchors besides the system store (tests)
};

class HttpXrpcCaller : public XrpcCaller {
 public:
  explicit HttpXrpcCaller(HttpCallerOptions options);
  ~HttpXrpcCaller() override;
  HttpXrpcCaller(HttpXrpcCaller&&) noexcept;
  HttpXrpcCaller& operator=(HttpXrpcCaller&&) noexcept;

  XrpcResult Call(std::string_view nsid, bool procedure,
                  const boost::json::object& input_or_params) override;

  // Connections opened so far (1 while keep-alive holds).
  std::int64_t connects() const;
  const HttpCallerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// PdsSession: a logged-in account on a PDS (com.atproto.server.createSession). repo() writes
// records with the account's access token; service() calls a service through the PDS
// (`atproto-proxy: <service>`, e.g. "did:web:pay.example#payments"), as the real agent does.
// Not thread-safe.
struct PdsSessionOptions {
  std::string pds_url;
  std::string identifier;  // handle or DID
  std::string password;
  std::string service;     // "<service DID>#<service id>"
  HttpCallerOptions http;  // timeouts and user agent; base_url and auth are set by the session
};

class PdsSession {
 public:
  // Logs in. On failure returns nullptr and sets *error to the createSession answer.
  static std::unique_ptr<PdsSession> Login(const PdsSessionOptions& options, XrpcResult* error);
  ~PdsSession();

  const std::string& did() const { return did_; }
  const std::string& handle() const { return handle_; }
  const std::string& access_jwt() const { return access_jwt_; }
  RepoWriter& repo();
  XrpcCaller& service();
  XrpcCaller& pds();  // plain calls to the PDS with the access token

 private:
  PdsSession() = default;
  class Writer;
  std::string did_, handle_, access_jwt_;
  std::unique_ptr<HttpXrpcCaller> pds_;
  std::unique_ptr<HttpXrpcCaller> service_;
  std::unique_ptr<Writer> writer_;
};

}  // namespace atipay::agent

#endif  // ATIPAY_AGENT_AGENT_H_
