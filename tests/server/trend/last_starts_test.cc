// TrendStore after a restart with many series: each series' newest stored
// window start comes back without one LevelDB seek a series (from the
// record a clean stop leaves, or from one pass after a kill), and what it
// guards holds: a window continued after the restart merges with the
// stored part, and the coarser window it completes is rolled up.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/trend/store.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000 - 1700000000 % 86400;  // a midnight
constexpr size_t kSeries = 50000;
constexpr char kRetention[] = "10s:1d,1m:7d";

std::string KeyOf(size_t i) {
  return absl::StrCat("host", i / 500, ",leaf", i % 500);
}

// One window at `start` of every series: one sample of 1.
std::vector<ClosedWindow> Windows(int64_t start) {
  std::vector<ClosedWindow> out(kSeries);
  for (size_t i = 0; i < kSeries; ++i) {
    ClosedWindow& w = out[i];
    w.key = KeyOf(i);
    w.start = start;
    w.action = Action::kAdd;
    w.count = 1;
    w.sum = w.min = w.max = w.last = 1;
  }
  return out;
}

class LastStartsTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "last_starts_" + std::to_string(getpid());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<TrendStore> Open() {
    auto store = TrendStore::Open(dir_, *Retention::Parse(kRetention));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Writes `starts` (in order) and checks every 97th series after:
  // window `merged` holds two samples (stored before the restart and
  // continued after it), and the minute from kT0 is rolled up whole.
  void WriteAfterRestartAndCheck(TrendStore* store, int64_t merged,
                                 int minute_count) {
    for (int64_t start = merged; start <= kT0 + 60; start += 10) {
      ASSERT_TRUE(store->Write(Windows(start)).ok());
    }
    EXPECT_EQ(store->last_start_lookups(), 0u);
    for (size_t i = 0; i < kSeries; i += 97) {
      std::vector<TrendWindow> w =
          store->Read(KeyOf(i), 0, merged, merged + 10);
      ASSERT_EQ(w.size(), 1u) << KeyOf(i);
      EXPECT_EQ(w[0].count, 2) << KeyOf(i);
      std::vector<TrendWindow> m = store->Read(KeyOf(i), 1, kT0, kT0 + 60);
      ASSERT_EQ(m.size(), 1u) << KeyOf(i);
      EXPECT_EQ(m[0].count, minute_count) << KeyOf(i);
    }
  }
  std::string dir_;
};

TEST_F(LastStartsTest, ACleanStopSavesThemAndTheRestartSeeksNone) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Write(Windows(kT0)).ok());
    ASSERT_TRUE(store->Write(Windows(kT0 + 10)).ok());
  }  // a clean stop
  auto store = Open();
  store->LoadSeries();
  EXPECT_TRUE(store->last_starts_saved());
  EXPECT_EQ(store->series_count(), kSeries);
  // kT0 + 10 again, then on to kT0 + 60: 1 + 2 + 4 samples in the minute.
  WriteAfterRestartAndCheck(store.get(), kT0 + 10, 7);
}

TEST_F(LastStartsTest, AfterAKillTheyComeFromOnePassNotFromAnOldRecord) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Write(Windows(kT0)).ok());
    ASSERT_TRUE(store->Write(Windows(kT0 + 10)).ok());
  }  // a clean stop leaves the record (newest: kT0 + 10)
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A restart that writes kT0 + 20 and is killed: the record it read
    // must not be found again (it would say kT0 + 10).
    auto store = TrendStore::Open(dir_, *Retention::Parse(kRetention));
    if (!store.ok() || !(*store)->Write(Windows(kT0 + 20)).ok()) _exit(1);
    kill(getpid(), SIGKILL);
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  auto store = Open();
  store->LoadSeries();
  EXPECT_FALSE(store->last_starts_saved());
  // kT0 + 20 continued, then on to kT0 + 60: 2 + 2 + 3 samples.
  WriteAfterRestartAndCheck(store.get(), kT0 + 20, 7);
}

}  // namespace
}  // namespace canopy
