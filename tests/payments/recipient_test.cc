// The recipient's end over HTTP: recipient.payment.* (the lines and carts that pay the caller,
// from every sender) and profiles (recipient.profile.get/put, repo.profile.get), which the
// create methods and clone respect.
#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names

constexpr char kFromItemGet[] = "com.atiproto.recipient.payment.item.get";
constexpr char kFromItemList[] = "com.atiproto.recipient.payment.item.list";
constexpr char kFromItemValidate[] = "com.atiproto.recipient.payment.item.validate";
constexpr char kFromSubscriptionGet[] = "com.atiproto.recipient.payment.subscription.get";
constexpr char kFromSubscriptionList[] = "com.atiproto.recipient.payment.subscription.list";
constexpr char kFromSubscriptionValidate[] = "com.atiproto.recipient.payment.subscription.validate";
constexpr char kFromCartGet[] = "com.atiproto.recipient.payment.cart.get";
constexpr char kFromCartList[] = "com.atiproto.recipient.payment.cart.list";
constexpr char kProfileGet[] = "com.atiproto.recipient.profile.get";
constexpr char kPublicProfile[] = "com.atiproto.repo.profile.get";
constexpr char kItemCount[] = "com.atiproto.repo.item.count";
constexpr char kSubscriptionCount[] = "com.atiproto.repo.subscription.count";

constexpr char kPost[] = "at://did:plc:carolcarolcarolcarolcaro/app.bsky.feed.post/3kabcdefghij2";
constexpr char kEve[] = "did:plc:eveeveeveeveeveeveeveeveev";

std::vector<std::string> Uris(const json::value& list, std::string_view key = "uri") {
  std::vector<std::string> uris;
  for (const auto& v : list.as_array()) uris.emplace_back(v.at(key).as_string());
  return uris;
}

class RecipientFlowTest : public PaymentFlowTest {
 protected:
  json::object Item(std::string_view from, std::string_view to, std::int64_t amount,
                    json::object extra = {}) {
    json::object in{{"subject", to}, {"amount", amount}, {"currency", "USD"}};
    for (const auto& [k, v] : extra) in[k] = v;
    return Ok(Run(from, kItemCreate, in));
  }
  json::object Subscription(std::string_view from, std::string_view to, json::object extra = {}) {
    json::object in{{"subject", to}, {"amount", 400}, {"currency", "USD"}, {"interval", "monthly"}};
    for (const auto& [k, v] : extra) in[k] = v;
    return Ok(Run(from, kSubscriptionCreate, in));
  }
  json::object Query(std::string_view did, std::string_view nsid, json::object params = {}) {
    return Ok(Run(did, nsid, std::move(params), false));
  }
  // A query without a token.
  agent::XrpcResult Anonymous(std::string_view nsid, json::object params) {
    agent::HttpCallerOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    HttpXrpcCaller anonymous(o);
    return anonymous.Call(nsid, false, params);
  }
};

TEST_F(RecipientFlowTest, ARecipientSeesEveryLineThatPaysThemAndNoOther) {
  json::object alice_tip = Item(kAlice, kCarol, 100, {{"recordUri", kPost}});
  const std::string alice_cart(alice_tip.at("cartUri").as_string());
  json::object to_dave = Item(kAlice, kDave, 300, {{"cartUri", alice_cart}});
  json::object bob_tip = Item(kBob, kCarol, 200, {{"isPrivate", true}});
  Subscription(kAlice, kCarol, {{"cartUri", alice_cart}});  // not an item: not listed
  const std::string alice_uri(alice_tip.at("itemUri").as_string());
  const std::string bob_uri(bob_tip.at("itemUri").as_string());

  EXPECT_EQ(Uris(Query(kCarol, kFromItemList).at("items")),
            (std::vector<std::string>{bob_uri, alice_uri}));
  EXPECT_EQ(Uris(Query(kCarol, kFromItemList, {{"sender", kBob}}).at("items")),
            std::vector<std::string>{bob_uri});
  EXPECT_EQ(Uris(Query(kCarol, kFromItemList, {{"recordUri", kPost}}).at("items")),
            std::vector<std::string>{alice_uri});
  EXPECT_EQ(Uris(Query(kDave, kFromItemList).at("items")),
            std::vector<std::string>{std::string(to_dave.at("itemUri").as_string())});
  EXPECT_TRUE(Query(kEve, kFromItemList).at("items").as_array().empty());

  // A private item: the recipient sees it (its subject is them), with the message.
  json::object bob_view = Query(kCarol, kFromItemGet, {{"uri", bob_uri}}).at("item").as_object();
  EXPECT_EQ(bob_view.at("subject"), kCarol);
  EXPECT_EQ(bob_view.at("amount"), 200);
  EXPECT_EQ(Query(kCarol, kFromItemGet, {{"sender", kAlice}}).at("item").at("uri"), alice_uri);
  EXPECT_EQ(Query(kCarol, kFromItemGet, {{"recordUri", kPost}}).at("item").at("uri"), alice_uri);
}

TEST_F(RecipientFlowTest, RecipientGetsRefuseWhatDoesNotPayThem) {
  json::object tip = Item(kAlice, kCarol, 100);
  const std::string uri(tip.at("itemUri").as_string());
  EXPECT_EQ(Run(kDave, kFromItemGet, {{"uri", uri}}, false).error, "ItemNotFound");
  EXPECT_EQ(Run(kCarol, kFromItemGet, {{"sender", kBob}}, false).error, "ItemNotFound");
  EXPECT_EQ(Run(kCarol, kFromItemGet, {{"uri", tip.at("cartUri")}}, false).error, "InvalidItemUri");
  EXPECT_EQ(Run(kCarol, kFromItemGet, {}, false).error, "InvalidRequest");
  EXPECT_EQ(Run(kCarol, kFromSubscriptionGet, {{"sender", kAlice}}, false).error,
            "SubscriptionNotFound");
}

TEST_F(RecipientFlowTest, RecipientSubscriptionsListGetAndValidate) {
  json::object from_alice = Subscription(kAlice, kCarol);
  json::object from_bob = Subscription(kBob, kCarol);
  Subscription(kAlice, kDave);
  const std::string alice_sub(from_alice.at("subscriptionUri").as_string());
  const std::string bob_sub(from_bob.at("subscriptionUri").as_string());
  EXPECT_EQ(Uris(Query(kCarol, kFromSubscriptionList).at("subscriptions")),
            (std::vector<std::string>{bob_sub, alice_sub}));
  EXPECT_EQ(Query(kCarol, kFromSubscriptionGet, {{"sender", kAlice}}).at("subscription").at("uri"),
            alice_sub);
  EXPECT_EQ(Query(kCarol, kFromSubscriptionValidate, {{"sender", kAlice}}).at("valid"), false);
  Pay(std::string(from_alice.at("cartUri").as_string()), PaymentOutcome::kCompleted);
  json::object valid = Query(kCarol, kFromSubscriptionValidate, {{"sender", kAlice}, {"amount", 400}});
  EXPECT_EQ(valid.at("valid"), true);
  EXPECT_EQ(valid.at("amount"), 400);
  EXPECT_EQ(Query(kCarol, kFromSubscriptionValidate, {{"subscriptionUri", alice_sub}}).at("valid"), true);
  EXPECT_EQ(Query(kCarol, kFromSubscriptionValidate, {{"sender", kBob}}).at("valid"), false);
  EXPECT_EQ(Query(kDave, kFromSubscriptionValidate, {{"subscriptionUri", alice_sub}}).at("valid"),
            false)
      << "Alice's subscription to Carol proves nothing to Dave";
}

TEST_F(RecipientFlowTest, RecipientValidatesCompletedItemsBySenderRecordOrItem) {
  json::object tip = Item(kAlice, kCarol, 100, {{"recordUri", kPost}});
  Item(kAlice, kCarol, 50, {{"cartUri", tip.at("cartUri")}});
  json::object bob_tip = Item(kBob, kCarol, 70, {{"recordUri", kPost}});
  auto valid = [&](json::object params) { return Query(kCarol, kFromItemValidate, std::move(params)); };
  EXPECT_EQ(valid({{"sender", kAlice}}).at("valid"), false);

  Pay(std::string(tip.at("cartUri").as_string()), PaymentOutcome::kCompleted);
  json::object by_sender = valid({{"sender", kAlice}});
  EXPECT_EQ(by_sender.at("valid"), true);
  EXPECT_EQ(by_sender.at("amount"), 150);
  // By record: every sender's completed tips of it (Bob's is unpaid).
  EXPECT_EQ(valid({{"recordUri", kPost}}).at("amount"), 100);
  Pay(std::string(bob_tip.at("cartUri").as_string()), PaymentOutcome::kCompleted);
  EXPECT_EQ(valid({{"recordUri", kPost}}).at("amount"), 170);
  EXPECT_EQ(valid({{"recordUri", kPost}, {"amount", 171}}).at("valid"), false);
  EXPECT_EQ(valid({{"itemUri", tip.at("itemUri")}}).at("valid"), true);
  EXPECT_EQ(Query(kDave, kFromItemValidate, {{"itemUri", tip.at("itemUri")}}).at("valid"), false);
  EXPECT_EQ(Query(kDave, kFromItemValidate, {{"sender", kAlice}}).at("valid"), false);
}

TEST_F(RecipientFlowTest, RecipientCartsShowOnlyTheRecipientsLines) {
  json::object tip = Item(kAlice, kCarol, 100);
  const std::string alice_cart(tip.at("cartUri").as_string());
  json::object to_dave = Item(kAlice, kDave, 300, {{"cartUri", alice_cart}});
  json::object bob = Item(kBob, kCarol, 200);
  const std::string bob_cart(bob.at("cartUri").as_string());
  Item(kBob, kDave, 1);  // a cart of Bob's that does not pay Carol

  json::object got = Query(kCarol, kFromCartGet, {{"uri", alice_cart}});
  EXPECT_EQ(got.at("uri"), alice_cart);
  EXPECT_EQ(got.at("cid"), store_->GetRecord(alice_cart)->cid);
  EXPECT_EQ(got.at("cart").at("total"), 400) << "the cart as it is, other lines counted";
  EXPECT_EQ(Uris(got.at("items")), std::vector<std::string>{std::string(tip.at("itemUri").as_string())});
  EXPECT_TRUE(got.at("subscriptions").as_array().empty());
  EXPECT_EQ(Query(kCarol, kFromCartGet, {{"itemUri", tip.at("itemUri")}}).at("uri"), alice_cart);
  EXPECT_EQ(Query(kDave, kFromCartGet, {{"uri", alice_cart}}).at("items").as_array().size(), 1u);
  EXPECT_EQ(Run(kEve, kFromCartGet, {{"uri", alice_cart}}, false).error, "CartNotFound");
  EXPECT_EQ(Run(kCarol, kFromCartGet, {{"itemUri", to_dave.at("itemUri")}}, false).error,
            "CartNotFound");

  EXPECT_EQ(Uris(Query(kCarol, kFromCartList).at("carts")),
            (std::vector<std::string>{bob_cart, alice_cart}));
  EXPECT_EQ(Uris(Query(kCarol, kFromCartList, {{"sender", kAlice}}).at("carts")),
            std::vector<std::string>{alice_cart});
  Pay(alice_cart, PaymentOutcome::kCompleted);
  json::object completed = Query(kCarol, kFromCartList, {{"status", "completed"}});
  EXPECT_EQ(Uris(completed.at("carts")), std::vector<std::string>{alice_cart});
  EXPECT_EQ(completed.at("carts").at(0).at("record").at("status"), "completed");
  EXPECT_EQ(Query(kDave, kFromCartList).at("carts").as_array().size(), 2u);
}

// Every page of a recipient's carts, followed to the end.
std::vector<std::string> AllPages(const std::function<json::object(json::object)>& query,
                                  json::object params, int* pages = nullptr) {
  std::vector<std::string> uris;
  for (int page = 1;; ++page) {
    json::object got = query(params);
    for (std::string& uri : Uris(got.at("carts"))) uris.push_back(std::move(uri));
    if (pages) *pages = page;
    if (!got.contains("cursor")) return uris;
    params["cursor"] = got.at("cursor");
    if (page > 100) {
      ADD_FAILURE() << "cursor never ends";
      return uris;
    }
  }
}

TEST_F(RecipientFlowTest, RecipientCartPagesListEachCartOnceByItsNewestLineToThem) {
  // Carts in the order made; c[2] pays Carol twice, c[4] pays Dave only.
  std::vector<std::string> c;
  auto cart_of = [](const json::object& made) { return std::string(made.at("cartUri").as_string()); };
  c.push_back(cart_of(Item(kAlice, kCarol, 1)));
  c.push_back(cart_of(Item(kBob, kCarol, 2)));
  c.push_back(cart_of(Item(kAlice, kCarol, 3)));
  Item(kAlice, kCarol, 4, {{"cartUri", c[2]}});
  c.push_back(cart_of(Subscription(kBob, kCarol)));
  c.push_back(cart_of(Item(kAlice, kDave, 5)));
  c.push_back(cart_of(Item(kBob, kCarol, 6)));
  Item(kBob, kDave, 7, {{"cartUri", c[5]}});
  auto carol = [&](json::object params) { return Query(kCarol, kFromCartList, std::move(params)); };

  const std::vector<std::string> newest_first{c[5], c[3], c[2], c[1], c[0]};
  EXPECT_EQ(Uris(carol({}).at("carts")), newest_first);
  EXPECT_FALSE(carol({}).contains("cursor"));
  for (int limit : {1, 2, 3}) {
    int pages = 0;
    EXPECT_EQ(AllPages(carol, {{"limit", limit}}, &pages), newest_first) << "limit " << limit;
    EXPECT_EQ(pages, (5 + limit - 1) / limit + (5 % limit == 0 ? 1 : 0)) << "limit " << limit;
  }
  EXPECT_EQ(AllPages(carol, {{"limit", 1}, {"sender", kAlice}}), (std::vector<std::string>{c[2], c[0]}));

  // A new line to Carol in an old cart brings it to the top, and it is still listed once.
  Item(kAlice, kCarol, 8, {{"cartUri", c[0]}});
  const std::vector<std::string> now_first{c[0], c[5], c[3], c[2], c[1]};
  EXPECT_EQ(AllPages(carol, {{"limit", 2}}), now_first);

  // The status filter may leave pages short, never a cart out or in twice.
  Pay(c[2], PaymentOutcome::kCompleted);
  Pay(c[1], PaymentOutcome::kCompleted);
  EXPECT_EQ(AllPages(carol, {{"limit", 1}, {"status", "completed"}}),
            (std::vector<std::string>{c[2], c[1]}));
  EXPECT_EQ(AllPages(carol, {{"limit", 2}, {"status", "open"}}),
            (std::vector<std::string>{c[0], c[5], c[3]}));
  EXPECT_TRUE(carol({{"sender", kDave}}).at("carts").as_array().empty());
  EXPECT_EQ(Run(kCarol, kFromCartList, {{"cursor", "x"}}, false).error, "InvalidRequest");
}

TEST_F(RecipientFlowTest, AProfileIsCreatedThenUpdatedAndTheCreateMethodsRespectIt) {
  const std::string profile_uri = "at://" + std::string(kCarol) + "/com.atiproto.profile/self";
  json::object none = Query(kCarol, kProfileGet);
  EXPECT_EQ(none.at("hasProfile"), false);
  EXPECT_EQ(none.at("readyForPayment"), true);
  EXPECT_FALSE(none.contains("uri"));
  EXPECT_EQ(none.at("profile").at("uri"), profile_uri);
  EXPECT_EQ(none.at("profile").at("acceptsItems"), true);

  RunResult made = Run(kCarol, kProfilePut, {{"acceptsItems", false}});
  json::object created = Ok(made);
  ASSERT_EQ(made.writes.size(), 1u);
  EXPECT_EQ(created.at("uri"), profile_uri);
  EXPECT_EQ(created.at("cid"), repo_.Get(profile_uri)->cid);
  EXPECT_EQ(created.at("hasProfile"), true);
  EXPECT_EQ(created.at("readyForPayment"), true) << "subscriptions are still taken";
  EXPECT_EQ(repo_.Get(profile_uri)->value.at("acceptsItems"), false);
  EXPECT_FALSE(repo_.Get(profile_uri)->value.contains("acceptsSubscriptions"));
  ExpectStoreMatchesRepo(profile_uri);

  EXPECT_EQ(Run(kAlice, kItemCreate, {{"subject", kCarol}, {"amount", 1}, {"currency", "USD"}}).error,
            "RecipientNotAccepting");
  json::object sub = Subscription(kAlice, kCarol);
  EXPECT_EQ(sub.at("subscription").at("subject"), kCarol);
  Item(kAlice, kDave, 1);  // others are unaffected

  // Anyone may look, with or without a token.
  EXPECT_EQ(Query(kBob, kPublicProfile, {{"did", kCarol}}).at("profile").at("acceptsItems"), false);
  agent::XrpcResult pub = Anonymous(kPublicProfile, {{"did", kCarol}});
  ASSERT_EQ(pub.status, 200) << pub.ErrorName();
  EXPECT_EQ(pub.body.at("profile").at("acceptsItems"), false);
  EXPECT_EQ(pub.body.at("did"), kCarol);

  // An update keeps createdAt and what was not given, and stops a clone paying Carol again.
  std::string created_at(repo_.Get(profile_uri)->value.at("createdAt").as_string());
  now_ += 1000000;
  RunResult changed = Run(kCarol, kProfilePut, {{"acceptsItems", true}, {"acceptsSubscriptions", false}});
  json::object updated = Ok(changed);
  EXPECT_EQ(updated.at("cid"), repo_.Get(profile_uri)->cid);
  EXPECT_EQ(repo_.Get(profile_uri)->value.at("createdAt"), created_at);
  EXPECT_EQ(repo_.Get(profile_uri)->value.at("updatedAt"), FormatDatetime(now_.load()));
  ExpectStoreMatchesRepo(profile_uri);
  const std::string cart(sub.at("cartUri").as_string());
  Pay(cart, PaymentOutcome::kCompleted);
  EXPECT_EQ(Run(kAlice, kClone, {{"uri", cart}}).error, "RecipientNotAccepting");

  json::object closed = Ok(Run(kCarol, kProfilePut, {{"acceptsItems", false}}));
  EXPECT_EQ(closed.at("readyForPayment"), false);
  EXPECT_EQ(Query(kCarol, kProfileGet).at("profile").at("acceptsSubscriptions"), false);
}

// Whoever turns items (subscriptions) away is not paid by a line's put either: naming them
// as the new subject is what a create to them would be.
TEST_F(RecipientFlowTest, APutCannotMoveALineToSomeoneWhoTurnsItsKindAway) {
  Ok(Run(kCarol, kProfilePut, {{"acceptsItems", false}, {"acceptsSubscriptions", false}}));
  json::object tip = Item(kAlice, kDave, 100);
  json::object record = tip.at("item").as_object();
  record.erase("uri");
  record["$type"] = "com.atiproto.item";
  record["subject"] = kCarol;
  json::object put{{"uri", tip.at("itemUri")}, {"record", record}};
  EXPECT_EQ(Run(kAlice, "com.atiproto.payment.item.put", put).error, "RecipientNotAccepting");
  json::object sub = Subscription(kAlice, kDave);
  record = sub.at("subscription").as_object();
  record.erase("uri");
  record["$type"] = "com.atiproto.subscription";
  record["subject"] = kCarol;
  put = {{"uri", sub.at("subscriptionUri")}, {"record", record}};
  EXPECT_EQ(Run(kAlice, "com.atiproto.payment.subscription.put", put).error,
            "RecipientNotAccepting");
  EXPECT_EQ(store_->GetRecord(std::string(tip.at("itemUri").as_string()))->subject, kDave);
  // Another recipient, or the same one, is still fine.
  put["record"].as_object()["subject"] = kEve;
  Ok(Run(kAlice, "com.atiproto.payment.subscription.put", put));
}

TEST_F(RecipientFlowTest, CountsArePublicAndSumsAreShownOnlyToWhomTheyAreAbout) {
  json::object alice = Item(kAlice, kCarol, 100, {{"recordUri", kPost}});
  Item(kAlice, kDave, 300, {{"cartUri", alice.at("cartUri")}});
  json::object bob = Item(kBob, kCarol, 200, {{"recordUri", kPost}, {"isPrivate", true}});
  Item(kBob, kCarol, 999);  // never paid
  Pay(std::string(alice.at("cartUri").as_string()), PaymentOutcome::kCompleted);
  const std::int64_t first_paid = now_.load();
  now_ += 60'000'000;
  Pay(std::string(bob.at("cartUri").as_string()), PaymentOutcome::kCompleted);

  agent::XrpcResult pub = Anonymous(kItemCount, {{"recordUri", kPost}});
  ASSERT_EQ(pub.status, 200) << pub.ErrorName() << ": " << pub.ErrorMessage();
  EXPECT_EQ(pub.body.at("count"), 2);
  EXPECT_FALSE(pub.body.as_object().contains("amount"));
  json::object owner = Query(kCarol, kItemCount, {{"recordUri", kPost}});
  EXPECT_EQ(owner.at("count"), 2);
  EXPECT_EQ(owner.at("amount"), 300);
  EXPECT_EQ(owner.at("currency"), "USD");
  EXPECT_FALSE(Query(kBob, kItemCount, {{"subject", kCarol}}).contains("amount"));
  EXPECT_EQ(Query(kBob, kItemCount, {{"subject", kCarol}}).at("count"), 2);
  EXPECT_EQ(Query(kCarol, kItemCount, {{"subject", kCarol}}).at("amount"), 300);
  json::object sent = Query(kAlice, kItemCount);
  EXPECT_EQ(sent.at("count"), 2);
  EXPECT_EQ(sent.at("amount"), 400);
  EXPECT_EQ(Anonymous(kItemCount, {}).ErrorName(), "InvalidRequest");

  // Windows on completedAt, bounds inclusive.
  EXPECT_EQ(Query(kCarol, kItemCount, {{"subject", kCarol}, {"startDate", FormatDatetime(first_paid + 1000)}})
                .at("amount"),
            200);
  EXPECT_EQ(Query(kCarol, kItemCount, {{"subject", kCarol}, {"endDate", FormatDatetime(first_paid)}})
                .at("amount"),
            100);

  json::object sub = Subscription(kAlice, kCarol);
  Subscription(kBob, kCarol);  // pending: not counted
  EXPECT_EQ(Query(kCarol, kSubscriptionCount, {{"subject", kCarol}}).at("count"), 0);
  Pay(std::string(sub.at("cartUri").as_string()), PaymentOutcome::kCompleted);
  json::object subs = Query(kCarol, kSubscriptionCount, {{"subject", kCarol}});
  EXPECT_EQ(subs.at("count"), 1);
  EXPECT_EQ(subs.at("amount"), 400);
  EXPECT_FALSE(Anonymous(kSubscriptionCount, {{"subject", kCarol}}).body.as_object().contains("amount"));
  EXPECT_EQ(Query(kAlice, kSubscriptionCount).at("count"), 1);
  const std::string start(sub.at("subscription").at("billingStartDate").as_string());
  EXPECT_EQ(Query(kCarol, kSubscriptionCount, {{"subject", kCarol}, {"endDate", start}}).at("count"), 1);
  EXPECT_EQ(Query(kCarol, kSubscriptionCount, {{"subject", kCarol}, {"startDate", FormatDatetime(now_.load() + 1000)}})
                .at("count"),
            0);
}

}  // namespace
}  // namespace atipay::payments
