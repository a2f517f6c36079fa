// Crash safety: kill -9 atipay-server in the middle of a clone load, restart it on the same
// database, and check that every clone acknowledged to a client is complete and that no partial
// cart or orphan row is visible. The server runs as a real process with real service auth
// (dev DID directory, ES256K tokens) and synchronous=FULL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "agent/agent.h"
#include "devid/devid.h"
#include "payments/audit.h"
#include "payments/provider.h"
#include "payments/records.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace atipay::payments {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr char kServiceDid[] = "did:web:atipay.test";
constexpr char kClone[] = "com.atiproto.payment.cart.clone";

std::uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool Accepting(std::uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

class ServerProcess {
 public:
  ServerProcess(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~ServerProcess() { Kill(); }

  void Start() {
    port_ = FreePort();
    std::vector<std::string> args = {ATIPAY_SERVER_BIN,
                                     "--listen=127.0.0.1:" + std::to_string(port_),
                                     "--db=" + (dir_ / "atipay.db").string(),
                                     "--dev-did-dir=" + (dir_ / "dids").string(),
                                     std::string("--service-did=") + kServiceDid,
                                     "--access-log=off",
                                     "--threads=1",
                                     "--cart-ttl=3600",
                                     "--rate-limit-caller=off"};
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 500 && !Accepting(port_); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(Accepting(port_)) << "atipay-server did not start";
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

struct Acked {
  std::string cart;
  std::vector<std::string> lines;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "dids");
    devid::NewIdentityOptions options;
    options.handle = "alice.test";
    auto id = devid::NewIdentity(options);
    ASSERT_TRUE(id) << id.error().message;
    alice_ = std::make_unique<devid::Identity>(std::move(*id));
    ASSERT_EQ(devid::WriteDidDocument((dir_ / "dids").string(), *alice_), "");
    server_ = std::make_unique<ServerProcess>(dir_);
  }
  void TearDown() override { server_.reset(); }

  std::unique_ptr<agent::HttpXrpcCaller> Caller() {
    agent::HttpCallerOptions o;
    o.base_url = server_->url();
    o.request_timeout = 5000ms;
    const devid::Identity* id = alice_.get();
    o.token_source = [id](std::string_view nsid) {
      return devid::MintToken(*id, kServiceDid, std::string(nsid));
    };
    return std::make_unique<agent::HttpXrpcCaller>(o);
  }

  // A paid cart with two items and a subscription, to clone.
  std::string SourceCart() {
    auto caller = Caller();
    auto first = agent::RunMethod(*caller, repo_, "com.atiproto.payment.item.create", true,
                                  {{"subject", "did:plc:carolcarolcarolcarolcaro"},
                                   {"amount", 500},
                                   {"currency", "USD"}});
    EXPECT_TRUE(first.ok()) << first.Describe();
    std::string cart(first.output.at("cartUri").as_string());
    auto second = agent::RunMethod(*caller, repo_, "com.atiproto.payment.subscription.create", true,
                                   {{"subject", "did:plc:davedavedavedavedavedaved"},
                                    {"amount", 300},
                                    {"currency", "USD"},
                                    {"interval", "yearly"},
                                    {"cartUri", cart}});
    EXPECT_TRUE(second.ok()) << second.Describe();
    store::StoreOptions so;
    so.path = (dir_ / "atipay.db").string();
    std::string error;
    auto store = store::OpenSqliteStore(so, &error);
    EXPECT_TRUE(store) << error;
    auto s = store->WriteSync([&](store::WriteTxn& t) {
      return RecordPayment(t, cart, PaymentOutcome::kCompleted, "test", devid::UnixNow() * 1000000,
                           nullptr);
    });
    EXPECT_TRUE(s.ok()) << s.message;
    return cart;
  }

  // Clones from several connections until killed; returns the clones acknowledged.
  std::vector<Acked> LoadAndKill(const std::string& source, int threads, int kill_after_acks) {
    std::mutex mu;
    std::vector<Acked> acked;
    std::atomic<bool> killed{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        auto caller = Caller();
        for (int i = 0; i < 2000 && !killed; ++i) {
          auto r = agent::RunMethod(*caller, repo_, kClone, true, {{"uri", source}});
          if (!r.ok()) {
            if (killed) break;
            ADD_FAILURE() << "clone failed before the kill: " << r.Describe();
            break;
          }
          Acked a;
          a.cart = std::string(r.output.at("cartUri").as_string());
          for (const auto& line : r.output.at("cart").at("items").as_array()) {
            a.lines.emplace_back(line.at("recordUri").as_string());
          }
          std::lock_guard lock(mu);
          acked.push_back(std::move(a));
        }
      });
    }
    // Kill at a moment that varies from run to run, once some clones have been acknowledged.
    std::mt19937 rng(std::random_device{}());
    const int target = kill_after_acks + static_cast<int>(rng() % 20);
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard lock(mu);
        if (static_cast<int>(acked.size()) >= target) break;
      }
      std::this_thread::sleep_for(5ms);
    }
    killed = true;  // first, so a failure after this point is the kill's doing
    server_->Kill();
    for (auto& t : pool) t.join();
    return acked;
  }

  // The invariants, read straight from the database file.
  void CheckDatabase(const std::vector<Acked>& acked) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((dir_ / "atipay.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "ok");
    sqlite3_finalize(stmt);
    sqlite3_close(db);

    store::StoreOptions so;
    so.path = (dir_ / "atipay.db").string();
    std::string error;
    auto store = store::OpenSqliteStore(so, &error);
    ASSERT_TRUE(store) << error;
    for (const auto& a : acked) {
      auto cart = store->GetRecord(a.cart);
      ASSERT_TRUE(cart) << "acknowledged clone lost: " << a.cart;
      EXPECT_EQ(CartLineUris(*cart), a.lines);
    }
    // Every cart is whole, and every line belongs to a cart that exists.
    std::size_t carts = 0, lines = 0;
    store::CartQuery q;
    q.did = alice_->did;
    q.limit = 100;
    for (;;) {
      auto page = store->ListCarts(q);
      for (const auto& cart : page.rows) {
        ++carts;
        for (const auto& uri : CartLineUris(cart)) {
          auto line = store->GetRecord(uri);
          ASSERT_TRUE(line) << "partial cart " << cart.uri << " lacks " << uri;
          EXPECT_EQ(line->cart_uri, cart.uri);
        }
      }
      if (!page.next_before_seq) break;
      q.before_seq = page.next_before_seq;
    }
    for (const char* collection : {store::kItemCollection.data(),
                                   store::kSubscriptionCollection.data()}) {
      store::LineQuery lq;
      lq.did = alice_->did;
      lq.collection = collection;
      lq.limit = 100;
      for (;;) {
        auto page = store->ListLines(lq);
        for (const auto& line : page.rows) {
          ++lines;
          ASSERT_FALSE(line.cart_uri.empty()) << "orphan line " << line.uri;
          EXPECT_TRUE(store->GetRecord(line.cart_uri)) << "orphan line " << line.uri;
        }
        if (!page.next_before_seq) break;
        lq.before_seq = page.next_before_seq;
      }
    }
    EXPECT_EQ(lines, 2 * carts) << "each cart here has one item and one subscription";
    EXPECT_GE(carts, acked.size() + 1);
    // And what atipay-admin check verifies: CIDs, totals, currencies, statuses.
    AuditReport audit = Audit(*store);
    EXPECT_FALSE(audit.read_failed);
    EXPECT_EQ(audit.carts, static_cast<std::int64_t>(carts));
    for (const auto& p : audit.problems) ADD_FAILURE() << p.uri << ": " << p.problem;
  }

  test_support::TempDir temp_{"atipay-crash"};
  const std::filesystem::path dir_ = temp_.path();
  std::unique_ptr<devid::Identity> alice_;
  std::unique_ptr<ServerProcess> server_;
  agent::MemoryRepo repo_;
};

TEST_F(CrashTest, AcknowledgedClonesSurviveKillNineAndNothingIsHalfMade) {
  server_->Start();
  const std::string source = SourceCart();
  std::vector<Acked> all;
  for (int cycle = 0; cycle < 3; ++cycle) {
    auto acked = LoadAndKill(source, /*threads=*/6, /*kill_after_acks=*/20 + 15 * cycle);
    EXPECT_GE(acked.size(), 20u);
    all.insert(all.end(), acked.begin(), acked.end());
    CheckDatabase(all);
    server_->Start();  // recovery on the same file
  }
  // The restarted server serves what was acknowledged before the crash.
  auto caller = Caller();
  auto got = agent::RunMethod(*caller, repo_, "com.atiproto.payment.cart.get", false,
                              {{"uri", all.back().cart}});
  ASSERT_TRUE(got.ok()) << got.Describe();
  EXPECT_EQ(got.output.at("cart").at("status"), "open");
  EXPECT_EQ(got.output.at("items").as_array().size(), 1u);
}

}  // namespace
}  // namespace atipay::payments
