// The trend thread (server/trend/thread.h) with a real TrendStore in a
// temporary directory: done callbacks come back to the calling thread only
// through RunDone(), the queue of closed windows is bounded and counts what
// it refuses, a failing disk loses nothing, and the destructor writes
// everything queued before it returns.
//
// Threads: the test's thread plays the event loop; the TrendThread runs its
// own.
#include "server/trend/thread.h"

#include <poll.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/mutex.h"
#include "gtest/gtest.h"
#include "leveldb/env.h"
#include "server/trend/store.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

// A file system whose writes fail on demand, as a full disk does.
class FailingEnv : public leveldb::EnvWrapper {
 public:
  FailingEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}
  std::atomic<bool> fail{false};
  // As a real full disk: a new (empty) file can still be made, writing
  // into it fails.
  std::atomic<bool> files_still_made{false};

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** out) override {
    if (fail && !files_still_made) {
      return leveldb::Status::IOError(name, "No space left on device");
    }
    leveldb::Status s = target()->NewWritableFile(name, out);
    if (s.ok()) *out = new File(*out, &fail);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** out) override {
    if (fail) return leveldb::Status::IOError(name, "No space left on device");
    leveldb::Status s = target()->NewAppendableFile(name, out);
    if (s.ok()) *out = new File(*out, &fail);
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* f, std::atomic<bool>* fail)
        : f_(f), fail_(fail) {}
    ~File() override { delete f_; }
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (*fail_) return leveldb::Status::IOError("No space left on device");
      return f_->Append(data);
    }
    leveldb::Status Close() override { return f_->Close(); }
    leveldb::Status Flush() override {
      if (*fail_) return leveldb::Status::IOError("No space left on device");
      return f_->Flush();
    }
    leveldb::Status Sync() override {
      if (*fail_) return leveldb::Status::IOError("No space left on device");
      return f_->Sync();
    }

   private:
    leveldb::WritableFile* f_;
    std::atomic<bool>* fail_;
  };
};

// Windows of `key`, one a step, recent enough for the thread's retention
// sweep ("10s:1d") to keep them.
std::vector<ClosedWindow> Windows(const std::string& key, int count,
                                  int first = 0) {
  const int64_t base_time = time(nullptr) / 10 * 10 - 20000;
  std::vector<ClosedWindow> windows;
  for (int i = first; i < first + count; ++i) {
    ClosedWindow w;
    w.key = key;
    w.start = base_time + 10 * i;
    w.count = 1;
    w.sum = w.min = w.max = w.last = i;
    windows.push_back(w);
  }
  return windows;
}

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

class TrendThreadTest : public ::testing::Test {
 protected:
  TrendThreadTest() : dir_(testing::MakeTempDir()) {}
  ~TrendThreadTest() override {
    // A test that stopped early must not leave the thread blocked: its
    // destructor would wait for it.
    if (!release_.HasBeenNotified()) release_.Notify();
    thread_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartThread() {
    auto store = TrendStore::Open(dir_ + "/trend", *Retention::Parse("10s:1d"));
    ASSERT_TRUE(store.ok()) << store.status();
    thread_ = std::make_unique<TrendThread>(std::move(*store));
  }

  // Keeps the trend thread busy in a Run until `release_` is notified;
  // returns once it is.
  void BlockThread() {
    Notification* started = &started_;
    Notification* release = &release_;
    thread_->Run(
        [started, release](TrendStore&) {
          started->Notify();
          release->WaitForNotification();
        },
        [] {});
    started_.WaitForNotification();
  }

  // The windows stored for `key`, read back from a store opened anew.
  size_t StoredWindows(const std::string& key) {
    auto store = TrendStore::Open(dir_ + "/trend", *Retention::Parse("10s:1d"));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return 0;
    return (*store)->Read(key, 0, 0, time(nullptr)).size();
  }

  std::string dir_;
  Notification started_;
  Notification release_;
  std::unique_ptr<TrendThread> thread_;
};

TEST_F(TrendThreadTest, DoneRunsOnTheCallingThreadOnlyThroughRunDone) {
  StartThread();
  std::atomic<bool> worked{false};
  std::thread::id work_thread;
  std::thread::id done_thread;
  int done_calls = 0;
  thread_->Run(
      [&](TrendStore&) {
        work_thread = std::this_thread::get_id();
        worked = true;
      },
      [&] {
        done_thread = std::this_thread::get_id();
        ++done_calls;
      });
  ASSERT_TRUE(testing::WaitFor([&] { return worked.load(); }));
  ASSERT_TRUE(testing::WaitFor([&] { return Readable(thread_->wake_fd()); }));
  EXPECT_EQ(done_calls, 0);  // not on the trend thread, not by itself
  thread_->RunDone();
  EXPECT_EQ(done_calls, 1);
  EXPECT_EQ(done_thread, std::this_thread::get_id());
  EXPECT_NE(work_thread, std::this_thread::get_id());
  // Woken once per answer: nothing is left to wake the loop for.
  EXPECT_FALSE(Readable(thread_->wake_fd()));
  thread_->RunDone();
  EXPECT_EQ(done_calls, 1);
}

TEST_F(TrendThreadTest, TheQueueRefusesBatchesPastItsBoundAndCountsThem) {
  StartThread();
  BlockThread();
  for (size_t i = 0; i < TrendThread::kMaxBatches; ++i) {
    std::vector<ClosedWindow> batch = Windows("q,b", 1, static_cast<int>(i));
    ASSERT_TRUE(thread_->SubmitWindows(&batch)) << i;
    EXPECT_TRUE(batch.empty());  // taken
  }
  EXPECT_EQ(thread_->queued_batches(), TrendThread::kMaxBatches);
  EXPECT_EQ(thread_->queue_full(), 0u);

  const int extra = static_cast<int>(TrendThread::kMaxBatches);
  std::vector<ClosedWindow> refused = Windows("q,b", 2, extra);
  for (uint64_t attempt = 1; attempt <= 2; ++attempt) {
    EXPECT_FALSE(thread_->SubmitWindows(&refused));
    EXPECT_EQ(thread_->queue_full(), attempt);
  }
  // Left as it was, for the loop to offer again.
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].key, "q,b");
  EXPECT_EQ(refused[1].start, Windows("q,b", 2, extra)[1].start);
  EXPECT_EQ(thread_->queued_batches(), TrendThread::kMaxBatches);

  // Once the thread drains the queue, the batch is taken.
  release_.Notify();
  ASSERT_TRUE(testing::WaitFor([&] { return thread_->queued_batches() == 0; }));
  EXPECT_TRUE(thread_->SubmitWindows(&refused));
  ASSERT_TRUE(testing::WaitFor([&] {
    return thread_->windows_written() == TrendThread::kMaxBatches + 2;
  }));
  EXPECT_EQ(thread_->queue_full(), 2u);
  thread_.reset();
  EXPECT_EQ(StoredWindows("q,b"), TrendThread::kMaxBatches + 2);
}

// kMaxWindows windows in one vector: ~0.6 GB for a moment.
TEST_F(TrendThreadTest, TheQueueRefusesWindowsPastItsBound) {
  StartThread();
  BlockThread();
  std::vector<ClosedWindow> first = Windows("q,w", 1);
  ASSERT_TRUE(thread_->SubmitWindows(&first));
  EXPECT_EQ(thread_->queued_windows(), 1u);
  std::vector<ClosedWindow> big(TrendThread::kMaxWindows);
  big.front().key = "q,w";
  big.back().key = "last";
  EXPECT_FALSE(thread_->SubmitWindows(&big));
  EXPECT_EQ(thread_->queue_full(), 1u);
  ASSERT_EQ(big.size(), TrendThread::kMaxWindows);  // untouched
  EXPECT_EQ(big.front().key, "q,w");
  EXPECT_EQ(big.back().key, "last");
  EXPECT_EQ(thread_->queued_windows(), 1u);
  EXPECT_EQ(thread_->queued_batches(), 1u);
  big.clear();
  big.shrink_to_fit();
  // A batch that fits is still taken.
  std::vector<ClosedWindow> small = Windows("q,w", 3, 1);
  EXPECT_TRUE(thread_->SubmitWindows(&small));
  EXPECT_EQ(thread_->queued_windows(), 4u);
  release_.Notify();
  thread_.reset();
  EXPECT_EQ(StoredWindows("q,w"), 4u);
}

TEST_F(TrendThreadTest, TheDestructorWritesEverythingQueued) {
  StartThread();
  BlockThread();
  constexpr int kBatches = 50;
  for (int i = 0; i < kBatches; ++i) {
    std::vector<ClosedWindow> batch = Windows("stop,x", 10, 10 * i);
    ASSERT_TRUE(thread_->SubmitWindows(&batch));
  }
  EXPECT_EQ(thread_->queued_batches(), static_cast<size_t>(kBatches));
  EXPECT_EQ(thread_->windows_written(), 0u);
  // Stop with the queue full: nothing may be left behind.
  release_.Notify();
  thread_.reset();
  EXPECT_EQ(StoredWindows("stop,x"), static_cast<size_t>(kBatches * 10));
}

// A full disk: writes fail and are counted, nothing is dropped, and once
// the disk has room the trend thread's retry stores every window.
TEST_F(TrendThreadTest, AFullDiskIsRetriedAndLosesNothing) {
  FailingEnv env;
  {
    auto store =
        TrendStore::Open(dir_ + "/trend", *Retention::Parse("10s:1d"), &env);
    ASSERT_TRUE(store.ok()) << store.status();
    {
      TrendThread thread(std::move(*store));
      env.fail = true;
      std::vector<ClosedWindow> windows = Windows("disk,full", 50);
      ASSERT_TRUE(thread.SubmitWindows(&windows));
      EXPECT_TRUE(testing::WaitFor([&] { return thread.write_errors() > 0; }));
      EXPECT_EQ(thread.windows_written(), 0u);
      env.fail = false;  // room again
      EXPECT_TRUE(testing::WaitFor(
          [&] { return thread.windows_written() >= 50; }, absl::Seconds(20)));
      EXPECT_EQ(thread.windows_written(), 50u);
    }
  }
  EXPECT_EQ(StoredWindows("disk,full"), 50u);
}

// A full disk on which empty files can still be made: queries and
// snapshots queued behind the failing writes run at once, the retries
// leave no files behind (no empty .log a second), and once the disk has
// room every window is stored.
TEST_F(TrendThreadTest, AFullDiskHoldsUpNothingButHistoryAndLeavesNoDebris) {
  FailingEnv env;
  env.files_still_made = true;
  auto count_files = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/trend")) {
      (void)e;
      ++n;
    }
    return n;
  };
  {
    auto store =
        TrendStore::Open(dir_ + "/trend", *Retention::Parse("10s:1d"), &env);
    ASSERT_TRUE(store.ok()) << store.status();
    TrendThread thread(std::move(*store));
    env.fail = true;
    std::vector<ClosedWindow> windows = Windows("disk,full", 50);
    ASSERT_TRUE(thread.SubmitWindows(&windows));
    ASSERT_TRUE(testing::WaitFor([&] { return thread.write_errors() > 0; }));
    size_t files = count_files();
    // A query (and a snapshot, the same kind of task) is answered while
    // the disk stays full.
    Notification answered;
    thread.Run([&answered](TrendStore&) { answered.Notify(); }, [] {});
    auto start = std::chrono::steady_clock::now();
    answered.WaitForNotification();
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::seconds(3));
    // Three more retries, each reopening the store: no file is left over.
    uint64_t errors = thread.write_errors();
    ASSERT_TRUE(
        testing::WaitFor([&] { return thread.write_errors() >= errors + 3; },
                         absl::Seconds(20)));
    // A retry in progress has its files for a moment (a new MANIFEST and
    // .log that a failed open leaves): none stays.
    EXPECT_TRUE(testing::WaitFor([&] { return count_files() <= files; },
                                 absl::Seconds(5)))
        << count_files() << " files, " << files << " at the first error";
    EXPECT_EQ(thread.windows_written(), 0u);
    env.fail = false;
    EXPECT_TRUE(testing::WaitFor([&] { return thread.windows_written() >= 50; },
                                 absl::Seconds(20)));
  }
  EXPECT_EQ(StoredWindows("disk,full"), 50u);
}

}  // namespace
}  // namespace canopy
