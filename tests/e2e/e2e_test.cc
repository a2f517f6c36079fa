// End-to-end: atipay-server behind a real PDS (@atproto/pds) with a real PLC directory, on
// loopback (tests/e2e/network). Every call goes as an app's would: alice (or bob) logs in on the
// PDS, calls com.atiproto.* there with `atproto-proxy: <server did>#payments`, the PDS mints a
// service JWT and forwards the call, and the C++ agent (src/agent) runs each workflow's record
// writes on that PDS. What the PDS then holds is compared with what the server answered and
// with the server's own database (read with `atipay-admin show`).
//
// Runs under network/run-with-network.sh (CTest: e2e_tests), which exports ATIPAY_E2E_*. One
// network serves every test; it runs the server with a short cart TTL (--cart-ttl=3) and
// --sweep-interval=1 so that the expiry test needs only a few seconds. The other tests do not
// depend on a cart staying open: a payment completes even a cart that has just expired, the
// comparisons with the PDS hold whether or not cart.get had to sync an expiry first, and the
// one place that needs an open cart for two calls in a row retries if the cart expired between
// them (a slow machine).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "support/json_eq.h"

namespace atipay::e2e {
namespace {

namespace json = boost::json;
using agent::PdsSession;
using agent::RunResult;
using agent::WriteOp;
using agent::XrpcResult;
using namespace std::chrono_literals;

constexpr char kItemCreate[] = "com.atiproto.payment.item.create";
constexpr char kSubscriptionCreate[] = "com.atiproto.payment.subscription.create";
constexpr char kCartGet[] = "com.atiproto.payment.cart.get";
constexpr char kCartList[] = "com.atiproto.payment.cart.list";
constexpr char kClone[] = "com.atiproto.payment.cart.clone";
constexpr char kItemPut[] = "com.atiproto.payment.item.put";
constexpr char kSubscriptionCancel[] = "com.atiproto.payment.subscription.cancel";
constexpr char kProfilePut[] = "com.atiproto.recipient.profile.put";
constexpr char kRecipientItemGet[] = "com.atiproto.recipient.payment.item.get";
constexpr char kCart[] = "com.atiproto.cart";
constexpr char kItem[] = "com.atiproto.item";
constexpr char kSubscription[] = "com.atiproto.subscription";
constexpr char kCreateAction[] = "com.atiproto.actions#create";
constexpr char kDeleteAction[] = "com.atiproto.actions#delete";
constexpr char kRaiseAction[] = "com.atiproto.actions#raise";

// ---- the network ----------------------------------------------------------------------------

struct Account {
  std::string handle, did, password;
};

struct Network {
  std::string error;  // non-empty: not running under run-with-network.sh
  std::string plc_url, pds_url, server_url, server_did, service_ref, db;
  Account alice, bob;
  std::int64_t cart_ttl = 604800;  // the server's --cart-ttl / --sweep-interval, from its args
  std::int64_t sweep_interval = 30;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// The value of `--flag=V` or `--flag V` in the server's arguments (the last one wins).
std::optional<std::int64_t> ServerFlag(const json::array& args, std::string_view flag) {
  std::optional<std::int64_t> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (!args[i].is_string()) continue;
    std::string_view a = args[i].get_string();
    std::string value;
    if (a == flag && i + 1 < args.size() && args[i + 1].is_string()) {
      value = args[i + 1].get_string();
    } else if (a.size() > flag.size() && a.starts_with(flag) && a[flag.size()] == '=') {
      value = a.substr(flag.size() + 1);
    } else {
      continue;
    }
    try {
      out = std::stoll(value);
    } catch (const std::exception&) {
    }
  }
  return out;
}

Network LoadNetwork() {
  Network n;
  const std::string file = Env("ATIPAY_E2E_NETWORK");
  if (file.empty()) {
    n.error = "ATIPAY_E2E_NETWORK is not set: run under tests/e2e/network/run-with-network.sh";
    return n;
  }
  n.plc_url = Env("ATIPAY_E2E_PLC_URL");
  n.pds_url = Env("ATIPAY_E2E_PDS_URL");
  n.server_url = Env("ATIPAY_E2E_SERVER_URL");
  n.server_did = Env("ATIPAY_E2E_SERVER_DID");
  n.service_ref = Env("ATIPAY_E2E_SERVICE_REF");
  n.db = Env("ATIPAY_E2E_DB");
  n.alice = {Env("ATIPAY_E2E_ALICE_HANDLE"), Env("ATIPAY_E2E_ALICE_DID"),
             Env("ATIPAY_E2E_ALICE_PASSWORD")};
  n.bob = {Env("ATIPAY_E2E_BOB_HANDLE"), Env("ATIPAY_E2E_BOB_DID"), Env("ATIPAY_E2E_BOB_PASSWORD")};
  if (n.pds_url.empty() || n.service_ref.empty() || n.db.empty() || n.alice.did.empty() ||
      n.bob.did.empty()) {
    n.error = "ATIPAY_E2E_* incomplete (accounts alice and bob are needed)";
    return n;
  }
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(text.str(), ec);
  const json::value* args = nullptr;
  if (!ec && v.is_object()) {
    if (const json::value* server = v.get_object().if_contains("server");
        server != nullptr && server->is_object()) {
      args = server->get_object().if_contains("args");
    }
  }
  if (args == nullptr || !args->is_array()) {
    n.error = "cannot read server.args from " + file;
    return n;
  }
  n.cart_ttl = ServerFlag(args->get_array(), "--cart-ttl").value_or(n.cart_ttl);
  n.sweep_interval = ServerFlag(args->get_array(), "--sweep-interval").value_or(n.sweep_interval);
  return n;
}

// ---- small helpers --------------------------------------------------------------------------

struct AtUri {
  std::string repo, collection, rkey;
};

AtUri ParseAtUri(std::string_view uri) {
  AtUri out;
  if (!uri.starts_with("at://")) return out;
  uri.remove_prefix(5);
  std::size_t a = uri.find('/');
  std::size_t b = a == std::string_view::npos ? a : uri.find('/', a + 1);
  if (b == std::string_view::npos) return out;
  out.repo = uri.substr(0, a);
  out.collection = uri.substr(a + 1, b - a - 1);
  out.rkey = uri.substr(b + 1);
  return out;
}

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : std::string();
}
std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? Str(*v) : std::string();
}
const json::object& Obj(const json::value& v) {
  static const json::object kEmpty;
  return v.is_object() ? v.get_object() : kEmpty;
}
const json::object& Obj(const json::object& o, std::string_view key) {
  static const json::object kEmpty;
  const json::value* v = o.if_contains(key);
  return v != nullptr ? Obj(*v) : kEmpty;
}
const json::array& Arr(const json::object& o, std::string_view key) {
  static const json::array kEmpty;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
}

// Order-insensitive JSON equality (boost::json compares objects by key set), printed on failure.
::testing::AssertionResult JsonEq(const json::value& expected, const json::value& actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n  expected: " << json::serialize(expected)
                                       << "\n  actual:   " << json::serialize(actual);
}

// A record as its #view shows it: without $type, with uri.
json::object ViewOf(json::object record, const std::string& uri) {
  record.erase("$type");
  record["uri"] = uri;
  return record;
}

// "2026-11-22T03:47:52.222Z" -> milliseconds since the epoch (-1 if malformed).
std::int64_t DatetimeMs(const std::string& s) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + millis;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct Command {
  int exit = -1;
  std::string output;  // stdout and stderr
};

Command RunCommand(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += Quote(a) + " ";
  line += "2>&1";
  Command out;
  FILE* pipe = ::popen(line.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.output.append(buf, n);
  int status = ::pclose(pipe);
  out.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// ---- the suite -------------------------------------------------------------------------------

// Wraps a caller and keeps every call's input and answer (for the callbacks' contents).
class RecordingCaller : public agent::XrpcCaller {
 public:
  explicit RecordingCaller(agent::XrpcCaller& inner) : inner_(inner) {}
  XrpcResult Call(std::string_view nsid, bool procedure, const json::object& input) override {
    inputs.push_back(input);
    XrpcResult r = inner_.Call(nsid, procedure, input);
    answers.push_back(r.body);
    if (on_answer) on_answer(r);
    return r;
  }
  std::vector<json::object> inputs;
  std::vector<json::value> answers;
  std::function<void(const XrpcResult&)> on_answer;

 private:
  agent::XrpcCaller& inner_;
};

struct SourceCart {
  std::string cart, item, subscription;
};

class E2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    net_ = new Network(LoadNetwork());
    if (!net_->error.empty()) return;
    alice_ = Login(net_->alice).release();
    bob_ = Login(net_->bob).release();
    if (alice_ == nullptr || bob_ == nullptr) return;
    // For ExpiredCartClonedAfterSweep (the last test): made first, so that its TTL runs out
    // while the other tests run.
    if (net_->cart_ttl <= 30) {
      RunResult r = Run(*alice_, kItemCreate, true,
                        {{"subject", net_->bob.did},
                         {"amount", 250},
                         {"currency", "EUR"},
                         {"message", "expires"}});
      if (r.ok()) {
        expiring_cart_ = new std::string(Str(Obj(r.output), "cartUri"));
        expiring_item_ = new std::string(Str(Obj(r.output), "itemUri"));
      } else {
        std::cout << "setup: item.create for the expiry test failed: " << r.Describe() << "\n";
      }
    }
  }
  static void TearDownTestSuite() {
    delete alice_;
    delete bob_;
    delete net_;
    delete expiring_cart_;
    delete expiring_item_;
    alice_ = bob_ = nullptr;
    net_ = nullptr;
    expiring_cart_ = expiring_item_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(net_->error.empty()) << net_->error;
    ASSERT_NE(alice_, nullptr) << "alice could not log in at " << net_->pds_url;
    ASSERT_NE(bob_, nullptr) << "bob could not log in at " << net_->pds_url;
  }

  static std::unique_ptr<PdsSession> Login(const Account& a) {
    XrpcResult error;
    auto s = PdsSession::Login({.pds_url = net_->pds_url,
                                .identifier = a.handle,
                                .password = a.password,
                                .service = net_->service_ref,
                                .http = {}},
                               &error);
    if (!s) {
      std::cout << "login " << a.handle << ": " << error.status << " " << error.ErrorName() << ": "
                << error.ErrorMessage() << "\n";
    }
    return s;
  }

  // Runs a method as the agent does, through the PDS; its progress goes to stdout (shown by
  // ctest --output-on-failure).
  static RunResult Run(PdsSession& who, std::string_view nsid, bool procedure, json::object input,
                       agent::XrpcCaller* caller = nullptr) {
    agent::RunOptions options;
    const std::string who_handle = who.handle();
    options.log = [who_handle](std::string_view line) {
      std::cout << "  [" << who_handle << "] " << line << "\n";
    };
    return agent::RunMethod(caller != nullptr ? *caller : who.service(), who.repo(), nsid,
                            procedure, input, options);
  }

  static json::object Ok(const RunResult& r) {
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() && r.output.is_object() ? r.output.get_object() : json::object{};
  }

  // com.atproto.repo.getRecord on the PDS.
  static XrpcResult GetRecord(const std::string& uri) {
    AtUri u = ParseAtUri(uri);
    return alice_->pds().Call("com.atproto.repo.getRecord", false,
                              {{"repo", u.repo}, {"collection", u.collection}, {"rkey", u.rkey}});
  }

  // com.atproto.repo.listRecords, every page.
  static json::array ListRecords(const std::string& repo, const std::string& collection) {
    json::array all;
    std::string cursor;
    for (int page = 0; page < 50; ++page) {
      json::object params{{"repo", repo}, {"collection", collection}, {"limit", 100}};
      if (!cursor.empty()) params["cursor"] = cursor;
      XrpcResult r = alice_->pds().Call("com.atproto.repo.listRecords", false, params);
      EXPECT_TRUE(r.ok()) << "listRecords " << repo << " " << collection << ": " << r.status << " "
                          << r.ErrorName() << ": " << r.ErrorMessage();
      if (!r.ok()) break;
      const json::array& records = Arr(Obj(r.body), "records");
      for (const auto& rec : records) all.push_back(rec);
      cursor = Str(Obj(r.body), "cursor");
      if (cursor.empty() || records.empty()) break;
    }
    return all;
  }

  static Command Admin(std::vector<std::string> args) {
    args.insert(args.begin(), {ATIPAY_ADMIN_BIN, "--db", net_->db});
    return RunCommand(args);
  }

  // Our row for `uri` (atipay-admin show), or nullopt when we have none.
  static std::optional<json::object> DbRow(const std::string& uri) {
    Command c = Admin({"show", uri});
    if (c.exit == 1 && c.output.find("no record") != std::string::npos) return std::nullopt;
    EXPECT_EQ(c.exit, 0) << "atipay-admin show " << uri << ": " << c.output;
    boost::system::error_code ec;
    json::value v = json::parse(c.output, ec);
    EXPECT_FALSE(ec) << c.output;
    if (ec || !v.is_object()) return json::object{};
    return v.get_object();
  }

  static void RecordPayment(const std::string& cart) {
    Command c = Admin({"payment", cart, "completed"});
    ASSERT_EQ(c.exit, 0) << c.output;
    EXPECT_NE(c.output.find("cart completed"), std::string::npos) << c.output;
  }

  // The record at `uri` on the PDS equals our row (record JSON and CID), and `cid`
  // (when given) and `view` (when given: as an answer of ours shows it). Returns the PDS record.
  static json::object ExpectOnPds(const std::string& uri, const std::string& cid,
                                  const json::object* view) {
    SCOPED_TRACE("record " + uri);
    XrpcResult r = GetRecord(uri);
    EXPECT_EQ(r.status, 200) << r.ErrorName() << ": " << r.ErrorMessage();
    if (!r.ok()) return {};
    const json::object& body = Obj(r.body);
    EXPECT_EQ(Str(body, "uri"), uri);
    const json::object& value = Obj(body, "value");
    EXPECT_FALSE(value.empty());
    EXPECT_TRUE(Str(body, "cid").starts_with("bafyrei")) << json::serialize(body);
    std::optional<json::object> row = DbRow(uri);
    EXPECT_TRUE(row) << "no row in our database";
    if (row) {
      EXPECT_EQ(Str(body, "cid"), Str(*row, "cid")) << "the PDS's CID is not the one we keep";
      EXPECT_TRUE(JsonEq(Obj(*row, "record"), value)) << "the PDS's record is not the one we keep";
    }
    if (!cid.empty()) {
      EXPECT_EQ(Str(body, "cid"), cid);
    }
    if (view != nullptr) {
      // renewalDate is derived by us (an active subscription's next billing date), not stored.
      json::object shown = *view;
      const bool active_subscription =
          uri.find("/com.atiproto.subscription/") != std::string::npos && Str(value, "status") == "active";
      EXPECT_EQ(shown.erase("renewalDate") == 1, active_subscription) << json::serialize(*view);
      EXPECT_TRUE(JsonEq(shown, ViewOf(value, uri))) << "our answer does not show the PDS record";
    }
    return value;
  }

  // A cart of alice's with an item (and a subscription), both for bob.
  static SourceCart NewSourceCart(bool with_subscription) {
    SourceCart out;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      RunResult item =
          Run(*alice_, kItemCreate, true,
              {{"subject", net_->bob.did},
               {"recordUri", "at://" + net_->bob.did + "/app.bsky.feed.post/3kabc2xyz7q2a"},
               {"amount", 500},
               {"currency", "USD"},
               {"message", "thanks for the post"}});
      json::object o = Ok(item);
      out.cart = Str(o, "cartUri");
      out.item = Str(o, "itemUri");
      if (!item.ok() || !with_subscription) return out;
      RunResult sub = Run(*alice_, kSubscriptionCreate, true,
                          {{"subject", net_->bob.did},
                           {"amount", 300},
                           {"currency", "USD"},
                           {"interval", "monthly"},
                           {"cartUri", out.cart}});
      if (sub.kind == RunResult::Kind::kXrpcError && sub.error == "CartNotOpen" && attempt < 3) {
        std::cout << "  the cart expired before its second line (slow machine): again\n";
        continue;
      }
      out.subscription = Str(Ok(sub), "subscriptionUri");
      return out;
    }
    return out;
  }

  static Network* net_;
  static PdsSession* alice_;
  static PdsSession* bob_;
  static std::string* expiring_cart_;
  static std::string* expiring_item_;
};

Network* E2eTest::net_ = nullptr;
PdsSession* E2eTest::alice_ = nullptr;
PdsSession* E2eTest::bob_ = nullptr;
std::string* E2eTest::expiring_cart_ = nullptr;
std::string* E2eTest::expiring_item_ = nullptr;

// A paid cart: the payment reaches the PDS through cart.get's sync workflow; the clone writes
// new records whose JSON and CIDs on the PDS are exactly the ones in our answers and our
// database; getRecord and listRecords agree.
TEST_F(E2eTest, CloneOfPaidCartMatchesPdsAndDb) {
  const SourceCart src = NewSourceCart(true);
  ASSERT_FALSE(src.subscription.empty());
  const std::string source_cid_before = Str(*DbRow(src.cart), "cid");

  // Payment (the manual provider), then cart.get brings the repo up to date.
  RecordPayment(src.cart);
  RunResult get = Run(*alice_, kCartGet, false, {{"uri", src.cart}});
  json::object got = Ok(get);
  EXPECT_EQ(Str(Obj(got, "cart"), "status"), "completed");
  ASSERT_EQ(get.writes.size(), 3u) << "one putRecord each for the cart, its item, its subscription";
  std::set<std::string> synced;
  for (const auto& w : get.writes) {
    EXPECT_EQ(w.op, WriteOp::kPut);
    EXPECT_TRUE(w.error.empty()) << w.error << ": " << w.message;
    synced.insert(w.uri);
  }
  EXPECT_EQ(synced, (std::set<std::string>{src.cart, src.item, src.subscription}));
  const std::string paid_cid = Str(got, "cid");
  EXPECT_NE(paid_cid, source_cid_before);
  json::object cart_record = ExpectOnPds(src.cart, paid_cid, &Obj(got, "cart"));
  EXPECT_EQ(Str(cart_record, "status"), "completed");
  EXPECT_FALSE(Str(cart_record, "completedAt").empty());
  ASSERT_EQ(Arr(got, "items").size(), 1u);
  ASSERT_EQ(Arr(got, "subscriptions").size(), 1u);
  EXPECT_EQ(Str(ExpectOnPds(src.item, "", &Obj(Arr(got, "items")[0])), "status"), "completed");
  EXPECT_EQ(Str(ExpectOnPds(src.subscription, "", &Obj(Arr(got, "subscriptions")[0])), "status"),
            "active");
  // One-shot: the next cart.get has nothing to sync.
  RunResult again = Run(*alice_, kCartGet, false, {{"uri", src.cart}});
  EXPECT_TRUE(again.writes.empty());
  EXPECT_EQ(Str(Ok(again), "cid"), paid_cid);

  // The clone: one round of three creates (lines first, cart last), then the final answer.
  RunResult clone = Run(*alice_, kClone, true, {{"uri", src.cart}});
  json::object out = Ok(clone);
  ASSERT_TRUE(clone.ok());
  EXPECT_EQ(clone.rounds, 2);
  ASSERT_EQ(clone.writes.size(), 3u);
  std::map<std::string, std::string> written;  // uri -> CID the PDS answered
  for (const auto& w : clone.writes) {
    EXPECT_EQ(w.op, WriteOp::kCreate);
    EXPECT_TRUE(w.error.empty()) << w.error << ": " << w.message;
    written[w.uri] = w.cid;
  }
  const std::string new_cart = Str(out, "cartUri");
  const json::object& cart_view = Obj(out, "cart");
  ASSERT_EQ(Arr(out, "items").size(), 1u);
  ASSERT_EQ(Arr(out, "subscriptions").size(), 1u);
  const json::object& item_view = Obj(Arr(out, "items")[0]);
  const json::object& sub_view = Obj(Arr(out, "subscriptions")[0]);
  const std::string new_item = Str(item_view, "uri");
  const std::string new_sub = Str(sub_view, "uri");
  EXPECT_EQ(clone.writes[0].uri, new_item);
  EXPECT_EQ(clone.writes[1].uri, new_sub);
  EXPECT_EQ(clone.writes[2].uri, new_cart);
  EXPECT_EQ(Str(cart_view, "uri"), new_cart);
  for (const auto& uri : {new_cart, new_item, new_sub}) {
    EXPECT_EQ(ParseAtUri(uri).repo, net_->alice.did) << uri;
    EXPECT_NE(uri, src.cart);
    EXPECT_NE(uri, src.item);
    EXPECT_NE(uri, src.subscription);
  }
  EXPECT_TRUE(Str(out, "checkoutUrl").starts_with(net_->server_url + "/checkout?cart="))
      << Str(out, "checkoutUrl");

  // The answer: an open cart listing the new lines; lines copied, pending again.
  EXPECT_EQ(Str(cart_view, "status"), "open");
  EXPECT_EQ(cart_view.at("total"), json::value(800));
  EXPECT_TRUE(JsonEq(json::array{json::object{{"type", kItem}, {"recordUri", new_item}},
                                 json::object{{"type", kSubscription}, {"recordUri", new_sub}}},
                     cart_view.at("items")));
  EXPECT_EQ(Str(item_view, "status"), "pending");
  EXPECT_EQ(Str(item_view, "subject"), net_->bob.did);
  EXPECT_EQ(Str(item_view, "message"), "thanks for the post");
  EXPECT_EQ(Str(item_view, "recordUri"),
            "at://" + net_->bob.did + "/app.bsky.feed.post/3kabc2xyz7q2a");
  EXPECT_FALSE(item_view.contains("completedAt"));
  EXPECT_EQ(Str(sub_view, "status"), "pending");
  EXPECT_EQ(Str(sub_view, "interval"), "monthly");
  EXPECT_EQ(sub_view.at("amount"), json::value(300));

  // On the PDS (getRecord): exactly our records, with the CIDs the PDS answered the agent.
  ExpectOnPds(new_cart, written[new_cart], &cart_view);
  ExpectOnPds(new_item, written[new_item], &item_view);
  ExpectOnPds(new_sub, written[new_sub], &sub_view);
  std::optional<json::object> cart_row = DbRow(new_cart);
  ASSERT_TRUE(cart_row);
  EXPECT_EQ(Str(*cart_row, "clonedFrom"), src.cart);
  EXPECT_EQ(Str(*DbRow(new_item), "cartUri"), new_cart);
  EXPECT_EQ(Str(*DbRow(new_sub), "cartUri"), new_cart);

  // listRecords: the new records are listed as getRecord shows them, and every record of
  // alice's in these collections that we know is the one we keep.
  for (const char* collection : {kCart, kItem, kSubscription}) {
    SCOPED_TRACE(collection);
    json::array listed = ListRecords(net_->alice.did, collection);
    std::set<std::string> seen;
    for (const auto& entry : listed) {
      const json::object& e = Obj(entry);
      const std::string uri = Str(e, "uri");
      seen.insert(uri);
      if (auto w = written.find(uri); w != written.end()) {
        EXPECT_EQ(Str(e, "cid"), w->second) << uri;
        XrpcResult single = GetRecord(uri);
        EXPECT_TRUE(JsonEq(Obj(Obj(single.body), "value"), Obj(e, "value"))) << uri;
      }
      std::optional<json::object> row = DbRow(uri);
      if (!row) continue;  // not ours (e.g. a test's squatter record)
      EXPECT_EQ(Str(e, "cid"), Str(*row, "cid")) << uri;
      EXPECT_TRUE(JsonEq(Obj(*row, "record"), Obj(e, "value"))) << uri;
    }
    for (const auto& [uri, cid] : written) {
      if (ParseAtUri(uri).collection == collection) {
        EXPECT_TRUE(seen.contains(uri)) << uri;
      }
    }
  }

  // cart.get of the new cart reports what the PDS holds (if the 3 s TTL ran out meanwhile, its
  // sync workflow first brought the PDS to `expired`).
  RunResult get_new = Run(*alice_, kCartGet, false, {{"uri", new_cart}});
  json::object g = Ok(get_new);
  if (get_new.writes.empty()) {
    EXPECT_EQ(Str(Obj(g, "cart"), "status"), "open");
    EXPECT_EQ(Str(g, "cid"), written[new_cart]);
    EXPECT_FALSE(Str(g, "checkoutUrl").empty());
  } else {
    EXPECT_EQ(Str(Obj(g, "cart"), "status"), "expired");
  }
  ExpectOnPds(new_cart, Str(g, "cid"), &Obj(g, "cart"));
  ASSERT_EQ(Arr(g, "items").size(), 1u);
  ASSERT_EQ(Arr(g, "subscriptions").size(), 1u);
  ExpectOnPds(new_item, written[new_item], &Obj(Arr(g, "items")[0]));
  ExpectOnPds(new_sub, written[new_sub], &Obj(Arr(g, "subscriptions")[0]));

  // The source cart was not touched by the clone.
  ExpectOnPds(src.cart, paid_cid, nullptr);

  // An operator's backup, taken while the server runs, holds the clone as the server does.
  const std::string backup = net_->db + ".backup-" + std::to_string(::getpid());
  Command copied = Admin({"backup", backup});
  ASSERT_EQ(copied.exit, 0) << copied.output;
  EXPECT_NE(copied.output.find("integrity ok"), std::string::npos) << copied.output;
  for (const std::string& uri : {new_cart, new_item, new_sub}) {
    Command shown = RunCommand({ATIPAY_ADMIN_BIN, "--db", backup, "show", uri});
    EXPECT_EQ(shown.exit, 0) << shown.output;
    std::optional<json::object> live = DbRow(uri);
    ASSERT_TRUE(live) << uri;
    EXPECT_EQ(Str(json::parse(shown.output).as_object(), "cid"), Str(*live, "cid")) << uri;
  }
  std::filesystem::remove(backup);

  // And the audit finds nothing wrong with what the server wrote.
  Command check = Admin({"check"});
  EXPECT_EQ(check.exit, 0) << check.output;
  EXPECT_NE(check.output.find("integrity ok"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find(" 0 problem(s)"), std::string::npos) << check.output;
}

// bob cannot clone alice's cart: refused by name before any workflow, bob's repo unchanged.
TEST_F(E2eTest, CloneOfAnotherUsersCartIsRefused) {
  const SourceCart src = NewSourceCart(false);
  ASSERT_FALSE(src.cart.empty());
  RecordPayment(src.cart);  // cloneable by its owner: the refusal is about ownership

  auto latest_commit = [] {
    XrpcResult r =
        bob_->pds().Call("com.atproto.sync.getLatestCommit", false, {{"did", net_->bob.did}});
    EXPECT_TRUE(r.ok()) << r.ErrorName() << ": " << r.ErrorMessage();
    return json::serialize(r.body);
  };
  auto bob_records = [] {
    std::size_t n = 0;
    for (const char* c : {kCart, kItem, kSubscription}) n += ListRecords(net_->bob.did, c).size();
    return n;
  };
  const std::string commit_before = latest_commit();
  const std::size_t records_before = bob_records();

  RecordingCaller caller(bob_->service());
  RunResult r = Run(*bob_, kClone, true, {{"uri", src.cart}}, &caller);
  EXPECT_EQ(r.kind, RunResult::Kind::kXrpcError) << r.Describe();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error, "NotCartOwner");
  EXPECT_NE(r.message.find(src.cart), std::string::npos) << r.message;
  EXPECT_EQ(r.rounds, 1);
  EXPECT_TRUE(r.writes.empty());
  ASSERT_EQ(caller.answers.size(), 1u);
  EXPECT_FALSE(Obj(caller.answers[0]).contains("workflow")) << json::serialize(caller.answers[0]);

  EXPECT_EQ(latest_commit(), commit_before) << "bob's repo got a commit";
  EXPECT_EQ(bob_records(), records_before);
  EXPECT_EQ(records_before, 0u);
  // Nor did the server keep anything for bob.
  RunResult list = Run(*bob_, kCartList, false, {});
  EXPECT_TRUE(Arr(Ok(list), "carts").empty());
}

// A profile created and then updated, a pending item rewritten (its cart's total with it) and
// a paid subscription cancelled: each #create / #update lands on the real PDS exactly as we
// keep it, CIDs included.
TEST_F(E2eTest, ProfilesPutsAndCancelsLandOnThePds) {
  const std::string profile = "at://" + net_->bob.did + "/com.atiproto.profile/self";
  // Settings that turn nothing away: the other tests pay bob.
  json::object made = Ok(Run(*bob_, kProfilePut, true, {{"disableReceiptNotifications", true}}));
  EXPECT_EQ(Str(made, "uri"), profile);
  json::object value = ExpectOnPds(profile, Str(made, "cid"), nullptr);
  EXPECT_EQ(value.at("disableReceiptNotifications"), true);
  json::object changed = Ok(Run(*bob_, kProfilePut, true, {{"acceptsItems", true}}));
  value = ExpectOnPds(profile, Str(changed, "cid"), nullptr);
  EXPECT_EQ(value.at("acceptsItems"), true);
  EXPECT_EQ(value.at("disableReceiptNotifications"), true) << "settings not given are kept";
  EXPECT_TRUE(value.contains("updatedAt"));

  const SourceCart src = NewSourceCart(true);
  ASSERT_FALSE(src.subscription.empty());
  json::object item = ExpectOnPds(src.item, "", nullptr);
  item["amount"] = 700;
  item["message"] = "more thanks";
  RunResult put = Run(*alice_, kItemPut, true, {{"uri", src.item}, {"record", item}});
  json::object out = Ok(put);
  EXPECT_EQ(put.writes.size(), 2u) << "the item, then its cart's total";
  ExpectOnPds(src.item, Str(out, "cid"), nullptr);
  EXPECT_EQ(ExpectOnPds(src.cart, "", nullptr).at("total"), 1000);
  // The recipient sees the new amount.
  json::object seen = Ok(Run(*bob_, kRecipientItemGet, false, {{"uri", src.item}}));
  EXPECT_EQ(Obj(seen, "item").at("amount"), 700);

  RecordPayment(src.cart);
  RunResult cancel = Run(*alice_, kSubscriptionCancel, true, {{"subscriptionUri", src.subscription}});
  json::object cancelled = Ok(cancel);
  ASSERT_EQ(cancel.writes.size(), 1u);
  json::object sub = ExpectOnPds(src.subscription, "", &Obj(cancelled, "subscription"));
  EXPECT_EQ(sub.at("status"), "cancelled");
  EXPECT_EQ(Str(sub, "accessUntil"), Str(cancelled, "accessUntil"));

  // The operator ends it early; a renewal of an ended subscription is refused.
  Command ended = Admin({"subscription", src.subscription, "expired"});
  EXPECT_EQ(ended.exit, 0) << ended.output;
  EXPECT_NE(ended.output.find("cancelled -> expired"), std::string::npos) << ended.output;
  Command refused = Admin({"subscription", src.subscription, "renewed"});
  EXPECT_EQ(refused.exit, 1) << refused.output;
  EXPECT_NE(refused.output.find("it cannot be renewed"), std::string::npos) << refused.output;
}

// The agent's own create of the new cart fails on the real PDS (a record is already at that
// rkey): the agent calls back with intent "error", the server answers compensating #deletes and
// a #raise, the agent deletes what it wrote and reports RolledBack. Nothing of the clone stays
// on the PDS or in our database.
TEST_F(E2eTest, FailedPdsWriteRollsBack) {
  const SourceCart src = NewSourceCart(true);
  ASSERT_FALSE(src.subscription.empty());
  RecordPayment(src.cart);

  // When the clone's workflow arrives, put a record at the rkey planned for the new cart first.
  RecordingCaller caller(alice_->service());
  std::optional<agent::WriteResult> squat;
  std::string planned_cart_action;
  std::vector<std::string> planned;  // URIs of the clone's #create actions, in order
  const json::object squatter{{"$type", kCart},        {"items", json::array{}},
                              {"currency", "USD"},     {"total", 0},
                              {"status", "abandoned"}, {"createdAt", "2026-01-01T00:00:00.000Z"}};
  caller.on_answer = [&](const XrpcResult& r) {
    if (squat || !r.ok()) return;
    const json::object& wf = Obj(Obj(r.body), "workflow");
    for (const auto& a : Arr(wf, "actions")) {
      const json::object& action = Obj(a);
      if (Str(action, "$type") != kCreateAction) continue;
      planned.push_back("at://" + Str(action, "repo") + "/" + Str(action, "collection") + "/" +
                        Str(action, "rkey"));
      if (Str(action, "collection") != kCart) continue;
      planned_cart_action = Str(action, "name");
      squat = alice_->repo().Write({.op = WriteOp::kCreate,
                                    .repo = Str(action, "repo"),
                                    .collection = kCart,
                                    .rkey = Str(action, "rkey"),
                                    .record = squatter,
                                    .swap_commit = std::nullopt});
      std::cout << "  [test] createRecord " << planned.back() << " first -> "
                << (squat->ok() ? squat->cid : squat->error + ": " + squat->message) << "\n";
    }
  };
  RunResult r = Run(*alice_, kClone, true, {{"uri", src.cart}}, &caller);

  ASSERT_TRUE(squat) << "no #create of a " << kCart << " in the clone's workflow";
  ASSERT_TRUE(squat->ok()) << squat->error << ": " << squat->message;
  ASSERT_EQ(planned.size(), 3u);
  const std::string& item_uri = planned[0];
  const std::string& sub_uri = planned[1];
  const std::string& cart_uri = planned[2];
  EXPECT_EQ(ParseAtUri(item_uri).collection, kItem);
  EXPECT_EQ(ParseAtUri(sub_uri).collection, kSubscription);
  EXPECT_EQ(squat->uri, cart_uri);

  // The agent reports the server's raise.
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(r.code.value_or(""), "RolledBack");
  EXPECT_EQ(r.rounds, 2);

  // What the PDS did: two creates, the cart's create refused, then two deletes (reverse order).
  ASSERT_EQ(r.writes.size(), 5u);
  EXPECT_EQ(r.writes[0].op, WriteOp::kCreate);
  EXPECT_EQ(r.writes[0].uri, item_uri);
  EXPECT_EQ(r.writes[1].op, WriteOp::kCreate);
  EXPECT_EQ(r.writes[1].uri, sub_uri);
  EXPECT_EQ(r.writes[2].op, WriteOp::kCreate);
  EXPECT_EQ(r.writes[2].uri, cart_uri);
  EXPECT_FALSE(r.writes[2].error.empty()) << "the PDS accepted a create over an existing record";
  EXPECT_EQ(r.writes[3].op, WriteOp::kDelete);
  EXPECT_EQ(r.writes[3].uri, sub_uri);
  EXPECT_EQ(r.writes[4].op, WriteOp::kDelete);
  EXPECT_EQ(r.writes[4].uri, item_uri);
  for (std::size_t i : {0u, 1u, 3u, 4u}) EXPECT_TRUE(r.writes[i].error.empty()) << i;
  const std::string pds_error = r.writes[2].error;
  const std::string pds_message = r.writes[2].message;
  std::cout << "  [test] the PDS answered the cart's create: " << pds_error << ": " << pds_message
            << "\n";
  EXPECT_NE(r.message.find(pds_message.empty() ? pds_error : pds_message), std::string::npos)
      << "the raise should carry the PDS's message: " << r.message;

  // The error callback the agent sent, and the server's answer to it.
  ASSERT_EQ(caller.inputs.size(), 2u);
  const json::object& callback = Obj(caller.inputs[1], "workflow");
  EXPECT_EQ(Str(callback, "intent"), "error");
  EXPECT_EQ(Arr(callback, "responses").size(), 2u);
  EXPECT_EQ(Str(Obj(callback, "error"), "action"), "create");
  EXPECT_EQ(Str(Obj(callback, "error"), "name"), planned_cart_action);
  EXPECT_EQ(Str(Obj(callback, "error"), "code"), pds_error);
  const json::array& answer = Arr(Obj(Obj(caller.answers[1]), "workflow"), "actions");
  ASSERT_EQ(answer.size(), 3u) << json::serialize(caller.answers[1]);
  EXPECT_EQ(Str(Obj(answer[0]), "$type"), kDeleteAction);
  EXPECT_EQ(Str(Obj(answer[1]), "$type"), kDeleteAction);
  EXPECT_EQ(Str(Obj(answer[2]), "$type"), kRaiseAction);
  EXPECT_EQ(Str(Obj(answer[2]), "code"), "RolledBack");

  // Gone from the PDS; the squatter, which the server never wrote, untouched.
  for (const auto& uri : {item_uri, sub_uri}) {
    XrpcResult g = GetRecord(uri);
    EXPECT_EQ(g.status, 400) << uri;
    EXPECT_EQ(g.ErrorName(), "RecordNotFound") << uri;
  }
  XrpcResult at_cart = GetRecord(cart_uri);
  EXPECT_EQ(Str(Obj(at_cart.body), "cid"), squat->cid);
  EXPECT_TRUE(JsonEq(squatter, Obj(Obj(at_cart.body), "value")));
  // And nothing in our database.
  for (const auto& uri : planned) EXPECT_FALSE(DbRow(uri)) << uri;

  // Reconciling alice's repo with our database finds the squatter, a record of ours we never
  // wrote, and nothing we keep is missing or changed there.
  Command reconciled = Admin({"reconcile", net_->alice.did, "--plc-url", net_->plc_url});
  EXPECT_EQ(reconciled.exit, 1) << reconciled.output;
  EXPECT_NE(reconciled.output.find("orphan " + cart_uri + ": in the repo, not ours"),
            std::string::npos)
      << reconciled.output;
  EXPECT_EQ(reconciled.output.find("missing "), std::string::npos) << reconciled.output;
  EXPECT_EQ(reconciled.output.find("changed "), std::string::npos) << reconciled.output;
}

// A service token the PDS minted is good once: the second use is 401 NonceNotUnique.
TEST_F(E2eTest, ServiceTokenReplayIsRefused) {
  XrpcResult minted = alice_->pds().Call("com.atproto.server.getServiceAuth", false,
                                         {{"aud", net_->server_did}, {"lxm", kCartList}});
  ASSERT_TRUE(minted.ok()) << minted.ErrorName() << ": " << minted.ErrorMessage();
  const std::string token = Str(Obj(minted.body), "token");
  ASSERT_FALSE(token.empty());

  agent::HttpCallerOptions http;
  http.base_url = net_->server_url;
  http.token_source = [token](std::string_view) { return token; };
  agent::HttpXrpcCaller server(http);
  XrpcResult first = server.Call(kCartList, false, {});
  EXPECT_EQ(first.status, 200) << first.ErrorName() << ": " << first.ErrorMessage();
  for (const auto& c : Arr(Obj(first.body), "carts")) {
    EXPECT_EQ(ParseAtUri(Str(Obj(c), "uri")).repo, net_->alice.did);
  }
  XrpcResult second = server.Call(kCartList, false, {});
  EXPECT_EQ(second.status, 401);
  EXPECT_EQ(second.ErrorName(), "NonceNotUnique") << second.ErrorMessage();
}

// Last (its cart was made in SetUpTestSuite and has been expiring meanwhile): once the sweeper
// has expired the cart in our database, it can be cloned; the clone is open and on the PDS.
TEST_F(E2eTest, ExpiredCartClonedAfterSweep) {
  if (net_->cart_ttl > 30) {
    GTEST_SKIP() << "needs a short --cart-ttl (have " << net_->cart_ttl << ")";
  }
  ASSERT_NE(expiring_cart_, nullptr) << "the suite could not create the cart";
  const std::string source = *expiring_cart_;

  // Wait for the sweeper: our stored status (not only the status reads compute) is expired.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(net_->cart_ttl + 3 * net_->sweep_interval + 10);
  std::string stored;
  const auto waited_from = std::chrono::steady_clock::now();
  for (;;) {
    std::optional<json::object> row = DbRow(source);
    ASSERT_TRUE(row);
    stored = Str(*row, "storedStatus");
    if (stored == "expired") break;
    ASSERT_EQ(stored, "open");
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the sweeper did not expire " << source;
    std::this_thread::sleep_for(100ms);
  }
  std::cout << "  [test] swept after waiting "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - waited_from)
                   .count()
            << " ms here\n";

  RunResult clone = Run(*alice_, kClone, true, {{"uri", source}});
  json::object out = Ok(clone);
  ASSERT_TRUE(clone.ok());
  ASSERT_EQ(clone.writes.size(), 2u);
  const std::string new_cart = Str(out, "cartUri");
  const json::object& cart_view = Obj(out, "cart");
  EXPECT_EQ(Str(cart_view, "status"), "open");
  EXPECT_EQ(DatetimeMs(Str(cart_view, "expiresAt")) - DatetimeMs(Str(cart_view, "createdAt")),
            net_->cart_ttl * 1000)
      << "expiresAt = createdAt + --cart-ttl";
  EXPECT_EQ(Str(out, "checkoutUrl").find(net_->server_url + "/checkout?cart="), 0u);
  ASSERT_EQ(Arr(out, "items").size(), 1u);
  const json::object& item_view = Obj(Arr(out, "items")[0]);
  EXPECT_NE(Str(item_view, "uri"), *expiring_item_);
  EXPECT_EQ(item_view.at("amount"), json::value(250));
  EXPECT_EQ(Str(item_view, "currency"), "EUR");
  EXPECT_EQ(Str(item_view, "status"), "pending");

  json::object record = ExpectOnPds(new_cart, clone.writes[1].cid, &cart_view);
  EXPECT_EQ(Str(record, "status"), "open");
  ExpectOnPds(Str(item_view, "uri"), clone.writes[0].cid, &item_view);
  EXPECT_EQ(Str(*DbRow(new_cart), "clonedFrom"), source);

  // The source, as cart.get reports it: expired, and its sync brings the PDS record along.
  RunResult get = Run(*alice_, kCartGet, false, {{"uri", source}});
  json::object g = Ok(get);
  EXPECT_EQ(Str(Obj(g, "cart"), "status"), "expired");
  EXPECT_FALSE(g.contains("checkoutUrl"));
  ASSERT_EQ(get.writes.size(), 1u) << "an #update of the cart (its item stays pending)";
  EXPECT_EQ(get.writes[0].uri, source);
  EXPECT_EQ(Str(ExpectOnPds(source, Str(g, "cid"), &Obj(g, "cart")), "status"), "expired");
}

}  // namespace
}  // namespace atipay::e2e
