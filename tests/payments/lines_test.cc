// Items and subscriptions on their own over HTTP: get, list, validate, put, cancel and
// payment.list; plus the billing-date arithmetic behind renewalDate and accessUntil.
#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names
using LinesTest = PaymentFlowTest;

constexpr char kItemGet[] = "com.atiproto.payment.item.get";
constexpr char kItemList[] = "com.atiproto.payment.item.list";
constexpr char kItemPut[] = "com.atiproto.payment.item.put";
constexpr char kItemValidate[] = "com.atiproto.payment.item.validate";
constexpr char kSubscriptionGet[] = "com.atiproto.payment.subscription.get";
constexpr char kSubscriptionList[] = "com.atiproto.payment.subscription.list";
constexpr char kSubscriptionPut[] = "com.atiproto.payment.subscription.put";
constexpr char kSubscriptionCancel[] = "com.atiproto.payment.subscription.cancel";
constexpr char kSubscriptionValidate[] = "com.atiproto.payment.subscription.validate";
constexpr char kPaymentList[] = "com.atiproto.payment.list";

constexpr char kPost[] = "at://did:plc:carolcarolcarolcarolcaro/app.bsky.feed.post/3kabcdefghij2";
constexpr std::int64_t kDayUs = 86400LL * 1000000;

std::int64_t At(std::string_view datetime) {
  auto us = ParseDatetime(datetime);
  EXPECT_TRUE(us) << datetime;
  return us.value_or(0);
}

TEST(BillingDates, ParseDatetimeReadsRfc3339WithOffsetsAndFractions) {
  EXPECT_EQ(ParseDatetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDatetime("1970-01-01T00:00:01.5Z"), 1'500'000);
  EXPECT_EQ(ParseDatetime("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(ParseDatetime("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_EQ(FormatDatetime(At("2026-11-22T10:20:30.123Z")), "2026-11-22T10:20:30.123Z");
  for (const char* bad : {"", "2026-11-22", "2026-11-22T10:20:30", "2026-02-30T00:00:00Z",
                          "2026-11-22T24:00:00Z", "2026-11-22T10:20:30.Z",
                          "2026-11-22T10:20:30Zjunk"}) {
    EXPECT_FALSE(ParseDatetime(bad)) << bad;
  }
}

TEST(BillingDates, NextBillingDateAddsCalendarIntervalsAndClampsTheDay) {
  const std::int64_t start = At("2026-01-31T10:00:00.000Z");
  auto next = [&](std::string_view interval, std::string_view now) {
    return FormatDatetime(NextBillingDate(start, interval, At(now)));
  };
  EXPECT_EQ(next("monthly", "2026-01-31T10:00:00.000Z"), "2026-02-28T10:00:00.000Z");
  EXPECT_EQ(next("monthly", "2026-02-28T09:59:59.999Z"), "2026-02-28T10:00:00.000Z");
  EXPECT_EQ(next("monthly", "2026-02-28T10:00:00.000Z"), "2026-03-31T10:00:00.000Z");
  EXPECT_EQ(next("monthly", "2027-04-15T00:00:00.000Z"), "2027-04-30T10:00:00.000Z");
  EXPECT_EQ(next("yearly", "2026-06-01T00:00:00.000Z"), "2027-01-31T10:00:00.000Z");
  EXPECT_EQ(next("monthly", "2025-12-01T00:00:00.000Z"), "2026-01-31T10:00:00.000Z")
      << "before the start, the start is the first billing date";
  const std::int64_t leap = At("2024-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatDatetime(NextBillingDate(leap, "yearly", At("2024-03-01T00:00:00.000Z"))),
            "2025-02-28T00:00:00.000Z");
  EXPECT_EQ(FormatDatetime(NextBillingDate(leap, "yearly", At("2027-03-01T00:00:00.000Z"))),
            "2028-02-29T00:00:00.000Z");
}

// A record as the caller would put it back: the view without uri (and renewalDate), with $type.
json::object RecordOf(json::object view, std::string_view type) {
  view.erase("uri");
  view.erase("renewalDate");
  view["$type"] = type;
  return view;
}

std::vector<std::string> Uris(const json::value& list) {
  std::vector<std::string> uris;
  for (const auto& v : list.as_array()) uris.emplace_back(v.at("uri").as_string());
  return uris;
}

TEST_F(LinesTest, ItemGetFindsTheCallersItemByUriSubjectOrRecordUri) {
  json::object tip = Ok(Run(kAlice, kItemCreate,
                            {{"subject", kCarol}, {"recordUri", kPost}, {"amount", 100},
                             {"currency", "USD"}}));
  json::object newer = NewItem(kAlice, 200);  // to Carol, no recordUri
  json::object to_dave = Ok(Run(kAlice, kItemCreate,
                                {{"subject", kDave}, {"amount", 300}, {"currency", "USD"}}));
  const std::string tip_uri(tip.at("itemUri").as_string());

  auto get = [&](std::string_view did, json::object params) {
    return Run(did, kItemGet, std::move(params), false);
  };
  EXPECT_EQ(Ok(get(kAlice, {{"uri", tip_uri}})).at("item"), tip.at("item"));
  EXPECT_EQ(Ok(get(kAlice, {{"subject", kCarol}})).at("item").at("uri"), newer.at("itemUri"));
  EXPECT_EQ(Ok(get(kAlice, {{"subject", kDave}})).at("item").at("uri"), to_dave.at("itemUri"));
  EXPECT_EQ(Ok(get(kAlice, {{"recordUri", kPost}})).at("item").at("uri"), tip_uri);
  // uri wins over subject, subject over recordUri.
  EXPECT_EQ(Ok(get(kAlice, {{"uri", tip_uri}, {"subject", kDave}})).at("item").at("uri"), tip_uri);
  EXPECT_EQ(Ok(get(kAlice, {{"subject", kDave}, {"recordUri", kPost}})).at("item").at("uri"),
            to_dave.at("itemUri"));

  EXPECT_EQ(get(kBob, {{"uri", tip_uri}}).error, "NotItemOwner");
  EXPECT_EQ(get(kBob, {{"subject", kCarol}}).error, "ItemNotFound");
  EXPECT_EQ(get(kAlice, {{"uri", tip_uri + "x"}}).error, "ItemNotFound");
  EXPECT_EQ(get(kAlice, {{"uri", tip.at("cartUri")}}).error, "InvalidItemUri");
  EXPECT_EQ(get(kAlice, {}).error, "InvalidRequest");
}

TEST_F(LinesTest, APrivateItemIsFoundByItsHiddenRecordUriAndShownOnlyToItsOwner) {
  json::object tip = Ok(Run(kAlice, kItemCreate,
                            {{"subject", kCarol}, {"recordUri", kPost}, {"amount", 100},
                             {"currency", "USD"}, {"isPrivate", true}}));
  const std::string uri(tip.at("itemUri").as_string());
  EXPECT_FALSE(repo_.Get(uri)->value.contains("recordUri"));
  json::object view = Ok(Run(kAlice, kItemGet, {{"recordUri", kPost}}, false)).at("item").as_object();
  EXPECT_EQ(view.at("uri"), uri);
  EXPECT_EQ(view.at("recordUri"), kPost);
  EXPECT_EQ(view.at("subject"), kCarol);
  json::object listed = Ok(Run(kAlice, kItemList, {{"recordUri", kPost}}, false));
  EXPECT_EQ(Uris(listed.at("items")), std::vector<std::string>{uri});
}

TEST_F(LinesTest, ListsPageNewestFirstAndPaymentListInterleavesBothKinds) {
  std::vector<std::string> all;  // oldest first, as created
  json::object first = NewItem(kAlice, 100);
  const std::string cart(first.at("cartUri").as_string());
  all.emplace_back(first.at("itemUri").as_string());
  all.emplace_back(NewSubscription(kAlice, cart).at("subscriptionUri").as_string());
  all.emplace_back(Ok(Run(kAlice, kItemCreate, {{"subject", kDave}, {"recordUri", kPost},
                                               {"amount", 1}, {"currency", "USD"},
                                               {"cartUri", cart}}))
                       .at("itemUri")
                       .as_string());
  all.emplace_back(NewSubscription(kAlice, cart).at("subscriptionUri").as_string());
  all.emplace_back(NewItem(kAlice, 300, cart).at("itemUri").as_string());
  NewItem(kBob, 999);
  NewSubscription(kBob, std::string(NewItem(kBob, 1).at("cartUri").as_string()));

  // Every page of a list, following cursors; views and $types checked along the way.
  auto walk = [&](std::string_view nsid, std::string_view field, json::object params) {
    std::vector<std::string> seen;
    std::optional<std::string> cursor;
    for (int pages = 0; pages < 10; ++pages) {
      json::object p = params;
      p["limit"] = 2;
      if (cursor) p["cursor"] = *cursor;
      json::object page = Ok(Run(kAlice, nsid, p, false));
      for (const auto& v : page.at(field).as_array()) {
        seen.emplace_back(v.at("uri").as_string());
        auto row = store_->GetRecord(seen.back());
        EXPECT_TRUE(row && row->did == kAlice) << seen.back();
        if (nsid == kPaymentList && row) {
          EXPECT_EQ(v.at("$type"), row->collection + "#view");
        }
      }
      if (!page.contains("cursor")) break;
      cursor = std::string(page.at("cursor").as_string());
    }
    return seen;
  };
  EXPECT_EQ(walk(kPaymentList, "items", {}),
            std::vector<std::string>(all.rbegin(), all.rend()));
  EXPECT_EQ(walk(kItemList, "items", {}), (std::vector<std::string>{all[4], all[2], all[0]}));
  EXPECT_EQ(walk(kSubscriptionList, "subscriptions", {}),
            (std::vector<std::string>{all[3], all[1]}));
  EXPECT_EQ(walk(kItemList, "items", {{"subject", kCarol}}),
            (std::vector<std::string>{all[4], all[0]}));
  EXPECT_EQ(walk(kItemList, "items", {{"recordUri", kPost}}), std::vector<std::string>{all[2]});
  EXPECT_EQ(Run(kAlice, kPaymentList, {{"cursor", "-3"}}, false).error, "InvalidRequest");
  EXPECT_EQ(Run(kAlice, kItemList, {{"limit", 101}}, false).error, "InvalidRequest");
}

TEST_F(LinesTest, ItemValidateCountsCompletedItemsOnlyAndTakesAmountAsAFloor) {
  json::object tip = Ok(Run(kAlice, kItemCreate,
                            {{"subject", kCarol}, {"recordUri", kPost}, {"amount", 100},
                             {"currency", "USD"}}));
  const std::string cart(tip.at("cartUri").as_string());
  const std::string tip_uri(tip.at("itemUri").as_string());
  NewItem(kAlice, 250, cart);  // to Carol, same cart
  auto validate = [&](json::object params) {
    return Ok(Run(kAlice, kItemValidate, std::move(params), false));
  };
  json::object pending = validate({{"subject", kCarol}});
  EXPECT_EQ(pending.at("valid"), false);
  EXPECT_TRUE(pending.contains("reason"));
  EXPECT_EQ(validate({{"itemUri", tip_uri}}).at("reason"),
            "Item " + tip_uri + " is pending, not completed");

  Pay(cart, PaymentOutcome::kCompleted);
  json::object by_subject = validate({{"subject", kCarol}});
  EXPECT_EQ(by_subject.at("valid"), true);
  EXPECT_EQ(by_subject.at("amount"), 350);
  EXPECT_EQ(by_subject.at("currency"), "USD");
  EXPECT_FALSE(by_subject.contains("reason"));
  EXPECT_EQ(validate({{"recordUri", kPost}}).at("amount"), 100);
  EXPECT_EQ(validate({{"subject", kCarol}, {"amount", 350}}).at("valid"), true);
  json::object short_of = validate({{"subject", kCarol}, {"amount", 351}});
  EXPECT_EQ(short_of.at("valid"), false);
  EXPECT_EQ(short_of.at("amount"), 350);
  EXPECT_EQ(validate({{"itemUri", tip_uri}, {"amount", 100}}).at("valid"), true);
  EXPECT_EQ(validate({{"itemUri", tip_uri}, {"amount", 101}}).at("valid"), false);
  // itemUri wins over subject.
  EXPECT_EQ(validate({{"itemUri", tip_uri}, {"subject", kDave}}).at("valid"), true);
  EXPECT_EQ(validate({{"subject", kDave}}).at("valid"), false);
  // Someone else's paid item proves nothing for the caller.
  EXPECT_EQ(Ok(Run(kBob, kItemValidate, {{"itemUri", tip_uri}}, false)).at("valid"), false);
  EXPECT_EQ(Run(kAlice, kItemValidate, {}, false).error, "InvalidRequest");
}

TEST_F(LinesTest, ASubscriptionIsValidWhileActiveAndUntilThePaidPeriodEndsAfterCancel) {
  json::object first = NewItem(kAlice, 100);
  const std::string cart(first.at("cartUri").as_string());
  const std::string sub(NewSubscription(kAlice, cart).at("subscriptionUri").as_string());
  auto validate = [&](json::object params) {
    return Ok(Run(kAlice, kSubscriptionValidate, std::move(params), false));
  };
  EXPECT_EQ(validate({{"subject", kDave}}).at("valid"), false);
  EXPECT_EQ(Run(kAlice, kSubscriptionCancel, {{"subscriptionUri", sub}}).error,
            "SubscriptionNotActive");

  Pay(cart, PaymentOutcome::kCompleted);
  EXPECT_EQ(validate({{"subject", kDave}}).at("valid"), true);
  EXPECT_EQ(validate({{"subscriptionUri", sub}, {"amount", 300}}).at("amount"), 300);
  EXPECT_EQ(validate({{"subscriptionUri", sub}, {"amount", 301}}).at("valid"), false);
  json::object view = Ok(Run(kAlice, kSubscriptionGet, {{"uri", sub}}, false)).at("subscription").as_object();
  EXPECT_EQ(view.at("status"), "active");
  const std::string renewal(view.at("renewalDate").as_string());
  EXPECT_EQ(renewal, FormatDatetime(NextBillingDate(now_.load(), "monthly", now_.load())));
  EXPECT_EQ(Ok(Run(kAlice, kSubscriptionGet, {{"subject", kDave}}, false)).at("subscription"), view);

  now_ += 3 * kDayUs;
  RunResult r = Run(kAlice, kSubscriptionCancel, {{"subscriptionUri", sub}});
  json::object out = Ok(r);
  EXPECT_EQ(r.rounds, 2);
  EXPECT_EQ(out.at("subscriptionUri"), sub);
  EXPECT_EQ(out.at("accessUntil"), renewal);
  EXPECT_EQ(out.at("subscription").at("status"), "cancelled");
  EXPECT_FALSE(out.at("subscription").as_object().contains("renewalDate"));
  ExpectStoreMatchesRepo(sub);
  EXPECT_EQ(repo_.Get(sub)->value.at("cancelledAt"), FormatDatetime(now_.load()));
  EXPECT_EQ(repo_.Get(sub)->value.at("accessUntil"), renewal);
  EXPECT_EQ(Run(kAlice, kSubscriptionCancel, {{"subscriptionUri", sub}}).error,
            "SubscriptionNotActive");
  EXPECT_EQ(Run(kBob, kSubscriptionCancel, {{"subscriptionUri", sub}}).error,
            "NotSubscriptionOwner");

  EXPECT_EQ(validate({{"subject", kDave}}).at("valid"), true) << "paid until " << renewal;
  now_ = At(renewal);
  json::object over = validate({{"subject", kDave}});
  EXPECT_EQ(over.at("valid"), false);
  EXPECT_EQ(over.at("reason"), "Subscription " + sub + " is cancelled and its paid period is over");
  // ... and from then on it reads as expired, and the repo is told so on the next cart.get.
  EXPECT_EQ(Ok(Run(kAlice, kSubscriptionGet, {{"uri", sub}}, false)).at("subscription").at("status"),
            "expired");
  RunResult synced = Run(kAlice, kCartGet, {{"subscriptionUri", sub}}, false);
  EXPECT_EQ(Ok(synced).at("subscriptions").at(0).at("status"), "expired");
  EXPECT_EQ(repo_.Get(sub)->value.at("status"), "expired");
  ExpectStoreMatchesRepo(sub);
}

TEST_F(LinesTest, ASubscriptionGivesAccessHoweverManyUnpaidOnesFollowIt) {
  json::object first = NewItem(kAlice, 100);
  const std::string cart(first.at("cartUri").as_string());
  const std::string paid(NewSubscription(kAlice, cart).at("subscriptionUri").as_string());
  Pay(cart, PaymentOutcome::kCompleted);
  // Checkouts started and never finished: each leaves a pending subscription, newer than the
  // paid one.
  for (int i = 0; i < 100; ++i) {
    Ok(Run(kAlice, kSubscriptionCreate,
           {{"subject", kDave}, {"amount", 300}, {"currency", "USD"}, {"interval", "monthly"}}));
  }
  json::object verdict = Ok(Run(kAlice, kSubscriptionValidate, {{"subject", kDave}}, false));
  EXPECT_EQ(verdict.at("valid"), true) << paid << " is active: " << json::serialize(verdict);
  json::object from = Ok(Run(kDave, "com.atiproto.recipient.payment.subscription.validate",
                             {{"sender", kAlice}}, false));
  EXPECT_EQ(from.at("valid"), true) << json::serialize(from);
}

TEST_F(LinesTest, AnOperatorRecordsRenewalsLapsesAndTheEndOfASubscription) {
  json::object first = NewItem(kAlice, 100);
  const std::string cart(first.at("cartUri").as_string());
  const std::string sub(NewSubscription(kAlice, cart).at("subscriptionUri").as_string());
  auto record = [&](SubscriptionOutcome outcome) {
    std::string note;
    store::Status st = store_->WriteSync([&](store::WriteTxn& t) {
      return RecordSubscriptionOutcome(t, sub, outcome, "test", now_.load(), &note);
    });
    return st.ok() ? note : "refused: " + st.message;
  };
  auto access = [&] {
    return Ok(Run(kAlice, kSubscriptionValidate, {{"subscriptionUri", sub}}, false)).at("valid");
  };
  EXPECT_EQ(record(SubscriptionOutcome::kRenewed),
            "refused: subscription is pending; it cannot be renewed")
      << "the first payment is its cart's";
  Pay(cart, PaymentOutcome::kCompleted);

  EXPECT_EQ(record(SubscriptionOutcome::kPastDue), "subscription active -> past_due");
  EXPECT_EQ(access(), false);
  json::object view = Ok(Run(kAlice, kSubscriptionGet, {{"uri", sub}}, false)).at("subscription").as_object();
  EXPECT_EQ(view.at("status"), "past_due");
  EXPECT_FALSE(view.contains("renewalDate"));
  EXPECT_EQ(record(SubscriptionOutcome::kPastDue), "subscription already past_due; nothing changed");
  EXPECT_EQ(record(SubscriptionOutcome::kRenewed), "subscription past_due -> active");
  EXPECT_EQ(access(), true);
  EXPECT_EQ(record(SubscriptionOutcome::kRenewed), "subscription active -> active");

  EXPECT_EQ(record(SubscriptionOutcome::kExpired), "subscription active -> expired");
  EXPECT_EQ(access(), false);
  EXPECT_EQ(record(SubscriptionOutcome::kRenewed),
            "refused: subscription is expired; it cannot be renewed");
  EXPECT_EQ(Run(kAlice, kSubscriptionCancel, {{"subscriptionUri", sub}}).error,
            "SubscriptionNotActive");
  // The repo hears of it on the next cart.get.
  Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false));
  EXPECT_EQ(repo_.Get(sub)->value.at("status"), "expired");
  ExpectStoreMatchesRepo(sub);
}

TEST_F(LinesTest, ItemPutRewritesAPendingItemAndMovesItsCartsTotal) {
  json::object first = NewItem(kAlice, 500);
  const std::string cart(first.at("cartUri").as_string());
  const std::string item(first.at("itemUri").as_string());
  NewItem(kAlice, 250, cart);
  json::object record = RecordOf(first.at("item").as_object(), "com.atiproto.item");
  record["amount"] = 700;
  record["message"] = "more thanks";
  record["recordUri"] = kPost;

  RunResult r = Run(kAlice, kItemPut, {{"uri", item}, {"record", record}});
  json::object out = Ok(r);
  EXPECT_EQ(out.at("uri"), item);
  EXPECT_EQ(out.at("cid"), repo_.Get(item)->cid);
  EXPECT_EQ(r.writes.size(), 2u) << "the item, then its cart's total";
  ExpectStoreMatchesRepo(item);
  ExpectStoreMatchesRepo(cart);
  EXPECT_EQ(repo_.Get(cart)->value.at("total"), 950);
  EXPECT_EQ(store_->GetRecord(cart)->amount, 950);
  EXPECT_EQ(store_->GetRecord(item)->record_uri, kPost);
  EXPECT_EQ(Ok(Run(kAlice, kItemGet, {{"recordUri", kPost}}, false)).at("item").at("amount"), 700);

  // Same amount: the cart is left alone.
  record["message"] = "once more";
  RunResult again = Run(kAlice, kItemPut, {{"uri", item}, {"record", record}});
  EXPECT_EQ(Ok(again).at("uri"), item);
  EXPECT_EQ(again.writes.size(), 1u);
  EXPECT_EQ(repo_.Get(item)->value.at("message"), "once more");

  auto refused = [&](std::string_view did, json::object rec) {
    return Run(did, kItemPut, {{"uri", item}, {"record", std::move(rec)}}).error;
  };
  json::object bad = record;
  bad["status"] = "completed";
  EXPECT_EQ(refused(kAlice, bad), "InvalidItem");
  bad = record;
  bad["createdAt"] = "2020-01-01T00:00:00.000Z";
  EXPECT_EQ(refused(kAlice, bad), "InvalidItem");
  bad = record;
  bad["currency"] = "EUR";
  EXPECT_EQ(refused(kAlice, bad), "CurrencyMismatch");
  bad = record;
  bad["amount"] = -5;
  EXPECT_EQ(refused(kAlice, bad), "InvalidRequest");  // the lexicon's minimum 0 refuses it
  EXPECT_EQ(refused(kBob, record), "NotItemOwner");

  Pay(cart, PaymentOutcome::kCompleted);
  EXPECT_EQ(refused(kAlice, record), "ItemNotPending");
}

TEST_F(LinesTest, APendingItemInAnExpiredCartCannotBeChanged) {
  json::object first = NewItem(kAlice, 500);
  now_ += (kTtl + 1) * 1000000;
  json::object record = RecordOf(first.at("item").as_object(), "com.atiproto.item");
  RunResult r = Run(kAlice, kItemPut, {{"uri", first.at("itemUri")}, {"record", record}});
  EXPECT_EQ(r.error, "CartNotOpen");
}

TEST_F(LinesTest, APrivateItemStaysPrivateThroughPut) {
  json::object first = NewItem(kAlice, 500, std::nullopt, /*is_private=*/true);
  const std::string item(first.at("itemUri").as_string());
  json::object record = RecordOf(first.at("item").as_object(), "com.atiproto.item");
  record.erase("subject");
  record["amount"] = 600;
  EXPECT_EQ(Ok(Run(kAlice, kItemPut, {{"uri", item}, {"record", record}})).at("uri"), item);
  EXPECT_FALSE(repo_.Get(item)->value.contains("subject"));
  ExpectStoreMatchesRepo(item);
  EXPECT_EQ(store_->GetRecord(item)->subject, kCarol);
  json::object view = Ok(Run(kAlice, kItemGet, {{"uri", item}}, false)).at("item").as_object();
  EXPECT_EQ(view.at("subject"), kCarol);
  EXPECT_EQ(view.at("amount"), 600);

  json::object leak = record;
  leak["recordUri"] = kPost;
  EXPECT_EQ(Run(kAlice, kItemPut, {{"uri", item}, {"record", leak}}).error, "InvalidItem");
  // A public item cannot lose its subject.
  json::object pub = NewItem(kAlice, 100);
  json::object unnamed = RecordOf(pub.at("item").as_object(), "com.atiproto.item");
  unnamed.erase("subject");
  EXPECT_EQ(Run(kAlice, kItemPut, {{"uri", pub.at("itemUri")}, {"record", unnamed}}).error,
            "InvalidItem");
}

TEST_F(LinesTest, SubscriptionPutRewritesAPendingSubscription) {
  json::object first = NewItem(kAlice, 100);
  const std::string cart(first.at("cartUri").as_string());
  json::object created = NewSubscription(kAlice, cart);
  const std::string sub(created.at("subscriptionUri").as_string());
  json::object record = RecordOf(created.at("subscription").as_object(), "com.atiproto.subscription");
  record["interval"] = "yearly";
  record["amount"] = 3000;
  json::object out = Ok(Run(kAlice, kSubscriptionPut, {{"uri", sub}, {"record", record}}));
  EXPECT_EQ(out.at("cid"), repo_.Get(sub)->cid);
  ExpectStoreMatchesRepo(sub);
  ExpectStoreMatchesRepo(cart);
  EXPECT_EQ(repo_.Get(cart)->value.at("total"), 3100);

  json::object bad = record;
  bad["cancelledAt"] = FormatDatetime(now_.load());
  EXPECT_EQ(Run(kAlice, kSubscriptionPut, {{"uri", sub}, {"record", bad}}).error,
            "InvalidSubscription");
  EXPECT_EQ(Run(kAlice, kSubscriptionPut, {{"uri", first.at("itemUri")}, {"record", record}}).error,
            "InvalidSubscriptionUri");
  Pay(cart, PaymentOutcome::kCompleted);
  EXPECT_EQ(Run(kAlice, kSubscriptionPut, {{"uri", sub}, {"record", record}}).error,
            "SubscriptionNotPending");
}

}  // namespace
}  // namespace atipay::payments
