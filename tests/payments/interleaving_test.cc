// Calls that overlap: a workflow whose callback arrives after something else has changed what
// its plan was made against (another workflow, a payment, expiry), and a query's side effect
// racing a payment. Each test runs the other party at a fixed point (just before a callback,
// or between a read and its write), never by timing.
#include <chrono>
#include <future>

#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names

constexpr char kItemPut[] = "com.atiproto.payment.item.put";
constexpr char kItemValidate[] = "com.atiproto.payment.item.validate";
constexpr char kPost[] = "at://did:plc:carolcarolcarolcarolcaro/app.bsky.feed.post/3kabcdefghij2";

// Forwards calls; runs `before` once, just before the first callback (a call carrying
// `workflow`) reaches the server: the writes of round one are in the repo, nothing is stored.
class BeforeCallback : public agent::XrpcCaller {
 public:
  BeforeCallback(agent::XrpcCaller& inner, std::function<void()> before)
      : inner_(inner), before_(std::move(before)) {}
  agent::XrpcResult Call(std::string_view nsid, bool procedure, const json::object& in) override {
    if (in.contains("workflow") && before_) std::exchange(before_, nullptr)();
    return inner_.Call(nsid, procedure, in);
  }

 private:
  agent::XrpcCaller& inner_;
  std::function<void()> before_;
};

class InterleavingTest : public PaymentFlowTest {
 protected:
  RunResult RunWith(std::string_view did, std::string_view nsid, json::object input,
                    std::function<void()> before_callback) {
    auto caller = Caller(std::string(did));
    BeforeCallback hooked(*caller, std::move(before_callback));
    return RunMethod(hooked, repo_, nsid, true, input);
  }

  // The cart record as its owner would put it back (its view without uri, with $type).
  json::object CartRecord(const std::string& cart) {
    json::object view = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false)).at("cart").as_object();
    view.erase("uri");
    view["$type"] = "com.atiproto.cart";
    return view;
  }

  // cart.put of `cart` listing exactly `items` (item URIs), with their total.
  json::object PutInput(const std::string& cart, const std::vector<std::string>& items) {
    json::object record = CartRecord(cart);
    json::array lines;
    std::int64_t total = 0;
    for (const auto& uri : items) {
      lines.push_back(json::object{{"type", "com.atiproto.item"}, {"recordUri", uri}});
      total += store_->GetRecord(uri)->amount;
    }
    record["items"] = std::move(lines);
    record["total"] = total;
    return {{"uri", cart}, {"record", std::move(record)}};
  }

  json::object ItemPutInput(const std::string& item, std::int64_t amount) {
    auto row = store_->GetRecord(item);
    json::object record = json::parse(row->record_json).as_object();
    record["amount"] = amount;
    return {{"uri", item}, {"record", std::move(record)}};
  }

  // An item of alice's that no cart lists: made in a cart, then dropped from it.
  std::string FreeItem(std::int64_t amount) {
    json::object made = NewItem(kAlice, amount);
    const std::string cart(made.at("cartUri").as_string());
    const std::string item(made.at("itemUri").as_string());
    const std::string other(NewItem(kAlice, 1, cart).at("itemUri").as_string());
    Ok(Run(kAlice, kCartPut, PutInput(cart, {other})));
    EXPECT_EQ(store_->GetRecord(item)->cart_uri, "");
    return item;
  }

  // What a cart's lines add up to in the store, and whether each says it is in that cart.
  void ExpectCartAddsUp(const std::string& cart) {
    auto row = store_->GetRecord(cart);
    ASSERT_TRUE(row);
    std::int64_t sum = 0;
    for (const auto& uri : CartLineUris(*row)) {
      auto line = store_->GetRecord(uri);
      ASSERT_TRUE(line) << uri;
      EXPECT_EQ(line->cart_uri, cart) << uri << " is listed by " << cart;
      sum += line->amount;
    }
    EXPECT_EQ(row->amount, sum) << "the total of " << cart << " is what its lines add up to";
  }
};

// A workflow's plan is kept in the store between calls; a callback that finds it there (after
// a restart, or once the in-memory copy is gone) must store the same rows as one that finds it
// in memory. The tipped record (`recordUri`) is what item.validate and repo.item.count look up.
TEST_F(InterleavingTest, AnItemKeepsTheRecordItTipsWhenItsPlanIsReadBackFromTheStore) {
  Stop();
  options_.workflow.plan_cache_bytes = 0;  // every callback decodes its plan from the store
  Boot();
  json::object in{{"subject", kCarol}, {"amount", 500}, {"currency", "USD"}, {"recordUri", kPost}};
  json::object out = Ok(Run(kAlice, kItemCreate, in));
  const std::string item(out.at("itemUri").as_string());
  const std::string cart(out.at("cartUri").as_string());
  EXPECT_EQ(store_->GetRecord(item)->record_uri, kPost);
  in["isPrivate"] = true;
  in["cartUri"] = cart;
  const std::string hidden(Ok(Run(kAlice, kItemCreate, in)).at("itemUri").as_string());
  EXPECT_EQ(store_->GetRecord(hidden)->record_uri, kPost);
  Pay(cart, PaymentOutcome::kCompleted);
  json::object valid = Ok(Run(kAlice, kItemValidate, {{"recordUri", kPost}}, false));
  EXPECT_EQ(valid.at("valid"), true) << valid;
  EXPECT_EQ(valid.at("amount"), 1000) << "both tips of the post were paid";
}

// item.put planned on a line no cart lists; cart.put takes the line into a cart before the
// item.put's callback. Committing the item.put as planned would leave the cart listing a line
// that says it is in no cart, at an amount its total does not hold.
TEST_F(InterleavingTest, ItemPutOfALineThatACartTookMeanwhileIsRolledBack) {
  const std::string item = FreeItem(250);
  const std::string cart(NewItem(kAlice, 500).at("cartUri").as_string());
  const std::string first = CartLineUris(*store_->GetRecord(cart)).at(0);
  RunResult r = RunWith(kAlice, kItemPut, ItemPutInput(item, 400), [&] {
    Ok(Run(kAlice, kCartPut, PutInput(cart, {first, item})));
  });
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  ExpectCartAddsUp(cart);
  EXPECT_EQ(store_->GetRecord(cart)->amount, 750);
  ExpectStoreMatchesRepo(item);
  ExpectStoreMatchesRepo(cart);
}

// The other order: cart.put planned with the line at its old amount; item.put changes the line
// before cart.put's callback. Committing the cart.put as planned would put the line's old row
// back over the new one: the store would no longer hold the record the repo has.
TEST_F(InterleavingTest, CartPutOfALineThatChangedMeanwhileIsRolledBack) {
  const std::string item = FreeItem(250);
  const std::string cart(NewItem(kAlice, 500).at("cartUri").as_string());
  const std::string first = CartLineUris(*store_->GetRecord(cart)).at(0);
  RunResult r = RunWith(kAlice, kCartPut, PutInput(cart, {first, item}),
                        [&] { Ok(Run(kAlice, kItemPut, ItemPutInput(item, 400))); });
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(store_->GetRecord(item)->amount, 400);
  ExpectStoreMatchesRepo(item);
  ExpectStoreMatchesRepo(cart);
  ExpectCartAddsUp(cart);
}

// Two cart.puts take the same free line into two carts. Both checked that no cart listed it;
// only the first to commit may have it, or paying both carts pays for the line twice.
TEST_F(InterleavingTest, AFreeLineGoesIntoOneCartOnly) {
  const std::string item = FreeItem(250);
  const std::string one(NewItem(kAlice, 500).at("cartUri").as_string());
  const std::string two(NewItem(kAlice, 600).at("cartUri").as_string());
  const std::string in_one = CartLineUris(*store_->GetRecord(one)).at(0);
  const std::string in_two = CartLineUris(*store_->GetRecord(two)).at(0);
  RunResult r = RunWith(kAlice, kCartPut, PutInput(two, {in_two, item}), [&] {
    Ok(Run(kAlice, kCartPut, PutInput(one, {in_one, item})));
  });
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(store_->GetRecord(item)->cart_uri, one);
  EXPECT_EQ(CartLineUris(*store_->GetRecord(two)).size(), 1u);
  ExpectCartAddsUp(one);
  ExpectCartAddsUp(two);
  ExpectStoreMatchesRepo(two);
}

// An item added to a cart that expires (by time, before the sweeper has run) between the plan
// and the callback: only open carts take new lines.
TEST_F(InterleavingTest, ALineIsNotAddedToACartThatExpiredWhileItsWorkflowRan) {
  json::object first = NewItem(kAlice, 500);
  const std::string cart(first.at("cartUri").as_string());
  const std::int64_t expires = store_->GetRecord(cart)->expires_at_us;
  now_ = expires - 1000000;  // a second before; the workflow itself has an hour
  RunResult r =
      RunWith(kAlice, kItemCreate,
              {{"subject", kCarol}, {"amount", 250}, {"currency", "USD"}, {"cartUri", cart}},
              [&] { now_ = expires; });
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(CartLineUris(*store_->GetRecord(cart)).size(), 1u);
  EXPECT_EQ(store_->GetRecord(cart)->amount, 500);
  ExpectStoreMatchesRepo(cart);
}

// The same for a line's put that leaves the amount (so the cart's record) alone: a line whose
// cart is no longer open cannot be changed, whatever its callback finds.
TEST_F(InterleavingTest, ALineIsNotChangedInACartThatExpiredWhileItsWorkflowRan) {
  json::object first = NewItem(kAlice, 500);
  const std::string cart(first.at("cartUri").as_string());
  const std::string item(first.at("itemUri").as_string());
  const std::int64_t expires = store_->GetRecord(cart)->expires_at_us;
  now_ = expires - 1000000;
  json::object put = ItemPutInput(item, 500);
  put["record"].as_object()["subject"] = kDave;
  RunResult r = RunWith(kAlice, kItemPut, put, [&] { now_ = expires; });
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(store_->GetRecord(item)->subject, kCarol);
  ExpectStoreMatchesRepo(item);
}

// cart.get reads a cart, finds its record behind (it has expired) and writes the synced rows.
// A late payment recorded between that read and that write must survive: the cart is paid.
TEST_F(InterleavingTest, CartGetsSyncDoesNotUndoAPaymentRecordedAfterItsRead) {
  json::object first = NewItem(kAlice, 500);
  const std::string cart(first.at("cartUri").as_string());
  const std::string item(first.at("itemUri").as_string());
  now_ += (kTtl + 1) * 1000000;  // expired on read; the sweeper has not run

  // A write job that starts now, waits until cart.get has read and queued its own write, then
  // records the payment: it commits between cart.get's read and cart.get's write.
  std::promise<void> started;
  std::promise<store::Status> paid;
  std::future<void> job_started = started.get_future();
  std::future<store::Status> job_done = paid.get_future();
  store_->Submit(
      [&](store::WriteTxn& txn) {
        started.set_value();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (store_->stats().queued == 0 && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::yield();
        }
        std::string note;
        return RecordPayment(txn, cart, PaymentOutcome::kCompleted, "test", now_.load(), &note);
      },
      [&](store::Status s) { paid.set_value(s); });
  job_started.wait();
  RunResult got = Run(kAlice, kCartGet, {{"uri", cart}}, false);
  Ok(got);
  ASSERT_TRUE(job_done.get().ok());

  EXPECT_EQ(store_->GetRecord(cart)->status, "completed") << "the payment stands";
  EXPECT_EQ(store_->GetRecord(item)->status, "completed");
  ExpectStoreMatchesRepo(cart);
  // The next read brings the repo up to date with the payment.
  json::object again = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false));
  EXPECT_EQ(again.at("cart").at("status"), "completed");
  EXPECT_EQ(repo_.Get(cart)->value.at("status"), "completed");
  ExpectStoreMatchesRepo(cart);
  ExpectStoreMatchesRepo(item);
}

// Two items added to one cart at once (two tabs): each plan updates the cart from the same
// record. The second to call back is rolled back; its rollback must put back the cart the
// first one wrote, not the cart both started from, or the repo loses the first item's line
// while the store (and checkout) still counts it.
TEST_F(InterleavingTest, ARollbackKeepsTheCartAnotherWorkflowWroteMeanwhile) {
  const std::string cart(NewItem(kAlice, 500).at("cartUri").as_string());
  std::string added;
  RunResult r =
      RunWith(kAlice, kItemCreate,
              {{"subject", kCarol}, {"amount", 250}, {"currency", "USD"}, {"cartUri", cart}},
              [&] { added = NewItem(kAlice, 100, cart).at("itemUri").as_string(); });
  EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
  EXPECT_EQ(r.code, "Conflict");
  ASSERT_EQ(CartLineUris(*store_->GetRecord(cart)).size(), 2u);
  EXPECT_EQ(CartLineUris(*store_->GetRecord(cart)).at(1), added);
  ExpectStoreMatchesRepo(cart);
  ExpectCartAddsUp(cart);
}

// A recipient who turns items away after a payer's plan found them accepting: the commit
// rechecks their profile, whether they had one (changed) or not (made since).
TEST_F(InterleavingTest, ALineIsNotMadeForARecipientWhoStoppedTakingItMeanwhile) {
  for (bool had_profile : {true, false}) {
    SCOPED_TRACE(had_profile ? "changed profile" : "new profile");
    const std::string payee = had_profile ? kCarol : kDave;
    if (had_profile) Ok(Run(payee, kProfilePut, {{"acceptsItems", true}}));
    RunResult r = RunWith(kAlice, kItemCreate,
                          {{"subject", payee}, {"amount", 250}, {"currency", "USD"}},
                          [&] { Ok(Run(payee, kProfilePut, {{"acceptsItems", false}})); });
    EXPECT_EQ(r.kind, RunResult::Kind::kRaised) << r.Describe();
    EXPECT_EQ(r.code, "Conflict");
    store::LineQuery alices;
    alices.did = kAlice;
    alices.subject = payee;
    EXPECT_TRUE(store_->ListLines(alices).rows.empty()) << "no line to " << payee;
    EXPECT_EQ(Run(kAlice, kItemCreate, {{"subject", payee}, {"amount", 250}, {"currency", "USD"}})
                  .error,
              "RecipientNotAccepting");
  }
}

}  // namespace
}  // namespace atipay::payments
