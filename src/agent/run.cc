// RunMethod: the agent's workflow loop (see agent.h), plus the small value types.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "agent/agent.h"
#include "com/atiproto/actions.h"
#include "lex/path.h"

namespace atipay::agent {

namespace json = boost::json;
namespace actions = lexicons::com::atiproto::actions;

namespace {

constexpr std::string_view kWorkflowField = "workflow";

// The @atproto/xrpc ResponseType names, for error bodies that carry no name.
std::string_view StatusErrorName(int status) {
  switch (status) {
    case 400:
      return "InvalidRequest";
    case 401:
      return "AuthenticationRequired";
    case 403:
      return "Forbidden";
    case 404:
      return "XRPCNotSupported";
    case 406:
      return "NotAcceptable";
    case 413:
      return "PayloadTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 429:
      return "RateLimitExceeded";
    case 500:
      return "InternalServerError";
    case 501:
      return "MethodNotImplemented";
    case 502:
      return "UpstreamFailure";
    case 503:
      return "NotEnoughResources";
    case 504:
      return "UpstreamTimeout";
    default:
      return "Unknown";
  }
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence. The #error fields have
// lexicon limits; a PDS message past them would make the server refuse the whole callback.
std::string Truncate(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The workflow of an answer, by the agent's shape check: an object with a string `intent` and
// an array `actions`. nullptr otherwise.
const json::object* ExtractWorkflow(const json::value& body) {
  if (!body.is_object()) return nullptr;
  const json::value* w = body.get_object().if_contains(kWorkflowField);
  if (w == nullptr || !w->is_object()) return nullptr;
  const json::object& o = w->get_object();
  const json::value* intent = o.if_contains("intent");
  const json::value* list = o.if_contains("actions");
  if (intent == nullptr || !intent->is_string() || list == nullptr || !list->is_array()) {
    return nullptr;
  }
  return &o;
}

struct Raised {
  std::string message;
  std::optional<std::string> code;
};

struct BatchOutcome {
  json::array responses;             // of the actions that succeeded, in order
  std::optional<ActionError> error;  // the first failure (the batch stopped there)
  std::optional<Raised> raised;
};

class BatchRunner {
 public:
  BatchRunner(RepoWriter& repo, RunResult& result, const RunOptions& options)
      : repo_(repo), result_(result), options_(options) {}

  BatchOutcome Run(const json::array& list) {
    BatchOutcome out;
    const lex::Path root("Output");
    const lex::Path wf = root.Key(kWorkflowField);
    const lex::Path actions_path = wf.Key("actions");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json::value& action = list[i];
      const lex::Path path = actions_path.Index(i);
      if (!RunOne(action, path, out)) break;
    }
    return out;
  }

 private:
  void Log(const std::string& line) {
    if (options_.log) options_.log(line);
  }

  // The verb and name of an action, for an #error, as the agent derives them.
  static ActionError ErrorFor(const json::value& action, std::string message,
                              std::optional<std::string> code = std::nullopt) {
    ActionError e;
    if (action.is_object()) {
      std::string type = StringField(action.get_object(), "$type");
      // The agent's `$type.split("#")[1]`: what follows the first '#', up to any second one.
      std::size_t hash = type.find('#');
      if (hash != std::string::npos) {
        e.action = Truncate(type.substr(hash + 1, type.find('#', hash + 1) - hash - 1), 32);
      }
      const json::value* name = action.get_object().if_contains("name");
      if (name != nullptr && name->is_string())
        e.name = Truncate(std::string(name->get_string()), 64);
    }
    e.message = Truncate(std::move(message), 1024);
    if (code) e.code = Truncate(std::move(*code), 64);
    return e;
  }

  bool Fail(BatchOutcome& out, const json::value& action, std::string message,
            std::optional<std::string> code = std::nullopt) {
    out.error = ErrorFor(action, std::move(message), std::move(code));
    Log("  action failed: " + out.error->action + " " + out.error->name.value_or("") + ": " +
        out.error->message);
    return false;
  }

  // Performs the write; on success appends the response. Returns false when the batch stops.
  bool DoWrite(BatchOutcome& out, const json::value& action, std::string_view verb,
               std::string name, RepoWrite write) {
    std::string built_uri =
        "at://" + write.repo + "/" + write.collection + "/" + write.rkey.value_or(std::string());
    WriteResult w = repo_.Write(write);
    WriteLog entry{.op = write.op,
                   .name = name,
                   .uri = w.ok() && !w.uri.empty() ? w.uri : built_uri,
                   .cid = w.cid,
                   .error = w.error,
                   .message = w.message};
    Log("  " + std::string(WriteOpName(write.op)) + " " + entry.uri + " -> " +
        (w.ok() ? (w.cid.empty() ? std::string("ok") : w.cid)
                : std::to_string(w.status) + " " + w.error + ": " + w.message));
    result_.writes.push_back(std::move(entry));
    if (!w.ok()) {
      return Fail(out, action, w.message.empty() ? w.error : w.message, w.error);
    }
    json::object record_result;
    if (write.op == WriteOp::kDelete) {
      record_result["uri"] = built_uri;
    } else {
      if (w.uri.empty() || w.cid.empty()) {
        return Fail(out, action, "Unexpected response from PDS: expected { uri, cid }");
      }
      record_result["uri"] = w.uri;
      record_result["cid"] = w.cid;
    }
    out.responses.push_back(json::object{
        {"action", verb}, {"name", std::move(name)}, {"result", std::move(record_result)}});
    return true;
  }

  bool RunOne(const json::value& action, const lex::Path& path, BatchOutcome& out) {
    if (!action.is_object()) return Fail(out, action, "Unknown workflow action $type: <missing>");
    const json::value* type_value = action.get_object().if_contains("$type");
    if (type_value == nullptr || !type_value->is_string()) {
      return Fail(out, action, "Unknown workflow action $type: <missing>");
    }
    const std::string_view type = type_value->get_string();
    lex::Errors errors;
    if (type == actions::Create::kType) {
      actions::Create a;
      if (!Parse(action, a, path, errors)) return Fail(out, action, errors.message());
      return DoWrite(out, action, "create", std::move(a.name),
                     RepoWrite{.op = WriteOp::kCreate,
                               .repo = std::move(a.repo),
                               .collection = std::move(a.collection),
                               .rkey = std::move(a.rkey),
                               .record = std::move(a.record),
                               .swap_commit = std::nullopt});
    }
    if (type == actions::Update::kType) {
      actions::Update a;
      if (!Parse(action, a, path, errors)) return Fail(out, action, errors.message());
      return DoWrite(out, action, "update", std::move(a.name),
                     RepoWrite{.op = WriteOp::kPut,
                               .repo = std::move(a.repo),
                               .collection = std::move(a.collection),
                               .rkey = std::move(a.rkey),
                               .record = std::move(a.record),
                               .swap_commit = std::move(a.swap_commit)});
    }
    if (type == actions::Delete::kType) {
      actions::Delete a;
      if (!Parse(action, a, path, errors)) return Fail(out, action, errors.message());
      return DoWrite(out, action, "delete", std::move(a.name),
                     RepoWrite{.op = WriteOp::kDelete,
                               .repo = std::move(a.repo),
                               .collection = std::move(a.collection),
                               .rkey = std::move(a.rkey),
                               .record = {},
                               .swap_commit = std::move(a.swap_commit)});
    }
    if (type == actions::Raise::kType) {
      // Terminal whatever else it carries, as in the agent (`throw new
      // WorkflowRaisedError(a.message, a.code)`, never checked against the lexicon): a #raise
      // that breaks it (no message, one past 1024 bytes) still stops the run with no callback.
      const json::object& o = action.get_object();
      Raised raised{StringField(o, "message"), std::nullopt};
      if (const json::value* code = o.if_contains("code"); code != nullptr && code->is_string()) {
        raised.code = std::string(code->get_string());
      }
      Log("  raise " + raised.code.value_or("") + ": " + raised.message);
      out.raised = std::move(raised);
      return false;
    }
    return Fail(out, action, "Unknown workflow action $type: " + std::string(type));
  }

  RepoWriter& repo_;
  RunResult& result_;
  const RunOptions& options_;
};

json::object ErrorJson(const ActionError& e) {
  json::object o{{"action", e.action}};
  if (e.name) o["name"] = *e.name;
  o["message"] = e.message;
  if (e.code) o["code"] = *e.code;
  return o;
}

}  // namespace

std::string XrpcResult::ErrorName() const {
  if (body.is_object()) {
    std::string name = StringField(body.get_object(), "error");
    if (!name.empty()) return name;
  }
  return std::string(StatusErrorName(status));
}

std::string XrpcResult::ErrorMessage() const {
  return body.is_object() ? StringField(body.get_object(), "message") : std::string();
}

XrpcResult XrpcResult::Failure(int status, std::string name, std::string message) {
  return XrpcResult{status,
                    json::object{{"error", std::move(name)}, {"message", std::move(message)}}};
}

std::string_view WriteOpName(WriteOp op) {
  switch (op) {
    case WriteOp::kCreate:
      return "createRecord";
    case WriteOp::kPut:
      return "putRecord";
    case WriteOp::kDelete:
      return "deleteRecord";
  }
  return "?";
}

WriteResult WriteResult::Failure(int status, std::string error, std::string message) {
  WriteResult r;
  r.status = status;
  r.error = error.empty() ? std::string(StatusErrorName(status)) : std::move(error);
  r.message = std::move(message);
  return r;
}

std::string RunResult::Describe() const {
  switch (kind) {
    case Kind::kOk:
      return "ok";
    case Kind::kRaised:
      return "raised: " + (code ? *code + ": " : std::string()) + message;
    case Kind::kXrpcError:
      return std::to_string(status) + " " + error + (message.empty() ? "" : ": " + message);
    case Kind::kActionFailed:
      if (action_error) {
        return "action failed: " + action_error->action +
               (action_error->name ? " " + *action_error->name : std::string()) + ": " +
               action_error->message +
               (action_error->code ? " (" + *action_error->code + ")" : std::string());
      }
      return "action failed";
    case Kind::kMaxRounds:
      return message;
  }
  return "?";
}

RunResult RunMethod(XrpcCaller& caller, RepoWriter& repo, std::string_view nsid, bool procedure,
                    const json::object& input, const RunOptions& options) {
  RunResult result;
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const int max_rounds = options.max_rounds < 1 ? 1 : options.max_rounds;
  json::object next = input;
  XrpcResult answer;
  bool pending = false;
  int batches = 0;
  BatchRunner runner(repo, result, options);
  for (;;) {
    ++result.rounds;
    answer = caller.Call(nsid, procedure, next);
    if (!answer.ok()) {
      result.kind = RunResult::Kind::kXrpcError;
      result.status = answer.status;
      result.error = answer.ErrorName();
      result.message = answer.ErrorMessage();
      log("round " + std::to_string(result.rounds) + ": " + std::string(nsid) + " -> " +
          result.Describe());
      return result;
    }
    const json::object* workflow = ExtractWorkflow(answer.body);
    if (workflow == nullptr || workflow->at("actions").get_array().empty()) {
      pending = false;
      log("round " + std::to_string(result.rounds) + ": " + std::string(nsid) + " -> final");
      break;
    }
    pending = true;
    const std::string intent(workflow->at("intent").get_string());
    const json::array& list = workflow->at("actions").get_array();
    log("round " + std::to_string(result.rounds) + ": " + std::string(nsid) + " -> intent " +
        intent + ", " + std::to_string(list.size()) + " action(s)");
    BatchOutcome batch = runner.Run(list);
    if (batch.raised) {
      result.kind = RunResult::Kind::kRaised;
      result.message = std::move(batch.raised->message);
      result.code = std::move(batch.raised->code);
      return result;
    }
    if (!procedure) {
      // Queries: side effects only, never a callback.
      if (batch.error) {
        result.kind = RunResult::Kind::kActionFailed;
        result.message = batch.error->message;
        result.action_error = std::move(batch.error);
        return result;
      }
      pending = false;
      break;
    }
    next = input;
    if (batch.error) {
      next[kWorkflowField] = json::object{{"intent", "error"},
                                          {"responses", std::move(batch.responses)},
                                          {"error", ErrorJson(*batch.error)}};
    } else {
      next[kWorkflowField] =
          json::object{{"intent", intent}, {"responses", std::move(batch.responses)}};
    }
    if (++batches >= max_rounds) break;
  }
  if (pending) {
    result.kind = RunResult::Kind::kMaxRounds;
    result.message =
        "Workflow exceeded max steps (" + std::to_string(max_rounds) + ") for " + std::string(nsid);
    log(result.message);
    return result;
  }
  result.kind = RunResult::Kind::kOk;
  result.output = std::move(answer.body);
  if (result.output.is_object()) result.output.get_object().erase(kWorkflowField);
  return result;
}

}  // namespace atipay::agent
