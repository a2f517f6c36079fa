// The workflow engine against a real SQLite store: what it asks for, what it accepts back,
// what it stores, and how it rolls back.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "com/atiproto/actions.h"
#include "lex/cbor.h"
#include "store/store.h"
#include "support/json_eq.h"
#include "support/temp_dir.h"
#include "workflow/workflow.h"

namespace atipay::workflow {
namespace {

namespace json = boost::json;
namespace actions = lexicons::com::atiproto::actions;

constexpr char kAlice[] = "did:plc:alicealicealicealicealic";
constexpr char kBob[] = "did:plc:bobbobbobbobbobbobbobbobbo";
constexpr char kNsid[] = "com.atiproto.payment.cart.clone";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.File("test.db");
    options.synchronous = "NORMAL";
    std::string error;
    store_ = store::OpenSqliteStore(options, &error);
    ASSERT_TRUE(store_) << error;
    MakeEngine();
  }
  void TearDown() override {
    engine_.reset();
    if (store_) store_->Close();
    store_.reset();
  }
  void MakeEngine() {
    engine_ = std::make_unique<Engine>(*store_, options_, [this] { return now_.load(); });
  }

  static json::object Record(std::string_view type, std::int64_t amount) {
    return json::object{{"$type", type},
                        {"amount", amount},
                        {"currency", "USD"},
                        {"status", "pending"},
                        {"createdAt", "2026-11-22T00:00:00.000Z"}};
  }

  // A row of Alice's as another call left it in the store (record "{}").
  static store::RecordRow AliceRow(std::string_view collection, std::string_view rkey,
                                   std::string_view cid, std::string_view status) {
    store::RecordRow row;
    row.did = kAlice;
    row.collection = collection;
    row.rkey = rkey;
    row.uri = "at://" + row.did + "/" + row.collection + "/" + row.rkey;
    row.record_json = "{}";
    row.cid = cid;
    row.status = status;
    return row;
  }

  static store::RecordRow Row(const Write& w) {
    store::RecordRow row;
    row.uri = w.Uri();
    row.did = w.repo;
    row.collection = w.collection;
    row.rkey = w.rkey;
    row.record_json = json::serialize(w.record);
    row.status = "pending";
    return row;
  }

  // Two items then a cart, all creates, each row stored on success.
  Plan TwoItemsAndCart(std::string_view did = kAlice) {
    Plan plan;
    for (int i = 0; i < 2; ++i) {
      Write w;
      w.name = "item-" + std::to_string(i);
      w.repo = std::string(did);
      w.collection = "com.atiproto.item";
      w.rkey = "3kitem" + std::to_string(i) + "aaaaaa";
      w.record = Record("com.atiproto.item", 100 + i);
      plan.inserts.push_back(Row(w));
      plan.writes.push_back(std::move(w));
    }
    Write cart;
    cart.name = "cart";
    cart.repo = std::string(did);
    cart.collection = "com.atiproto.cart";
    cart.rkey = "3kcartaaaaaaa";
    cart.record = Record("com.atiproto.cart", 201);
    plan.inserts.push_back(Row(cart));
    plan.writes.push_back(std::move(cart));
    plan.output = json::object{{"cartUri", plan.writes.back().Uri()}};
    return plan;
  }

  Outcome Wait(std::function<void(Done)> run) {
    std::promise<Outcome> promise;
    run([&](Outcome o) { promise.set_value(std::move(o)); });
    return promise.get_future().get();
  }

  json::object Start(Plan plan, std::string did = kAlice, std::string fp = "fp") {
    Outcome o = Wait([&](Done done) {
      engine_->Start(did, kNsid, fp, std::move(plan), std::move(done));
    });
    EXPECT_TRUE(std::holds_alternative<json::object>(o))
        << std::get<Error>(o).name << ": " << std::get<Error>(o).message;
    return std::holds_alternative<json::object>(o) ? std::get<json::object>(o) : json::object{};
  }

  static actions::InboundWorkflow ParseInbound(const json::value& inbound_json) {
    actions::InboundWorkflow inbound;
    lex::Errors errors;
    EXPECT_TRUE(Parse(inbound_json, inbound, lex::Path("workflow"), errors)) << errors.message();
    return inbound;
  }

  Outcome Continue(const json::value& inbound_json, std::string did = kAlice,
                   std::string fp = "fp") {
    actions::InboundWorkflow inbound = ParseInbound(inbound_json);
    return Wait([&](Done done) {
      engine_->Continue(did, kNsid, fp, inbound, std::move(done));
    });
  }

  // What a faithful agent answers to an outbound workflow: every write done as asked.
  static json::object Agent(const json::object& body, std::size_t succeed = SIZE_MAX,
                            bool fail_rest = false) {
    const auto& wf = body.at("workflow").as_object();
    json::array responses;
    json::object error;
    std::size_t n = 0;
    for (const auto& a : wf.at("actions").as_array()) {
      const auto& action = a.as_object();
      std::string type(action.at("$type").as_string());
      std::string verb = type.substr(type.find('#') + 1);
      if (verb == "raise") break;
      if (n++ == succeed) {
        error = json::object{{"action", verb},
                             {"name", action.at("name")},
                             {"message", "Record already exists"},
                             {"code", "InvalidRequest"}};
        break;
      }
      std::string uri = "at://" + std::string(action.at("repo").as_string()) + "/" +
                        std::string(action.at("collection").as_string()) + "/" +
                        std::string(action.at("rkey").as_string());
      json::object result{{"uri", uri}};
      if (verb != "delete") result["cid"] = lex::ComputeRecordCid(action.at("record"));
      responses.push_back(json::object{{"action", verb}, {"name", action.at("name")}, {"result", result}});
    }
    json::object inbound{{"intent", wf.at("intent")}, {"responses", responses}};
    if (fail_rest && !error.empty()) {
      inbound["intent"] = "error";
      inbound["error"] = error;
    }
    return inbound;
  }

  std::size_t Rows() {
    std::size_t n = 0;
    for (const auto& uri : {"at://" + std::string(kAlice) + "/com.atiproto.item/3kitem0aaaaaa",
                            "at://" + std::string(kAlice) + "/com.atiproto.item/3kitem1aaaaaa",
                            "at://" + std::string(kAlice) + "/com.atiproto.cart/3kcartaaaaaaa"}) {
      n += store_->GetRecord(uri).has_value();
    }
    return n;
  }

  static const json::array& Actions(const json::object& body) {
    return body.at("workflow").at("actions").as_array();
  }

  // The answer to a callback whose commit found a precondition broken: the plan's three writes
  // undone, then a raise with code Conflict.
  static void ExpectConflictRollback(const Outcome& o) {
    ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
    const auto& list = Actions(std::get<json::object>(o));
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[3].at("code"), "Conflict");
  }

  // The callback of a plan whose precondition (an open cart) no longer holds: the cart was
  // paid while the agent wrote.
  json::object CallbackAfterThePreconditionChanged() {
    store::RecordRow existing = AliceRow("com.atiproto.cart", "3kexistingaaa", "bafyold", "open");
    EXPECT_TRUE(
        store_->WriteSync([&](store::WriteTxn& t) { return t.InsertRecord(existing); }).ok());
    Plan plan = TwoItemsAndCart();
    plan.preconditions.push_back({existing.uri, "bafyold", "open"});
    json::object inbound = Agent(Start(std::move(plan)));
    existing.status = "completed";
    EXPECT_TRUE(
        store_->WriteSync([&](store::WriteTxn& t) { return t.UpdateRecord(existing); }).ok());
    return inbound;
  }

  static Error ErrorOf(const Outcome& o) {
    EXPECT_TRUE(std::holds_alternative<Error>(o));
    return std::holds_alternative<Error>(o) ? std::get<Error>(o) : Error{};
  }

  test_support::TempDir dir_{"atipay-engine"};
  std::unique_ptr<store::Store> store_;
  Options options_;
  std::atomic<std::int64_t> now_{1'790'000'000'000'000};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, FirstRoundNamesItsWorkflowAndCarriesComputedCids) {
  json::object body = Start(TwoItemsAndCart());
  const auto& wf = body.at("workflow").as_object();
  std::string intent(wf.at("intent").as_string());
  ASSERT_EQ(intent.rfind("cart.clone:", 0), 0u) << intent;
  EXPECT_EQ(intent.substr(intent.size() - 2), ":1");
  std::string id = intent.substr(11, intent.size() - 13);
  const auto& list = Actions(body);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("$type"), "com.atiproto.actions#create");
  EXPECT_EQ(list[0].at("name"), id + "/item-0");
  EXPECT_EQ(list[2].at("name"), id + "/cart");
  EXPECT_EQ(list[2].at("record").at("$type"), "com.atiproto.cart");
  EXPECT_EQ(list[2].at("rkey"), "3kcartaaaaaaa");
  auto row = store_->GetWorkflow(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, "pending");
  EXPECT_EQ(row->did, kAlice);
  EXPECT_EQ(Rows(), 0u) << "nothing is stored before the callback";
}

TEST_F(EngineTest, ConfirmedCallbackStoresRowsOnceAndReplaysTheSameAnswer) {
  json::object body = Start(TwoItemsAndCart());
  json::object inbound = Agent(body);
  Outcome first = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(first)) << ErrorOf(first).message;
  EXPECT_TRUE(std::get<json::object>(first).contains("cartUri"));
  EXPECT_EQ(Rows(), 3u);
  auto cart = store_->GetRecord("at://" + std::string(kAlice) + "/com.atiproto.cart/3kcartaaaaaaa");
  ASSERT_TRUE(cart);
  EXPECT_EQ(cart->cid, lex::ComputeRecordCid(Actions(body)[2].at("record")));
  const auto seq = cart->seq;

  Outcome again = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(again));
  EXPECT_EQ(std::get<json::object>(again), std::get<json::object>(first));
  EXPECT_EQ(store_->GetRecord(cart->uri)->seq, seq) << "a replay must not write the rows again";
}

TEST_F(EngineTest, ConcurrentReplaysCommitOnce) {
  json::object inbound = Agent(Start(TwoItemsAndCart()));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (std::holds_alternative<json::object>(Continue(inbound))) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  // A second insert of the same rows would fail with a conflict: every caller got the answer.
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(Rows(), 3u);
}

// A callback after a restart (or an eviction) finds no decoded plan in memory and reads it
// back from the store: the outcome must be the one the in-memory plan gives.
TEST_F(EngineTest, PlanReadBackFromTheStoreGivesTheSameOutcomeAsTheCachedPlan) {
  json::object body = Start(TwoItemsAndCart());
  json::object inbound = Agent(body);
  MakeEngine();  // a new engine: empty cache
  Outcome first = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(first)) << ErrorOf(first).message;
  EXPECT_EQ(std::get<json::object>(first),
            (json::object{{"cartUri", "at://" + std::string(kAlice) + "/com.atiproto.cart/3kcartaaaaaaa"}}));
  ASSERT_EQ(Rows(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& action = Actions(body)[i].as_object();
    auto row = store_->GetRecord("at://" + std::string(kAlice) + "/" +
                                 std::string(action.at("collection").as_string()) + "/" +
                                 std::string(action.at("rkey").as_string()));
    ASSERT_TRUE(row);
    EXPECT_EQ(row->record_json, json::serialize(action.at("record")));
    EXPECT_EQ(row->cid, lex::ComputeRecordCid(action.at("record")));
    EXPECT_EQ(row->status, "pending");
  }
  // Finished in one round: the stored plan keeps what replays are checked against, no records.
  std::string intent(body.at("workflow").at("intent").as_string());
  auto stored = store_->GetWorkflow(intent.substr(11, intent.size() - 13));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, "done");
  EXPECT_EQ(stored->plan_json.find("\"record\""), std::string::npos) << stored->plan_json;
  MakeEngine();
  Outcome again = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(again)) << ErrorOf(again).message;
  EXPECT_EQ(std::get<json::object>(again), std::get<json::object>(first));
  json::object forged = inbound;
  forged["responses"].as_array()[0].as_object()["result"].as_object()["cid"] =
      lex::ComputeRecordCid(json::object{{"$type", "com.atiproto.item"}});
  EXPECT_EQ(ErrorOf(Continue(forged)).name, kWorkflowMismatch) << "a replay is still checked";
}

// Every column of a planned row is stored as planned, whether the plan came from memory or
// from the store: a column the plan's encoding forgets is silently lost after a restart.
TEST_F(EngineTest, EveryColumnOfAPlannedRowSurvivesThePlanReadBack) {
  Plan plan = TwoItemsAndCart();
  store::RecordRow& item = plan.inserts[0];
  item.cart_uri = plan.inserts[2].uri;
  item.subject = kBob;
  item.record_uri = "at://" + std::string(kBob) + "/app.bsky.feed.post/3kpostaaaaaaa";
  item.private_json = R"({"subject":"did:plc:bobbobbobbobbobbobbobbobbo"})";
  item.amount = 100;
  item.currency = "USD";
  item.created_at_us = 1;
  item.updated_at_us = 2;
  item.completed_at_us = 3;
  store::RecordRow& cart = plan.inserts[2];
  cart.expires_at_us = 4;
  cart.redirect_url = "https://shop.example/done";
  cart.cloned_from = "at://" + std::string(kAlice) + "/com.atiproto.cart/3kolderaaaaaa";
  const std::vector<store::RecordRow> planned = plan.inserts;
  json::object inbound = Agent(Start(std::move(plan)));
  MakeEngine();  // a new engine: the plan is read back from the store
  Outcome o = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
  for (store::RecordRow expected : planned) {
    auto row = store_->GetRecord(expected.uri);
    ASSERT_TRUE(row) << expected.uri;
    expected.cid = row->cid;  // the engine's, checked elsewhere
    expected.seq = row->seq;
    EXPECT_TRUE(*row == expected) << expected.uri;
    EXPECT_EQ(row->record_uri, expected.record_uri);
  }
}

TEST_F(EngineTest, APlanPushedOutOfTheCacheIsReadBackFromTheStore) {
  // Room for about one plan: starting a second workflow evicts the first.
  options_.plan_cache_bytes = 2000;
  MakeEngine();
  Plan second_plan = TwoItemsAndCart(kBob);
  json::object first = Start(TwoItemsAndCart());
  std::string intent(first.at("workflow").at("intent").as_string());
  auto row = store_->GetWorkflow(intent.substr(11, intent.size() - 13));
  ASSERT_TRUE(row);
  ASSERT_GT(row->plan_json.size(), options_.plan_cache_bytes / 2) << "two plans must not fit";
  ASSERT_LE(row->plan_json.size(), options_.plan_cache_bytes) << "one plan must fit";
  json::object second = Start(std::move(second_plan), kBob);
  Outcome b = Continue(Agent(second), kBob);
  ASSERT_TRUE(std::holds_alternative<json::object>(b)) << ErrorOf(b).message;
  Outcome a = Continue(Agent(first));
  ASSERT_TRUE(std::holds_alternative<json::object>(a)) << ErrorOf(a).message;
  EXPECT_EQ(Rows(), 3u);
}

TEST_F(EngineTest, WorksWithThePlanCacheTurnedOff) {
  options_.plan_cache_bytes = 0;
  MakeEngine();
  json::object inbound = Agent(Start(TwoItemsAndCart()));
  Outcome done = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(done)) << ErrorOf(done).message;
  EXPECT_EQ(Rows(), 3u);
}

struct Forgery {
  const char* what;
  std::function<void(json::object& response)> tamper;
  const char* message;
};

class EngineForgeryTest : public EngineTest, public ::testing::WithParamInterface<Forgery> {};

TEST_P(EngineForgeryTest, RefusedBeforeAnythingIsStored) {
  json::object inbound = Agent(Start(TwoItemsAndCart()));
  GetParam().tamper(inbound["responses"].as_array()[1].as_object());
  Error e = ErrorOf(Continue(inbound));
  EXPECT_EQ(e.name, kWorkflowMismatch);
  EXPECT_NE(e.message.find(GetParam().message), std::string::npos) << e.message;
  EXPECT_EQ(Rows(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Responses, EngineForgeryTest,
    ::testing::Values(
        Forgery{"other repo",
                [](json::object& r) {
                  r["result"].as_object()["uri"] =
                      "at://" + std::string(kBob) + "/com.atiproto.item/3kitem1aaaaaa";
                },
                "not in the caller's repo"},
        Forgery{"wrong collection",
                [](json::object& r) {
                  r["result"].as_object()["uri"] =
                      "at://" + std::string(kAlice) + "/com.atiproto.cart/3kitem1aaaaaa";
                },
                "is not in com.atiproto.item"},
        Forgery{"other rkey",
                [](json::object& r) {
                  r["result"].as_object()["uri"] =
                      "at://" + std::string(kAlice) + "/com.atiproto.item/3kotherrkeyaa";
                },
                "not the record asked for"},
        Forgery{"modified record",
                [](json::object& r) {
                  r["result"].as_object()["cid"] = lex::ComputeRecordCid(
                      json::object{{"$type", "com.atiproto.item"}, {"amount", 1}});
                },
                "is not the cid of the record asked for"},
        Forgery{"no cid", [](json::object& r) { r["result"].as_object().erase("cid"); }, "has no cid"},
        Forgery{"unknown name", [](json::object& r) { r["name"] = "someone/else"; },
                "does not answer an action"},
        Forgery{"wrong verb", [](json::object& r) { r["action"] = "update"; }, "says update"}),
    [](const auto& info) {
      std::string name = info.param.what;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST_F(EngineTest, MissingOrDuplicatedResponsesAreRefused) {
  json::object inbound = Agent(Start(TwoItemsAndCart()));
  json::object missing = inbound;
  missing["responses"].as_array().pop_back();
  EXPECT_NE(ErrorOf(Continue(missing)).message.find("no response for action"), std::string::npos);
  json::object twice = inbound;
  twice["responses"].as_array()[2] = twice["responses"].as_array()[1];
  EXPECT_NE(ErrorOf(Continue(twice)).message.find("appears twice"), std::string::npos);
  EXPECT_EQ(Rows(), 0u);
}

TEST_F(EngineTest, CallbackMustComeFromTheSameCallerWithTheSameInput) {
  json::object inbound = Agent(Start(TwoItemsAndCart()));
  EXPECT_EQ(ErrorOf(Continue(inbound, kBob)).message, "workflow was not issued to this caller");
  EXPECT_EQ(ErrorOf(Continue(inbound, kAlice, "other-input")).message,
            "input differs from the call that started this workflow");
  EXPECT_EQ(Rows(), 0u);
  EXPECT_TRUE(std::holds_alternative<json::object>(Continue(inbound)));
}

// Ours, but not this method's: a mismatch, whichever branch names the workflow.
TEST_F(EngineTest, AWorkflowSentToAnotherMethodIsAMismatch) {
  json::object body = Start(TwoItemsAndCart());
  const std::string intent(body.at("workflow").at("intent").as_string());
  json::object inbound = Agent(body);
  const std::string other = "item.create" + intent.substr(intent.find(':'));
  ASSERT_NE(other, intent);
  json::object relabelled = inbound;
  relabelled["intent"] = other;
  Error e = ErrorOf(Continue(relabelled));
  EXPECT_EQ(e.name, kWorkflowMismatch) << e.message;
  Outcome elsewhere = Wait([&](Done done) {
    engine_->Continue(std::string(kAlice), "com.atiproto.payment.item.create", "fp",
                      ParseInbound(inbound), std::move(done));
  });
  EXPECT_EQ(ErrorOf(elsewhere).name, kWorkflowMismatch) << ErrorOf(elsewhere).message;
  Outcome failed_elsewhere = Wait([&](Done done) {
    engine_->Continue(std::string(kAlice), "com.atiproto.payment.item.create", "fp",
                      ParseInbound(Agent(body, 2, true)), std::move(done));
  });
  EXPECT_EQ(ErrorOf(failed_elsewhere).name, kWorkflowMismatch);
  EXPECT_EQ(Rows(), 0u);
  EXPECT_TRUE(std::holds_alternative<json::object>(Continue(inbound)));
}

TEST_F(EngineTest, UnknownAndExpiredIntentsAreNotFound) {
  json::object inbound = Agent(Start(TwoItemsAndCart()));
  json::object unknown = inbound;
  unknown["intent"] = "cart.clone:nosuchworkflow:1";
  EXPECT_EQ(ErrorOf(Continue(unknown)).name, kWorkflowNotFound);
  json::object garbage = inbound;
  garbage["intent"] = "createTip";
  EXPECT_EQ(ErrorOf(Continue(garbage)).name, kWorkflowNotFound);
  now_ += options_.ttl_us;
  EXPECT_EQ(ErrorOf(Continue(inbound)).name, kWorkflowNotFound);
  EXPECT_EQ(Rows(), 0u);
}

TEST_F(EngineTest, ErrorBranchDeletesWhatSucceededThenRaisesAndReplays) {
  json::object body = Start(TwoItemsAndCart());
  json::object inbound = Agent(body, /*succeed=*/2, /*fail_rest=*/true);  // the cart failed
  Outcome o = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
  const json::object answer = std::get<json::object>(o);
  const auto& list = Actions(answer);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("$type"), "com.atiproto.actions#delete");
  EXPECT_EQ(list[0].at("rkey"), "3kitem1aaaaaa") << "undone in reverse order";
  EXPECT_EQ(list[1].at("rkey"), "3kitem0aaaaaa");
  EXPECT_EQ(list[2].at("$type"), "com.atiproto.actions#raise");
  EXPECT_EQ(list[2].at("code"), "RolledBack");
  EXPECT_NE(std::string(list[2].at("message").as_string()).find("Record already exists"),
            std::string::npos);
  EXPECT_EQ(Rows(), 0u);

  Outcome replay = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(replay));
  EXPECT_EQ(std::get<json::object>(replay), answer);
  // A late success for a rolled-back workflow is refused.
  EXPECT_NE(ErrorOf(Continue(Agent(body))).message.find("rolled back"), std::string::npos);
  EXPECT_EQ(Rows(), 0u);
}

// The agent could not carry out the rollback (its PDS failed a delete): the answer ends the
// workflow with a raise, instead of sending the same rollback again until the agent's cap, or
// refusing the undo names it reports as unknown.
TEST_F(EngineTest, AFailedRollbackEndsWithARaise) {
  json::object body = Start(TwoItemsAndCart());
  Outcome rollback = Continue(Agent(body, /*succeed=*/2, /*fail_rest=*/true));
  ASSERT_TRUE(std::holds_alternative<json::object>(rollback)) << ErrorOf(rollback).message;
  const json::object& undo = std::get<json::object>(rollback);
  ASSERT_EQ(Actions(undo).size(), 3u);
  for (std::size_t undone_before_failure : {0u, 1u}) {
    Outcome o = Continue(Agent(undo, undone_before_failure, /*fail_rest=*/true));
    ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
    const json::array& list = Actions(std::get<json::object>(o));
    ASSERT_EQ(list.size(), 1u) << undone_before_failure;
    EXPECT_EQ(list[0].at("$type"), "com.atiproto.actions#raise");
    EXPECT_EQ(list[0].at("code"), "RollbackFailed");
    EXPECT_NE(std::string(list[0].at("message").as_string()).find("Record already exists"),
              std::string::npos);
  }
  // The rollback itself is still what a repeat of the first error callback gets.
  Outcome again = Continue(Agent(body, 2, true));
  ASSERT_TRUE(std::holds_alternative<json::object>(again));
  EXPECT_EQ(std::get<json::object>(again), undo);
  EXPECT_EQ(Rows(), 0u);
}

TEST_F(EngineTest, ErrorBranchRefusesForgedResponses) {
  json::object inbound = Agent(Start(TwoItemsAndCart()), 2, true);
  inbound["responses"].as_array()[0].as_object()["result"].as_object()["uri"] =
      "at://" + std::string(kAlice) + "/app.bsky.feed.post/3kitem0aaaaaa";
  EXPECT_EQ(ErrorOf(Continue(inbound)).name, kWorkflowMismatch);
}

TEST_F(EngineTest, ErrorWithNothingOfOursJustRaises) {
  json::object inbound{{"intent", "error"},
                       {"responses", json::array{}},
                       {"error", json::object{{"action", "create"}, {"message", "boom"}}}};
  Outcome o = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(o));
  const auto& list = Actions(std::get<json::object>(o));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("$type"), "com.atiproto.actions#raise");
}

TEST_F(EngineTest, UpdatesAreUndoneByPuttingThePreviousRecordBack) {
  Plan plan = TwoItemsAndCart();
  Write& cart = plan.writes.back();
  cart.verb = Verb::kUpdate;
  json::object before = Record("com.atiproto.cart", 5);
  cart.previous = before;
  plan.inserts.pop_back();
  json::object body = Start(std::move(plan));
  // All three succeeded, then something after failed: everything is undone.
  json::object inbound = Agent(body);
  inbound["intent"] = "error";
  inbound["error"] = json::object{{"action", "update"}, {"message", "later failure"}};
  Outcome o = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
  const auto& list = Actions(std::get<json::object>(o));
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].at("$type"), "com.atiproto.actions#update");
  EXPECT_EQ(list[0].at("record"), before);
  EXPECT_EQ(list[1].at("$type"), "com.atiproto.actions#delete");
}

// The record an update replaced was rewritten by another workflow before this one failed:
// the rollback puts back what the store says the repo holds now, not what this plan saw.
TEST_F(EngineTest, AnUpdateIsUndoneToTheRecordTheStoreHoldsNow) {
  Plan plan = TwoItemsAndCart();
  Write& cart = plan.writes.back();
  cart.verb = Verb::kUpdate;
  cart.previous = Record("com.atiproto.cart", 5);
  store::RecordRow row = plan.inserts.back();
  plan.inserts.pop_back();
  row.record_json = json::serialize(Record("com.atiproto.cart", 7));  // written since
  ASSERT_TRUE(store_->WriteSync([&](store::WriteTxn& t) { return t.InsertRecord(row); }).ok());
  json::object inbound = Agent(Start(std::move(plan)));
  inbound["intent"] = "error";
  inbound["error"] = json::object{{"action", "update"}, {"message", "later failure"}};
  Outcome o = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
  const auto& list = Actions(std::get<json::object>(o));
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].at("$type"), "com.atiproto.actions#update");
  EXPECT_EQ(list[0].at("record"), Record("com.atiproto.cart", 7));
  Outcome again = Continue(inbound);
  ASSERT_TRUE(std::holds_alternative<json::object>(again)) << ErrorOf(again).message;
  EXPECT_EQ(std::get<json::object>(again), std::get<json::object>(o)) << "a replay: the same";
}

TEST_F(EngineTest, LargePlansRunInRoundsAndRefuseBeyondTheLimit) {
  options_.max_writes_per_round = 1;
  MakeEngine();
  json::object body = Start(TwoItemsAndCart());
  int rounds = 1;
  while (body.contains("workflow")) {
    ASSERT_EQ(Actions(body).size(), 1u);
    Outcome o = Continue(Agent(body));
    ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
    body = std::get<json::object>(o);
    if (body.contains("workflow")) ++rounds;
    ASSERT_LE(rounds, 3);
  }
  EXPECT_EQ(rounds, 3);
  EXPECT_EQ(Rows(), 3u);

  options_.max_rounds = 2;
  MakeEngine();
  Outcome refused = Wait([&](Done done) {
    engine_->Start(kAlice, kNsid, "fp2", TwoItemsAndCart(kBob), std::move(done));
  });
  EXPECT_EQ(ErrorOf(refused).name, kWorkflowTooLarge);
}

TEST_F(EngineTest, ReplayOfAnEarlierRoundGetsTheSameNextRound) {
  options_.max_writes_per_round = 2;
  MakeEngine();
  json::object round1 = Agent(Start(TwoItemsAndCart()));
  Outcome a = Continue(round1);
  Outcome b = Continue(round1);
  ASSERT_TRUE(std::holds_alternative<json::object>(a));
  ASSERT_TRUE(std::holds_alternative<json::object>(b));
  EXPECT_EQ(std::get<json::object>(a), std::get<json::object>(b));
  json::object skip = round1;
  skip["intent"] = std::string(round1.at("intent").as_string()).replace(
      round1.at("intent").as_string().size() - 1, 1, "3");
  EXPECT_EQ(ErrorOf(Continue(skip)).name, kWorkflowMismatch);
}

TEST_F(EngineTest, ChangedPreconditionRollsBackInsteadOfCommitting) {
  ExpectConflictRollback(Continue(CallbackAfterThePreconditionChanged()));
  EXPECT_EQ(Rows(), 0u);
}

// The rollback answering a callback can be lost on its way back (through the PDS that proxies
// the call): the same callback again must get it again, or the writes the agent made stay in
// the repo. Also when the plan is read back from the store.
TEST_F(EngineTest, ARepeatedCallbackAfterAConflictGetsTheSameRollback) {
  json::object inbound = CallbackAfterThePreconditionChanged();
  Outcome first = Continue(inbound);
  ExpectConflictRollback(first);
  for (bool restarted : {false, true}) {
    if (restarted) MakeEngine();
    Outcome again = Continue(inbound);
    ASSERT_TRUE(std::holds_alternative<json::object>(again)) << ErrorOf(again).message;
    EXPECT_EQ(std::get<json::object>(again), std::get<json::object>(first));
  }
  EXPECT_EQ(Rows(), 0u);
}

// A line planned as free (or as in a given cart) that another workflow put in a cart since:
// same record, same status, another cart. Also when the plan is read back from the store.
TEST_F(EngineTest, ALineThatMovedToAnotherCartRollsBackInsteadOfCommitting) {
  store::RecordRow line = AliceRow("com.atiproto.item", "3klineaaaaaaa", "bafyline", "pending");
  ASSERT_TRUE(store_->WriteSync([&](store::WriteTxn& t) { return t.InsertRecord(line); }).ok());
  for (bool cached : {true, false}) {
    Plan plan = TwoItemsAndCart(cached ? kAlice : kBob);
    plan.preconditions.push_back({line.uri, line.cid, "pending", line.cart_uri});
    json::object inbound = Agent(Start(std::move(plan), cached ? kAlice : kBob));
    if (!cached) MakeEngine();
    line.cart_uri = "at://" + std::string(kAlice) + "/com.atiproto.cart/3kother" +
                    (cached ? "aaaaaa" : "bbbbbb");
    ASSERT_TRUE(store_->WriteSync([&](store::WriteTxn& t) { return t.UpdateRecord(line); }).ok());
    ExpectConflictRollback(Continue(inbound, cached ? kAlice : kBob));
  }
  EXPECT_EQ(Rows(), 0u);
}

// A precondition with a deadline (an open cart's expiry) fails once the callback comes at or
// after it, although the row itself has not changed (the sweeper has not run yet).
TEST_F(EngineTest, APreconditionPastItsDeadlineRollsBackInsteadOfCommitting) {
  store::RecordRow cart = AliceRow("com.atiproto.cart", "3kexistingaaa", "bafyold", "open");
  ASSERT_TRUE(store_->WriteSync([&](store::WriteTxn& t) { return t.InsertRecord(cart); }).ok());
  const std::int64_t deadline = now_.load() + 1000;
  for (bool cached : {true, false}) {
    Plan plan = TwoItemsAndCart(cached ? kAlice : kBob);
    plan.preconditions.push_back({cart.uri, cart.cid, "open", std::nullopt, deadline});
    json::object inbound = Agent(Start(std::move(plan), cached ? kAlice : kBob));
    if (!cached) MakeEngine();
    now_ = deadline;
    ExpectConflictRollback(Continue(inbound, cached ? kAlice : kBob));
    now_ = deadline - 1000;
  }
  EXPECT_EQ(Rows(), 0u);
  // Before the deadline, it commits.
  Plan plan = TwoItemsAndCart();
  plan.preconditions.push_back({cart.uri, cart.cid, "open", std::nullopt, deadline});
  json::object inbound = Agent(Start(std::move(plan), kAlice, "fp2"));
  now_ = deadline - 1;
  Outcome o = Continue(inbound, kAlice, "fp2");
  ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
  EXPECT_FALSE(std::get<json::object>(o).contains("workflow"));
  EXPECT_EQ(Rows(), 3u);
}

// A row the plan relied on being absent (a recipient without a profile): made since, the
// commit rolls back; still absent, it commits. Also when the plan is read back from the store.
TEST_F(EngineTest, ARowThatMustStayAbsentRollsBackOnceMade) {
  for (bool cached : {true, false}) {
    for (bool made : {true, false}) {
      SCOPED_TRACE(std::string(cached ? "cached" : "stored") + (made ? ", made" : ", absent"));
      const std::string fp = std::string(cached ? "c" : "s") + (made ? "m" : "a");
      store::RecordRow profile = AliceRow("com.atiproto.profile", fp, "bafyprofile", "");
      Plan plan = TwoItemsAndCart();
      plan.preconditions.push_back(Absent(profile.uri));
      json::object inbound = Agent(Start(std::move(plan), kAlice, fp));
      if (!cached) MakeEngine();
      if (made) {
        ASSERT_TRUE(
            store_->WriteSync([&](store::WriteTxn& t) { return t.InsertRecord(profile); }).ok());
      }
      Outcome o = Continue(inbound, kAlice, fp);
      ASSERT_TRUE(std::holds_alternative<json::object>(o)) << ErrorOf(o).message;
      const json::object& answer = std::get<json::object>(o);
      if (made) {
        ExpectConflictRollback(o);
        EXPECT_EQ(Rows(), 0u);
        continue;
      }
      EXPECT_FALSE(answer.contains("workflow")) << answer;
      EXPECT_EQ(Rows(), 3u);
      ASSERT_TRUE(store_
                      ->WriteSync([&](store::WriteTxn& t) {
                        for (const auto& w : TwoItemsAndCart().writes) {
                          if (auto s = t.DeleteRecord(w.Uri()); !s.ok()) return s;
                        }
                        return store::Status::Ok();
                      })
                      .ok());
    }
  }
}

TEST(FingerprintTest, IgnoresTheWorkflowAndNothingElse) {
  json::object a{{"uri", "at://x/y/z"}, {"redirectUrl", "https://a.example"}};
  json::object b = a;
  b["workflow"] = json::object{{"intent", "x"}};
  json::object c{{"redirectUrl", "https://a.example"}, {"uri", "at://x/y/z"}};
  json::object d = a;
  d["uri"] = "at://x/y/w";
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
  EXPECT_EQ(Fingerprint(a), Fingerprint(c));
  EXPECT_NE(Fingerprint(a), Fingerprint(d));
}

}  // namespace
}  // namespace atipay::workflow
