// The payment methods over HTTP, driven by the C++ agent (src/agent) against an in-memory PDS
// (agent::MemoryRepo), exactly as the atiproto agent drives them: every workflow round, every
// callback. Auth is a stand-in hook (Bearer <did>); real service JWTs are covered by tests/auth
// and the end-to-end tests.
#ifndef ATIPAY_TESTS_PAYMENTS_FLOW_FIXTURE_H_
#define ATIPAY_TESTS_PAYMENTS_FLOW_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>
#include <utility>

#include "agent/agent.h"
#include "lex/cbor.h"
#include "payments/payments.h"
#include "payments/provider.h"
#include "payments/records.h"
#include "store/store.h"
#include "support/json_eq.h"
#include "support/store_wrappers.h"
#include "support/temp_dir.h"
#include "tests/xrpc/test_support.h"
#include "xrpc/router.h"
#include "xrpc/server.h"

namespace atipay::payments::testing_flow {

namespace json = boost::json;
using agent::HttpXrpcCaller;
using agent::MemoryRepo;
using agent::RunMethod;
using agent::RunResult;

constexpr char kAlice[] = "did:plc:alicealicealicealicealic";
constexpr char kBob[] = "did:plc:bobbobbobbobbobbobbobbobbo";
constexpr char kCarol[] = "did:plc:carolcarolcarolcarolcaro";
constexpr char kDave[] = "did:plc:davedavedavedavedavedaved";
constexpr std::int64_t kTtl = 3600;

constexpr char kItemCreate[] = "com.atiproto.payment.item.create";
constexpr char kSubscriptionCreate[] = "com.atiproto.payment.subscription.create";
constexpr char kCartCreate[] = "com.atiproto.payment.cart.create";
constexpr char kCartGet[] = "com.atiproto.payment.cart.get";
constexpr char kCartList[] = "com.atiproto.payment.cart.list";
constexpr char kCartPut[] = "com.atiproto.payment.cart.put";
constexpr char kClone[] = "com.atiproto.payment.cart.clone";
constexpr char kProfilePut[] = "com.atiproto.recipient.profile.put";

// Forwards to a store; runs `change` once, just before the first GetRecords that starts with
// `uri` (any, if empty): another call's commit landing between a first read and a snapshot
// read (an audit's scan and its check, a method's read of a cart and of its lines).
class ChangeBeforeSnapshot final : public test_support::ForwardingStore {
 public:
  ChangeBeforeSnapshot(store::Store& inner, std::function<void()> change, std::string uri = "")
      : ForwardingStore(inner), change_(std::move(change)), uri_(std::move(uri)) {}
  std::vector<store::RecordRow> GetRecords(const std::vector<std::string>& uris,
                                           store::Status* failure) override {
    if (change_ && (uri_.empty() || (!uris.empty() && uris.front() == uri_))) {
      std::exchange(change_, nullptr)();
    }
    return inner_.GetRecords(uris, failure);
  }

 private:
  std::function<void()> change_;
  const std::string uri_;
};

class PaymentFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Boot();
  }
  void TearDown() override { Stop(); }

  // Starts the store, the service and the server; the database survives a Stop()/Boot().
  void Boot() {
    store::StoreOptions so;
    so.path = dir_.File("atipay.db");
    so.synchronous = "NORMAL";
    std::string error;
    store_ = store::OpenSqliteStore(so, &error);
    ASSERT_TRUE(store_) << error;
    served_ = serve_through_ ? serve_through_(*store_) : nullptr;
    service_ = std::make_unique<Service>(served_ ? *served_ : *store_, provider_, options_,
                                         [this] { return now_.load(); });
    router_ = std::make_unique<xrpc::Router>();
    router_->SetAuthHook([](const xrpc::AuthRequest& r) -> xrpc::AuthResult {
      constexpr std::string_view kBearer = "Bearer ";
      if (r.authorization.substr(0, kBearer.size()) != kBearer) {
        return xrpc::XrpcError::AuthRequired("Authentication Required");
      }
      return xrpc::AuthContext{std::string(r.authorization.substr(kBearer.size())), {}};
    });
    service_->Register(*router_);
    xrpc::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    o.access_log = "off";
    server_ = std::make_unique<xrpc::Server>(o, *router_);
    auto started = server_->Start();
    ASSERT_FALSE(started) << *started;
  }

  void Stop() {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
    }
    server_.reset();
    router_.reset();
    service_.reset();
    served_.reset();
    if (store_) store_->Close();
    store_.reset();
  }

  std::unique_ptr<HttpXrpcCaller> Caller(std::string did) {
    agent::HttpCallerOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    o.token_source = [did](std::string_view) { return did; };
    return std::make_unique<HttpXrpcCaller>(o);
  }

  RunResult Run(std::string_view did, std::string_view nsid, json::object input,
                bool procedure = true) {
    auto caller = Caller(std::string(did));
    return RunMethod(*caller, repo_, nsid, procedure, input);
  }

  json::object Ok(const RunResult& r) {
    EXPECT_TRUE(r.ok()) << r.Describe();
    return r.ok() && r.output.is_object() ? r.output.as_object() : json::object{};
  }

  // An item (and a new cart) for `did`; returns the item.create output.
  json::object NewItem(std::string_view did, std::int64_t amount = 500,
                       std::optional<std::string> cart = std::nullopt, bool is_private = false) {
    json::object in{{"subject", kCarol}, {"amount", amount}, {"currency", "USD"},
                    {"message", "thanks!"}};
    if (cart) in["cartUri"] = *cart;
    if (is_private) in["isPrivate"] = true;
    return Ok(Run(did, kItemCreate, in));
  }

  json::object NewSubscription(std::string_view did, std::string cart) {
    return Ok(Run(did, kSubscriptionCreate,
                  {{"subject", kDave}, {"amount", 300}, {"currency", "USD"},
                   {"interval", "monthly"}, {"cartUri", cart}}));
  }

  // A cart with two items and a subscription, paid.
  std::string CompletedCart(std::string_view did) {
    json::object first = NewItem(did, 500);
    std::string cart(first.at("cartUri").as_string());
    NewItem(did, 250, cart, /*is_private=*/true);
    NewSubscription(did, cart);
    Pay(cart, PaymentOutcome::kCompleted);
    return cart;
  }

  void Pay(const std::string& cart, PaymentOutcome outcome) {
    std::string note;
    auto s = store_->WriteSync([&](store::WriteTxn& t) {
      return RecordPayment(t, cart, outcome, "test", now_.load(), &note);
    });
    ASSERT_TRUE(s.ok()) << s.message;
  }

  // Every record we hold equals the record in the (stand-in) repo, CID included.
  void ExpectStoreMatchesRepo(const std::string& uri) {
    auto row = store_->GetRecord(uri);
    ASSERT_TRUE(row) << uri;
    auto in_repo = repo_.Get(uri);
    ASSERT_TRUE(in_repo) << uri;
    EXPECT_EQ(row->cid, in_repo->cid) << uri;
    EXPECT_EQ(json::parse(row->record_json), json::value(in_repo->value)) << uri;
  }

  std::size_t CartCount(std::string_view did) {
    store::CartQuery q;
    q.did = std::string(did);
    q.limit = 100;
    return store_->ListCarts(q).rows.size();
  }

  test_support::TempDir dir_{"atipay-payments"};
  std::unique_ptr<store::Store> store_;
  ManualProvider provider_{"https://pay.example/checkout"};
  Options options_ = [] {
    Options o;
    o.cart_ttl_seconds = kTtl;
    return o;
  }();
  std::atomic<std::int64_t> now_{1'790'000'000'000'000};
  // Set before Boot(): the service reads and writes through the store this makes of store_.
  std::function<std::unique_ptr<store::Store>(store::Store&)> serve_through_;
  std::unique_ptr<store::Store> served_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<xrpc::Router> router_;
  std::unique_ptr<xrpc::Server> server_;
  MemoryRepo repo_;
};

}  // namespace atipay::payments::testing_flow

#endif  // ATIPAY_TESTS_PAYMENTS_FLOW_FIXTURE_H_
