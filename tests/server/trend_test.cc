// Trend history: the store with a clock the test controls (no sleeping
// through hours), and its encodings. The server side: trend_server_test.cc.
#include <event2/event.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "rapidjson/document.h"
#include "server/trend/store.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000 - 1700000000 % 86400;  // a midnight

struct Sample {
  int64_t time;
  double value;
};

// Drives a Tree and a TrendStore as canopyd does, with explicit times.
class Rig {
 public:
  explicit Rig(const std::string& retention, std::string dir = "",
               StoreMemory memory = {})
      : dir_(dir.empty() ? testing::MakeTempDir() : dir),
        own_(dir.empty()),
        retention_(retention),
        memory_(memory) {
    Open();
  }
  ~Rig() {
    store_.reset();
    if (own_) std::filesystem::remove_all(dir_);
  }
  void Open() {
    Tree::Options o;
    o.history = true;
    o.step_seconds =
        static_cast<int>(Retention::Parse(retention_)->levels[0].step);
    tree_ = std::make_unique<Tree>(o);
    auto store =
        TrendStore::Open(dir_ + "/trend", *Retention::Parse(retention_),
                         /*env=*/nullptr, /*repair=*/false, memory_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  // A clean stop and a start on the same data.
  void Restart() {
    Flush(0, /*all=*/true);
    store_.reset();
    Open();
  }
  void Add(const std::string& key, Action action, double v, int64_t now) {
    LineSample s;
    s.action = action;
    s.value = v;
    ASSERT_TRUE(tree_->AddSample(*SplitKey(key), s, now).ok());
  }
  void Flush(int64_t now, bool all = false) {
    std::vector<ClosedWindow> out;
    if (all) {
      tree_->CloseAllWindows(&out);
    } else {
      tree_->CloseWindows(now, &out);
    }
    ASSERT_TRUE(store_->Write(out).ok());
  }
  TrendResult Query(const std::string& key, int64_t from, int64_t to,
                    int64_t step, TrendFn fn) {
    TrendQuery q;
    q.patterns.push_back(*Pattern::Parse(key));
    q.from = from;
    q.to = to;
    q.step = step;
    q.fn = fn;
    auto r = store_->Query(q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TrendResult();
  }
  TrendStore& store() { return *store_; }
  Tree& tree() { return *tree_; }
  const std::string& dir() const { return dir_; }
  // Closes the store (the directory stays until the Rig goes).
  void Close() { store_.reset(); }

 private:
  std::string dir_;
  bool own_;
  std::string retention_;
  StoreMemory memory_;
  std::unique_ptr<Tree> tree_;
  std::unique_ptr<TrendStore> store_;
};

// The figure `fn` of the samples in [start, start + step).
double BruteForce(const std::vector<Sample>& samples, int64_t start,
                  int64_t step, TrendFn fn, bool* any) {
  std::vector<double> in;
  for (const Sample& s : samples) {
    if (s.time >= start && s.time < start + step) in.push_back(s.value);
  }
  *any = !in.empty();
  if (in.empty()) return 0;
  double sum = 0;
  for (double v : in) sum += v;
  switch (fn) {
    case TrendFn::kAvg:
      return sum / in.size();
    case TrendFn::kSum:
      return sum;
    case TrendFn::kMin:
      return *std::min_element(in.begin(), in.end());
    case TrendFn::kMax:
      return *std::max_element(in.begin(), in.end());
    case TrendFn::kLast:
      return in.back();
    case TrendFn::kCount:
      return static_cast<double>(in.size());
    case TrendFn::kRate:
      return sum / static_cast<double>(step);
    default:
      return 0;
  }
}

std::vector<Sample> RandomSamples(int64_t from, int64_t seconds, int seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> gap(1, 7);
  std::uniform_real_distribution<double> value(-50, 150);
  std::vector<Sample> out;
  for (int64_t t = from; t < from + seconds; t += gap(rng)) {
    out.push_back(Sample{t, std::round(value(rng) * 100) / 100});
  }
  return out;
}

TEST(TrendStoreTest, RollupsEqualABruteForceOverRawSamples) {
  Rig rig("10s:1d,1m:7d,1h:30d");
  const int64_t kSpan = 3 * 3600 + 1234;
  std::vector<Sample> samples = RandomSamples(kT0, kSpan, 1);
  for (const Sample& s : samples) {
    rig.Add("h,cpu", Action::kAvg, s.value, s.time);
    rig.Flush(s.time);
  }
  rig.Flush(0, /*all=*/true);
  const int64_t end = kT0 + kSpan;
  for (int64_t step : {10, 60, 3600}) {
    for (TrendFn fn :
         {TrendFn::kAvg, TrendFn::kSum, TrendFn::kMin, TrendFn::kMax,
          TrendFn::kLast, TrendFn::kCount, TrendFn::kRate}) {
      TrendResult r = rig.Query("h,cpu", kT0, end, step, fn);
      ASSERT_EQ(r.step, step);
      ASSERT_EQ(r.series.size(), 1u);
      std::map<int64_t, double> got(r.series[0].points.begin(),
                                    r.series[0].points.end());
      size_t expected_points = 0;
      for (int64_t b = kT0; b < end; b += step) {
        bool any;
        double want = BruteForce(samples, b, step, fn, &any);
        if (!any) continue;
        ++expected_points;
        ASSERT_TRUE(got.count(b)) << "step " << step << " bucket " << b;
        EXPECT_NEAR(got[b], want, 1e-9 * std::max(1.0, std::fabs(want)))
            << "step " << step << " fn " << static_cast<int>(fn) << " at " << b;
      }
      EXPECT_EQ(got.size(), expected_points) << "step " << step;
    }
  }
}

// History sent with its timestamps for a series that has nothing newer
// (Graphite's backfill, a relay catching up): each window is late for the
// tree but in order for the store, so it is rolled up and packed as a live
// one is. Before, such windows stayed single at the finest level only: the
// coarse levels never had them and --retention deleted them with it.
TEST(TrendStoreTest, BackfilledHistoryIsRolledUpAndOutlivesTheFinestLevel) {
  Rig rig("10s:1h,1m:1d");
  const int64_t kSpan = 3 * 3600;
  const int64_t now = kT0 + kSpan + 600;
  std::vector<Sample> samples = RandomSamples(kT0, kSpan, 7);
  for (size_t i = 0; i < samples.size(); ++i) {
    LineSample s;
    s.action = Action::kAvg;
    s.value = samples[i].value;
    s.time = samples[i].time;
    ASSERT_TRUE(rig.tree().AddSample(*SplitKey("bf"), s, now).ok());
    if (i % 500 == 499) rig.Flush(now);  // hand-overs as the lines come
  }
  rig.Flush(now, /*all=*/true);
  // Every minute but the newest (still being filled at the 1 m level).
  EXPECT_GE(rig.store().Read("bf", 1, 0, now).size(), 179u);
  ASSERT_TRUE(rig.store().EnforceRetention(now, 1000000).ok());
  TrendResult r = rig.Query("bf", kT0, kT0 + kSpan, 60, TrendFn::kAvg);
  ASSERT_EQ(r.series.size(), 1u);
  std::map<int64_t, double> got(r.series[0].points.begin(),
                                r.series[0].points.end());
  size_t expected_points = 0;
  for (int64_t b = kT0; b < kT0 + kSpan; b += 60) {
    bool any;
    double want = BruteForce(samples, b, 60, TrendFn::kAvg, &any);
    if (!any) continue;
    ++expected_points;
    ASSERT_TRUE(got.count(b)) << "minute " << (b - kT0) / 60;
    EXPECT_NEAR(got[b], want, 1e-9 * std::max(1.0, std::fabs(want)));
  }
  EXPECT_EQ(got.size(), expected_points);
}

// A backfill of one series that ends many block periods in one write: the
// windows of every ended period are packed, once, and read back exact (the
// write path packs each series and level once a slice, through iterators
// shared by its jobs).
TEST(TrendStoreTest, ABackfillEndingManyBlockPeriodsAtOnceIsPackedWhole) {
  Rig rig("1s:1d,1m:7d");
  const int64_t kSpan = 3 * 3600;  // 42 periods of 256 one-second windows
  const int64_t now = kT0 + kSpan + 60;
  for (int64_t t = kT0; t < kT0 + kSpan; ++t) {
    LineSample s;
    s.action = Action::kLast;
    s.value = static_cast<double>(t % 1000);
    s.time = t;
    ASSERT_TRUE(rig.tree().AddSample(*SplitKey("one"), s, now).ok());
  }
  rig.Flush(now, /*all=*/true);  // one write of 10 800 windows
  std::vector<TrendWindow> got = rig.store().Read("one", 0, 0, now);
  ASSERT_EQ(got.size(), static_cast<size_t>(kSpan));
  for (int64_t i = 0; i < kSpan; ++i) {
    ASSERT_EQ(got[i].start, kT0 + i);
    ASSERT_EQ(got[i].last, static_cast<double>((kT0 + i) % 1000));
  }
  const std::string dir = rig.dir() + "/trend";
  rig.Close();
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
  size_t singles = 0;
  for (it->Seek("W"); it->Valid() && it->key().starts_with("W"); it->Next()) {
    ++singles;
  }
  // Only the newest period, still open, keeps single windows.
  EXPECT_GT(singles, 0u);
  EXPECT_LT(singles, BlockWriter::kWindowsPerBlock + 200u);  // and minutes
}

// A large answer is read on several threads (TrendStore::kQueryThreads):
// it is the same, in the same order, as each series read alone.
TEST(TrendStoreTest, AQueryOfManySeriesEqualsEachSeriesReadAlone) {
  Rig rig("10s:1d,1m:7d");
  const size_t kSeries = 3 * TrendStore::kSeriesPerQueryThread + 5;
  for (int64_t t = kT0; t < kT0 + 1800; t += 10) {
    for (size_t i = 0; i < kSeries; ++i) {
      rig.Add(absl::StrCat("many,s", i), Action::kAvg,
              static_cast<double>((i * 7 + t / 10) % 100) + 0.5, t);
    }
    rig.Flush(t);
  }
  rig.Flush(0, /*all=*/true);
  TrendResult all = rig.Query("many,*", kT0, kT0 + 1800, 60, TrendFn::kAvg);
  ASSERT_EQ(all.series.size(), kSeries);
  for (size_t i = 0; i < kSeries; ++i) {
    const TrendSeries& got = all.series[i];
    if (i > 0) {
      EXPECT_LT(all.series[i - 1].key, got.key);
    }
    TrendResult alone = rig.Query(got.key, kT0, kT0 + 1800, 60, TrendFn::kAvg);
    ASSERT_EQ(alone.series.size(), 1u);
    EXPECT_EQ(got.points, alone.series[0].points) << got.key;
    EXPECT_EQ(got.points.size(), 30u) << got.key;
  }
}

// Issue 17: writing history (its rollups, packs and merges read back what
// was written) leaves the block cache to queries, and table files are read,
// not mapped: a burst of history cost the cache's whole 64 MB and the mapped
// pages of every table it read in RSS.
TEST(TrendStoreTest, WritingHistoryLeavesTheCacheToQueriesAndMapsNoTable) {
  StoreMemory memory;
  memory.write_buffer_bytes = 64 << 10;  // many tables, read by rollups
  Rig rig("10s:1d,1m:7d,1h:30d", "", memory);
  const size_t cached = TrendStore::CacheBytes();
  const int64_t kSpan = 3 * 3600;
  for (int64_t t = kT0; t < kT0 + kSpan; t += 10) {
    for (int i = 0; i < 100; ++i) {
      rig.Add(absl::StrCat("burst,s", i), Action::kAvg, (i + t) % 97, t);
    }
    if (t % 300 == 0) rig.Flush(t);
  }
  rig.Flush(0, /*all=*/true);
  EXPECT_EQ(TrendStore::CacheBytes(), cached);
  // Nor does reading the series dictionary after a restart.
  rig.Restart();
  rig.Add("burst,s7", Action::kAvg, 1, kT0 + kSpan);
  rig.Flush(0, /*all=*/true);
  EXPECT_EQ(TrendStore::CacheBytes(), cached);
  EXPECT_GE(rig.store().Read("burst,s7", 2, 0, kT0 + kSpan).size(), 2u);

  TrendResult r = rig.Query("burst,*", kT0, kT0 + kSpan, 10, TrendFn::kAvg);
  ASSERT_EQ(r.series.size(), 100u);
  EXPECT_GT(TrendStore::CacheBytes(), cached);

  std::ifstream maps("/proc/self/maps");
  std::string line, mapped;
  while (std::getline(maps, line)) {
    if (absl::StrContains(line, rig.dir()) && absl::StrContains(line, ".ldb")) {
      mapped = line;
    }
  }
  EXPECT_EQ(mapped, "");
  size_t tables = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(rig.dir() + "/trend")) {
    tables += e.path().extension() == ".ldb";
  }
  EXPECT_GT(tables, 1u);
}

TEST(TrendStoreTest, TimerPercentilesStayRightAcrossRollups) {
  Rig rig("10s:1d,1m:7d,1h:30d");
  std::mt19937 rng(7);
  std::lognormal_distribution<double> latency(3, 1);
  std::vector<double> all;
  for (int64_t t = kT0; t < kT0 + 3600; ++t) {
    for (int i = 0; i < 5; ++i) {
      double v = latency(rng);
      all.push_back(v);
      rig.Add("api,lat", Action::kTimer, v, t);
    }
    rig.Flush(t);
  }
  rig.Flush(0, true);
  std::sort(all.begin(), all.end());
  for (auto [fn, q] : {std::pair<TrendFn, double>{TrendFn::kP50, 0.5},
                       {TrendFn::kP90, 0.9},
                       {TrendFn::kP99, 0.99}}) {
    // One bucket for the whole hour: merged from 360 windows of 10 s.
    TrendResult r = rig.Query("api,lat", kT0, kT0 + 3600, 3600, fn);
    ASSERT_EQ(r.series.size(), 1u);
    ASSERT_EQ(r.series[0].points.size(), 1u);
    double got = r.series[0].points[0].second;
    // Within the sketch's 1 % of a value whose rank is within one sample.
    double lo = all[static_cast<size_t>(q * (all.size() - 1))] * 0.99;
    double hi = all[std::min(all.size() - 1,
                             static_cast<size_t>(q * (all.size() - 1)) + 1)] *
                1.01;
    EXPECT_GE(got, lo) << q;
    EXPECT_LE(got, hi) << q;
  }
}

TEST(TrendStoreTest, RestartRebuildsTheCoarseWindowsBeingFilled) {
  std::string dir = testing::MakeTempDir();
  std::vector<Sample> samples = RandomSamples(kT0, 2 * 3600, 3);
  {
    Rig rig("10s:1d,1m:7d,1h:30d", dir);
    size_t half = samples.size() / 2;
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i == half) rig.Restart();  // in the middle of a minute and an hour
      rig.Add("r", Action::kAdd, samples[i].value, samples[i].time);
      rig.Flush(samples[i].time);
    }
    rig.Flush(0, true);
    for (int64_t step : {60, 3600}) {
      TrendResult r = rig.Query("r", kT0, kT0 + 2 * 3600, step, TrendFn::kSum);
      ASSERT_EQ(r.series.size(), 1u);
      for (const auto& [t, v] : r.series[0].points) {
        bool any;
        EXPECT_NEAR(v, BruteForce(samples, t, step, TrendFn::kSum, &any), 1e-6)
            << "step " << step << " at " << t;
      }
      EXPECT_EQ(r.series[0].points.size(),
                static_cast<size_t>(2 * 3600 / step));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(TrendStoreTest, LateSamplesLandInTheirOwnWindow) {
  Rig rig("10s:1d,1m:7d");
  rig.Add("late", Action::kAdd, 1, kT0 + 5);
  rig.Flush(kT0 + 200);  // the window at kT0 is stored
  // A sample dated kT0 + 7 arrives at kT0 + 300.
  LineSample s;
  s.action = Action::kAdd;
  s.value = 4;
  s.time = kT0 + 7;
  ASSERT_TRUE(rig.tree().AddSample(*SplitKey("late"), s, kT0 + 300).ok());
  rig.Flush(kT0 + 400, true);
  TrendResult r10 = rig.Query("late", kT0, kT0 + 600, 10, TrendFn::kSum);
  ASSERT_EQ(r10.series.size(), 1u);
  ASSERT_FALSE(r10.series[0].points.empty());
  EXPECT_EQ(r10.series[0].points[0], (std::pair<int64_t, double>{kT0, 5}));
  TrendResult r60 = rig.Query("late", kT0, kT0 + 600, 60, TrendFn::kSum);
  EXPECT_EQ(r60.series[0].points[0], (std::pair<int64_t, double>{kT0, 5}));
}

// A sender whose timestamps lag a window behind: its late samples of one
// window are merged in the tree before the hand-over (one window per series
// a second for the trend thread), and the stored window is exactly what
// the samples make: counts and sums add, extremes hold, timers' quantiles
// come from all of them.
TEST(TrendStoreTest, ManyLateSamplesOfOneWindowMergeExactly) {
  Rig rig("10s:1d,1m:7d");
  rig.Add("c", Action::kAdd, 1, kT0 + 1);
  rig.Add("g", Action::kMax, 50, kT0 + 1);
  rig.Add("t", Action::kTimer, 100, kT0 + 1);
  rig.Flush(kT0 + 200);  // the windows at kT0 are stored
  std::vector<ClosedWindow> handed;
  for (int i = 1; i <= 200; ++i) {
    for (auto [key, action, value] :
         {std::tuple<const char*, Action, double>{"c", Action::kAdd, 2},
          {"g", Action::kMax, static_cast<double>(i)},
          {"t", Action::kTimer, static_cast<double>(i)}}) {
      LineSample s;
      s.action = action;
      s.value = value;
      s.time = kT0 + 1 + i % 9;  // all in the window at kT0
      ASSERT_TRUE(rig.tree().AddSample(*SplitKey(key), s, kT0 + 300).ok());
    }
  }
  // Before the hand-over the tree holds one late window per series.
  rig.tree().CloseWindows(kT0 + 300, &handed);
  size_t late = 0;
  for (const ClosedWindow& w : handed) late += w.late;
  EXPECT_EQ(late, 3u);
  ASSERT_TRUE(rig.store().Write(handed).ok());
  rig.Flush(kT0 + 400, true);
  auto first = [&](const char* key, TrendFn fn) {
    TrendResult r = rig.Query(key, kT0, kT0 + 10, 10, fn);
    EXPECT_EQ(r.series.size(), 1u) << key;
    return r.series.empty() || r.series[0].points.empty()
               ? std::nan("")
               : r.series[0].points[0].second;
  };
  EXPECT_EQ(first("c", TrendFn::kSum), 1 + 200 * 2);
  EXPECT_EQ(first("c", TrendFn::kCount), 201);
  EXPECT_EQ(first("g", TrendFn::kMax), 200);
  EXPECT_EQ(first("g", TrendFn::kMin), 1);
  EXPECT_EQ(first("t", TrendFn::kCount), 201);
  EXPECT_EQ(first("t", TrendFn::kMax), 200);
  // 100 and 1..200: the median is 100, within the sketch's 1 %.
  EXPECT_NEAR(first("t", TrendFn::kP50), 100, 1.5);
  EXPECT_NEAR(first("t", TrendFn::kP99), 199, 2.5);
}

TEST(TrendStoreTest, RetentionDeletesWhatIsPastItAndNothingMore) {
  Rig rig("10s:1h,1m:1d");
  for (int64_t t = kT0; t < kT0 + 7200; t += 10) {
    rig.Add("ret", Action::kLast, 1, t);
    rig.Flush(t);
  }
  rig.Flush(0, true);
  int64_t now = kT0 + 7200;
  ASSERT_TRUE(rig.store().EnforceRetention(now, 1000000).ok());
  std::vector<TrendWindow> fine = rig.store().Read("ret", 0, 0, now + 10);
  ASSERT_FALSE(fine.empty());
  // The 10 s level keeps one hour, deleted a block (256 windows) at a
  // time: every window of the last hour is there, nothing a block older.
  const int64_t block = 256 * 10;
  EXPECT_GE(fine.front().start, now - 3600 - block);
  EXPECT_LE(fine.front().start, now - 3600);
  EXPECT_EQ(fine.back().start, now - 10);
  size_t last_hour = 0;
  for (const TrendWindow& w : fine) last_hour += w.start >= now - 3600;
  EXPECT_EQ(last_hour, 360u);
  // The 1 m level keeps a day: the two hours are still there (the last
  // minute is still being filled, and a query reads it from the 10 s level).
  EXPECT_EQ(rig.store().Read("ret", 1, 0, now + 60).size(), 119u);
  TrendResult r = rig.Query("ret", kT0, now, 60, TrendFn::kCount);
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].points.size(), 120u);
}

TEST(TrendStoreTest, HugeQueriesAreRefusedWithAReason) {
  Rig rig("10s:1d");
  rig.Add("x", Action::kLast, 1, kT0);
  rig.Flush(0, true);
  TrendQuery q;
  q.patterns.push_back(*Pattern::Parse("x"));
  q.from = kT0 - 100 * 86400;
  q.to = kT0 + 1;
  q.step = 1;
  q.max_points = 1000;
  auto r = rig.store().Query(q);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("narrow the range"), std::string::npos);
  EXPECT_FALSE(ParseTrendFn("median").ok());
  EXPECT_FALSE(Retention::Parse("10s:2d,15s:1d").ok());
  EXPECT_FALSE(Retention::Parse("1m:2d,10s:1d").ok());
}

TEST(TrendWindowTest, EncodingRoundTrips) {
  TrendWindow single{100, 1, 4.5, 4.5, 4.5, 4.5, ""};
  TrendWindow many{100, 3, 10, 1, 6, 3, "Sblob"};
  for (const TrendWindow& w : {single, many}) {
    TrendWindow back;
    ASSERT_TRUE(DecodeWindow(EncodeWindow(w), 100, &back));
    EXPECT_EQ(back.count, w.count);
    EXPECT_EQ(back.sum, w.sum);
    EXPECT_EQ(back.min, w.min);
    EXPECT_EQ(back.max, w.max);
    EXPECT_EQ(back.last, w.last);
    EXPECT_EQ(back.blob, w.blob);
  }
  EXPECT_EQ(EncodeWindow(single).size(), 9u);  // a gauge costs a value
  TrendWindow bad;
  EXPECT_FALSE(DecodeWindow("", 0, &bad));
  EXPECT_FALSE(DecodeWindow(std::string("\0abc", 4), 0, &bad));
}

}  // namespace
}  // namespace canopy
