// Callbacks to the workflow engine, against a real SQLite store: the check that stands between
// what an agent claims it wrote and the rows we keep. Each input is a callback template: its
// first line holds flags ('b': the call comes from another user, 'f': for another input), the
// rest is an inbound workflow in JSON whose placeholders name the live workflow started for
// this input: @I@ its intent, @N0@..@N3@ its action names, @U0@..@U3@ the URIs and @C0@..@C3@
// the CIDs of its writes (three creates and an update), @R@ the caller's DID, @X@ another one.
//
// Oracles:
//   - accepted (the final answer) only if it comes from the caller, for the input, with the
//     intent we issued, and confirms every write with its URI and the CID of the record we
//     asked for, naming nothing else; the rows are then stored, with those CIDs;
//   - otherwise nothing is stored; a rollback asks only to undo our own writes, then raises;
//   - a repeated callback gets the same answer (a replay stores nothing twice).
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "com/atiproto/actions.h"
#include "fuzz_check.h"
#include "lex/cbor.h"
#include "lex/tid.h"
#include "store/store.h"
#include "workflow/workflow.h"

namespace {

namespace json = boost::json;
namespace actions = lexicons::com::atiproto::actions;
using namespace atipay;

constexpr char kAlice[] = "did:plc:alicealicealicealicealic";
constexpr char kBob[] = "did:plc:bobbobbobbobbobbobbobbobbo";
constexpr char kNsid[] = "com.atiproto.payment.cart.clone";
constexpr int kWrites = 4;

struct Fixture {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<workflow::Engine> engine;
  std::int64_t now_us = 1'790'000'000'000'000;
  lex::TidClock tids{[] {
                       static std::int64_t t = 1'790'000'000'000'000;
                       return ++t;
                     },
                     7};
};
Fixture* fixture = nullptr;

void RemoveDir() {
  if (fixture) {
    fixture->engine.reset();
    if (fixture->store) fixture->store->Close();
    fixture->store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(fixture->dir, ignored);
  }
}

json::object Record(std::string_view type, std::int64_t amount) {
  return json::object{{"$type", type},
                      {"amount", amount},
                      {"currency", "USD"},
                      {"status", "pending"},
                      {"createdAt", "2026-11-22T00:00:00.000Z"}};
}

workflow::Plan MakePlan() {
  workflow::Plan plan;
  const char* collections[kWrites] = {"com.atiproto.item", "com.atiproto.item", "com.atiproto.cart",
                                      "com.atiproto.profile"};
  for (int i = 0; i < kWrites; ++i) {
    workflow::Write w;
    w.name = i < 2 ? "item-" + std::to_string(i) : i == 2 ? "cart" : "profile";
    w.repo = kAlice;
    w.collection = collections[i];
    w.rkey = i == 3 ? "self" : fixture->tids.Next();
    w.record = Record(w.collection, 100 + i);
    if (i == 3) {
      w.verb = workflow::Verb::kUpdate;
      w.previous = Record(w.collection, 1);
    } else {
      store::RecordRow row;
      row.uri = w.Uri();
      row.did = w.repo;
      row.collection = w.collection;
      row.rkey = w.rkey;
      row.record_json = json::serialize(w.record);
      row.status = "pending";
      plan.inserts.push_back(std::move(row));
    }
    plan.writes.push_back(std::move(w));
  }
  plan.output = json::object{{"cartUri", plan.writes[2].Uri()}};
  return plan;
}

workflow::Outcome Wait(const std::function<void(workflow::Done)>& run) {
  std::promise<workflow::Outcome> promise;
  run([&](workflow::Outcome o) { promise.set_value(std::move(o)); });
  return promise.get_future().get();
}

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture = new Fixture();
  char pattern[] = "/tmp/atipay-workflow-fuzz.XXXXXX";
  FUZZ_CHECK(mkdtemp(pattern) != nullptr, "no temp dir");
  fixture->dir = pattern;
  std::atexit(RemoveDir);
  store::StoreOptions options;
  options.path = fixture->dir + "/fuzz.db";
  options.synchronous = "OFF";
  std::string error;
  fixture->store = store::OpenSqliteStore(options, &error);
  FUZZ_CHECK(fixture->store != nullptr, "store: %s", error.c_str());
  fixture->engine = std::make_unique<workflow::Engine>(*fixture->store, workflow::Options{},
                                                       [] { return fixture->now_us; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string_view flags = input.substr(0, newline);
  const std::string caller = flags.find('b') != std::string_view::npos ? kBob : kAlice;
  const std::string fingerprint = flags.find('f') != std::string_view::npos ? "other" : "fp";

  workflow::Plan plan = MakePlan();
  std::vector<std::string> uris, cids;
  for (const workflow::Write& w : plan.writes) {
    uris.push_back(w.Uri());
    cids.push_back(lex::ComputeRecordCid(json::value(w.record)));
  }
  workflow::Outcome started = Wait([&](workflow::Done done) {
    fixture->engine->Start(kAlice, kNsid, "fp", std::move(plan), std::move(done));
  });
  FUZZ_CHECK(std::holds_alternative<json::object>(started), "start failed");
  const json::object& outbound = std::get<json::object>(started).at("workflow").as_object();
  const std::string intent(outbound.at("intent").as_string());
  std::vector<std::string> names;
  for (const json::value& action : outbound.at("actions").as_array()) {
    names.emplace_back(action.at("name").as_string());
  }
  FUZZ_CHECK(names.size() == kWrites, "one action per write");

  std::string text(input.substr(newline + 1));
  text = Replace(std::move(text), "@I@", intent);
  text = Replace(std::move(text), "@R@", kAlice);
  text = Replace(std::move(text), "@X@", kBob);
  for (int i = 0; i < kWrites; ++i) {
    const std::string n = std::to_string(i);
    text = Replace(std::move(text), "@N" + n + "@", names[i]);
    text = Replace(std::move(text), "@U" + n + "@", uris[i]);
    text = Replace(std::move(text), "@C" + n + "@", cids[i]);
  }
  json::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec) return 0;
  actions::InboundWorkflow inbound;
  lex::Errors errors;
  if (!Parse(value, inbound, lex::Path("workflow"), errors)) return 0;  // the server's 400

  auto run = [&] {
    return Wait([&](workflow::Done done) {
      fixture->engine->Continue(caller, kNsid, fingerprint, inbound, std::move(done));
    });
  };
  const workflow::Outcome outcome = run();

  auto stored = [&](int i) { return fixture->store->GetRecord(uris[i]); };
  const json::object* answer = std::get_if<json::object>(&outcome);
  if (answer != nullptr && !answer->contains("workflow")) {
    // Accepted: everything must have been exactly as asked.
    FUZZ_CHECK(caller == kAlice && fingerprint == "fp", "accepted from another caller or input");
    FUZZ_CHECK(inbound.intent == intent, "accepted intent %s", inbound.intent.c_str());
    FUZZ_CHECK(!inbound.error.has_value(), "accepted with an error");
    for (const actions::Response& r : inbound.responses) {
      bool ours = false;
      for (const std::string& n : names) ours = ours || r.name == n;
      FUZZ_CHECK(ours, "accepted a response named %s", r.name.c_str());
    }
    for (int i = 0; i < kWrites; ++i) {
      bool confirmed = false;
      for (const actions::Response& r : inbound.responses) {
        confirmed = confirmed || (r.name == names[i] && r.result.uri == uris[i] &&
                                  r.result.cid && *r.result.cid == cids[i]);
      }
      FUZZ_CHECK(confirmed, "accepted without write %d confirmed as asked", i);
      if (i < 3) {
        auto row = stored(i);
        FUZZ_CHECK(row && row->cid == cids[i], "row %d not stored with its CID", i);
      }
    }
  } else {
    for (int i = 0; i < 3; ++i) FUZZ_CHECK(!stored(i), "row %d stored though not accepted", i);
  }
  if (answer != nullptr && answer->contains("workflow")) {
    // A rollback: undo only our own writes, then raise.
    const json::array& list = answer->at("workflow").at("actions").as_array();
    FUZZ_CHECK(!list.empty(), "empty rollback");
    for (std::size_t k = 0; k < list.size(); ++k) {
      const std::string type(list[k].at("$type").as_string());
      if (k + 1 == list.size()) {
        FUZZ_CHECK(type == "com.atiproto.actions#raise", "rollback ends with %s", type.c_str());
        break;
      }
      FUZZ_CHECK(type == "com.atiproto.actions#delete" || type == "com.atiproto.actions#update",
                 "rollback action %s", type.c_str());
      const std::string uri = "at://" + std::string(list[k].at("repo").as_string()) + "/" +
                              std::string(list[k].at("collection").as_string()) + "/" +
                              std::string(list[k].at("rkey").as_string());
      bool ours = false;
      for (const std::string& u : uris) ours = ours || u == uri;
      FUZZ_CHECK(ours, "rollback touches %s, not one of our writes", uri.c_str());
    }
  }

  const workflow::Outcome again = run();
  if (answer != nullptr && !answer->contains("workflow")) {
    FUZZ_CHECK(std::holds_alternative<json::object>(again) &&
                   std::get<json::object>(again) == *answer,
               "a replay got another answer");
  } else if (const auto* error = std::get_if<workflow::Error>(&outcome)) {
    const auto* second = std::get_if<workflow::Error>(&again);
    FUZZ_CHECK(second && second->name == error->name, "a refused callback, repeated: %s",
               second ? second->name.c_str() : "not an error");
  }
  for (int i = 0; i < 3; ++i) {
    if (!(answer != nullptr && !answer->contains("workflow"))) {
      FUZZ_CHECK(!stored(i), "row %d stored by a repeated callback", i);
    }
  }
  return 0;
}
