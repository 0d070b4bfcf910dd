// Trend history: the store with a clock the test controls (no sleeping
// through hours), and /trend against the real canopyd.
#include <event2/event.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
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
  explicit Rig(const std::string& retention, std::string dir = "")
      : dir_(dir.empty() ? testing::MakeTempDir() : dir),
        own_(dir.empty()),
        retention_(retention) {
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
        TrendStore::Open(dir_ + "/trend", *Retention::Parse(retention_));
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

 private:
  std::string dir_;
  bool own_;
  std::string retention_;
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

// ---------------------------------------------------------------- server

class TrendServerTest : public ::testing::Test {
 protected:
  void Start(std::string dir = "") {
    auto s = testing::ServerProcess::Start({"--retention=10s:2d,1m:30d"}, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  HttpReply Get(const std::string& target) {
    auto r = server_->Client().Request("GET", target);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : HttpReply();
  }
  void Push(const std::string& json) {
    auto r = server_->Client().Request("POST", "/push", json,
                                       {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(TrendServerTest, DatedPushesComeBackFromTrendAsJsonAndCsv) {
  Start();
  int64_t now = time(nullptr);
  int64_t base = now - now % 60 - 3600;  // an hour ago, on a minute
  for (int i = 0; i < 6; ++i) {
    Push(absl::StrCat(R"({"time": )", base + i * 60, R"(, "srv": {"a": )", i,
                      R"(, "b": )", 10 * i, "}}"));
  }
  // The dated windows were handed over at once: query until they show.
  std::string target = absl::StrCat("/trend?key=srv&from=", base,
                                    "&to=", base + 359, "&step=60&fn=max");
  rapidjson::Document d;
  testing::WaitFor([&] {
    HttpReply r = Get(target);
    EXPECT_EQ(r.status, 200) << r.body;
    d.Parse(r.body.c_str());
    return d.IsObject() && d["series"].Size() == 2 &&
           d["series"][1]["points"].Size() == 6;
  });
  ASSERT_EQ(d["series"].Size(), 2u);
  EXPECT_EQ(d["step"].GetInt(), 60);
  EXPECT_STREQ(d["series"][0]["key"].GetString(), "srv,a");
  ASSERT_EQ(d["series"][1]["points"].Size(), 6u);
  EXPECT_EQ(d["series"][1]["points"][5][0].GetInt64(), base + 300);
  EXPECT_EQ(d["series"][1]["points"][5][1].GetDouble(), 50);

  HttpReply csv = Get(target + "&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.Header("content-type").substr(0, 8), "text/csv");
  std::vector<std::string> lines =
      absl::StrSplit(csv.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "time,\"srv,a\",\"srv,b\"");
  EXPECT_EQ(lines[6], absl::StrCat(base + 300, ",5,50"));

  // CSV numbers as the JSON writes them: 9.78, not 9.7799999999999994.
  Push(absl::StrCat(R"({"time": )", base, R"(, "dec": {"x": 9.78}})"));
  std::string dec = absl::StrCat("/trend?key=dec,x&from=", base,
                                 "&to=", base + 59, "&step=60&format=csv");
  HttpReply dec_csv;
  EXPECT_TRUE(testing::WaitFor([&] {
    dec_csv = Get(dec);
    return std::count(dec_csv.body.begin(), dec_csv.body.end(), '\n') >= 2;
  }));
  EXPECT_EQ(dec_csv.body, absl::StrCat("time,\"dec,x\"\n", base, ",9.78\n"));
}

TEST_F(TrendServerTest, BadQueriesGetClearErrors) {
  Start();
  EXPECT_EQ(Get("/trend").status, 400);
  EXPECT_EQ(Get("/trend?key=a&from=yesterday").status, 400);
  EXPECT_EQ(Get("/trend?key=a&step=-5").status, 400);
  EXPECT_EQ(Get("/trend?key=a&fn=median").status, 400);
  EXPECT_EQ(Get("/trend?key=a&from=now&to=-1h").status, 400);
  HttpReply empty = Get("/trend?key=never,seen&from=-1h");
  EXPECT_EQ(empty.status, 200);
  EXPECT_NE(empty.body.find("\"series\":[]"), std::string::npos);
}

TEST_F(TrendServerTest, ACleanStopLosesNothing) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  Push(R"({"keep": {"x": 42}})");
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  Start(dir);
  // The open window was flushed at the stop: history has it right away.
  HttpReply r = Get("/trend?key=keep&from=-5m&step=10&fn=last");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(",42]"), std::string::npos) << r.body;
  server_.reset();
  std::filesystem::remove_all(dir);
}

// A restart brings the tree back: values, actions, markers and the seq, so
// counters do not reset and a /pull cursor stays valid.
TEST_F(TrendServerTest, RestartRestoresTheTreeAndTheSeq) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  Push(R"({"c": {"hits": 5, "defaultaction": "add", "marker": "v1"}})");
  Push(R"({"c": {"hits": 2}, "t": "text"})");
  std::string before = Get("/get?key=c&key=t").body;
  rapidjson::Document d;
  d.Parse(before.c_str());
  uint64_t seq = d["seq"].GetUint64();
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  Start(dir);
  EXPECT_EQ(Get("/get?key=c&key=t").body, before);
  HttpReply meta = Get("/api/q/c.json?meta=1");
  EXPECT_NE(meta.body.find("\"action\":\"add\""), std::string::npos);
  EXPECT_NE(meta.body.find("v1"), std::string::npos);
  // The cursor from before the restart is honoured: a change answers it
  // with just that change, no reset.
  Push(R"({"c": {"hits": 1}})");
  HttpReply pull = Get(absl::StrCat("/pull?key=c&since=", seq, "&timeout=5"));
  EXPECT_EQ(pull.body.find("reset"), std::string::npos) << pull.body;
  EXPECT_NE(pull.body.find("\"c,hits\":8"), std::string::npos) << pull.body;
  server_.reset();
  std::filesystem::remove_all(dir);
}

// kill -9 keeps what the last snapshot held (the tree) and every window
// already handed to history; it loses what came after the snapshot.
TEST_F(TrendServerTest, KillKeepsTheLastSnapshot) {
  std::string dir = testing::MakeTempDir();
  auto s = testing::ServerProcess::Start(
      {"--retention=10s:2d", "--snapshot_interval=1"}, dir);
  ASSERT_TRUE(s.ok());
  server_ = std::move(*s);
  Push(R"({"k": {"a": 1, "b": 2}})");
  rapidjson::Document d;
  d.Parse(Get("/get?key=k").body.c_str());
  uint64_t seq = d["seq"].GetUint64();
  // Await a snapshot holding that seq.
  ASSERT_TRUE(testing::WaitFor([&] {
    for (absl::string_view line : absl::StrSplit(Get("/metrics").body, '\n')) {
      uint64_t v;
      if (absl::ConsumePrefix(&line, "canopy_snapshot_seq ") &&
          absl::SimpleAtoi(line, &v) && v >= seq) {
        return true;
      }
    }
    return false;
  }));
  server_->Kill();
  server_.reset();
  Start(dir);
  std::string after = Get("/get?key=k").body;
  EXPECT_NE(after.find("\"k,a\":1"), std::string::npos) << after;
  EXPECT_NE(after.find("\"k,b\":2"), std::string::npos) << after;
  server_.reset();
  std::filesystem::remove_all(dir);
}

// kill -9 loses no window already handed to history: count them exactly
// before the kill and after the restart.
TEST_F(TrendServerTest, KillKeepsEveryStoredWindow) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  int64_t now = time(nullptr);
  int64_t base = now - now % 60 - 1800;
  for (int i = 0; i < 12; ++i) {
    Push(absl::StrCat(R"({"time": )", base + i * 60, R"(, "killed": {"x": )", i,
                      "}}"));
  }
  std::string target =
      absl::StrCat("/trend?key=killed&from=", base, "&to=", base + 12 * 60 - 1,
                   "&step=60&fn=last");
  auto count = [&]() -> int {
    rapidjson::Document d;
    d.Parse(Get(target).body.c_str());
    if (!d.IsObject() || d["series"].Size() != 1) return 0;
    return static_cast<int>(d["series"][0]["points"].Size());
  };
  testing::WaitFor([&] { return count() == 12; });
  ASSERT_EQ(count(), 12);
  server_->Kill();
  server_.reset();
  Start(dir);
  EXPECT_EQ(count(), 12);
  server_.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(TrendServerTest, AnUnreadableSnapshotStopsTheStartWithOneLine) {
  std::string dir = testing::MakeTempDir();
  {
    std::FILE* f = std::fopen((dir + "/tree.snapshot").c_str(), "wb");
    std::fputs("not a snapshot", f);
    std::fclose(f);
  }
  auto s = testing::ServerProcess::Start({}, dir);
  EXPECT_FALSE(s.ok());
  std::filesystem::remove_all(dir);
}

TEST_F(TrendServerTest, MarkersComeBackByKeyAndTime) {
  Start();
  Push(R"({"app": {"marker": "deploy 1.4", "x": 1}})");
  HttpReply r = Get("/api/markers?key=app&from=-1h");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"text\":\"deploy 1.4\""), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"key\":\"app\""), std::string::npos);
  r = Get("/api/markers?key=other");
  EXPECT_NE(r.body.find("\"markers\":[]"), std::string::npos);
}

// A marker pushed on a node shows on the charts of every node under it:
// /api/markers for a leaf carries it (/graph reads the same FindMarkers).
TEST_F(TrendServerTest, MarkersOnANodeShowUnderIt) {
  Start();
  Push(R"({"app": {"requests": {"home": 1, "marker": "deploy v1.4"}}})");
  HttpReply r = Get("/api/markers?key=app,requests,home&from=-1h");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"text\":\"deploy v1.4\""), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"key\":\"app,requests\""), std::string::npos);
  // A sibling does not inherit it.
  Push(R"({"app": {"other": 1}})");
  r = Get("/api/markers?key=app,other&from=-1h");
  EXPECT_NE(r.body.find("\"markers\":[]"), std::string::npos) << r.body;
}

// /graph draws the markers of the nodes above the key: the chart of
// app,requests,home changes when its parent gets a marker, and stays the
// same when a sibling does. (PNG: the same drawing gives the same bytes.)
TEST_F(TrendServerTest, GraphDrawsTheMarkersOfAncestors) {
  Start();
  int64_t now = time(nullptr);
  for (int i = 1; i <= 6; ++i) {
    Push(absl::StrCat(R"({"time": )", now - 600 + 60 * i,
                      R"(, "app": {"requests": {"home": )", i, "}}}"));
  }
  ASSERT_TRUE(testing::WaitFor([&] {
    HttpReply r =
        Get(absl::StrCat("/trend?key=app,requests,home&from=", now - 600,
                         "&to=", now, "&step=60"));
    return r.body.find("]]}]") != std::string::npos &&
           std::count(r.body.begin(), r.body.end(), '[') >= 8;
  }));
  const std::string graph =
      absl::StrCat("/graph/app,requests,home.png?from=", now - 600,
                   "&to=", now + 600, "&step=60&width=400&height=200");
  HttpReply before = Get(graph);
  ASSERT_EQ(before.status, 200) << before.body;
  Push(R"({"app": {"other": {"marker": "not mine"}}})");
  EXPECT_EQ(Get(graph).body, before.body) << "a sibling's marker drawn";
  Push(R"({"app": {"requests": {"marker": "deploy v1.4"}}})");
  HttpReply after = Get(graph);
  ASSERT_EQ(after.status, 200);
  EXPECT_NE(after.body, before.body) << "the parent's marker not drawn";
}

}  // namespace
}  // namespace canopy
