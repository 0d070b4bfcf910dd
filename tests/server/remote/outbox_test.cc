// The remote_write outbox (server/remote/outbox.h) over a real LevelDB in a
// temporary directory, and the series mapping (server/remote/prom_names.h).
#include "server/remote/outbox.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/remote/prom_names.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

ClosedWindow Window(const std::string& key, int64_t start, Action action,
                    double v) {
  ClosedWindow cw;
  cw.key = key;
  cw.start = start;
  cw.action = action;
  cw.count = 1;
  cw.sum = cw.min = cw.max = cw.last = v;
  return cw;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Outbox> Open() {
    auto box = Outbox::Open(dir_ + "/box");
    EXPECT_TRUE(box.ok()) << box.status();
    return box.ok() ? std::move(*box) : nullptr;
  }
  std::string dir_;
};

TEST_F(OutboxTest, PositionsAndTotalsSurviveAReopen) {
  const std::string url = "http://127.0.0.1:1/api/v1/write";
  {
    auto box = Open();
    OutboxPosition start = box->Position(url);
    ASSERT_TRUE(box->Append({Window("a,x", 10, Action::kAdd, 3),
                             Window("a,y", 10, Action::kLast, 1.5)},
                            1000)
                    .ok());
    ASSERT_TRUE(box->Append({Window("a,x", 20, Action::kAdd, 4)}, 2000).ok());
    // Read one window at a time: the position moves inside a batch.
    std::vector<OutboxWindow> got;
    OutboxPosition p = box->Read(start, 1, &got);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].key, "a,x");
    EXPECT_EQ(got[0].total, 3);
    EXPECT_EQ(got[0].queued_ms, 1000);
    ASSERT_TRUE(box->SetPosition(url, p).ok());
  }
  auto box = Open();
  std::vector<OutboxWindow> got;
  OutboxPosition p = box->Read(box->Position(url), 100, &got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "a,y");
  EXPECT_EQ(got[0].w.last, 1.5);
  EXPECT_EQ(got[1].total, 7);  // the running total went on
  // Once every target is past the batches, they go; new ones follow.
  ASSERT_TRUE(box->SetPosition(url, p).ok());
  box->Trim(p.seq);
  ASSERT_TRUE(box->Append({Window("a,x", 30, Action::kAdd, 1)}, 3000).ok());
  got.clear();
  box->Read(p, 100, &got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].total, 8);
  got.clear();
  box->Read(OutboxPosition{0, 0}, 100, &got);
  EXPECT_EQ(got.size(), 1u) << "trimmed batches are gone";
}

TEST_F(OutboxTest, LateWindowsAreNotSentAgain) {
  auto box = Open();
  OutboxPosition start = box->Position("u");
  ClosedWindow late = Window("a", 10, Action::kLast, 1);
  late.late = true;
  ASSERT_TRUE(box->Append({late}, 1).ok());
  std::vector<OutboxWindow> got;
  EXPECT_EQ(box->Read(start, 10, &got), start);
  EXPECT_TRUE(got.empty());
}

std::vector<std::string> Names(const PromFigures& f) {
  std::vector<std::string> out;
  ForEachPromSample(f, [&](const PromSample& s) {
    out.push_back(s.quantile.empty()
                      ? std::string(s.name)
                      : std::string(s.name) + "/" + std::string(s.quantile));
  });
  return out;
}

TEST(PromNamesTest, EachActionHasItsSeries) {
  WindowRecord w;
  w.start = 100;
  w.count = 2;
  w.sum = 10;
  w.min = 4;
  w.max = 6;
  w.last = 6;
  using V = std::vector<std::string>;
  EXPECT_EQ(Names(FiguresOfWindow(w, Action::kLast, 0, 10)),
            (V{"canopy_value", "canopy_samples", "canopy_min", "canopy_max"}));
  PromFigures avg = FiguresOfWindow(w, Action::kAvg, 0, 10);
  EXPECT_EQ(avg.value, 5);
  PromFigures add = FiguresOfWindow(w, Action::kAdd, 42, 10);
  EXPECT_EQ(Names(add), (V{"canopy_total", "canopy_rate", "canopy_increase",
                           "canopy_samples"}));
  EXPECT_EQ(add.total, 42);
  EXPECT_EQ(add.rate, 1);
  WindowRecord empty;
  EXPECT_TRUE(Names(FiguresOfWindow(empty, Action::kLast, 0, 10)).empty());
}

TEST(PromNamesTest, LabelsAreSortedWithSegments) {
  PromSample s{7, "canopy_timer", PromType::kSummary, "0.5", 1};
  std::vector<PromLabel> l =
      SampleLabels("a,b,c,d,e,f,g,h,i,j,k", s);  // 11 segments: s10 < s2
  std::vector<std::string> names;
  for (const PromLabel& x : l) names.push_back(x.name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.front(), "__name__");
  EXPECT_EQ(l[1].name, "key");
  EXPECT_EQ(l[1].value, "a,b,c,d,e,f,g,h,i,j,k");
  EXPECT_EQ(names[2], "quantile");
  EXPECT_EQ(names[3], "s0");
  EXPECT_EQ(names[4], "s1");
  EXPECT_EQ(names[5], "s10");
  EXPECT_EQ(l[5].value, "k");
}

}  // namespace
}  // namespace canopy
