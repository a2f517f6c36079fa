#include <openssl/rand.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>
#include <boost/json.hpp>
#include <memory>
#include <set>
#include <utility>

#include "com/atiproto/actions.h"
#include "lex/cbor.h"
#include "lex/cid.h"
#include "lex/encoding.h"
#include "lex/formats.h"
#include "lex/tid.h"
#include "workflow/plan_codec.h"
#include "workflow/workflow.h"

namespace atipay::workflow {
namespace {

namespace json = boost::json;
namespace actions = lexicons::com::atiproto::actions;

constexpr std::string_view kErrorIntent = "error";
constexpr std::string_view kRollbackIntent = "rollback";
constexpr std::size_t kMaxRaiseMessage = 1024;
// The state of a workflow whose last callback was answered with a rollback (a precondition
// had changed): a repeat of that callback gets the rollback again, as a done one's gets its
// answer. "failed" is one the agent said failed: no success is taken for it afterwards.
constexpr std::string_view kConflictState = "conflict";

// A TID followed by random characters: unique without coordination, and increasing, so new
// workflow rows append to the end of their table's B-tree instead of landing on random pages
// (each page touched is a page written at commit).
std::string NewWorkflowId() {
  static lex::TidClock clock;
  unsigned char bytes[5] = {};
  RAND_bytes(bytes, sizeof bytes);  // the TID alone is already unique within this process
  return clock.Next() +
         lex::EncodeBase32(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// "com.atiproto.payment.cart.clone" -> "cart.clone": readable intents that stay short.
std::string IntentKind(std::string_view nsid) {
  auto last = nsid.rfind('.');
  if (last == std::string_view::npos || last == 0) return std::string(nsid);
  auto before = nsid.rfind('.', last - 1);
  return std::string(before == std::string_view::npos ? nsid : nsid.substr(before + 1));
}

std::string MakeIntent(std::string_view kind, std::string_view id, int round) {
  return std::string(kind) + ":" + std::string(id) + ":" + std::to_string(round);
}

struct ParsedIntent {
  std::string kind;
  std::string id;
  int round = 0;
};

std::optional<ParsedIntent> ParseIntent(std::string_view intent) {
  auto first = intent.find(':');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = intent.find(':', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  ParsedIntent out;
  out.kind = std::string(intent.substr(0, first));
  out.id = std::string(intent.substr(first + 1, second - first - 1));
  auto digits = intent.substr(second + 1);
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    out.round = out.round * 10 + (c - '0');
  }
  if (out.id.empty()) return std::nullopt;
  return out;
}

// "<id>/<local>" -> id
std::optional<std::string> IdFromName(std::string_view name) {
  auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  return std::string(name.substr(0, slash));
}

std::string LocalName(std::string_view name) {
  auto slash = name.find('/');
  return std::string(slash == std::string_view::npos ? name : name.substr(slash + 1));
}

constexpr std::string_view kUndoPrefix = "undo-";

// An error callback about our rollback's actions (named <id>/undo-...), not the plan's.
bool NamesAnUndo(const actions::InboundWorkflow& inbound) {
  if (inbound.error && inbound.error->name &&
      LocalName(*inbound.error->name).starts_with(kUndoPrefix)) {
    return true;
  }
  for (const auto& r : inbound.responses) {
    if (LocalName(r.name).starts_with(kUndoPrefix)) return true;
  }
  return false;
}

Error Mismatch(std::string message) { return {std::string(kWorkflowMismatch), std::move(message)}; }
Error NotFound(std::string message) { return {std::string(kWorkflowNotFound), std::move(message)}; }

json::object ActionJson(const Write& w) {
  json::object a;
  switch (w.verb) {
    case Verb::kCreate:
      a["$type"] = actions::Create::kType;
      break;
    case Verb::kUpdate:
      a["$type"] = actions::Update::kType;
      break;
    case Verb::kDelete:
      a["$type"] = actions::Delete::kType;
      break;
  }
  a["repo"] = w.repo;
  a["name"] = w.name;
  a["collection"] = w.collection;
  a["rkey"] = w.rkey;
  if (w.verb != Verb::kDelete) a["record"] = w.record;
  return a;
}

json::object RaiseJson(std::string message, std::string_view code) {
  if (message.size() > kMaxRaiseMessage) {
    // Cut before the character that crosses the limit, never inside it: the message is UTF-8
    // (it quotes the agent's text) and must stay so to be JSON.
    std::size_t cut = kMaxRaiseMessage;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message.resize(cut);
  }
  json::object a;
  a["$type"] = actions::Raise::kType;
  a["message"] = std::move(message);
  a["code"] = code;
  return a;
}

json::object WorkflowBody(std::string intent, json::array actions_list) {
  json::object wf;
  wf["intent"] = std::move(intent);
  wf["actions"] = std::move(actions_list);
  json::object body;
  body["workflow"] = std::move(wf);
  return body;
}

std::size_t RoundCount(const StoredPlan& plan) {
  if (plan.writes.empty()) return 0;
  return (plan.writes.size() + plan.per_round - 1) / plan.per_round;
}

// The writes of round `round` (1-based).
std::pair<std::size_t, std::size_t> RoundRange(const StoredPlan& plan, int round) {
  std::size_t begin = static_cast<std::size_t>(round - 1) * plan.per_round;
  std::size_t end = std::min(plan.writes.size(), begin + plan.per_round);
  return {begin, end};
}

json::object RoundBody(const StoredPlan& plan, const store::WorkflowRow& row, int round) {
  auto [begin, end] = RoundRange(plan, round);
  json::array list;
  for (std::size_t i = begin; i < end; ++i) list.push_back(ActionJson(plan.writes[i]));
  return WorkflowBody(MakeIntent(IntentKind(row.nsid), row.id, round), std::move(list));
}

std::optional<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// Undoes writes in reverse order: a create is deleted, an update is put back. The agent stops at
// the final #raise, so the caller sees the error after the repo is restored. Runs inside the
// transaction that fails the workflow: an update is put back to the record the store says the
// repo holds now, which is the one it replaced unless another workflow has written it since
// (whose write the rollback must not undo).
json::object CompensationBody(store::WriteTxn& txn, const store::WorkflowRow& row,
                              const std::vector<const Write*>& done, std::string message,
                              std::string_view code) {
  json::array list;
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    const Write& w = **it;
    Write undo;
    undo.name = row.id + "/" + std::string(kUndoPrefix) + LocalName(w.name);
    undo.repo = w.repo;
    undo.collection = w.collection;
    undo.rkey = w.rkey;
    if (w.verb == Verb::kCreate) {
      undo.verb = Verb::kDelete;
    } else if (w.verb == Verb::kUpdate && w.previous) {
      undo.verb = Verb::kUpdate;
      undo.record = *w.previous;
      if (auto current = txn.GetRecord(w.Uri())) {
        if (auto held = ParseObject(current->record_json)) undo.record = std::move(*held);
      }
    } else {
      continue;  // a delete cannot be undone from here; we never plan one forward
    }
    list.push_back(ActionJson(undo));
  }
  list.push_back(RaiseJson(std::move(message), code));
  return WorkflowBody(std::string(kRollbackIntent), std::move(list));
}

std::optional<Error> CheckOwner(const store::WorkflowRow& row, std::string_view did,
                                std::string_view nsid, std::string_view fingerprint) {
  if (row.did != did) return Mismatch("workflow was not issued to this caller");
  if (row.nsid != nsid) return Mismatch("workflow belongs to " + row.nsid);
  if (row.fingerprint != fingerprint) {
    return Mismatch("input differs from the call that started this workflow");
  }
  return std::nullopt;
}

// Checks one response against the write it names (which must be in [begin, end)).
std::variant<const Write*, Error> CheckResponse(const StoredPlan& plan, std::size_t begin,
                                                std::size_t end, const actions::Response& r,
                                                std::string_view did) {
  const Write* write = nullptr;
  for (std::size_t i = begin; i < end; ++i) {
    if (plan.writes[i].name == r.name) {
      write = &plan.writes[i];
      break;
    }
  }
  if (!write) return Mismatch("response \"" + r.name + "\" does not answer an action of this round");
  if (r.action != VerbName(write->verb)) {
    return Mismatch("response \"" + r.name + "\" says " + r.action + ", the action was " +
                    std::string(VerbName(write->verb)));
  }
  auto parts = lex::ParseAtUri(r.result.uri);
  if (!parts) return Mismatch("response \"" + r.name + "\": invalid AT-URI");
  if (parts->authority != did) {
    return Mismatch("response \"" + r.name + "\": " + r.result.uri + " is not in the caller's repo");
  }
  if (parts->collection != write->collection) {
    return Mismatch("response \"" + r.name + "\": " + r.result.uri + " is not in " +
                    write->collection);
  }
  if (parts->rkey != write->rkey) {
    return Mismatch("response \"" + r.name + "\": " + r.result.uri + " is not the record asked for (" +
                    write->Uri() + ")");
  }
  if (write->verb != Verb::kDelete) {
    if (!r.result.cid) return Mismatch("response \"" + r.name + "\" has no cid");
    if (*r.result.cid != write->cid) {
      return Mismatch("response \"" + r.name + "\": cid " + *r.result.cid +
                      " is not the cid of the record asked for (" + write->cid + ")");
    }
  }
  return write;
}

// Every write of the round answered once, in any order.
std::optional<Error> CheckRound(const StoredPlan& plan, int round,
                                const std::vector<actions::Response>& responses,
                                std::string_view did) {
  auto [begin, end] = RoundRange(plan, round);
  std::set<const Write*> seen;
  for (const auto& r : responses) {
    auto checked = CheckResponse(plan, begin, end, r, did);
    if (auto* e = std::get_if<Error>(&checked)) return *e;
    if (!seen.insert(std::get<const Write*>(checked)).second) {
      return Mismatch("response \"" + r.name + "\" appears twice");
    }
  }
  for (std::size_t i = begin; i < end; ++i) {
    if (!seen.count(&plan.writes[i])) {
      return Mismatch("no response for action \"" + plan.writes[i].name + "\"");
    }
  }
  return std::nullopt;
}

// Runs `job` on the writer thread and answers `done` with what the job decided, once durable.
void Commit(store::Store& store, std::function<Outcome(store::WriteTxn&)> job, Done done) {
  auto outcome = std::make_shared<Outcome>(Error{std::string(kStoreUnavailable), "not run"});
  store.Submit(
      [job = std::move(job), outcome](store::WriteTxn& txn) {
        *outcome = job(txn);
        if (auto* e = std::get_if<Error>(outcome.get()); e && e->name == kStoreUnavailable) {
          return store::Status::Error(store::Status::Code::kAborted, e->message);
        }
        return store::Status::Ok();
      },
      [outcome, done = std::move(done)](store::Status status) {
        if (!status.ok()) {
          done(Error{std::string(kStoreUnavailable),
                     "the store could not commit: " + status.message});
          return;
        }
        done(std::move(*outcome));
      });
}

Error StoreError(const store::Status& s) { return {std::string(kStoreUnavailable), s.message}; }

// A finished plan keeps its records only if a replay may still need the next round's actions.
PlanPart FinishedPart(const StoredPlan& plan) {
  return RoundCount(plan) > 1 ? PlanPart::kWrites : PlanPart::kChecks;
}

}  // namespace

// Pending plans as Start built them, oldest evicted first once over the byte budget. Only a
// shortcut: an entry is used after the workflow row has been read and checked, and a miss
// (evicted, restarted, another process) decodes the row's plan as before. Finished workflows
// leave at once; abandoned ones when the budget pushes them out.
class PlanCache {
 public:
  explicit PlanCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void Put(const std::string& id, std::shared_ptr<const StoredPlan> plan, std::size_t bytes) {
    if (bytes > max_bytes_) return;
    std::lock_guard lock(mutex_);
    if (entries_.count(id)) return;
    order_.push_back(id);
    entries_.emplace(id, Entry{std::move(plan), bytes, std::prev(order_.end())});
    bytes_ += bytes;
    while (bytes_ > max_bytes_) {
      std::string oldest = order_.front();
      EraseLocked(oldest);
    }
  }

  std::shared_ptr<const StoredPlan> Find(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : it->second.plan;
  }

  void Erase(const std::string& id) {
    std::lock_guard lock(mutex_);
    EraseLocked(id);
  }

 private:
  struct Entry {
    std::shared_ptr<const StoredPlan> plan;
    std::size_t bytes = 0;
    std::list<std::string>::iterator position;  // in order_
  };
  void EraseLocked(const std::string& id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    bytes_ -= it->second.bytes;
    order_.erase(it->second.position);
    entries_.erase(it);
  }

  const std::size_t max_bytes_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // oldest first; exactly the ids in entries_
  std::size_t bytes_ = 0;
};

namespace {

// Ends a workflow inside its commit: state and answer stored, the plan cut down to what
// replays need, the cached plan dropped.
std::optional<Error> Finish(store::WriteTxn& txn, store::WorkflowRow& row, std::string_view state,
                            const json::object& answer, const StoredPlan& plan, PlanCache& plans) {
  row.state = std::string(state);
  row.result_json = json::serialize(answer);
  row.plan_json = EncodePlan(plan, FinishedPart(plan));
  if (auto s = txn.UpdateWorkflow(row); !s.ok()) return StoreError(s);
  plans.Erase(row.id);
  return std::nullopt;
}

}  // namespace

std::string_view VerbName(Verb verb) {
  switch (verb) {
    case Verb::kCreate:
      return "create";
    case Verb::kUpdate:
      return "update";
    case Verb::kDelete:
      return "delete";
  }
  return "";
}

json::object SideEffectBody(std::string intent, std::vector<Write>& writes) {
  json::array list;
  for (auto& w : writes) {
    if (w.verb != Verb::kDelete && w.cid.empty()) w.cid = lex::ComputeRecordCid(w.record);
    list.push_back(ActionJson(w));
  }
  return WorkflowBody(std::move(intent), std::move(list));
}

std::string Write::Uri() const { return "at://" + repo + "/" + collection + "/" + rkey; }

std::string Fingerprint(const json::object& input) {
  json::object copy;
  copy.reserve(input.size());
  for (const auto& [key, value] : input) {
    if (key == "workflow" || key == "$workflow") continue;
    copy.emplace(key, value);
  }
  std::string cbor;
  std::string error;
  if (!lex::EncodeDagCbor(copy, cbor, &error)) cbor = json::serialize(copy);  // floats etc.
  auto digest = lex::Sha256(cbor);
  return lex::EncodeHex(std::string_view(reinterpret_cast<const char*>(digest.data()), 16));
}

Engine::Engine(store::Store& store, Options options, Clock now_us)
    : store_(store),
      options_(options),
      now_us_(std::move(now_us)),
      plans_(std::make_shared<PlanCache>(options.plan_cache_bytes)) {
  if (options_.max_writes_per_round == 0) options_.max_writes_per_round = 1;
}

void Engine::Start(std::string did, std::string nsid, std::string fingerprint, Plan plan,
                   Done done) {
  const std::int64_t now = now_us_();
  auto stored = std::make_shared<StoredPlan>();
  stored->per_round = options_.max_writes_per_round;
  std::string id = NewWorkflowId();
  std::set<std::string> names;
  for (auto& w : plan.writes) {
    if (!names.insert(w.name).second) {
      done(Error{"InternalError", "duplicate action name " + w.name});
      return;
    }
    w.name = id + "/" + w.name;
    if (w.verb != Verb::kDelete && w.cid.empty()) {
      std::string error;
      w.cid = lex::ComputeRecordCid(w.record, &error);
      if (w.cid.empty()) {
        done(Error{"InvalidRecord", "record for " + w.Uri() + " is not valid data: " + error});
        return;
      }
    }
  }
  stored->writes = std::move(plan.writes);
  stored->inserts = std::move(plan.inserts);
  stored->updates = std::move(plan.updates);
  stored->preconditions = std::move(plan.preconditions);
  stored->output = std::move(plan.output);
  // Rows learn the CIDs we computed: they are the records the PDS will hold.
  for (auto* rows : {&stored->inserts, &stored->updates}) {
    for (auto& row : *rows) {
      for (const auto& w : stored->writes) {
        if (w.Uri() == row.uri && w.verb != Verb::kDelete) row.cid = w.cid;
      }
    }
  }
  if (RoundCount(*stored) > static_cast<std::size_t>(options_.max_rounds)) {
    done(Error{std::string(kWorkflowTooLarge),
               std::to_string(stored->writes.size()) + " writes need more than " +
                   std::to_string(options_.max_rounds) + " rounds"});
    return;
  }

  store::WorkflowRow row;
  row.id = id;
  row.did = std::move(did);
  row.nsid = std::move(nsid);
  row.fingerprint = std::move(fingerprint);
  row.round = 1;
  row.state = "pending";
  row.plan_json = EncodePlan(*stored, PlanPart::kAll);
  row.created_at_us = now;
  row.expires_at_us = now + options_.ttl_us;

  if (stored->writes.empty()) {
    // Nothing to write in the user's repo: commit at once.
    row.state = "done";
    row.result_json = json::serialize(stored->output);
    Commit(
        store_,
        [row, stored](store::WriteTxn& txn) -> Outcome {
          if (auto err = ApplyRows(txn, *stored); !err.ok()) return StoreError(err);
          if (auto s = txn.InsertWorkflow(row); !s.ok()) return StoreError(s);
          return stored->output;
        },
        std::move(done));
    return;
  }
  json::object first = RoundBody(*stored, row, 1);
  plans_->Put(row.id, stored, row.plan_json.size());
  Commit(
      store_,
      [row = std::move(row), first = std::move(first)](store::WriteTxn& txn) -> Outcome {
        if (auto s = txn.InsertWorkflow(row); !s.ok()) return StoreError(s);
        return first;
      },
      std::move(done));
}

void Engine::Continue(std::string did, std::string nsid, std::string fingerprint,
                      const actions::InboundWorkflow& inbound, Done done) {
  const std::int64_t now = now_us_();
  const bool error_branch = inbound.intent == kErrorIntent;

  std::string id;
  int round = 0;
  bool intent_of_another_method = false;
  if (error_branch) {
    std::optional<std::string> named;
    if (inbound.error && inbound.error->name) named = IdFromName(*inbound.error->name);
    if (!named && !inbound.responses.empty()) named = IdFromName(inbound.responses[0].name);
    if (!named) {
      // Nothing names one of our workflows, so nothing of ours was written: just stop.
      std::string what = inbound.error ? inbound.error->message : "unknown failure";
      json::array list;
      list.push_back(RaiseJson(nsid + " failed: " + what, "WorkflowFailed"));
      done(WorkflowBody(std::string(kRollbackIntent), std::move(list)));
      return;
    }
    id = std::move(*named);
  } else {
    auto parsed = ParseIntent(inbound.intent);
    if (!parsed) {
      done(NotFound("intent \"" + inbound.intent + "\" was not issued by this service"));
      return;
    }
    // Looked up all the same: one of our workflows sent to another method is a mismatch, as on
    // the error branch, where only the action names say which workflow it is.
    intent_of_another_method = parsed->kind != IntentKind(nsid);
    id = std::move(parsed->id);
    round = parsed->round;
  }

  store::Status failure;
  auto row = store_.GetWorkflow(id, &failure);
  if (!failure.ok()) {
    done(StoreError(failure));  // not "unknown": the agent may try again, and must not give up
    return;
  }
  if (!row) {
    done(NotFound("workflow " + id + " is unknown or has expired"));
    return;
  }
  if (row->expires_at_us <= now) {
    done(NotFound("workflow " + id + " has expired; start again without `workflow`"));
    return;
  }
  if (auto e = CheckOwner(*row, did, nsid, fingerprint)) {
    done(*e);
    return;
  }
  if (intent_of_another_method) {
    done(Mismatch("intent \"" + inbound.intent + "\" does not name a workflow of " + nsid));
    return;
  }
  // A finished workflow's row holds a reduced plan; only a pending one can be in the cache.
  std::shared_ptr<const StoredPlan> plan_ptr;
  if (row->state == "pending") plan_ptr = plans_->Find(id);
  if (!plan_ptr) {
    auto plan_json = ParseObject(row->plan_json);
    auto decoded = std::make_shared<StoredPlan>();
    if (!plan_json || !DecodePlan(*plan_json, *decoded)) {
      done(Error{"InternalError", "stored workflow " + id + " is unreadable"});
      return;
    }
    plan_ptr = std::move(decoded);
  }
  const StoredPlan& plan = *plan_ptr;
  const int rounds = static_cast<int>(RoundCount(plan));

  if (error_branch) {
    if (row->state == "done") {
      done(Mismatch("workflow " + id + " already completed; it cannot fail now"));
      return;
    }
    if ((row->state == "failed" || row->state == kConflictState) && NamesAnUndo(inbound)) {
      // The agent could not carry out our rollback. Sending it again would only repeat that
      // until the agent's cap: end here, and say what may be left in the repo.
      std::string what = "an undo failed";
      if (inbound.error) {
        what = inbound.error->action + " " + LocalName(inbound.error->name.value_or("?")) +
               " failed: " + inbound.error->message;
      }
      json::array list;
      list.push_back(RaiseJson(nsid + ": undoing its writes stopped (" + what +
                                   "); records it wrote may remain in the repo",
                               "RollbackFailed"));
      done(WorkflowBody(std::string(kRollbackIntent), std::move(list)));
      return;
    }
    // The responses are the writes of the current round that succeeded before the failure.
    const int current = row->round;
    auto [begin, end] = RoundRange(plan, current);
    std::vector<const Write*> undo;
    for (std::size_t i = 0; i < begin; ++i) undo.push_back(&plan.writes[i]);
    std::set<const Write*> seen;
    for (const auto& r : inbound.responses) {
      auto checked = CheckResponse(plan, begin, end, r, did);
      if (auto* e = std::get_if<Error>(&checked)) {
        done(*e);
        return;
      }
      if (!seen.insert(std::get<const Write*>(checked)).second) {
        done(Mismatch("response \"" + r.name + "\" appears twice"));
        return;
      }
    }
    for (std::size_t i = begin; i < end; ++i) {
      if (seen.count(&plan.writes[i])) undo.push_back(&plan.writes[i]);
    }
    std::string what = "a write failed";
    if (inbound.error) {
      what = inbound.error->action + " " + LocalName(inbound.error->name.value_or("?")) + " failed: " +
             inbound.error->message;
    }
    std::string message =
        nsid + ": " + what + "; " + std::to_string(undo.size()) + " write(s) undone";
    Commit(
        store_,
        [id, plan_ptr, plans = plans_, undo = std::move(undo),
         message = std::move(message)](store::WriteTxn& txn) -> Outcome {
          auto fresh = txn.GetWorkflow(id);
          if (!fresh) return NotFound("workflow " + id + " is unknown or has expired");
          if (fresh->state == "failed" || fresh->state == kConflictState) {
            // Replayed error callback: the same answer as the first time.
            if (auto stored = ParseObject(fresh->result_json)) return *stored;
            return Error{"InternalError", "stored answer is unreadable"};
          }
          if (fresh->state == "done") return Mismatch("workflow " + id + " already completed");
          json::object body = CompensationBody(txn, *fresh, undo, message, "RolledBack");
          if (auto e = Finish(txn, *fresh, "failed", body, *plan_ptr, *plans)) return *e;
          return body;
        },
        std::move(done));
    return;
  }

  if (round < 1 || round > rounds) {
    done(Mismatch("intent names round " + std::to_string(round) + " of " + std::to_string(rounds)));
    return;
  }
  if (row->state == "failed" || (row->state == kConflictState && round < rounds)) {
    done(Mismatch("workflow " + id + " was rolled back; start again without `workflow`"));
    return;
  }
  if (row->state == "pending" && round > row->round) {
    done(Mismatch("round " + std::to_string(round) + " has not been issued yet"));
    return;
  }
  if (auto e = CheckRound(plan, round, inbound.responses, did)) {
    done(*e);
    return;
  }
  if (round < rounds) {
    // Another round. A repeated callback for an earlier round gets the same next round.
    json::object next = RoundBody(plan, *row, round + 1);
    if (row->state != "pending" || row->round > round) {
      done(std::move(next));
      return;
    }
    Commit(
        store_,
        [id, round, next = std::move(next)](store::WriteTxn& txn) -> Outcome {
          auto fresh = txn.GetWorkflow(id);
          if (!fresh) return NotFound("workflow " + id + " is unknown or has expired");
          if (fresh->state == "pending" && fresh->round == round) {
            fresh->round = round + 1;
            if (auto s = txn.UpdateWorkflow(*fresh); !s.ok()) return StoreError(s);
          }
          return next;
        },
        std::move(done));
    return;
  }
  if (row->state == "done" || row->state == kConflictState) {
    if (auto stored = ParseObject(row->result_json)) {
      done(std::move(*stored));
    } else {
      done(Error{"InternalError", "stored answer of workflow " + id + " is unreadable"});
    }
    return;
  }
  // Last round confirmed: store the rows and the answer, once, after re-checking inside the
  // transaction (a concurrent replay may have finished it; the rows we depend on may have moved).
  Commit(
      store_,
      [id, plan_ptr, nsid, now, plans = plans_](store::WriteTxn& txn) -> Outcome {
        auto fresh = txn.GetWorkflow(id);
        if (!fresh) return NotFound("workflow " + id + " is unknown or has expired");
        if (fresh->state == "done" || fresh->state == kConflictState) {
          if (auto stored = ParseObject(fresh->result_json)) return *stored;
          return Error{"InternalError", "stored answer is unreadable"};
        }
        if (fresh->state == "failed") return Mismatch("workflow " + id + " was rolled back");
        for (const auto& pre : plan_ptr->preconditions) {
          auto current = txn.GetRecord(pre.uri);
          const bool changed =
              pre.absent ? current.has_value()
                         : !current || current->cid != pre.cid || current->status != pre.status ||
                               (pre.cart_uri && current->cart_uri != *pre.cart_uri);
          if (changed || (pre.before_us && now >= pre.before_us)) {
            std::vector<const Write*> all;
            for (const auto& w : plan_ptr->writes) all.push_back(&w);
            json::object body = CompensationBody(
                txn, *fresh, all,
                nsid + ": " + pre.uri + " changed while this workflow ran; its writes were undone",
                "Conflict");
            if (auto e = Finish(txn, *fresh, kConflictState, body, *plan_ptr, *plans)) return *e;
            return body;
          }
        }
        if (auto s = ApplyRows(txn, *plan_ptr); !s.ok()) return StoreError(s);
        if (auto e = Finish(txn, *fresh, "done", plan_ptr->output, *plan_ptr, *plans)) return *e;
        return plan_ptr->output;
      },
      std::move(done));
}

}  // namespace atipay::workflow
