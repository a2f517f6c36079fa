// The workflow engine: writes we need in a user's repo, asked of their agent and checked on
// the way back.
//
// We cannot write to a user's PDS, so a method answers with an outbound workflow (an intent and
// #create/#update/#delete actions) and the agent calls the method again with what the PDS
// answered. A method describes everything up front as a Plan: the writes (records with the
// rkeys we chose, so every URI and CID is known before the agent writes), the rows to store
// once all writes are confirmed, and the final answer. The engine
//   - records the plan as a pending workflow (in the store, with an expiry) and answers with
//     its first round of actions;
//   - checks each callback before anything is stored: the intent is one we issued, to this
//     caller, for this input; every response name is ours and answers the action it names;
//     every URI is in the caller's repo and the expected collection; every CID equals the CID
//     of the record we asked for (so a modified write is refused);
//   - commits the rows and the final answer in one transaction, after re-reading the workflow
//     and the preconditions inside it;
//   - replays the stored answer for a repeated callback (no duplicate rows);
//   - answers an `intent: "error"` callback with compensating actions for the writes that
//     succeeded (a #delete for a create, an #update back to the old record for an update),
//     then a #raise.
// Large plans are split into rounds (max_writes_per_round), at most max_rounds of them.
//
// Action names and intents carry the workflow id ("<id>/<local name>", "<kind>:<id>:<round>"),
// so an error callback (whose intent the agent replaced by "error") still names its workflow.
// The engine knows no HTTP: failures are Error values that the method layer maps to XRPC
// errors (all 400, by name).
#ifndef ATIPAY_WORKFLOW_WORKFLOW_H_
#define ATIPAY_WORKFLOW_WORKFLOW_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "store/store.h"

namespace lexicons::com::atiproto::actions {
struct InboundWorkflow;
}

namespace atipay::workflow {

enum class Verb { kCreate, kUpdate, kDelete };
std::string_view VerbName(Verb verb);  // "create", "update", "delete"

struct Write {
  std::string name;  // unique within the plan, e.g. "item-0"; the engine prefixes the id
  Verb verb = Verb::kCreate;
  std::string repo;  // always the caller's DID
  std::string collection;
  std::string rkey;
  boost::json::object record;  // create/update, with its $type
  // update: the record it replaces, so a rollback can put it back
  std::optional<boost::json::object> previous;

  // CID of `record` (create/update); the engine computes it unless the method already did
  // (methods that answer with a CID compute it themselves).
  std::string cid;
  std::string Uri() const;
};

// A row that must still look like this when the workflow commits (optimistic concurrency:
// e.g. the cart an item is added to must not have changed meanwhile).
struct Precondition {
  std::string uri;
  std::string cid;
  std::string status;
  // The cart that lists the row ("" for none), for a line whose place the plan relies on: two
  // plans that each found a line free must not both put it in a cart. nullopt: not checked.
  std::optional<std::string> cart_uri = std::nullopt;
  // When set, the callback must come before this time (microseconds; e.g. an open cart's
  // expiry, which reads apply before the sweeper writes it). 0: no deadline.
  std::int64_t before_us = 0;
  // The row must still not exist (cid and status are then unused): e.g. a profile the plan
  // found missing, whose defaults it relied on.
  bool absent = false;
};

// The precondition that the row at `uri` still does not exist.
inline Precondition Absent(std::string uri) {
  Precondition p;
  p.uri = std::move(uri);
  p.absent = true;
  return p;
}

struct Plan {
  std::vector<Write> writes;  // in the order the agent must perform them
  std::vector<store::RecordRow> inserts;
  std::vector<store::RecordRow> updates;
  std::vector<Precondition> preconditions;
  boost::json::object output;  // the final answer, without `workflow`
};

struct Error {
  std::string name;  // XRPC error name, e.g. "WorkflowMismatch"
  std::string message;
};

// Error names the engine uses.
inline constexpr std::string_view kWorkflowNotFound = "WorkflowNotFound";  // unknown or expired
inline constexpr std::string_view kWorkflowMismatch = "WorkflowMismatch";
inline constexpr std::string_view kWorkflowTooLarge = "WorkflowTooLarge";  // > max rounds
inline constexpr std::string_view kStoreUnavailable = "StoreUnavailable";

struct Options {
  std::int64_t ttl_us = 3600LL * 1000000;  // how long a pending workflow waits for callbacks
  // Rounds of writes. The agent makes at most 10 calls (maxWorkflowSteps): the first and a
  // callback after each batch but the 10th, after which it stops. The last round's callback
  // (which commits, or answers with the rollback) must be one of them: 9 rounds at most.
  int max_rounds = 9;
  std::size_t max_writes_per_round = 50;
  // Pending plans kept decoded in memory (by their encoded size), so that a callback need not
  // parse its plan back from the store; 0 turns the cache off. The store stays the truth.
  std::size_t plan_cache_bytes = 16u << 20;
};

// An answer body: an object with `workflow` (run these actions and call back) or the final
// output. Delivered on the store's writer thread or the caller's thread.
using Outcome = std::variant<boost::json::object, Error>;
using Done = std::function<void(Outcome)>;

// A workflow the agent runs without calling back (a query's side effect, e.g. bringing a record
// in the user's repo up to date): {workflow:{intent, actions}}. Computes each write's CID.
boost::json::object SideEffectBody(std::string intent, std::vector<Write>& writes);

// Hash of a method input without its `workflow` (canonical DAG-CBOR, SHA-256, hex).
std::string Fingerprint(const boost::json::object& input);

class PlanCache;

class Engine {
 public:
  using Clock = std::function<std::int64_t()>;  // microseconds since the UNIX epoch

  Engine(store::Store& store, Options options, Clock now_us);

  // Records the plan and answers with its first round.
  void Start(std::string did, std::string nsid, std::string fingerprint, Plan plan, Done done);

  // Handles a callback: `inbound` is the input's `workflow`.
  void Continue(std::string did, std::string nsid, std::string fingerprint,
                const lexicons::com::atiproto::actions::InboundWorkflow& inbound, Done done);

  const Options& options() const { return options_; }

 private:
  store::Store& store_;
  Options options_;
  Clock now_us_;
  std::shared_ptr<PlanCache> plans_;  // shared with commit jobs on the writer thread
};

}  // namespace atipay::workflow

#endif  // ATIPAY_WORKFLOW_WORKFLOW_H_
