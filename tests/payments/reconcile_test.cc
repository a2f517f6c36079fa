// Reconcile: a repo written only through the methods agrees with us; a record the agent wrote
// without calling back, one the user deleted and one they rewrote are each found.
#include "payments/reconcile.h"

#include "tests/payments/flow_fixture.h"

namespace atipay::payments {
namespace {

using namespace testing_flow;  // NOLINT: the fixture's constants and names

class ReconcileTest : public PaymentFlowTest {
 protected:
  // The in-memory repo's records of alice in one collection, as listRecords would give them.
  RepoLister AliceRepo() {
    return [this](std::string_view collection) -> std::variant<std::vector<RepoRecord>, std::string> {
      std::vector<RepoRecord> out;
      const std::string prefix = "at://" + std::string(kAlice) + "/" + std::string(collection) + "/";
      for (const std::string& uri : repo_.Uris()) {
        if (uri.rfind(prefix, 0) == 0) out.push_back({uri, repo_.Get(uri)->cid});
      }
      return out;
    };
  }

  std::vector<std::string> DriftLines() {
    ReconcileReport report = Reconcile(*store_, kAlice, AliceRepo());
    EXPECT_EQ(report.error, "");
    std::vector<std::string> lines;
    for (const Drift& d : report.drift) lines.push_back(std::string(DriftName(d.kind)) + " " + d.uri);
    return lines;
  }

  agent::WriteResult Write(agent::WriteOp op, const std::string& uri, json::object record = {}) {
    const auto slash = uri.find('/', 5);
    const auto last = uri.rfind('/');
    agent::RepoWrite w;
    w.op = op;
    w.repo = uri.substr(5, slash - 5);
    w.collection = uri.substr(slash + 1, last - slash - 1);
    w.rkey = uri.substr(last + 1);
    w.record = std::move(record);
    return repo_.Write(w);
  }
};

TEST_F(ReconcileTest, DriftOfEachKindIsFound) {
  const std::string paid = CompletedCart(kAlice);
  Ok(Run(kAlice, kClone, {{"uri", paid}}));
  Ok(Run(kAlice, kProfilePut, {{"acceptsItems", true}}));
  NewItem(kBob, 100);  // bob's records are not alice's drift
  ReconcileReport clean = Reconcile(*store_, kAlice, AliceRepo());
  EXPECT_EQ(clean.error, "");
  EXPECT_EQ(clean.records, 9) << "two carts of three lines, and the profile";
  EXPECT_TRUE(clean.drift.empty());

  const std::vector<std::string> lines = CartLineUris(*store_->GetRecord(paid));
  // An item the agent wrote whose workflow never called back.
  json::object stray = repo_.Get(lines[0])->value;
  const std::string orphan = "at://" + std::string(kAlice) + "/com.atiproto.item/3kstrayaaaaaa";
  ASSERT_EQ(Write(agent::WriteOp::kCreate, orphan, stray).error, "");
  // One the user deleted, one they rewrote.
  ASSERT_EQ(Write(agent::WriteOp::kDelete, lines[1]).error, "");
  json::object edited = repo_.Get(paid)->value;
  edited["redirectUrl"] = "https://elsewhere.example/";
  ASSERT_EQ(Write(agent::WriteOp::kPut, paid, edited).error, "");

  std::vector<std::string> want{"changed " + paid, "orphan " + orphan, "missing " + lines[1]};
  EXPECT_EQ(DriftLines(), want);

  // A listing that fails is an incomplete report, not a clean one.
  ReconcileReport failed = Reconcile(*store_, kAlice, [](std::string_view) {
    return std::variant<std::vector<RepoRecord>, std::string>(std::string("503 from the PDS"));
  });
  EXPECT_EQ(failed.error, "com.atiproto.cart: 503 from the PDS");
}

// Our side not read is not our side empty: every record in the repo would show as an orphan.
TEST_F(ReconcileTest, AReadOfOursThatFailsIsAnIncompleteReportNotOrphans) {
  CompletedCart(kAlice);
  std::atomic<bool> failing{true};
  test_support::ReadsFailWhile disk(*store_, failing);
  ReconcileReport report = Reconcile(disk, kAlice, AliceRepo());
  EXPECT_EQ(report.error, "com.atiproto.cart: the database failed a read: disk I/O error");
  EXPECT_TRUE(report.drift.empty())
      << DriftName(report.drift.front().kind) << " " << report.drift.front().uri;
  failing = false;
  EXPECT_EQ(Reconcile(disk, kAlice, AliceRepo()).error, "");
}

}  // namespace
}  // namespace atipay::payments
