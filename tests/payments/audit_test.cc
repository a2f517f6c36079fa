// Audit: a database made only by the methods passes; each kind of damage done behind their
// back is found, on the row it concerns.
#include "payments/audit.h"

#include <algorithm>

#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names

class AuditTest : public PaymentFlowTest {
 protected:
  // Every method's work: carts open, paid, failed, cloned, expired, edited; free lines.
  void MakeHistory() {
    completed_ = CompletedCart(kAlice);
    Ok(Run(kAlice, kClone, {{"uri", completed_}}));
    json::object failed = NewItem(kBob, 300);
    Pay(std::string(failed.at("cartUri").as_string()), PaymentOutcome::kFailed);
    json::object open = NewItem(kAlice, 120);
    open_ = std::string(open.at("cartUri").as_string());
    item_ = std::string(open.at("itemUri").as_string());
    NewSubscription(kAlice, open_);
    now_ += kTtl * 1000000;  // the open carts expire; the sweeper has not run
    Ok(Run(kBob, kClone, {{"uri", std::string(failed.at("cartUri").as_string())}}));
  }

  // The problems found, as "uri: problem" lines, sorted.
  std::vector<std::string> Problems() {
    AuditReport report = Audit(*store_);
    EXPECT_FALSE(report.read_failed);
    std::vector<std::string> out;
    for (const auto& p : report.problems) out.push_back(p.uri + ": " + p.problem);
    std::sort(out.begin(), out.end());
    return out;
  }

  void Change(const std::string& uri, const std::function<void(store::RecordRow&)>& edit) {
    auto row = store_->GetRecord(uri);
    ASSERT_TRUE(row) << uri;
    edit(*row);
    ASSERT_TRUE(store_->WriteSync([&](store::WriteTxn& t) { return t.UpdateRecord(*row); }).ok());
  }

  // cart.put of `cart` listing exactly `items` (item URIs), with their total.
  void PutCart(const std::string& cart, const std::vector<std::string>& items) {
    json::object record = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false)).at("cart").as_object();
    record.erase("uri");
    record["$type"] = "com.atiproto.cart";
    json::array lines;
    std::int64_t total = 0;
    for (const std::string& uri : items) {
      lines.push_back(json::object{{"type", "com.atiproto.item"}, {"recordUri", uri}});
      total += store_->GetRecord(uri)->amount;
    }
    record["items"] = std::move(lines);
    record["total"] = total;
    Ok(Run(kAlice, kCartPut, {{"uri", cart}, {"record", std::move(record)}}));
  }

  std::string completed_, open_, item_;
};

TEST_F(AuditTest, WhatTheMethodsWritePasses) {
  MakeHistory();
  AuditReport report = Audit(*store_);
  EXPECT_EQ(report.carts, 5);   // paid, its clone, failed, its clone, open
  EXPECT_EQ(report.lines, 10);  // 3, 3, 1, 1, 2
  EXPECT_EQ(Problems(), std::vector<std::string>{});
}

// A snapshot read that fails part-way (the line read, its cart not) makes the audit incomplete;
// it reports no problem it did not see: a cart not read is not a cart that does not list a line.
TEST_F(AuditTest, ASnapshotThatCannotBeReadIsAFailedReadNotAProblem) {
  MakeHistory();
  class CartsFailToRead final : public test_support::ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    std::vector<store::RecordRow> GetRecords(const std::vector<std::string>& uris,
                                             store::Status* failure) override {
      std::vector<store::RecordRow> rows = inner_.GetRecords(uris, failure);
      std::erase_if(rows, [](const auto& row) { return row.collection == store::kCartCollection; });
      if (failure != nullptr) {
        *failure = store::Status::Error(store::Status::Code::kUnavailable, "EIO");
      }
      return rows;
    }
  } disk(*store_);
  AuditReport report = Audit(disk);
  EXPECT_TRUE(report.read_failed);
  EXPECT_EQ(report.lines, 10) << "every line scanned";
  std::vector<std::string> problems;
  for (const auto& p : report.problems) problems.push_back(p.uri + ": " + p.problem);
  EXPECT_EQ(problems, std::vector<std::string>{});
}

TEST_F(AuditTest, EachKindOfDamageIsFoundOnItsRow) {
  MakeHistory();
  const std::vector<std::string> paid_lines = CartLineUris(*store_->GetRecord(completed_));
  ASSERT_EQ(paid_lines.size(), 3u);

  Change(open_, [](store::RecordRow& cart) { cart.amount += 1; });
  EXPECT_EQ(Problems(), std::vector<std::string>{
                            open_ + ": its total is " +
                            std::to_string(store_->GetRecord(open_)->amount) +
                            " but its lines add up to " +
                            std::to_string(store_->GetRecord(open_)->amount - 1)});
  Change(open_, [](store::RecordRow& cart) { cart.amount -= 1; });

  const std::string cid = store_->GetRecord(item_)->cid;
  Change(item_, [](store::RecordRow& line) { line.cid = "bafyreiwrong"; });
  auto problems = Problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind(item_ + ": its CID bafyreiwrong is not its record's (" + cid, 0), 0u)
      << problems[0];
  Change(item_, [&](store::RecordRow& line) { line.cid = cid; });

  Change(item_, [](store::RecordRow& line) { line.cart_uri = ""; });
  EXPECT_EQ(Problems(), std::vector<std::string>{open_ + ": lists " + item_ +
                                                 ", which says it is in no cart"});
  Change(item_, [&](store::RecordRow& line) { line.cart_uri = completed_; });
  EXPECT_EQ(Problems(), (std::vector<std::string>{
                            open_ + ": lists " + item_ + ", which says it is in " + completed_,
                            item_ + ": says it is in " + completed_ + ", which does not list it"}));
  Change(item_, [&](store::RecordRow& line) { line.cart_uri = open_; });

  Change(paid_lines[0], [](store::RecordRow& line) { line.status = "pending"; });
  EXPECT_EQ(Problems(), std::vector<std::string>{completed_ + ": is completed but " +
                                                 paid_lines[0] + " is pending"});
  Change(paid_lines[0], [](store::RecordRow& line) { line.status = "completed"; });
  Change(item_, [](store::RecordRow& line) { line.status = "completed"; });
  EXPECT_EQ(Problems(),
            std::vector<std::string>{open_ + ": is open but " + item_ + " is completed"});
  Change(item_, [](store::RecordRow& line) { line.status = "pending"; });

  const std::int64_t total = store_->GetRecord(completed_)->amount;
  const std::int64_t lost = store_->GetRecord(paid_lines[1])->amount;
  ASSERT_TRUE(
      store_->WriteSync([&](store::WriteTxn& t) { return t.DeleteRecord(paid_lines[1]); }).ok());
  EXPECT_EQ(Problems(), (std::vector<std::string>{
                            completed_ + ": its total is " + std::to_string(total) +
                                " but its lines add up to " + std::to_string(total - lost),
                            completed_ + ": lists " + paid_lines[1] + ", which we do not have"}));

  // A cap on what is listed; the rest is counted.
  Change(open_, [](store::RecordRow& cart) { cart.currency = "EUR"; });
  AuditReport capped = Audit(*store_, 1);
  EXPECT_EQ(capped.problems.size(), 1u);
  EXPECT_EQ(capped.more_problems, 3) << "four: the missing line and the total it breaks, and "
                                        "two lines not in EUR";
}

// A cart whose lines change between the scan and the snapshot (an item added and another
// taken out by a cart.put) is read again, not reported.
TEST_F(AuditTest, ACartEditedDuringTheAuditIsReadAgainNotReported) {
  json::object first = NewItem(kAlice, 500);
  const std::string cart(first.at("cartUri").as_string());
  const std::string kept(first.at("itemUri").as_string());
  const std::string dropped(NewItem(kAlice, 250, cart).at("itemUri").as_string());
  ChangeBeforeSnapshot racing(*store_, [&] {
    const std::string added(NewItem(kAlice, 100, cart).at("itemUri").as_string());
    PutCart(cart, {kept, added});
  });
  AuditReport report = Audit(racing);
  for (const auto& p : report.problems) ADD_FAILURE() << p.uri << ": " << p.problem;
  EXPECT_EQ(store_->GetRecord(dropped)->cart_uri, "") << "the put took it out";
  EXPECT_EQ(Problems(), std::vector<std::string>{});
}

// Likewise a line that moves to another cart between the scan and its snapshot.
TEST_F(AuditTest, ALineMovedDuringTheAuditIsReadAgainNotReported) {
  json::object first = NewItem(kAlice, 500);
  const std::string from(first.at("cartUri").as_string());
  const std::string moving(first.at("itemUri").as_string());
  const std::string stays(NewItem(kAlice, 250, from).at("itemUri").as_string());
  json::object other = NewItem(kAlice, 100);
  const std::string to(other.at("cartUri").as_string());
  const std::string there(other.at("itemUri").as_string());
  ChangeBeforeSnapshot racing(
      *store_,
      [&] {
        PutCart(from, {stays});
        PutCart(to, {there, moving});
      },
      moving);
  AuditReport report = Audit(racing);
  for (const auto& p : report.problems) ADD_FAILURE() << p.uri << ": " << p.problem;
  EXPECT_EQ(store_->GetRecord(moving)->cart_uri, to) << "the puts moved it";
  EXPECT_EQ(Problems(), std::vector<std::string>{});
}

}  // namespace
}  // namespace atipay::payments
