// Carts over HTTP: create, get, list, put, clone, and the workflow rules they run under.
#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names
using CartFlowTest = PaymentFlowTest;

TEST_F(CartFlowTest, ItemCreateWritesItemThenCartAndStoresBoth) {
  RunResult r = Run(kAlice, kItemCreate,
                    {{"subject", kCarol}, {"amount", 500}, {"currency", "USD"},
                     {"redirectUrl", "https://shop.example/done"}});
  json::object out = Ok(r);
  EXPECT_EQ(r.rounds, 2) << "one round of writes, then the final answer";
  ASSERT_EQ(r.writes.size(), 2u);
  std::string item(out.at("itemUri").as_string());
  std::string cart(out.at("cartUri").as_string());
  EXPECT_EQ(item.rfind("at://" + std::string(kAlice) + "/com.atiproto.item/", 0), 0u);
  EXPECT_EQ(out.at("cart").at("status"), "open");
  EXPECT_EQ(out.at("cart").at("total"), 500);
  EXPECT_EQ(out.at("cart").at("items").at(0).at("recordUri"), item);
  EXPECT_EQ(out.at("item").at("status"), "pending");
  EXPECT_EQ(out.at("checkoutUrl"),
            "https://pay.example/checkout?cart=" + PercentEncode(cart) +
                "&redirect=https%3A%2F%2Fshop.example%2Fdone");
  ExpectStoreMatchesRepo(item);
  ExpectStoreMatchesRepo(cart);
  EXPECT_EQ(store_->GetRecord(item)->cart_uri, cart);
  EXPECT_EQ(store_->GetRecord(cart)->expires_at_us, now_.load() + kTtl * 1000000);
}

TEST_F(CartFlowTest, LinesAddedToAnOpenCartUpdateItInTheRepo) {
  json::object first = NewItem(kAlice, 500);
  std::string cart(first.at("cartUri").as_string());
  json::object second = NewItem(kAlice, 250, cart, /*is_private=*/true);
  EXPECT_EQ(second.at("cartUri"), cart);
  EXPECT_EQ(second.at("cart").at("total"), 750);
  json::object sub = NewSubscription(kAlice, cart);
  EXPECT_EQ(sub.at("cart").at("total"), 1050);
  EXPECT_EQ(sub.at("cart").at("items").as_array().size(), 3u);
  ExpectStoreMatchesRepo(cart);
  // A private item keeps its subject out of the repo, but the owner's view shows it.
  std::string item(second.at("itemUri").as_string());
  EXPECT_FALSE(repo_.Get(item)->value.contains("subject"));
  EXPECT_EQ(second.at("item").at("subject"), kCarol);
  ExpectStoreMatchesRepo(item);
}

TEST_F(CartFlowTest, ALineAddedWithARedirectUrlSendsTheCartsCheckoutThere) {
  json::object first = NewItem(kAlice, 500);  // no redirectUrl
  const std::string cart(first.at("cartUri").as_string());
  const std::string back = "&redirect=" + PercentEncode("https://shop.example/basket");
  json::object added = Ok(Run(kAlice, kItemCreate,
                              {{"subject", kCarol},
                               {"amount", 250},
                               {"currency", "USD"},
                               {"cartUri", cart},
                               {"redirectUrl", "https://shop.example/basket"}}));
  const std::string url(added.at("checkoutUrl").as_string());
  EXPECT_NE(url.find(back), std::string::npos) << url;
  // ... and so does the cart's checkout URL from then on.
  json::object got = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false));
  EXPECT_EQ(got.at("checkoutUrl"), url);
  // Without one, the cart keeps the return it has.
  EXPECT_EQ(NewSubscription(kAlice, cart).at("checkoutUrl"), url);
}

TEST_F(CartFlowTest, CreateRefusesBadInputByName) {
  auto error = [&](std::string_view nsid, json::object in) {
    RunResult r = Run(kAlice, nsid, in);
    EXPECT_EQ(r.kind, RunResult::Kind::kXrpcError) << r.Describe();
    EXPECT_EQ(r.status, 400);
    return r.error;
  };
  EXPECT_EQ(error(kItemCreate, {{"subject", kCarol}, {"amount", -1}, {"currency", "USD"}}),
            "InvalidAmount");
  EXPECT_EQ(error(kItemCreate, {{"subject", kCarol}, {"amount", 1}, {"currency", "usd"}}),
            "InvalidCurrency");
  EXPECT_EQ(error(kSubscriptionCreate, {{"subject", kCarol}, {"amount", 1}, {"currency", "USD"},
                                        {"interval", "monthly"}, {"isPrivate", true}}),
            "PrivateSubscriptionUnsupported");
  EXPECT_EQ(error(kSubscriptionCreate, {{"subject", kCarol}, {"currency", "USD"},
                                        {"interval", "monthly"}}),
            "InvalidAmount");
  json::object cart = NewItem(kAlice);
  EXPECT_EQ(error(kItemCreate, {{"subject", kCarol}, {"amount", 1}, {"currency", "EUR"},
                                {"cartUri", cart.at("cartUri")}}),
            "CurrencyMismatch");
  EXPECT_EQ(Run(kBob, kItemCreate, {{"subject", kCarol}, {"amount", 1}, {"currency", "USD"},
                                    {"cartUri", cart.at("cartUri")}})
                .error,
            "NotCartOwner");
  EXPECT_EQ(repo_.size(), 2u) << "refused calls write nothing";
}

// A PDS cannot store an integer beyond 2^53-1 (the reference's DAG-CBOR encoder refuses it), so
// neither an amount nor a cart's total may pass it: refused up front by name, before any write.
TEST_F(CartFlowTest, AmountsAndTotalsStayWithinTheDataModelsSafeIntegers) {
  constexpr std::int64_t kMaxSafe = 9007199254740991;  // 2^53 - 1
  for (std::int64_t amount : {kMaxSafe + 1, std::numeric_limits<std::int64_t>::max()}) {
    RunResult r =
        Run(kAlice, kItemCreate, {{"subject", kCarol}, {"amount", amount}, {"currency", "USD"}});
    EXPECT_EQ(r.error, "InvalidAmount") << r.Describe();
    EXPECT_NE(r.message.find("9007199254740991"), std::string::npos) << r.message;
  }
  EXPECT_EQ(repo_.size(), 0u);
  json::object first = NewItem(kAlice, kMaxSafe);
  EXPECT_EQ(first.at("cart").at("total"), kMaxSafe);
  RunResult r = Run(
      kAlice, kItemCreate,
      {{"subject", kCarol}, {"amount", 1}, {"currency", "USD"}, {"cartUri", first.at("cartUri")}});
  EXPECT_EQ(r.error, "InvalidAmount") << r.Describe();
  EXPECT_NE(r.message.find("9007199254740991"), std::string::npos) << r.message;
  EXPECT_EQ(repo_.size(), 2u) << "the refused line wrote nothing";
}

// The methods read SQLite, so they run on the blocking pool, never on an event loop; and they
// all require service auth, but for the public repo.* lookups.
TEST_F(CartFlowTest, MethodsRunOffTheEventLoopWithAuth) {
  int methods = 0;
  router_->ForEach([&](const std::string& nsid, const xrpc::Router::Entry& entry) {
    ++methods;
    EXPECT_TRUE(entry.options.blocking) << nsid;
    const bool is_public = nsid.starts_with("com.atiproto.repo.");
    EXPECT_EQ(entry.options.auth,
              is_public ? xrpc::AuthPolicy::kOptional : xrpc::AuthPolicy::kRequired)
        << nsid;
  });
  EXPECT_EQ(methods, 30);  // every method of the published lexicons
}

// The page a checkoutUrl leads to (the manual provider's), as a payer's browser gets it.
TEST_F(CartFlowTest, CheckoutPageShowsWhatIsOwedAndWhereTheCartStands) {
  const std::string back = "https://shop.example/done?a=1&b=\"<x>\"";
  json::object first = Ok(Run(kAlice, kItemCreate,
                              {{"subject", kCarol},
                               {"amount", 1234},
                               {"currency", "USD"},
                               {"redirectUrl", back}}));
  std::string cart(first.at("cartUri").as_string());
  json::object second = NewItem(kAlice, 66, cart);
  const std::string base = "https://pay.example";
  std::string url(second.at("checkoutUrl").as_string());
  ASSERT_EQ(url.rfind(base + "/checkout?", 0), 0u) << url;
  auto get = [&](const std::string& target) {
    auto reply = atipay::testing::Fetch(server_->port(), "GET", target);
    EXPECT_TRUE(reply) << target;
    return reply ? *reply : atipay::testing::Reply{};
  };
  const std::string link = "href=\"https://shop.example/done?a=1&amp;b=&quot;&lt;x&gt;&quot;\"";

  auto open = get(url.substr(base.size()));
  EXPECT_EQ(open.status, 200);
  EXPECT_EQ(open.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(open.raw["Cache-Control"], "no-store");
  EXPECT_NE(open.raw["Content-Security-Policy"].find("default-src 'none'"), std::string::npos);
  EXPECT_NE(open.body.find("<h1>13.00 USD</h1>"), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("Waiting for payment"), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("12.34 USD"), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("0.66 USD"), std::string::npos) << open.body;
  EXPECT_NE(open.body.find(link), std::string::npos) << open.body;
  EXPECT_EQ(open.body.find("<x>"), std::string::npos) << "values are escaped";

  Pay(cart, PaymentOutcome::kCompleted);
  auto paid = get(url.substr(base.size()));
  EXPECT_EQ(paid.status, 200);
  EXPECT_NE(paid.body.find("Paid."), std::string::npos) << paid.body;
  EXPECT_NE(paid.body.find(link), std::string::npos) << paid.body;

  EXPECT_EQ(get("/checkout").status, 400);
  EXPECT_EQ(get("/checkout?cart=" + PercentEncode(std::string(first.at("itemUri").as_string()))).status,
            404)
      << "an item is not a cart";
  auto unknown = get("/checkout?cart=" + PercentEncode(cart + "x<script>"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body.find("<script>"), std::string::npos);
}

// Anyone can write a checkout link for someone's cart: the link back is the cart's own
// redirectUrl, whatever `redirect` the link carries, so that the page never sends a payer on to
// a site its owner did not name.
TEST_F(CartFlowTest, CheckoutPageLinksOnlyToTheCartsOwnRedirect) {
  json::object without = NewItem(kAlice, 500);  // no redirectUrl
  const std::string cart(without.at("cartUri").as_string());
  const std::string target = "/checkout?cart=" + PercentEncode(cart);
  auto get = [&](const std::string& redirect) {
    auto reply =
        atipay::testing::Fetch(server_->port(), "GET", target + "&redirect=" + PercentEncode(redirect));
    EXPECT_TRUE(reply);
    EXPECT_EQ(reply ? reply->status : 0, 200);
    return reply ? reply->body : std::string();
  };
  for (const std::string redirect :
       {"https://evil.example/login", "http://evil.example/", "javascript:alert(1)"}) {
    const std::string body = get(redirect);
    EXPECT_EQ(body.find("Return to the shop"), std::string::npos) << redirect << "\n" << body;
    EXPECT_EQ(body.find("evil.example"), std::string::npos) << body;
    EXPECT_EQ(body.find("javascript:"), std::string::npos) << body;
  }

  // With a redirectUrl given to a create, the page links there, and only there.
  Ok(Run(kAlice, kItemCreate,
         {{"subject", kCarol},
          {"amount", 250},
          {"currency", "USD"},
          {"cartUri", cart},
          {"redirectUrl", "https://shop.example/basket"}}));
  const std::string body = get("https://evil.example/login");
  EXPECT_NE(body.find("href=\"https://shop.example/basket\""), std::string::npos) << body;
  EXPECT_EQ(body.find("evil.example"), std::string::npos) << body;
}

TEST_F(CartFlowTest, CartCreateMakesAnEmptyOpenCart) {
  json::object out = Ok(Run(kAlice, kCartCreate, {{"currency", "EUR"}}));
  EXPECT_EQ(out.at("cart").at("items").as_array().size(), 0u);
  EXPECT_EQ(out.at("cart").at("total"), 0);
  ExpectStoreMatchesRepo(std::string(out.at("cartUri").as_string()));
}

TEST_F(CartFlowTest, GetSyncsTheRepoOnceAfterAPayment) {
  std::string cart = CompletedCart(kAlice);
  RunResult r = Run(kAlice, kCartGet, {{"uri", cart}}, /*procedure=*/false);
  json::object out = Ok(r);
  EXPECT_EQ(r.rounds, 1) << "a query's side effect has no callback";
  EXPECT_EQ(out.at("cart").at("status"), "completed");
  EXPECT_TRUE(out.at("cart").as_object().contains("completedAt"));
  EXPECT_FALSE(out.contains("checkoutUrl")) << "only open carts have a checkout URL";
  ASSERT_EQ(out.at("items").as_array().size(), 2u);
  EXPECT_EQ(out.at("items").at(0).at("status"), "completed");
  EXPECT_EQ(out.at("subscriptions").at(0).at("status"), "active");
  EXPECT_EQ(r.writes.size(), 4u) << "the cart, two items and the subscription were updated";
  EXPECT_EQ(repo_.Get(cart)->value.at("status"), "completed");
  ExpectStoreMatchesRepo(cart);
  for (const auto& line : out.at("items").as_array()) {
    ExpectStoreMatchesRepo(std::string(line.at("uri").as_string()));
  }
  EXPECT_EQ(out.at("cid"), repo_.Get(cart)->cid);
  RunResult again = Run(kAlice, kCartGet, {{"uri", cart}}, false);
  Ok(again);
  EXPECT_TRUE(again.writes.empty()) << "one-shot: nothing left to sync";
  // By item URI, too.
  json::object by_item = Ok(Run(kAlice, kCartGet, {{"itemUri", out.at("items").at(0).at("uri")}}, false));
  EXPECT_EQ(by_item.at("uri"), cart);
  EXPECT_EQ(Run(kBob, kCartGet, {{"uri", cart}}, false).error, "NotCartOwner");
  EXPECT_EQ(Run(kAlice, kCartGet, {}, false).error, "InvalidRequest");
}

// A payment recorded between cart.get's read of the cart and of its lines: the answer (and the
// sync it asks for) is one snapshot, never an open cart with a checkout URL beside paid lines.
TEST_F(CartFlowTest, GetReadsTheCartAndItsLinesAsOneSnapshot) {
  const std::string cart(NewItem(kAlice, 500).at("cartUri").as_string());
  Stop();
  serve_through_ = [&](store::Store& inner) {
    return std::make_unique<ChangeBeforeSnapshot>(inner,
                                                  [&] { Pay(cart, PaymentOutcome::kCompleted); });
  };
  Boot();
  json::object out = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, /*procedure=*/false));
  EXPECT_EQ(out.at("cart").at("status"), "completed");
  EXPECT_FALSE(out.contains("checkoutUrl"));
  ASSERT_EQ(out.at("items").as_array().size(), 1u);
  EXPECT_EQ(out.at("items").at(0).at("status"), "completed");
  EXPECT_EQ(repo_.Get(cart)->value.at("status"), "completed");
  ExpectStoreMatchesRepo(cart);
}

TEST_F(CartFlowTest, ACartAndItsLinesAreReadAgainAsTheCartIsNow) {
  json::object first = NewItem(kAlice, 500);
  const std::string cart(first.at("cartUri").as_string());
  const store::RecordRow read = *store_->GetRecord(cart);
  const std::string added(NewItem(kAlice, 250, cart).at("itemUri").as_string());
  store::Status failure;
  std::optional<CartAndLines> now = ReadCartAndLines(*store_, read, &failure);
  ASSERT_TRUE(now);
  EXPECT_TRUE(failure.ok());
  EXPECT_TRUE(now->consistent);
  EXPECT_EQ(now->cart.amount, 750) << "the cart as it is now, not as read";
  ASSERT_EQ(now->lines.size(), 2u) << "with the line added since";
  EXPECT_EQ(now->lines[0].uri, first.at("itemUri").as_string());
  EXPECT_EQ(now->lines[1].uri, added);
  store::RecordRow gone = read;
  gone.uri = "at://" + std::string(kAlice) + "/com.atiproto.cart/3kgonegonegon";
  EXPECT_FALSE(ReadCartAndLines(*store_, gone, &failure));
  EXPECT_TRUE(failure.ok()) << "a cart that is gone is no failure";
}

TEST_F(CartFlowTest, CloneOfACompletedCartMakesFreshRecordsAndAnOpenCart) {
  std::string source = CompletedCart(kAlice);
  Run(kAlice, kCartGet, {{"uri", source}}, false);  // sync the repo first
  now_ += 5'000'000;
  RunResult r = Run(kAlice, kClone, {{"uri", source}, {"redirectUrl", "https://shop.example/again"}});
  json::object out = Ok(r);
  EXPECT_EQ(r.rounds, 2);
  ASSERT_EQ(r.writes.size(), 4u) << "two items, a subscription, then the cart";
  EXPECT_EQ(r.writes.back().uri, out.at("cartUri"));

  const auto& cart = out.at("cart").as_object();
  EXPECT_EQ(cart.at("status"), "open");
  EXPECT_EQ(cart.at("currency"), "USD");
  EXPECT_EQ(cart.at("total"), 1050);
  EXPECT_FALSE(cart.contains("completedAt"));
  EXPECT_EQ(cart.at("createdAt"), FormatDatetime(now_.load()));
  EXPECT_EQ(cart.at("expiresAt"), FormatDatetime(now_.load() + kTtl * 1000000));
  ASSERT_EQ(out.at("items").as_array().size(), 2u);
  ASSERT_EQ(out.at("subscriptions").as_array().size(), 1u);
  std::set<std::string> new_lines;
  for (const auto& line : cart.at("items").as_array()) {
    new_lines.insert(std::string(line.at("recordUri").as_string()));
  }
  auto source_row = store_->GetRecord(source);
  for (const auto& old : CartLineUris(*source_row)) EXPECT_FALSE(new_lines.count(old));
  for (const auto& item : out.at("items").as_array()) {
    EXPECT_EQ(item.at("status"), "pending");
    EXPECT_FALSE(item.as_object().contains("completedAt"));
    EXPECT_TRUE(new_lines.count(std::string(item.at("uri").as_string())));
    ExpectStoreMatchesRepo(std::string(item.at("uri").as_string()));
  }
  const auto& sub = out.at("subscriptions").at(0).as_object();
  EXPECT_EQ(sub.at("status"), "pending");
  EXPECT_EQ(sub.at("billingStartDate"), FormatDatetime(now_.load()));
  EXPECT_EQ(sub.at("interval"), "monthly");
  // The private item stays private in the copy.
  int private_items = 0;
  for (const auto& item : out.at("items").as_array()) {
    private_items += !repo_.Get(std::string(item.at("uri").as_string()))->value.contains("subject");
  }
  EXPECT_EQ(private_items, 1);
  ExpectStoreMatchesRepo(std::string(out.at("cartUri").as_string()));
  EXPECT_EQ(store_->GetRecord(std::string(out.at("cartUri").as_string()))->cloned_from, source);
  EXPECT_NE(std::string(out.at("checkoutUrl").as_string()).find("redirect=https%3A%2F%2Fshop"),
            std::string::npos);
  EXPECT_EQ(store_->GetRecord(source)->status, "completed") << "the source is left alone";
}

TEST_F(CartFlowTest, ExpiredCartsAreExpiredOnReadAndBySweeperAndCanBeCloned) {
  json::object first = NewItem(kAlice);
  std::string cart(first.at("cartUri").as_string());
  EXPECT_EQ(Run(kAlice, kClone, {{"uri", cart}}).error, "CartNotCloneable");
  now_ += kTtl * 1000000;
  json::object got = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false));
  EXPECT_EQ(got.at("cart").at("status"), "expired");
  EXPECT_EQ(repo_.Get(cart)->value.at("status"), "expired") << "synced to the repo";
  // A second expired cart that nobody read: the sweeper expires it.
  std::string other(NewItem(kBob).at("cartUri").as_string());
  now_ += kTtl * 1000000;
  EXPECT_EQ(store_->GetRecord(other)->status, "open");
  // Listed as expired before the sweeper has run: the cart to clone is found right away.
  auto listed = [&](const char* status) {
    std::vector<std::string> uris;
    const json::object page = Ok(Run(kBob, kCartList, {{"status", status}}, false));
    for (const auto& c : page.at("carts").as_array()) {
      EXPECT_EQ(c.at("record").at("status"), status);
      uris.emplace_back(c.at("uri").as_string());
    }
    return uris;
  };
  EXPECT_EQ(listed("expired"), std::vector<std::string>{other});
  EXPECT_TRUE(listed("open").empty());
  EXPECT_GE(service_->SweepOnce(), 1);
  EXPECT_EQ(store_->GetRecord(other)->status, "expired");
  EXPECT_EQ(listed("expired"), std::vector<std::string>{other});
  json::object clone = Ok(Run(kBob, kClone, {{"uri", other}}));
  EXPECT_EQ(clone.at("cart").at("status"), "open");
}

TEST_F(CartFlowTest, CloneRefusalsAreNamed) {
  std::string cart = CompletedCart(kAlice);
  EXPECT_EQ(Run(kBob, kClone, {{"uri", cart}}).error, "NotCartOwner");
  EXPECT_EQ(Run(kAlice, kClone, {{"uri", cart + "x"}}).error, "CartNotFound");
  EXPECT_EQ(Run(kAlice, kClone, {{"uri", "at://" + std::string(kAlice) + "/com.atiproto.item/3k"}})
                .error,
            "InvalidCartUri");
  std::string open(NewItem(kAlice).at("cartUri").as_string());
  RunResult r = Run(kAlice, kClone, {{"uri", open}});
  EXPECT_EQ(r.error, "CartNotCloneable");
  EXPECT_NE(r.message.find("still open"), std::string::npos);
  // Unauthenticated: 401 from the hook.
  agent::HttpCallerOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
  HttpXrpcCaller anonymous(o);
  EXPECT_EQ(anonymous.Call(kClone, true, {{"uri", cart}}).status, 401);
}

// A caller that keeps every request, to replay and tamper with callbacks by hand.
class Recorder : public agent::XrpcCaller {
 public:
  explicit Recorder(agent::XrpcCaller& inner) : inner_(inner) {}
  agent::XrpcResult Call(std::string_view nsid, bool procedure, const json::object& in) override {
    inputs.push_back(in);
    auto r = inner_.Call(nsid, procedure, in);
    outputs.push_back(r);
    return r;
  }
  std::vector<json::object> inputs;
  std::vector<agent::XrpcResult> outputs;

 private:
  agent::XrpcCaller& inner_;
};

TEST_F(CartFlowTest, ReplayedCallbackGetsTheSameAnswerAndNoDuplicateRows) {
  std::string cart = CompletedCart(kAlice);
  auto caller = Caller(kAlice);
  Recorder recorder(*caller);
  ASSERT_TRUE(RunMethod(recorder, repo_, kClone, true, {{"uri", cart}}).ok());
  ASSERT_EQ(recorder.inputs.size(), 2u);
  const std::size_t carts = CartCount(kAlice);
  agent::XrpcResult again = caller->Call(kClone, true, recorder.inputs[1]);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body, recorder.outputs[1].body);
  EXPECT_EQ(CartCount(kAlice), carts);
}

struct Tamper {
  const char* what;
  std::function<void(json::object& callback)> apply;
  const char* error;
};

class CallbackTamperTest : public CartFlowTest, public ::testing::WithParamInterface<Tamper> {};

TEST_P(CallbackTamperTest, IsRefusedAndStoresNothing) {
  std::string cart = CompletedCart(kAlice);
  auto caller = Caller(kAlice);
  agent::XrpcResult first = caller->Call(kClone, true, {{"uri", cart}});
  ASSERT_EQ(first.status, 200);
  // Do the writes as asked, then build the honest callback and tamper with it.
  json::array responses;
  for (const auto& a : first.body.at("workflow").at("actions").as_array()) {
    agent::RepoWrite w;
    w.repo = std::string(a.at("repo").as_string());
    w.collection = std::string(a.at("collection").as_string());
    w.rkey = std::string(a.at("rkey").as_string());
    w.record = a.at("record").as_object();
    auto result = repo_.Write(w);
    ASSERT_TRUE(result.ok());
    responses.push_back(json::object{{"action", "create"}, {"name", a.at("name")},
                                     {"result", {{"uri", result.uri}, {"cid", result.cid}}}});
  }
  json::object callback{{"uri", cart},
                        {"workflow", {{"intent", first.body.at("workflow").at("intent")},
                                      {"responses", responses}}}};
  const std::size_t carts = CartCount(kAlice);
  GetParam().apply(callback);
  agent::XrpcResult r = caller->Call(kClone, true, callback);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.ErrorName(), GetParam().error) << r.ErrorMessage();
  EXPECT_EQ(CartCount(kAlice), carts);
  // Whoever called it, the workflow is still there for the honest callback.
}

json::object& Response(json::object& callback, std::size_t i) {
  return callback["workflow"].as_object()["responses"].as_array()[i].as_object();
}

INSTANTIATE_TEST_SUITE_P(
    Forged, CallbackTamperTest,
    ::testing::Values(
        Tamper{"uri_in_another_repo",
               [](json::object& c) {
                 auto& result = Response(c, 0)["result"].as_object();
                 std::string uri(result["uri"].as_string());
                 result["uri"] = "at://" + std::string(kBob) + uri.substr(uri.find("/com."));
               },
               "WorkflowMismatch"},
        Tamper{"wrong_collection",
               [](json::object& c) {
                 auto& result = Response(c, 0)["result"].as_object();
                 std::string uri(result["uri"].as_string());
                 result["uri"] = "at://" + std::string(kAlice) + "/app.bsky.feed.post" +
                                 uri.substr(uri.rfind('/'));
               },
               "WorkflowMismatch"},
        Tamper{"modified_record_cid",
               [](json::object& c) {
                 Response(c, 1)["result"].as_object()["cid"] =
                     lex::ComputeRecordCid(json::object{{"$type", "com.atiproto.item"}});
               },
               "WorkflowMismatch"},
        Tamper{"unknown_name", [](json::object& c) { Response(c, 0)["name"] = "x/item-9"; },
               "WorkflowMismatch"},
        Tamper{"other_input", [](json::object& c) { c["redirectUrl"] = "https://evil.example"; },
               "WorkflowMismatch"},
        Tamper{"unknown_intent",
               [](json::object& c) { c["workflow"].as_object()["intent"] = "cart.clone:zzzz:1"; },
               "WorkflowNotFound"}),
    [](const auto& info) { return std::string(info.param.what); });

TEST_F(CartFlowTest, FailedWriteRollsBackWithCompensatingDeletesThenRaises) {
  std::string cart = CompletedCart(kAlice);
  const std::size_t records = repo_.size();
  const std::size_t carts = CartCount(kAlice);
  repo_.FailWritesMatching([](const agent::RepoWrite& w) { return w.collection == "com.atiproto.cart"; },
                           agent::WriteResult::Failure(400, "InvalidSwap", "Commit was at bafy"));
  RunResult r = Run(kAlice, kClone, {{"uri", cart}});
  repo_.ClearFaults();
  ASSERT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(r.code, "RolledBack");
  EXPECT_NE(r.message.find("Commit was at bafy"), std::string::npos) << r.message;
  int deletes = 0;
  for (const auto& w : r.writes) deletes += w.op == agent::WriteOp::kDelete;
  EXPECT_EQ(deletes, 3) << "the two items and the subscription that were written";
  EXPECT_EQ(repo_.size(), records) << "the repo is as before";
  EXPECT_EQ(CartCount(kAlice), carts) << "and so is the store";
}

TEST_F(CartFlowTest, TooManyRoundsIsRefusedUpFront) {
  std::string cart = CompletedCart(kAlice);
  Stop();
  options_.workflow.max_writes_per_round = 1;
  options_.workflow.max_rounds = 3;
  Boot();
  // Four writes at one per round need four rounds.
  RunResult r = Run(kAlice, kClone, {{"uri", cart}});
  EXPECT_EQ(r.error, "WorkflowTooLarge") << r.Describe();
  Stop();
  options_.workflow.max_rounds = 4;
  Boot();
  RunResult ok = Run(kAlice, kClone, {{"uri", cart}});
  EXPECT_TRUE(ok.ok()) << ok.Describe();
  EXPECT_EQ(ok.rounds, 5);
}

// The agent makes at most 10 calls (maxWorkflowSteps): the first, then a callback after each
// batch of writes. A plan of 10 rounds would have it write every record and stop before the last
// callback, leaving them all in the repo and none stored. The largest plan taken must finish.
TEST_F(CartFlowTest, TheLargestPlanTakenFinishesWithinTheAgentsCap) {
  Stop();
  options_.workflow.max_writes_per_round = 1;
  Boot();
  const int max_rounds = workflow::Options{}.max_rounds;
  // max_rounds - 1 lines: the clone is max_rounds writes, one a round.
  std::string cart(NewItem(kAlice, 100).at("cartUri").as_string());
  for (int i = 1; i < max_rounds - 1; ++i) NewItem(kAlice, 100, cart);
  Pay(cart, PaymentOutcome::kCompleted);
  const std::size_t carts = CartCount(kAlice);
  RunResult r = Run(kAlice, kClone, {{"uri", cart}});  // the agent's default cap, 10
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(CartCount(kAlice), carts + 1);
  ExpectStoreMatchesRepo(std::string(r.output.at("cartUri").as_string()));
}

TEST_F(CartFlowTest, ConcurrentClonesOfOneCartAllSucceedWithDistinctRecords) {
  std::string cart = CompletedCart(kAlice);
  const std::size_t before = CartCount(kAlice);
  constexpr int kClones = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> uris(kClones);
  for (int i = 0; i < kClones; ++i) {
    threads.emplace_back([&, i] {
      RunResult r = Run(kAlice, kClone, {{"uri", cart}});
      if (r.ok()) uris[i] = std::string(r.output.at("cartUri").as_string());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(uris.begin(), uris.end());
  distinct.erase("");
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kClones));
  EXPECT_EQ(CartCount(kAlice), before + kClones);
  for (const auto& uri : distinct) {
    auto row = store_->GetRecord(uri);
    ASSERT_TRUE(row);
    for (const auto& line : CartLineUris(*row)) {
      auto line_row = store_->GetRecord(line);
      ASSERT_TRUE(line_row) << "no cart points at a line we do not have";
      EXPECT_EQ(line_row->cart_uri, uri);
    }
  }
}

TEST_F(CartFlowTest, PutReplacesTheLinesOfAnOpenCart) {
  json::object first = NewItem(kAlice, 500);
  std::string cart(first.at("cartUri").as_string());
  json::object second = NewItem(kAlice, 250, cart);
  json::object record = second.at("cart").as_object();
  record.erase("uri");
  record["$type"] = "com.atiproto.cart";
  record["items"].as_array().erase(record["items"].as_array().begin());
  record["total"] = 250;
  RunResult r = Run(kAlice, kCartPut, {{"uri", cart}, {"record", record}});
  json::object out = Ok(r);
  EXPECT_EQ(out.at("uri"), cart);
  EXPECT_EQ(out.at("cid"), repo_.Get(cart)->cid);
  ExpectStoreMatchesRepo(cart);
  EXPECT_EQ(store_->GetRecord(std::string(first.at("itemUri").as_string()))->cart_uri, "");

  json::object bad = record;
  bad["total"] = 1;
  EXPECT_EQ(Run(kAlice, kCartPut, {{"uri", cart}, {"record", bad}}).error, "InvalidCart");
  Pay(cart, PaymentOutcome::kCompleted);
  EXPECT_EQ(Run(kAlice, kCartPut, {{"uri", cart}, {"record", record}}).error, "CartNotOpen");
}

TEST_F(CartFlowTest, ListPagesNewestFirstWithFilters) {
  std::vector<std::string> carts;
  for (int i = 0; i < 5; ++i) carts.push_back(std::string(NewItem(kAlice, 100 + i).at("cartUri").as_string()));
  NewItem(kBob);
  Pay(carts[1], PaymentOutcome::kCompleted);
  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  do {
    json::object params{{"limit", 2}};
    if (cursor) params["cursor"] = *cursor;
    json::object page = Ok(Run(kAlice, kCartList, params, false));
    for (const auto& c : page.at("carts").as_array()) seen.push_back(std::string(c.at("uri").as_string()));
    cursor.reset();
    if (page.contains("cursor")) cursor = std::string(page.at("cursor").as_string());
  } while (cursor && seen.size() < 20);
  EXPECT_EQ(seen, std::vector<std::string>(carts.rbegin(), carts.rend()));
  json::object completed = Ok(Run(kAlice, kCartList, {{"status", "completed"}}, false));
  ASSERT_EQ(completed.at("carts").as_array().size(), 1u);
  EXPECT_EQ(completed.at("carts").at(0).at("uri"), carts[1]);
  EXPECT_EQ(completed.at("carts").at(0).at("record").at("status"), "completed");
  EXPECT_EQ(Ok(Run(kAlice, kCartList, {{"subject", kDave}}, false)).at("carts").as_array().size(), 0u);
  EXPECT_EQ(Ok(Run(kAlice, kCartList, {{"subject", kCarol}}, false)).at("carts").as_array().size(), 5u);
  EXPECT_EQ(Run(kAlice, kCartList, {{"cursor", "abc"}}, false).error, "InvalidRequest");
}

}  // namespace
}  // namespace atipay::payments
