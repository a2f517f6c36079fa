// Group commit: batching, a failing job rolled back alone, completions, Close, errors of the
// whole batch, and readers / a second process working while the writer is busy.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace atipay::store {
namespace {

using testing::InsertAll;
using testing::kAlice;
using testing::kBob;
using testing::MakeCart;
using testing::RawDb;
using testing::StoreTest;
using Code = Status::Code;
using namespace std::chrono_literals;

// Holds the writer thread inside a job until opened, so that a test can queue jobs behind it
// (they then form the next batch) or look at the database while a write is in progress.
class Gate {
 public:
  // The job: runs `first` (if any), says it has entered, waits for Open().
  WriteJob Job(WriteJob first = {}) {
    return [this, first](WriteTxn& txn) {
      Status status = first ? first(txn) : Status::Ok();
      {
        std::unique_lock lock(mu_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return open_; });
      }
      return status;
    };
  }
  void WaitEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

// Counts completions per job and lets the test wait for all of them.
class Completions {
 public:
  explicit Completions(int jobs) : calls_(static_cast<size_t>(jobs)), statuses_(calls_.size()) {}
  WriteDone Done(int job) {
    return [this, job](Status status) {
      std::lock_guard lock(mu_);
      ++calls_[static_cast<size_t>(job)];
      statuses_[static_cast<size_t>(job)] = std::move(status);
      ++total_;
      cv_.notify_all();
    };
  }
  bool WaitAll(std::chrono::seconds timeout = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return total_ >= calls_.size(); });
  }
  int calls(int job) {
    std::lock_guard lock(mu_);
    return calls_[static_cast<size_t>(job)];
  }
  Status status(int job) {
    std::lock_guard lock(mu_);
    return statuses_[static_cast<size_t>(job)];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> calls_;
  std::vector<Status> statuses_;
  size_t total_ = 0;
};

// Submits jobs 0..count-1 from `threads` threads (job i from thread i % threads).
void SubmitFromThreads(Store& store, int count, int threads,
                       const std::function<WriteJob(int)>& make_job, Completions& completions) {
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = t; i < count; i += threads) store.Submit(make_job(i), completions.Done(i));
    });
  }
  for (auto& thread : submitters) thread.join();
}

std::string Rkey(int i) { return "job" + std::to_string(i); }

WriteJob InsertCartJob(int i) {
  return [i](WriteTxn& txn) {
    RecordRow row = MakeCart(kAlice, Rkey(i));
    return txn.InsertRecord(row);
  };
}

TEST_F(StoreTest, ConcurrentSubmitsAreGroupCommitted) {
  constexpr int kJobs = 200;
  Gate gate;
  std::promise<Status> gate_done;
  store->Submit(gate.Job(), [&](Status s) { gate_done.set_value(s); });
  gate.WaitEntered();  // the writer is busy: everything below queues up

  Completions completions(kJobs);
  SubmitFromThreads(*store, kJobs, 8, InsertCartJob, completions);
  gate.Open();
  ASSERT_TRUE(completions.WaitAll());
  EXPECT_TRUE(gate_done.get_future().get().ok());

  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(completions.calls(i), 1) << i;
    EXPECT_TRUE(completions.status(i).ok()) << completions.status(i).message;
    EXPECT_TRUE(store->GetRecord(testing::Uri(kAlice, kCartCollection, Rkey(i))).has_value());
  }
  Store::Stats stats = store->stats();
  EXPECT_EQ(stats.jobs, kJobs + 1u);
  EXPECT_EQ(stats.commits, 2u);  // the gate alone, then all 200 in one batch
}

TEST_F(StoreTest, ConcurrentSubmitsBatchWithoutHelp) {
  // No gate: batching comes only from jobs queueing while a commit (an fsync) runs.
  store->Close();
  StoreOptions options = Options();
  options.synchronous = "FULL";
  store = Open(options);
  constexpr int kJobs = 200;
  Completions completions(kJobs);
  SubmitFromThreads(*store, kJobs, 8, InsertCartJob, completions);
  ASSERT_TRUE(completions.WaitAll());
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_EQ(completions.calls(i), 1) << i;
    ASSERT_TRUE(completions.status(i).ok()) << completions.status(i).message;
  }
  Store::Stats stats = store->stats();
  EXPECT_EQ(stats.jobs, static_cast<std::uint64_t>(kJobs));
  EXPECT_LT(stats.commits, stats.jobs / 2) << "commits " << stats.commits;
  EXPECT_EQ(stats.failed_batches, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_GT(stats.commit_ns, 0u) << "every commit synced the WAL, which takes time";
}

TEST_F(StoreTest, BatchesAreCappedAtMaxBatch) {
  store->Close();
  StoreOptions options = Options();
  options.max_batch = 16;
  store = Open(options);
  Gate gate;
  store->Submit(gate.Job(), nullptr);  // no completion wanted: allowed
  gate.WaitEntered();
  constexpr int kJobs = 200;
  Completions completions(kJobs);
  SubmitFromThreads(*store, kJobs, 4, InsertCartJob, completions);
  gate.Open();
  ASSERT_TRUE(completions.WaitAll());
  EXPECT_EQ(store->stats().jobs, kJobs + 1u);
  EXPECT_EQ(store->stats().commits, 1u + (kJobs + 15) / 16);
}

TEST_F(StoreTest, FailingJobsRollBackAloneInASharedBatch) {
  constexpr int kJobs = 120;
  // Job i writes its cart and a payment event, then: i % 5 == 1 returns an error,
  // i % 5 == 2 throws, i % 5 == 3 also inserts a duplicate URI and returns that conflict.
  auto make_job = [](int i) -> WriteJob {
    return [i](WriteTxn& txn) -> Status {
      RecordRow row = MakeCart(kAlice, Rkey(i));
      Status status = txn.InsertRecord(row);
      if (!status.ok()) return status;
      status = txn.InsertPaymentEvent(row.uri, "paid", "test", i);
      if (!status.ok()) return status;
      switch (i % 5) {
        case 1:
          return Status::Error(Code::kAborted, "job " + std::to_string(i) + " said no");
        case 2:
          throw std::runtime_error("job " + std::to_string(i) + " threw");
        case 3: {
          RecordRow again = row;
          return txn.InsertRecord(again);
        }
        default:
          return Status::Ok();
      }
    };
  };
  Gate gate;
  store->Submit(gate.Job(), nullptr);
  gate.WaitEntered();
  Completions completions(kJobs);
  SubmitFromThreads(*store, kJobs, 6, make_job, completions);
  gate.Open();
  ASSERT_TRUE(completions.WaitAll());
  EXPECT_EQ(store->stats().commits, 2u);  // they really shared one batch

  int visible = 0;
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(completions.calls(i), 1);
    Status status = completions.status(i);
    bool good = i % 5 == 0 || i % 5 == 4;
    EXPECT_EQ(store->GetRecord(testing::Uri(kAlice, kCartCollection, Rkey(i))).has_value(), good)
        << i;
    visible += good ? 1 : 0;
    switch (i % 5) {
      case 1:
        EXPECT_EQ(status.code, Code::kAborted);
        EXPECT_EQ(status.message, "job " + std::to_string(i) + " said no");
        break;
      case 2:
        EXPECT_EQ(status.code, Code::kInternal);
        EXPECT_NE(status.message.find("threw"), std::string::npos) << status.message;
        break;
      case 3:
        EXPECT_EQ(status.code, Code::kConflict) << status.message;
        break;
      default:
        EXPECT_TRUE(status.ok()) << status.message;
    }
  }
  RawDb raw(db_path());
  EXPECT_EQ(raw.Int("SELECT count(*) FROM records"), visible);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM payment_events"), visible);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM payment_events WHERE at_us % 5 NOT IN (0, 4)"), 0);
}

TEST_F(StoreTest, WriteSyncReturnsTheJobsStatus) {
  RecordRow cart = MakeCart(kAlice, "c1");
  Status status = store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(cart); });
  ASSERT_TRUE(status.ok()) << status.message;
  EXPECT_GT(cart.seq, 0);
  EXPECT_TRUE(store->GetRecord(cart.uri).has_value());  // durable and visible on return

  status = store->WriteSync([](WriteTxn&) { return Status::Error(Code::kAborted, "no"); });
  EXPECT_EQ(status.code, Code::kAborted);
  EXPECT_EQ(status.message, "no");
  EXPECT_TRUE(store->WriteSync(nullptr).ok());  // an empty job is a no-op
}

TEST_F(StoreTest, WriteSyncOnTheWriterThreadFailsInsteadOfDeadlocking) {
  std::promise<Status> inner;
  store->Submit(
      [](WriteTxn&) { return Status::Ok(); },
      [&](Status) { inner.set_value(store->WriteSync([](WriteTxn&) { return Status::Ok(); })); });
  auto future = inner.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  Status status = future.get();
  EXPECT_EQ(status.code, Code::kInternal);
  EXPECT_NE(status.message.find("deadlock"), std::string::npos) << status.message;
}

TEST_F(StoreTest, ThrowingCompletionDoesNotStopTheWriter) {
  store->Submit([](WriteTxn&) { return Status::Ok(); },
                [](Status) { throw std::runtime_error("careless completion"); });
  RecordRow cart = MakeCart(kAlice, "c1");
  EXPECT_TRUE(store->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(cart); }).ok());
}

TEST_F(StoreTest, CloseDrainsQueuedJobsThenRefusesNewOnes) {
  constexpr int kJobs = 50;
  Gate gate;
  store->Submit(gate.Job(), nullptr);
  gate.WaitEntered();
  Completions completions(kJobs);
  for (int i = 0; i < kJobs; ++i) store->Submit(InsertCartJob(i), completions.Done(i));

  std::atomic<bool> closed{false};
  std::thread closer([&] {
    store->Close();
    closed = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(closed.load());  // waits for the queue
  gate.Open();
  closer.join();

  // Every queued job ran and was reported before Close returned.
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_EQ(completions.calls(i), 1);
    EXPECT_TRUE(completions.status(i).ok()) << completions.status(i).message;
  }

  std::promise<Status> late;
  store->Submit(InsertCartJob(kJobs), [&](Status s) { late.set_value(s); });
  auto future = late.get_future();
  ASSERT_EQ(future.wait_for(0s), std::future_status::ready);  // completed inside Submit
  EXPECT_EQ(future.get().code, Code::kUnavailable);
  EXPECT_EQ(store->WriteSync(InsertCartJob(kJobs)).code, Code::kUnavailable);
  store->Close();

  store = Open();
  for (int i = 0; i < kJobs; ++i) {
    EXPECT_TRUE(store->GetRecord(testing::Uri(kAlice, kCartCollection, Rkey(i))).has_value());
  }
  EXPECT_FALSE(store->GetRecord(testing::Uri(kAlice, kCartCollection, Rkey(kJobs))).has_value());
}

TEST_F(StoreTest, DestructorClosesLikeClose) {
  Completions completions(10);
  for (int i = 0; i < 10; ++i) store->Submit(InsertCartJob(i), completions.Done(i));
  store.reset();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(completions.calls(i), 1);
  store = Open();
  CartQuery query;
  query.did = kAlice;
  EXPECT_EQ(store->ListCarts(query).rows.size(), 10u);
}

TEST_F(StoreTest, BatchThatCannotStartIsUnavailableAndTheWriterRecovers) {
  store->Close();
  StoreOptions options = Options();
  options.busy_timeout_ms = 100;
  store = Open(options);

  // Another process holds the write lock for longer than our busy timeout.
  RawDb other(db_path());
  other.Exec("BEGIN IMMEDIATE");
  Status status = store->WriteSync(InsertCartJob(1));
  EXPECT_EQ(status.code, Code::kUnavailable);
  EXPECT_NE(status.message.find("locked"), std::string::npos) << status.message;
  other.Exec("COMMIT");

  // The cause is gone: the next batch works, and the failed one left nothing behind.
  status = store->WriteSync(InsertCartJob(2));
  EXPECT_TRUE(status.ok()) << status.message;
  EXPECT_FALSE(store->GetRecord(testing::Uri(kAlice, kCartCollection, Rkey(1))).has_value());
  EXPECT_TRUE(store->GetRecord(testing::Uri(kAlice, kCartCollection, Rkey(2))).has_value());
}

TEST_F(StoreTest, ReadersSeeCommittedDataWhileTheWriterIsBusy) {
  RecordRow committed = MakeCart(kAlice, "committed");
  InsertAll(*store, {&committed});

  // The writer inserts a row and then stays inside its transaction.
  RecordRow pending = MakeCart(kAlice, "pending");
  Gate gate;
  std::promise<Status> done;
  store->Submit(gate.Job([&](WriteTxn& txn) { return txn.InsertRecord(pending); }),
                [&](Status s) { done.set_value(s); });
  gate.WaitEntered();

  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < 6; ++t) {  // more threads than pooled connections
    readers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!store->GetRecord(committed.uri)) ++failures;
        if (store->GetRecord(pending.uri)) ++failures;  // not committed yet
        CartQuery query;
        query.did = kAlice;
        if (store->ListCarts(query).rows.size() != 1) ++failures;
      }
    });
  }
  for (auto& reader : readers) reader.join();
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LT(elapsed, 3s);  // not waiting for the writer (it waits for us)

  gate.Open();
  EXPECT_TRUE(done.get_future().get().ok());
  EXPECT_TRUE(store->GetRecord(pending.uri).has_value());
}

// How long the writer has been on its batch, for /xrpc/_health to tell a stuck disk: it grows
// while a job holds the batch and is 0 once the writer is idle.
TEST_F(StoreTest, StatsTellHowLongTheRunningBatchHasTaken) {
  EXPECT_EQ(store->stats().batch_ns, 0u);
  Gate gate;
  std::promise<Status> done;
  store->Submit(gate.Job([](WriteTxn&) { return Status::Ok(); }),
                [&](Status s) { done.set_value(s); });
  gate.WaitEntered();
  store->Submit([](WriteTxn&) { return Status::Ok(); }, [](Status) {});
  std::this_thread::sleep_for(50ms);
  const Store::Stats held = store->stats();
  EXPECT_GE(held.batch_ns, 50'000'000u);
  EXPECT_EQ(held.queued, 1u);
  gate.Open();
  EXPECT_TRUE(done.get_future().get().ok());
  // The writer marks itself idle just after the completions it ran.
  for (int i = 0; i < 100 && store->stats().batch_ns != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(store->stats().batch_ns, 0u);
}

TEST_F(StoreTest, SecondStoreOnTheSameFileWritesAndTheFirstSeesIt) {
  auto admin = Open();  // as atipay-admin would, while the server runs
  ASSERT_NE(admin, nullptr);
  RecordRow from_admin = MakeCart(kBob, "admin");
  InsertAll(*admin, {&from_admin});
  auto seen = store->GetRecord(from_admin.uri);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->seq, from_admin.seq);

  // While our writer holds the write lock, the admin's write waits (busy timeout) instead of
  // failing, and goes through once we commit.
  Gate gate;
  RecordRow ours = MakeCart(kAlice, "ours");
  std::promise<Status> ours_done;
  store->Submit(gate.Job([&](WriteTxn& txn) { return txn.InsertRecord(ours); }),
                [&](Status s) { ours_done.set_value(s); });
  gate.WaitEntered();
  RecordRow also_admin = MakeCart(kBob, "admin2");
  auto admin_write = std::async(std::launch::async, [&] {
    return admin->WriteSync([&](WriteTxn& txn) { return txn.InsertRecord(also_admin); });
  });
  EXPECT_EQ(admin_write.wait_for(200ms), std::future_status::timeout);
  gate.Open();
  EXPECT_TRUE(ours_done.get_future().get().ok());
  Status status = admin_write.get();
  EXPECT_TRUE(status.ok()) << status.message;

  EXPECT_TRUE(store->GetRecord(also_admin.uri).has_value());
  EXPECT_TRUE(admin->GetRecord(ours.uri).has_value());
  EXPECT_GT(also_admin.seq, ours.seq);  // one seq counter for both processes
  admin->Close();
}

}  // namespace
}  // namespace atipay::store
