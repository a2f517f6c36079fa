// A database that fails to read: each method answers 503 StoreUnavailable, which the caller may
// retry, never an answer made of rows that were not read (CartNotFound for a cart that exists,
// an empty list, `valid: false` for a paid subscriber, a callback's workflow "unknown").
#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names

class ReadFailureTest : public PaymentFlowTest {
 protected:
  void ServeThroughAFailingDisk() {
    Stop();
    serve_through_ = [this](store::Store& inner) {
      return std::make_unique<test_support::ReadsFailWhile>(inner, failing_);
    };
    Boot();
  }

  std::atomic<bool> failing_{false};
};

TEST_F(ReadFailureTest, EveryMethodThatReadsAnswers503UntilTheDiskReadsAgain) {
  const std::string cart = CompletedCart(kAlice);
  const auto item = Ok(Run(kAlice, kCartGet, {{"uri", cart}}, false)).at("items").at(0).at("uri");
  const std::string item_uri(item.as_string());
  ServeThroughAFailingDisk();
  struct Call {
    std::string did;
    std::string nsid;
    json::object input;
    bool procedure;
  };
  const std::vector<Call> calls = {
      {kAlice, kCartGet, {{"uri", cart}}, false},
      {kAlice, kCartGet, {{"itemUri", item_uri}}, false},
      {kAlice, kCartList, {}, false},
      {kAlice, "com.atiproto.payment.item.get", {{"uri", item_uri}}, false},
      {kAlice, "com.atiproto.payment.item.list", {}, false},
      {kAlice, "com.atiproto.payment.item.validate", {{"itemUri", item_uri}}, false},
      {kAlice, "com.atiproto.payment.item.validate", {{"subject", kCarol}}, false},
      {kAlice, "com.atiproto.payment.subscription.validate", {{"subject", kDave}}, false},
      {kDave, "com.atiproto.recipient.payment.cart.get", {{"uri", cart}}, false},
      {kDave, "com.atiproto.recipient.payment.cart.list", {}, false},
      {kCarol, "com.atiproto.repo.item.count", {{"subject", kCarol}}, false},
      {kCarol, "com.atiproto.recipient.profile.get", {}, false},
      {kAlice, "com.atiproto.repo.profile.get", {{"did", kCarol}}, false},
      {kAlice, kClone, {{"uri", cart}}, true},
      {kAlice, kItemCreate, {{"subject", kCarol}, {"amount", 100}, {"currency", "USD"}}, true},
      {kCarol, kProfilePut, {{"acceptsItems", true}}, true},
  };
  failing_ = true;
  for (const Call& call : calls) {
    RunResult r = Run(call.did, call.nsid, call.input, call.procedure);
    EXPECT_EQ(r.status, 503) << call.nsid << " " << json::serialize(call.input) << ": "
                             << r.Describe();
    EXPECT_EQ(r.error, "StoreUnavailable") << call.nsid << " " << json::serialize(call.input);
  }
  auto checkout =
      atipay::testing::Fetch(server_->port(), "GET", "/checkout?cart=" + PercentEncode(cart));
  ASSERT_TRUE(checkout);
  EXPECT_EQ(checkout->status, 503) << checkout->body;

  failing_ = false;
  for (const Call& call : calls) {
    RunResult r = Run(call.did, call.nsid, call.input, call.procedure);
    EXPECT_TRUE(r.ok()) << call.nsid << " " << json::serialize(call.input) << ": " << r.Describe();
  }
  EXPECT_EQ(atipay::testing::Fetch(server_->port(), "GET", "/checkout?cart=" + PercentEncode(cart))
                ->status,
            200);
}

// The callback of a clone whose workflow cannot be read: 503, so the agent may call again,
// rather than "unknown workflow", which would leave what it wrote in the repo for nothing.
// Called again once the disk reads, the same callback completes the clone.
TEST_F(ReadFailureTest, ACallbackWhoseWorkflowCannotBeReadCanBeSentAgain) {
  const std::string cart = CompletedCart(kAlice);
  ServeThroughAFailingDisk();
  // The agent's one round: the writes go to the repo; then the disk fails before the callback.
  struct FailBeforeCallback final : agent::XrpcCaller {
    FailBeforeCallback(agent::XrpcCaller& inner, std::atomic<bool>& failing)
        : inner(inner), failing(failing) {}
    agent::XrpcResult Call(std::string_view nsid, bool procedure,
                           const json::object& input) override {
      if (input.contains("workflow")) {
        failing = true;
        callback = input;
      }
      return inner.Call(nsid, procedure, input);
    }
    agent::XrpcCaller& inner;
    std::atomic<bool>& failing;
    std::optional<json::object> callback;
  };
  auto caller = Caller(kAlice);
  FailBeforeCallback failing_caller(*caller, failing_);
  RunResult r = RunMethod(failing_caller, repo_, kClone, true, {{"uri", cart}});
  EXPECT_EQ(r.status, 503) << r.Describe();
  EXPECT_EQ(r.error, "StoreUnavailable") << r.Describe();
  ASSERT_TRUE(failing_caller.callback);

  failing_ = false;
  agent::XrpcResult again = caller->Call(kClone, true, *failing_caller.callback);
  ASSERT_EQ(again.status, 200) << json::serialize(again.body);
  const std::string copy(again.body.at("cartUri").as_string());
  ExpectStoreMatchesRepo(copy);
  EXPECT_EQ(store_->GetRecord(copy)->status, "open");
}

}  // namespace
}  // namespace atipay::payments
