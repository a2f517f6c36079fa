// atipay-server as an operator runs it: a real process, its exit status and what it says on
// standard error when it refuses to start, and how it stops on signals.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "devid/devid.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace atipay {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr char kServiceDid[] = "did:web:atipay.test";

// One atipay-server process, its standard error read through a pipe.
class ServerProcess {
 public:
  // `unprivileged`: without the capabilities that let root write any file, so that file modes
  // bind the server as they bind any other user (a no-op when the tests do not run as root).
  ServerProcess(std::vector<std::string> args, bool unprivileged = false) {
    args.insert(args.begin(), ATIPAY_SERVER_BIN);
    const bool log_given = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
      return arg.starts_with("--access-log");
    });
    if (!log_given) args.push_back("--access-log=off");
    int pipe_fds[2];
    EXPECT_EQ(::pipe(pipe_fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (unprivileged) {
        ::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0);
        ::prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0);
      }
      ::dup2(pipe_fds[1], 2);
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::close(pipe_fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    err_fd_ = pipe_fds[0];
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (err_fd_ >= 0) ::close(err_fd_);
  }

  // Reads standard error until `text` shows up (true), or it ends or time runs out (false).
  bool WaitFor(std::string_view text, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    while (err_.find(text) == std::string::npos) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // The port from the "listening on HOST:PORT" line; 0 before it.
  std::uint16_t port() const {
    const std::string marker = "listening on 127.0.0.1:";
    const std::size_t at = err_.find(marker);
    return at == std::string::npos
               ? 0
               : static_cast<std::uint16_t>(std::stoi(err_.substr(at + marker.size())));
  }

  void Signal(int signal) { ::kill(pid_, signal); }

  // The exit status, or -1 when it was ended by a signal or is still running after `timeout`
  // (then it is killed).
  int Wait(std::chrono::milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    while (true) {
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      ReadSome(Clock::now() + 20ms);
    }
    pid_ = -1;
    while (ReadSome(Clock::now() + 100ms)) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& err() const { return err_; }

 private:
  bool ReadSome(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{err_fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    ssize_t n = ::read(err_fd_, buffer, sizeof buffer);
    if (n <= 0) return false;
    err_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
};

// Runs the server to its end: the exit status, or -1 if it started (then it is stopped).
struct Outcome {
  int status = -1;
  bool started = false;
  std::string err;
};
Outcome RunToEnd(std::vector<std::string> args, bool unprivileged = false) {
  ServerProcess server(std::move(args), unprivileged);
  Outcome outcome;
  outcome.started = server.WaitFor("listening on");
  if (outcome.started) server.Signal(SIGTERM);
  outcome.status = server.Wait();
  outcome.err = server.err();
  return outcome;
}

std::string MakeDatabase(const test_support::TempDir& dir) {
  store::StoreOptions options;
  options.path = dir.File("atipay.db");
  std::string error;
  auto store = store::OpenSqliteStore(options, &error);
  EXPECT_TRUE(store) << error;
  store->Close();
  return options.path;
}

// A process that wrote to the database and died: its -wal and -shm stay behind.
void LeaveWalBehind(const std::string& db) {
  pid_t pid = ::fork();
  if (pid == 0) {
    sqlite3* handle = nullptr;
    int rc = sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_exec(handle,
                        "BEGIN IMMEDIATE; INSERT INTO payment_events (cart_uri, outcome, "
                        "source, at_us) VALUES ('x', 'test', 'test', 0); COMMIT",
                        nullptr, nullptr, nullptr);
    }
    ::_exit(rc == SQLITE_OK ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(std::filesystem::exists(db + "-wal"));
}

std::vector<std::string> Flags(const std::string& db) {
  return {"--listen=127.0.0.1:0", "--db=" + db, "--threads=1"};
}

// Whether file modes can bind a child: not root, or root allowed to drop the capabilities that
// override them (a container without CAP_SETPCAP is not).
bool FileModesCanBind() {
  if (::geteuid() != 0) return true;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) == 0 &&
                    ::prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) == 0
                ? 0
                : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// SQLite opens a write-protected file read-only rather than refuse it: the server started, then
// failed every write with StoreUnavailable. It refuses to start, and says why.
TEST(ServerStartup, RefusesADatabaseFileItCannotWrite) {
  if (!FileModesCanBind()) GTEST_SKIP() << "root that cannot drop CAP_DAC_OVERRIDE";
  test_support::TempDir dir;
  const std::string db = MakeDatabase(dir);
  ASSERT_EQ(::chmod(db.c_str(), 0444), 0);
  Outcome refused = RunToEnd(Flags(db), /*unprivileged=*/true);
  EXPECT_FALSE(refused.started) << refused.err;
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_NE(refused.err.find("write-protected"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find(db), std::string::npos) << refused.err;

  ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
  Outcome started = RunToEnd(Flags(db), /*unprivileged=*/true);
  EXPECT_TRUE(started.started) << started.err;
  EXPECT_EQ(started.status, 0) << started.err;
}

// The file is writable, but its WAL is not (left by a process that ran as another user, in a
// directory we may not write): SQLite reads through it, and every write failed.
TEST(ServerStartup, RefusesAWalItCannotWrite) {
  if (!FileModesCanBind()) GTEST_SKIP() << "root that cannot drop CAP_DAC_OVERRIDE";
  test_support::TempDir dir;
  const std::string db = MakeDatabase(dir);
  LeaveWalBehind(db);
  ASSERT_EQ(::chmod((db + "-wal").c_str(), 0444), 0);
  ASSERT_EQ(::chmod((db + "-shm").c_str(), 0444), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  Outcome refused = RunToEnd(Flags(db), /*unprivileged=*/true);
  ::chmod(dir.path().c_str(), 0755);
  EXPECT_FALSE(refused.started) << refused.err;
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_NE(refused.err.find("cannot write the database"), std::string::npos) << refused.err;
}

TEST(ServerStartup, SaysWhenTheDatabaseDirectoryDoesNotExist) {
  test_support::TempDir dir;
  Outcome refused = RunToEnd(Flags(dir.File("no/such/dir/atipay.db")));
  EXPECT_FALSE(refused.started) << refused.err;
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_NE(refused.err.find("no directory " + dir.File("no/such/dir")), std::string::npos)
      << refused.err;
}

// A taken port is found before anything else is done: the database is not created.
TEST(ServerStartup, PortInUseExitsOneBeforeTouchingTheDatabase) {
  test_support::TempDir dir;
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string port = std::to_string(taken.local_endpoint().port());
  std::vector<std::string> flags = Flags(dir.File("atipay.db"));
  flags[0] = "--listen=127.0.0.1:" + port;
  Outcome refused = RunToEnd(flags);
  EXPECT_FALSE(refused.started) << refused.err;
  EXPECT_EQ(refused.status, 1) << refused.err;
  EXPECT_NE(refused.err.find(port), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("atipay.db")));
}

TEST(ServerStartup, RefusesConfigurationThatCouldNotWork) {
  test_support::TempDir dir;
  const std::string db = dir.File("atipay.db");
  struct Case {
    std::string flag;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"--plc-url=plc.directory", "PLC directory URL"},
           {"--plc-url=http://plc.example.com", "must be https"},
           {"--public-url=pay.example.com", "--public-url"},
           {"--checkout-url=https://pay.example.com/checkout#top", "--checkout-url"},
           {"--service-id=pay#ments", "--service-id"},
           {"--rate-limit-methods=com.atiproto.payment.cart.clon=1/60",
            "no method com.atiproto.payment.cart.clon"},
       }) {
    std::vector<std::string> flags = Flags(db);
    flags.push_back(c.flag);
    Outcome refused = RunToEnd(flags);
    EXPECT_FALSE(refused.started) << c.flag << "\n" << refused.err;
    EXPECT_EQ(refused.status, 2) << c.flag << "\n" << refused.err;
    EXPECT_NE(refused.err.find(c.says), std::string::npos) << c.flag << "\n" << refused.err;
  }
}

// An access log it cannot open is a bad flag like any other: exit 2, said before the database
// is created (it was exit 1, "could not listen", with the database made and no reason given).
TEST(ServerStartup, AnAccessLogItCannotOpenIsRefusedFirst) {
  test_support::TempDir dir;
  std::vector<std::string> flags = Flags(dir.File("atipay.db"));
  flags.push_back("--access-log=" + dir.File("no/such/dir/access.log"));
  ServerProcess server(flags);
  Outcome refused;
  refused.started = server.WaitFor("listening on");
  refused.status = server.Wait();
  EXPECT_FALSE(refused.started) << server.err();
  EXPECT_EQ(refused.status, 2) << server.err();
  EXPECT_NE(server.err().find("No such file or directory"), std::string::npos) << server.err();
  EXPECT_FALSE(std::filesystem::exists(dir.File("atipay.db")));
}

// One request on a connection of its own: the whole raw answer, once the server closes it.
std::string HttpExchange(std::uint16_t port, const std::string& request) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  std::string reply;
  char buffer[4096];
  while (!ec) {
    std::size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    reply.append(buffer, n);
  }
  return reply;
}

std::string HttpGet(std::uint16_t port, const std::string& target) {
  return HttpExchange(port,
                      "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

bool IsName(std::string_view name, bool colon) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && !(colon && c == ':')) {
      return false;
    }
  }
  return true;
}

// Problems with `text` as Prometheus text exposition (format 0.0.4), one a line: names, label
// syntax and escapes, values, one HELP and one TYPE per family before its samples, a family's
// samples together, no sample twice.
std::string ExpositionProblems(const std::string& text) {
  std::string problems;
  std::map<std::string, std::string> types;
  std::set<std::string> helps, samples, finished;
  std::string current;  // the family whose lines these are
  auto family_of = [&](const std::string& sample) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (sample.ends_with(suffix)) {
        std::string base = sample.substr(0, sample.size() - std::strlen(suffix));
        if (types.count(base) && (types[base] == "histogram" || types[base] == "summary")) {
          return base;
        }
      }
    }
    return sample;
  };
  auto enter = [&](const std::string& family, const std::string& line) {
    if (family == current) return;
    if (finished.count(family)) problems += "family split: " + line + "\n";
    if (!current.empty()) finished.insert(current);
    current = family;
  };
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      if (!IsName(name, true) || name.size() == rest.size()) problems += "bad: " + line + "\n";
      enter(name, line);
      if (help && !helps.insert(name).second) problems += "second HELP: " + line + "\n";
      if (!help) {
        std::string type = rest.substr(name.size() + 1);
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped") {
          problems += "bad type: " + line + "\n";
        }
        if (types.count(name)) problems += "second TYPE: " + line + "\n";
        if (samples.count(name)) problems += "TYPE after samples: " + line + "\n";
        types[name] = type;
      }
      continue;
    }
    if (line[0] == '#') continue;
    std::size_t end = line.find_first_of("{ ");
    std::string name = line.substr(0, end);
    if (!IsName(name, true) || end == std::string::npos) {
      problems += "bad sample: " + line + "\n";
      continue;
    }
    std::size_t at = end;
    if (line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        std::size_t eq = line.find('=', at);
        if (eq == std::string::npos || !IsName(line.substr(at, eq - at), false) ||
            eq + 1 >= line.size() || line[eq + 1] != '"') {
          problems += "bad label: " + line + "\n";
          break;
        }
        at = eq + 2;
        while (at < line.size() && line[at] != '"') {
          if (line[at] == '\\') {
            if (at + 1 >= line.size() || std::string_view("\\\"n").find(line[at + 1]) ==
                                              std::string_view::npos) {
              problems += "bad escape: " + line + "\n";
            }
            ++at;
          }
          ++at;
        }
        ++at;  // the closing quote
        if (at < line.size() && line[at] == ',') ++at;
      }
      if (at >= line.size()) {
        problems += "unclosed labels: " + line + "\n";
        continue;
      }
      ++at;  // '}'
    }
    std::string sample_key = line.substr(0, at);
    std::string value = at < line.size() ? line.substr(at + 1) : "";
    char* parsed_end = nullptr;
    std::strtod(value.c_str(), &parsed_end);
    if (at >= line.size() || line[at] != ' ' || value.empty() ||
        (*parsed_end != '\0' && value != "+Inf" && value != "-Inf" && value != "NaN")) {
      problems += "bad value: " + line + "\n";
    }
    if (!samples.insert(sample_key).second) problems += "sample twice: " + line + "\n";
    samples.insert(name);
    std::string family = family_of(name);
    enter(family, line);
    if (!types.count(family)) problems += "no TYPE before: " + line + "\n";
  }
  return problems;
}

// /metrics as a Prometheus server reads it: the server core's, the rate limiters', service
// auth's and the store's families, each well formed; /_health answers with the version.
TEST(ServerEndpoints, MetricsAreWellFormedPrometheusText) {
  test_support::TempDir dir;
  ServerProcess server(Flags(dir.File("atipay.db")));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.err();
  EXPECT_NE(HttpGet(server.port(), "/xrpc/_health").find("\"version\""), std::string::npos);
  HttpGet(server.port(), "/xrpc/com.atiproto.payment.cart.get?uri=x");  // a 401, counted
  HttpGet(server.port(), "/checkout?cart=x");
  const std::string reply = HttpGet(server.port(), "/metrics");
  const std::size_t body = reply.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << reply;
  EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << reply;
  const std::string text = reply.substr(body + 4);
  EXPECT_EQ(ExpositionProblems(text), "") << text;
  for (const char* family : {"atipay_xrpc_requests_total", "atipay_store_commits_total",
                             "atipay_auth_replay_pairs", "atipay_rate_limit_keys"}) {
    EXPECT_NE(text.find("# TYPE " + std::string(family) + " "), std::string::npos) << family;
  }
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << server.err();
}

// The checker finds what it is there to find.
TEST(ServerEndpoints, ExpositionCheckerCatchesMistakes) {
  EXPECT_EQ(ExpositionProblems("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"), "");
  EXPECT_EQ(ExpositionProblems("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\n"
                               "h_count 1\n"),
            "");
  EXPECT_NE(ExpositionProblems("a 1\n"), "");                                  // no TYPE
  EXPECT_NE(ExpositionProblems("# TYPE a gauge\na{m=\"x\"y\"} 1\n"), "");   // quote
  EXPECT_NE(ExpositionProblems("# TYPE a gauge\na{m=\"\\q\"} 1\n"), "");   // escape
  EXPECT_NE(ExpositionProblems("# TYPE a gauge\na 1\na 2\n"), "");           // twice
  EXPECT_NE(ExpositionProblems("# TYPE a gauge\na one\n"), "");               // value
  EXPECT_NE(ExpositionProblems("# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n"), "");  // split
  EXPECT_NE(ExpositionProblems("# TYPE a gauge\n# TYPE a counter\na 1\n"), "");
}

// A server that takes calls from alice (a dev identity), and the write lock on its database
// held by another process, as a disk that stops answering would hold up its commits.
class HeldUpCommit : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = MakeDatabase(dir_);
    const std::string dids = dir_.File("dids");
    auto alice = devid::NewIdentity({});
    ASSERT_TRUE(alice) << alice.error().message;
    ASSERT_EQ(devid::WriteDidDocument(dids, *alice), "");
    token_ = devid::MintToken(*alice, kServiceDid, "com.atiproto.payment.cart.create");
    std::vector<std::string> flags = Flags(db_);
    flags.push_back("--dev-did-dir=" + dids);
    flags.push_back(std::string("--service-did=") + kServiceDid);
    flags.push_back("--shutdown-timeout-ms=100");
    server_.emplace(flags);
    ASSERT_TRUE(server_->WaitFor("listening on")) << server_->err();
    ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &lock_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    // The server's first sweep may hold the lock for a moment just after it starts listening.
    sqlite3_busy_timeout(lock_, 10000);
    ASSERT_EQ(sqlite3_exec(lock_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  void TearDown() override {
    Release();
    sqlite3_close(lock_);
  }
  void Release() { sqlite3_exec(lock_, "ROLLBACK", nullptr, nullptr, nullptr); }

  // cart.create, answered or not.
  std::future<std::string> CartCreate() {
    const std::string body = R"({"currency":"USD"})";
    return std::async(std::launch::async, HttpExchange, server_->port(),
                      "POST /xrpc/com.atiproto.payment.cart.create HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer " + token_ +
                          "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  // Until the store's writer is on a batch (the call's, waiting for the lock), as /metrics says.
  bool WaitForHeldBatch() {
    const std::string gauge = "\natipay_store_batch_seconds ";
    for (int i = 0; i < 200; ++i) {
      const std::string metrics = HttpGet(server_->port(), "/metrics");
      const std::size_t at = metrics.find(gauge);
      if (at != std::string::npos && std::strtod(metrics.c_str() + at + gauge.size(), nullptr) > 0) {
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  test_support::TempDir dir_;
  std::string db_;
  std::string token_;
  std::optional<ServerProcess> server_;
  sqlite3* lock_ = nullptr;
};

// SIGTERM with a call in flight whose commit is held up: past --shutdown-timeout-ms the
// connection closes, and the server waits for the store to answer the call. A second signal
// must still end it at once, as the README says; it went unheard there, the event loop that
// handled signals being stopped by then.
TEST_F(HeldUpCommit, SecondSignalExitsAtOnce) {
  auto call = CartCreate();
  ASSERT_TRUE(WaitForHeldBatch()) << server_->err();
  server_->Signal(SIGTERM);
  std::this_thread::sleep_for(500ms);  // past the drain deadline: connections closed
  const auto second = Clock::now();
  server_->Signal(SIGTERM);
  const int status = server_->Wait(10s);
  const auto took = Clock::now() - second;
  EXPECT_EQ(status, 1) << server_->err();
  EXPECT_LT(took, 1500ms) << server_->err();
  EXPECT_NE(server_->err().find("second signal"), std::string::npos) << server_->err();
}

// One signal: the call in flight is committed once the disk is back, then the process exits 0.
// (Its answer may not reach the client: the drain deadline closed its connection.)
TEST_F(HeldUpCommit, FirstSignalLetsTheCommitFinish) {
  auto call = CartCreate();
  ASSERT_TRUE(WaitForHeldBatch()) << server_->err();
  server_->Signal(SIGTERM);
  std::this_thread::sleep_for(500ms);
  Release();
  EXPECT_EQ(server_->Wait(10s), 0) << server_->err();
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(lock_, "SELECT count(*) FROM workflows", -1, &count, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(count, 0), 1);
  sqlite3_finalize(count);
}

}  // namespace
}  // namespace atipay
