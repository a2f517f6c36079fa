// RunMethod against a scripted server and MemoryRepo: the agent algorithm, branch by branch.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "lex/cbor.h"
#include "lex/formats.h"

namespace atipay::agent {
namespace {

namespace json = boost::json;

constexpr char kDid[] = "did:plc:abcdefghijklmnopqrstuvwx";
constexpr char kNsid[] = "com.atiproto.payment.cart.clone";

// A server that answers from a script: call index (0-based) and body -> answer.
class ScriptedServer : public XrpcCaller {
 public:
  struct Seen {
    std::string nsid;
    bool procedure;
    json::object input;
  };
  using Script = std::function<XrpcResult(int index, const json::object& input)>;
  explicit ScriptedServer(Script script) : script_(std::move(script)) {}

  XrpcResult Call(std::string_view nsid, bool procedure, const json::object& input) override {
    calls.push_back({std::string(nsid), procedure, input});
    return script_(static_cast<int>(calls.size()) - 1, input);
  }

  std::vector<Seen> calls;

 private:
  Script script_;
};

XrpcResult Ok(json::value body) { return XrpcResult{200, std::move(body)}; }

json::object Workflow(std::string intent, json::array actions) {
  return json::object{
      {"workflow", json::object{{"intent", std::move(intent)}, {"actions", std::move(actions)}}}};
}

json::object Create(std::string name, std::string collection, std::optional<std::string> rkey,
                    json::object record) {
  json::object a{{"$type", "com.atiproto.actions#create"},
                 {"repo", kDid},
                 {"name", std::move(name)},
                 {"collection", std::move(collection)},
                 {"record", std::move(record)}};
  if (rkey) a["rkey"] = *rkey;
  return a;
}

json::object Delete(std::string name, std::string collection, std::string rkey) {
  return json::object{{"$type", "com.atiproto.actions#delete"},
                      {"repo", kDid},
                      {"name", std::move(name)},
                      {"collection", std::move(collection)},
                      {"rkey", std::move(rkey)}};
}

json::object Raise(std::string message, std::string code) {
  return json::object{{"$type", "com.atiproto.actions#raise"},
                      {"message", std::move(message)},
                      {"code", std::move(code)}};
}

json::object ItemRecord(int amount) {
  return json::object{{"$type", "com.atiproto.item"},
                      {"amount", amount},
                      {"currency", "USD"},
                      {"status", "pending"},
                      {"createdAt", "2026-01-01T00:00:00.000Z"}};
}

json::object CartRecord(json::array items) {
  return json::object{{"$type", "com.atiproto.cart"},
                      {"items", std::move(items)},
                      {"currency", "USD"},
                      {"total", 300},
                      {"status", "open"},
                      {"createdAt", "2026-01-01T00:00:00.000Z"},
                      {"expiresAt", "2026-01-08T00:00:00.000Z"}};
}

std::string Uri(std::string_view collection, std::string_view rkey) {
  return "at://" + std::string(kDid) + "/" + std::string(collection) + "/" + std::string(rkey);
}

const json::object& WorkflowOf(const json::object& input) {
  return input.at("workflow").as_object();
}

TEST(RunMethod, HappyPathTwoRounds) {
  MemoryRepo repo;
  const json::object input{{"uri", Uri("com.atiproto.cart", "3kaaaaaaaaaa2")},
                           {"redirectUrl", "https://example.com/back"}};
  ScriptedServer server([&](int i, const json::object& in) -> XrpcResult {
    switch (i) {
      case 0:
        return Ok(
            Workflow("cloneItems",
                     {Create("item-0", "com.atiproto.item", "3kbbbbbbbbbb2", ItemRecord(100)),
                      Create("item-1", "com.atiproto.item", "3kbbbbbbbbbb3", ItemRecord(200))}));
      case 1: {
        json::array items;
        for (const auto& r : WorkflowOf(in).at("responses").as_array()) {
          items.push_back(
              json::object{{"type", "com.atiproto.item"}, {"recordUri", r.at("result").at("uri")}});
        }
        return Ok(Workflow("cloneCart", {Create("cart", "com.atiproto.cart", "3kcccccccccc2",
                                                CartRecord(std::move(items)))}));
      }
      default: {
        json::object out = Workflow("done", {});
        out["cartUri"] = Uri("com.atiproto.cart", "3kcccccccccc2");
        out["checkoutUrl"] = "https://pay.example/c/1";
        return Ok(std::move(out));
      }
    }
  });
  RunResult r = RunMethod(server, repo, kNsid, true, input);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.rounds, 3);
  ASSERT_EQ(server.calls.size(), 3u);
  EXPECT_EQ(server.calls[0].input, input);
  for (const auto& call : server.calls) {
    EXPECT_EQ(call.nsid, kNsid);
    EXPECT_TRUE(call.procedure);
  }

  // Callback 1: the original input plus this round's responses, in action order.
  json::object expected1 = input;
  const std::string item0 = Uri("com.atiproto.item", "3kbbbbbbbbbb2");
  const std::string item1 = Uri("com.atiproto.item", "3kbbbbbbbbbb3");
  expected1["workflow"] = json::object{
      {"intent", "cloneItems"},
      {"responses",
       json::array{
           json::object{{"action", "create"},
                        {"name", "item-0"},
                        {"result", json::object{{"uri", item0},
                                                {"cid", lex::ComputeRecordCid(ItemRecord(100))}}}},
           json::object{
               {"action", "create"},
               {"name", "item-1"},
               {"result",
                json::object{{"uri", item1}, {"cid", lex::ComputeRecordCid(ItemRecord(200))}}}}}}};
  EXPECT_EQ(server.calls[1].input, expected1) << json::serialize(server.calls[1].input);

  // Callback 2: the original input again, with only round 2's responses.
  const json::object& wf2 = WorkflowOf(server.calls[2].input);
  EXPECT_EQ(wf2.at("intent").as_string(), "cloneCart");
  ASSERT_EQ(wf2.at("responses").as_array().size(), 1u);
  EXPECT_EQ(wf2.at("responses").at(0).at("name").as_string(), "cart");
  EXPECT_EQ(server.calls[2].input.at("uri"), input.at("uri"));
  EXPECT_EQ(server.calls[2].input.at("redirectUrl"), input.at("redirectUrl"));
  EXPECT_EQ(server.calls[2].input.size(), 3u);

  // The final output loses its (empty) workflow.
  EXPECT_EQ(r.output, (json::object{{"cartUri", Uri("com.atiproto.cart", "3kcccccccccc2")},
                                    {"checkoutUrl", "https://pay.example/c/1"}}));
  ASSERT_EQ(r.writes.size(), 3u);
  EXPECT_EQ(r.writes[2].uri, Uri("com.atiproto.cart", "3kcccccccccc2"));
  EXPECT_EQ(repo.size(), 3u);
  auto cart = repo.Get(Uri("com.atiproto.cart", "3kcccccccccc2"));
  ASSERT_TRUE(cart);
  EXPECT_EQ(cart->value.at("items").as_array().size(), 2u);
}

TEST(RunMethod, FinalAnswerWithoutWorkflowAndNoWrites) {
  MemoryRepo repo;
  ScriptedServer server([](int, const json::object&) { return Ok(json::object{{"a", 1}}); });
  RunResult r = RunMethod(server, repo, kNsid, true, {{"uri", "x"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rounds, 1);
  EXPECT_EQ(r.output, (json::object{{"a", 1}}));
  EXPECT_TRUE(r.writes.empty());
}

TEST(RunMethod, MalformedWorkflowIsNotAWorkflow) {
  // The agent's shape check wants a string intent and an actions array; anything else is a
  // final answer (its workflow field still removed).
  MemoryRepo repo;
  ScriptedServer server([](int, const json::object&) {
    return Ok(json::object{{"workflow", json::object{{"actions", json::array{1}}}}, {"b", 2}});
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rounds, 1);
  EXPECT_EQ(r.output, (json::object{{"b", 2}}));
}

TEST(RunMethod, CallbackReplacesAWorkflowInTheOriginalInput) {
  MemoryRepo repo;
  const json::object input{{"uri", "u"}, {"workflow", json::object{{"intent", "stale"}}}};
  ScriptedServer server([](int i, const json::object&) {
    if (i == 0)
      return Ok(Workflow("w", {Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1))}));
    return Ok(json::object{});
  });
  RunResult r = RunMethod(server, repo, kNsid, true, input);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(server.calls.size(), 2u);
  EXPECT_EQ(WorkflowOf(server.calls[1].input).at("intent").as_string(), "w");
  EXPECT_EQ(server.calls[1].input.size(), 2u);
}

TEST(RunMethod, DeleteResponseCarriesTheBuiltUriAndNoCid) {
  MemoryRepo repo;
  ScriptedServer server([](int i, const json::object&) {
    if (i == 0) {
      return Ok(Workflow("w", {Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1)),
                               Delete("del-a", "com.atiproto.item", "3kaaaaaaaaaa2"),
                               Delete("del-missing", "com.atiproto.item", "3kzzzzzzzzzz2")}));
    }
    return Ok(json::object{{"done", true}});
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  ASSERT_TRUE(r.ok()) << r.Describe();
  const json::array& responses = WorkflowOf(server.calls[1].input).at("responses").as_array();
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(
      responses[1],
      (json::object{{"action", "delete"},
                    {"name", "del-a"},
                    {"result", json::object{{"uri", Uri("com.atiproto.item", "3kaaaaaaaaaa2")}}}}));
  // Deleting a record that is not there succeeds quietly, as on a PDS.
  EXPECT_EQ(responses[2].at("result").at("uri").as_string(),
            Uri("com.atiproto.item", "3kzzzzzzzzzz2"));
  EXPECT_EQ(repo.size(), 0u);
}

TEST(RunMethod, RaiseStopsTheBatchAndSendsNoCallback) {
  MemoryRepo repo;
  ScriptedServer server([](int, const json::object&) {
    return Ok(Workflow("w", {Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1)),
                             Raise("Cart is still open", "CartNotCloneable"),
                             Create("b", "com.atiproto.item", "3kaaaaaaaaaa3", ItemRecord(2))}));
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised);
  EXPECT_EQ(r.message, "Cart is still open");
  EXPECT_EQ(r.code, "CartNotCloneable");
  EXPECT_EQ(r.Describe(), "raised: CartNotCloneable: Cart is still open");
  EXPECT_EQ(r.rounds, 1);
  EXPECT_EQ(server.calls.size(), 1u);
  EXPECT_EQ(repo.size(), 1u);  // the write before the raise happened, the one after did not
  EXPECT_EQ(r.writes.size(), 1u);
}

// The agent throws WorkflowRaisedError(a.message, a.code) for any #raise, without checking it
// against the lexicon: one with no message, or a message past its 1024 bytes, is still the end
// of the run, never an action failure answered with an error callback (which a server would
// answer with its rollback, and so on up to the step limit).
TEST(RunMethod, RaiseIsTerminalEvenWhenItBreaksTheLexicon) {
  const std::string long_message(2000, 'm');
  for (const json::object& raise :
       {json::object{
            {"$type", "com.atiproto.actions#raise"}, {"message", long_message}, {"code", "Big"}},
        json::object{{"$type", "com.atiproto.actions#raise"}, {"code", "NoMessage"}},
        json::object{{"$type", "com.atiproto.actions#raise"}, {"message", "m"}, {"code", 7}}}) {
    SCOPED_TRACE(json::serialize(raise));
    MemoryRepo repo;
    ScriptedServer server([&](int, const json::object&) { return Ok(Workflow("w", {raise})); });
    RunResult r = RunMethod(server, repo, kNsid, true, {});
    EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
    EXPECT_EQ(server.calls.size(), 1u);
    const json::value* message = raise.if_contains("message");
    EXPECT_EQ(r.message, message != nullptr ? std::string(message->as_string()) : "");
    const json::value* code = raise.if_contains("code");
    if (code != nullptr && code->is_string()) {
      EXPECT_EQ(r.code, std::string(code->as_string()));
    } else {
      EXPECT_EQ(r.code, std::nullopt);
    }
  }
}

TEST(RunMethod, FailedWriteSendsTheErrorCallbackThenRollback) {
  MemoryRepo repo;
  repo.FailNthWrite(2, WriteResult::Failure(400, "InvalidSwap", "Commit was at bafyother"));
  ScriptedServer server([](int i, const json::object& in) -> XrpcResult {
    if (i == 0) {
      return Ok(Workflow("cloneItems",
                         {Create("item-0", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1)),
                          Create("item-1", "com.atiproto.item", "3kaaaaaaaaaa3", ItemRecord(2)),
                          Create("item-2", "com.atiproto.item", "3kaaaaaaaaaa4", ItemRecord(3))}));
    }
    if (i == 1 && WorkflowOf(in).at("intent") == "error") {
      json::array undo;
      for (const auto& response : WorkflowOf(in).at("responses").as_array()) {
        auto parts = lex::ParseAtUri(response.at("result").at("uri").as_string());
        undo.push_back(Delete("undo-" + std::string(response.at("name").as_string()),
                              std::string(parts->collection), std::string(parts->rkey)));
      }
      undo.push_back(Raise("Clone failed", "CloneFailed"));
      return Ok(Workflow("rollback", std::move(undo)));
    }
    return XrpcResult::Failure(500, "InternalServerError", "unexpected call");
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {{"uri", "u"}});
  ASSERT_EQ(server.calls.size(), 2u);
  json::object expected{
      {"uri", "u"},
      {"workflow",
       json::object{{"intent", "error"},
                    {"responses",
                     json::array{json::object{
                         {"action", "create"},
                         {"name", "item-0"},
                         {"result", json::object{{"uri", Uri("com.atiproto.item", "3kaaaaaaaaaa2")},
                                                 {"cid", lex::ComputeRecordCid(ItemRecord(1))}}}}}},
                    {"error", json::object{{"action", "create"},
                                           {"name", "item-1"},
                                           {"message", "Commit was at bafyother"},
                                           {"code", "InvalidSwap"}}}}}};
  EXPECT_EQ(server.calls[1].input, expected) << json::serialize(server.calls[1].input);
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised);
  EXPECT_EQ(r.code, "CloneFailed");
  EXPECT_EQ(repo.writes(), 3);  // item-0, item-1 (failed), undo-item-0; never item-2
  EXPECT_EQ(repo.size(), 0u);
  ASSERT_EQ(r.writes.size(), 3u);
  EXPECT_EQ(r.writes[1].error, "InvalidSwap");
}

TEST(RunMethod, UnknownOrMissingActionTypeFails) {
  for (const json::value& action :
       {json::value(json::object{{"$type", "com.atiproto.actions#frobnicate"}, {"name", "x"}}),
        json::value(json::object{{"$type", "com.atiproto.actions#frobnicate#x"}, {"name", "x"}}),
        json::value(json::object{{"name", "y"}}), json::value(42)}) {
    SCOPED_TRACE(json::serialize(action));
    MemoryRepo repo;
    ScriptedServer server([&](int i, const json::object&) {
      if (i == 0) return Ok(Workflow("w", {action}));
      return Ok(json::object{});
    });
    RunResult r = RunMethod(server, repo, kNsid, true, {});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(server.calls.size(), 2u);
    const json::object& wf = WorkflowOf(server.calls[1].input);
    EXPECT_EQ(wf.at("intent").as_string(), "error");
    EXPECT_TRUE(wf.at("responses").as_array().empty());
    const json::object& error = wf.at("error").as_object();
    EXPECT_FALSE(error.contains("code"));
    if (action.is_object() && action.as_object().contains("$type")) {
      // The verb, as the agent's `$type.split("#")[1]`: up to a second '#', if any.
      EXPECT_EQ(error.at("action").as_string(), "frobnicate");
      EXPECT_EQ(error.at("name").as_string(), "x");
      EXPECT_EQ(error.at("message").as_string(),
                "Unknown workflow action $type: " + std::string(action.at("$type").as_string()));
    } else {
      EXPECT_EQ(error.at("action").as_string(), "");
      EXPECT_EQ(error.at("message").as_string(), "Unknown workflow action $type: <missing>");
    }
  }
}

TEST(RunMethod, ActionBreakingTheLexiconFails) {
  MemoryRepo repo;
  json::object bad = Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1));
  bad["repo"] = "not a did";
  ScriptedServer server([&](int i, const json::object&) {
    if (i == 0) return Ok(Workflow("w", {bad}));
    return Ok(json::object{});
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  ASSERT_TRUE(r.ok());
  const json::object& error = WorkflowOf(server.calls[1].input).at("error").as_object();
  EXPECT_EQ(error.at("action").as_string(), "create");
  EXPECT_EQ(error.at("message").as_string(), "Output/workflow/actions/0/repo must be a valid did");
  EXPECT_EQ(repo.writes(), 0);
}

// A repo that answers writes without a CID, as a non-conformant PDS might.
class NoCidRepo : public RepoWriter {
 public:
  WriteResult Write(const RepoWrite& write) override {
    WriteResult r;
    r.uri = "at://" + write.repo + "/" + write.collection + "/" + write.rkey.value_or("x");
    return r;
  }
};

TEST(RunMethod, WriteAnswerWithoutCidCountsAsFailure) {
  NoCidRepo repo;
  ScriptedServer server([](int i, const json::object&) {
    if (i == 0)
      return Ok(Workflow("w", {Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1))}));
    return Ok(json::object{});
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  ASSERT_TRUE(r.ok());
  const json::object& wf = WorkflowOf(server.calls[1].input);
  EXPECT_EQ(wf.at("intent").as_string(), "error");
  EXPECT_EQ(wf.at("error"),
            (json::object{{"action", "create"},
                          {"name", "a"},
                          {"message", "Unexpected response from PDS: expected { uri, cid }"}}));
}

TEST(RunMethod, MaxRounds) {
  MemoryRepo repo;
  ScriptedServer server([](int, const json::object&) {
    return Ok(Workflow("again", {Create("a", "com.atiproto.item", std::nullopt, ItemRecord(1))}));
  });
  RunOptions options;
  options.max_rounds = 3;
  RunResult r = RunMethod(server, repo, "x.y.z", true, {}, options);
  EXPECT_EQ(r.kind, RunResult::Kind::kMaxRounds);
  EXPECT_EQ(r.message, "Workflow exceeded max steps (3) for x.y.z");
  EXPECT_EQ(r.rounds, 3);
  EXPECT_EQ(server.calls.size(), 3u);
  EXPECT_EQ(repo.size(), 3u);

  // The default is 10 batches.
  ScriptedServer again([](int, const json::object&) {
    return Ok(Workflow("again", {Create("a", "com.atiproto.item", std::nullopt, ItemRecord(1))}));
  });
  EXPECT_EQ(RunMethod(again, repo, "x.y.z", true, {}).rounds, 10);
}

TEST(RunMethod, MaxRoundsCountsErrorCallbacks) {
  MemoryRepo repo;
  repo.FailWritesMatching([](const RepoWrite&) { return true; });
  ScriptedServer server([](int, const json::object&) {
    return Ok(Workflow("again", {Create("a", "com.atiproto.item", std::nullopt, ItemRecord(1))}));
  });
  RunOptions options;
  options.max_rounds = 2;
  RunResult r = RunMethod(server, repo, "x.y.z", true, {}, options);
  EXPECT_EQ(r.kind, RunResult::Kind::kMaxRounds);
  EXPECT_EQ(server.calls.size(), 2u);
  EXPECT_EQ(WorkflowOf(server.calls[1].input).at("intent").as_string(), "error");
  EXPECT_EQ(WorkflowOf(server.calls[1].input).at("error").at("code").as_string(),
            "InternalServerError");
}

TEST(RunMethod, QueryRunsSideEffectsOnceWithoutCallback) {
  MemoryRepo repo;
  const std::string cart_uri = Uri("com.atiproto.cart", "3kaaaaaaaaaa2");
  ScriptedServer server([&](int, const json::object&) {
    json::object out = Workflow("syncCart", {json::object{{"$type", "com.atiproto.actions#update"},
                                                          {"repo", kDid},
                                                          {"name", "cart"},
                                                          {"collection", "com.atiproto.cart"},
                                                          {"rkey", "3kaaaaaaaaaa2"},
                                                          {"record", CartRecord({})}}});
    out["uri"] = cart_uri;
    out["cart"] = json::object{{"status", "expired"}};
    return Ok(std::move(out));
  });
  RunResult r =
      RunMethod(server, repo, "com.atiproto.payment.cart.get", false, {{"uri", cart_uri}});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.rounds, 1);
  ASSERT_EQ(server.calls.size(), 1u);
  EXPECT_FALSE(server.calls[0].procedure);
  EXPECT_EQ(r.output,
            (json::object{{"uri", cart_uri}, {"cart", json::object{{"status", "expired"}}}}));
  auto stored = repo.Get(cart_uri);
  ASSERT_TRUE(stored);  // putRecord creates a missing record
  EXPECT_EQ(stored->cid, lex::ComputeRecordCid(CartRecord({})));

  // A failed side effect is the caller's error; still no callback.
  repo.FailNthWrite(1);
  RunResult failed =
      RunMethod(server, repo, "com.atiproto.payment.cart.get", false, {{"uri", cart_uri}});
  EXPECT_EQ(failed.kind, RunResult::Kind::kActionFailed);
  ASSERT_TRUE(failed.action_error);
  EXPECT_EQ(failed.action_error->action, "update");
  EXPECT_EQ(failed.action_error->name, "cart");
  EXPECT_EQ(failed.action_error->code, "InternalServerError");
  EXPECT_EQ(failed.rounds, 1);
  EXPECT_EQ(server.calls.size(), 2u);
}

TEST(RunMethod, QueryRaise) {
  MemoryRepo repo;
  ScriptedServer server(
      [](int, const json::object&) { return Ok(Workflow("w", {Raise("no", "Nope")})); });
  RunResult r = RunMethod(server, repo, "a.b.c", false, {});
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised);
  EXPECT_EQ(r.code, "Nope");
}

TEST(RunMethod, MissingRkeyLetsTheRepoPickATid) {
  MemoryRepo repo;
  ScriptedServer server([](int i, const json::object&) {
    if (i == 0)
      return Ok(Workflow("w", {Create("a", "com.atiproto.item", std::nullopt, ItemRecord(5))}));
    return Ok(json::object{});
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  ASSERT_TRUE(r.ok());
  const json::object& result =
      WorkflowOf(server.calls[1].input).at("responses").at(0).at("result").as_object();
  auto parts = lex::ParseAtUri(result.at("uri").as_string());
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->authority, kDid);
  EXPECT_EQ(parts->collection, "com.atiproto.item");
  EXPECT_TRUE(lex::IsValidTid(parts->rkey)) << parts->rkey;
  EXPECT_EQ(result.at("cid").as_string(), lex::ComputeRecordCid(ItemRecord(5)));
}

TEST(RunMethod, XrpcErrorsPassThrough) {
  MemoryRepo repo;
  ScriptedServer server([](int i, const json::object&) {
    if (i == 0)
      return Ok(Workflow("w", {Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1))}));
    return XrpcResult::Failure(400, "CartNotFound", "Cart not found: at://x");
  });
  RunResult r = RunMethod(server, repo, kNsid, true, {});
  EXPECT_EQ(r.kind, RunResult::Kind::kXrpcError);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error, "CartNotFound");
  EXPECT_EQ(r.message, "Cart not found: at://x");
  EXPECT_EQ(r.Describe(), "400 CartNotFound: Cart not found: at://x");
  EXPECT_EQ(r.rounds, 2);

  XrpcResult nameless{502, json::value()};
  EXPECT_EQ(nameless.ErrorName(), "UpstreamFailure");
}

TEST(RunMethod, LogsRoundsAndWrites) {
  MemoryRepo repo;
  std::vector<std::string> lines;
  RunOptions options;
  options.log = [&](std::string_view line) { lines.emplace_back(line); };
  ScriptedServer server([](int i, const json::object&) {
    if (i == 0)
      return Ok(Workflow("w", {Create("a", "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1))}));
    return Ok(json::object{});
  });
  ASSERT_TRUE(RunMethod(server, repo, kNsid, true, {}, options).ok());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("intent w, 1 action"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("createRecord " + Uri("com.atiproto.item", "3kaaaaaaaaaa2")),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("final"), std::string::npos);
}

// --- MemoryRepo ------------------------------------------------------------------------------

RepoWrite MakeWrite(WriteOp op, std::string collection, std::optional<std::string> rkey,
                    json::object record = {}) {
  return RepoWrite{.op = op,
                   .repo = kDid,
                   .collection = std::move(collection),
                   .rkey = std::move(rkey),
                   .record = std::move(record),
                   .swap_commit = std::nullopt};
}

TEST(MemoryRepo, CidsEqualComputeRecordCid) {
  MemoryRepo repo;
  json::object untyped = ItemRecord(7);
  untyped.erase("$type");
  WriteResult w =
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", "3kaaaaaaaaaa2", untyped));
  ASSERT_TRUE(w.ok()) << w.message;
  // The PDS adds $type = collection before hashing; so does MemoryRepo.
  EXPECT_EQ(w.cid, lex::ComputeRecordCid(ItemRecord(7)));
  EXPECT_EQ(w.uri, Uri("com.atiproto.item", "3kaaaaaaaaaa2"));
  auto stored = repo.Get(w.uri);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->value, ItemRecord(7));
  EXPECT_EQ(stored->cid, w.cid);

  // putRecord replaces (and creates when missing).
  WriteResult put =
      repo.Write(MakeWrite(WriteOp::kPut, "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(8)));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put.cid, lex::ComputeRecordCid(ItemRecord(8)));
  EXPECT_EQ(repo.Get(w.uri)->cid, put.cid);
  EXPECT_TRUE(
      repo.Write(MakeWrite(WriteOp::kPut, "com.atiproto.item", "3kaaaaaaaaaa3", ItemRecord(9)))
          .ok());
  EXPECT_EQ(repo.size(), 2u);
  EXPECT_EQ(repo.Uris(), (std::vector<std::string>{Uri("com.atiproto.item", "3kaaaaaaaaaa2"),
                                                   Uri("com.atiproto.item", "3kaaaaaaaaaa3")}));
}

TEST(MemoryRepo, RefusesWhatAPdsRefuses) {
  MemoryRepo repo;
  ASSERT_TRUE(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1)))
          .ok());
  WriteResult again =
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1)));
  EXPECT_EQ(again.status, 500);
  EXPECT_EQ(again.error, "InternalServerError");

  WriteResult wrong_type =
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.cart", std::nullopt, ItemRecord(1)));
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.error, "InvalidRequest");
  EXPECT_EQ(wrong_type.message, "Invalid $type: expected com.atiproto.cart, got com.atiproto.item");

  RepoWrite bad_repo =
      MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt, ItemRecord(1));
  bad_repo.repo = "alice";
  EXPECT_EQ(repo.Write(bad_repo).message, "Could not find repo: alice");
  EXPECT_EQ(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", "a/b", ItemRecord(1))).error,
      "InvalidRequest");
  json::object with_float = ItemRecord(1);
  with_float["amount"] = 1.5;
  EXPECT_EQ(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt, with_float)).error,
      "InvalidRequest");
  EXPECT_EQ(repo.size(), 1u);

  // Deleting a missing record succeeds and changes nothing.
  const std::string commit = repo.CommitCid(kDid);
  WriteResult del = repo.Write(MakeWrite(WriteOp::kDelete, "com.atiproto.item", "3kzzzzzzzzzz2"));
  EXPECT_TRUE(del.ok());
  EXPECT_EQ(repo.CommitCid(kDid), commit);
}

TEST(MemoryRepo, SwapCommit) {
  MemoryRepo repo;
  RepoWrite write =
      MakeWrite(WriteOp::kCreate, "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(1));
  write.swap_commit = repo.CommitCid(kDid);
  ASSERT_TRUE(repo.Write(write).ok());
  RepoWrite stale = MakeWrite(WriteOp::kPut, "com.atiproto.item", "3kaaaaaaaaaa2", ItemRecord(2));
  stale.swap_commit = write.swap_commit;
  WriteResult r = repo.Write(stale);
  EXPECT_EQ(r.error, "InvalidSwap");
  EXPECT_EQ(r.message, "Commit was at " + repo.CommitCid(kDid));
  stale.swap_commit = repo.CommitCid(kDid);
  EXPECT_TRUE(repo.Write(stale).ok());
}

TEST(MemoryRepo, FaultInjection) {
  MemoryRepo repo;
  repo.FailNthWrite(2);
  EXPECT_TRUE(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt, ItemRecord(1)))
          .ok());
  WriteResult second =
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt, ItemRecord(2)));
  EXPECT_EQ(second.error, "InternalServerError");
  EXPECT_EQ(second.message, "injected failure");
  EXPECT_TRUE(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt, ItemRecord(3)))
          .ok());

  repo.FailWritesMatching([](const RepoWrite& w) { return w.collection == "com.atiproto.cart"; },
                          WriteResult::Failure(400, "InvalidRequest", "no carts today"));
  EXPECT_EQ(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.cart", std::nullopt, CartRecord({})))
          .message,
      "no carts today");
  EXPECT_TRUE(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt, ItemRecord(4)))
          .ok());
  repo.ClearFaults();
  EXPECT_TRUE(
      repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.cart", std::nullopt, CartRecord({})))
          .ok());
  EXPECT_EQ(repo.writes(), 6);
  EXPECT_EQ(repo.size(), 4u);
  repo.Clear();
  EXPECT_EQ(repo.size(), 0u);
}

TEST(MemoryRepo, ThreadSafeTids) {
  MemoryRepo repo;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&repo, t] {
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(repo.Write(MakeWrite(WriteOp::kCreate, "com.atiproto.item", std::nullopt,
                                         ItemRecord(t * 1000 + i)))
                        .ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(repo.size(), 800u);
}

}  // namespace
}  // namespace atipay::agent
