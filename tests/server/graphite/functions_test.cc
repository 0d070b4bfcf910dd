// The series functions of /render (server/graphite/series.h) and the
// evaluator (evaluate.h) over plain data, each against figures worked out by
// hand in the comments.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/graphite/evaluate.h"
#include "server/graphite/render.h"
#include "server/graphite/series.h"
#include "server/graphite/target.h"

namespace canopy {
namespace graphite {
namespace {

const double N = kNull;

Series Make(const std::string& name, std::vector<double> values,
            int64_t start = 100, int64_t step = 10) {
  Series s;
  s.name = name;
  s.path_expression = name;
  s.start = start;
  s.step = step;
  s.values = std::move(values);
  return s;
}

// Equal point by point, a null matching only a null.
void ExpectValues(const Series& s, const std::vector<double>& want) {
  ASSERT_EQ(s.values.size(), want.size()) << s.name;
  for (size_t i = 0; i < want.size(); ++i) {
    if (IsNull(want[i])) {
      EXPECT_TRUE(IsNull(s.values[i])) << s.name << " [" << i << "]";
    } else {
      EXPECT_NEAR(s.values[i], want[i], 1e-9) << s.name << " [" << i << "]";
    }
  }
}

// a = 1 3 _ 7, b = 2 _ 4 1 (at 100, 110, 120, 130).
Series A() { return Make("host.web1.cpu", {1, 3, N, 7}); }
Series B() { return Make("host.web2.cpu", {2, N, 4, 1}); }

TEST(Functions, CombineSumsAveragesMaxesAndMins) {
  SeriesList ab{A(), B()};
  SeriesList sum = Combine(ab, Agg::kSum, "sumSeries(host.*.cpu)");
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_EQ(sum[0].name, "sumSeries(host.*.cpu)");
  ExpectValues(sum[0], {3, 3, 4, 8});  // a null adds nothing
  ExpectValues(Combine(ab, Agg::kAverage, "")[0], {1.5, 3, 4, 4});
  ExpectValues(Combine(ab, Agg::kMax, "")[0], {2, 3, 4, 7});
  ExpectValues(Combine(ab, Agg::kMin, "")[0], {1, 3, 4, 1});
  ExpectValues(Combine({Make("x", {N, N})}, Agg::kSum, "")[0], {N, N});
  EXPECT_TRUE(Combine({}, Agg::kSum, "").empty());
}

TEST(Functions, Aliases) {
  EXPECT_EQ(Alias({A()}, "web")[0].name, "web");
  EXPECT_EQ(AliasByNode({A()}, {1})[0].name, "web1");
  EXPECT_EQ(AliasByNode({A()}, {1, -1})[0].name, "web1.cpu");
  // The path inside calls: scale(host.web1.cpu,2) -> node 1 is web1.
  EXPECT_EQ(AliasByNode(Scale({A()}, 2), {1})[0].name, "web1");
  absl::StatusOr<SeriesList> sub =
      AliasSub({A()}, "^host\\.([^.]*)\\..*", "\\1 cpu");
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ((*sub)[0].name, "web1 cpu");
  sub = AliasSub({A()}, "^host\\.([^.]*)", "\\g<1>!");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ((*sub)[0].name, "web1!.cpu");
  EXPECT_FALSE(AliasSub({A()}, "(", "x").ok());
  EXPECT_FALSE(AliasSub({A()}, "(a)", "\\2").ok());
}

TEST(Functions, PointwiseTransforms) {
  Series scaled = Scale({A()}, 2)[0];
  EXPECT_EQ(scaled.name, "scale(host.web1.cpu,2)");
  ExpectValues(scaled, {2, 6, N, 14});
  ExpectValues(Offset({A()}, -1)[0], {0, 2, N, 6});
  ExpectValues(Absolute({Make("x", {-1, 2, N})})[0], {1, 2, N});
  ExpectValues(TransformNull({A()}, 0)[0], {1, 3, 0, 7});
  EXPECT_EQ(TransformNull({A()}, 0)[0].name, "transformNull(host.web1.cpu,0)");
}

TEST(Functions, DerivativesRatesAndIntegral) {
  // derivative: 3-1 = 2; a null on either side is null.
  ExpectValues(Derivative({A()})[0], {N, 2, N, N});
  // A counter 10 15 3 8 at a 10 s step: +5, a reset, +5.
  Series c = Make("c", {10, 15, 3, 8});
  ExpectValues(NonNegativeDerivative({c}, std::nullopt)[0], {N, 5, N, 5});
  // Wrapping at 20: (20 - 15) + 3 + 1 = 9.
  ExpectValues(NonNegativeDerivative({c}, 20)[0], {N, 5, 9, 5});
  ExpectValues(PerSecond({c}, std::nullopt)[0], {N, 0.5, N, 0.5});
  EXPECT_EQ(PerSecond({c}, std::nullopt)[0].name, "perSecond(c)");
  // integral: 1, 1+3, _, 4+7.
  ExpectValues(Integral({A()})[0], {1, 4, N, 11});
}

TEST(Functions, MovingAverageUsesThePointsBefore) {
  Series d = Make("d", {1, 2, 3, 4, 5});
  // Window of 2 before each point: _, 1, (1+2)/2, (2+3)/2, (3+4)/2.
  Series m = MovingAverage({d}, 2, 0, "2")[0];
  ExpectValues(m, {N, 1, 1.5, 2.5, 3.5});
  EXPECT_EQ(m.name, "movingAverage(d,2)");
  // The first two points were fetched only to fill the window.
  Series b = MovingAverage({d}, 2, 2, "'20s'")[0];
  ExpectValues(b, {1.5, 2.5, 3.5});
  EXPECT_EQ(b.start, 120);
  // Nulls are left out of the average: window of 2 over 1 _ 3.
  ExpectValues(MovingAverage({Make("n", {1, N, 3, N})}, 2, 0, "2")[0],
               {N, 1, 1, 3});
}

TEST(Functions, SummarizeBucketsOnTheInterval) {
  // Points at 10..60: buckets [0,30) 1+2, [30,60) 3+4+5, [60,90) 6.
  Series e = Make("e", {1, 2, 3, 4, 5, 6}, 10, 10);
  Series s = Summarize({e}, 30, "30s", Agg::kSum, "sum", false)[0];
  EXPECT_EQ(s.start, 0);
  EXPECT_EQ(s.step, 30);
  ExpectValues(s, {3, 12, 6});
  EXPECT_EQ(s.name, "summarize(e, \"30s\", \"sum\")");
  // From the first point: [10,40) 1+2+3, [40,70) 4+5+6.
  ExpectValues(Summarize({e}, 30, "30s", Agg::kSum, "sum", true)[0], {6, 15});
  ExpectValues(Summarize({e}, 30, "30s", Agg::kMax, "max", false)[0],
               {2, 5, 6});
}

TEST(Functions, PercentagesAndDivision) {
  // a / b * 100: 50, _, _, 700.
  absl::StatusOr<SeriesList> p = AsPercent({A()}, {B()});
  ASSERT_TRUE(p.ok());
  ExpectValues((*p)[0], {50, N, N, 700});
  // Of the sum 3 3 4 8: 1/3, 3/3, _, 7/8.
  p = AsPercent({A(), B()}, {});
  ASSERT_TRUE(p.ok());
  ExpectValues((*p)[0], {100.0 / 3, 100, N, 87.5});
  ExpectValues(AsPercentOf({A()}, 4)[0], {25, 75, N, 175});
  EXPECT_FALSE(AsPercent({A(), A(), A()}, {B(), B()}).ok());
  absl::StatusOr<SeriesList> q = DivideSeries({A()}, {B()});
  ASSERT_TRUE(q.ok());
  ExpectValues((*q)[0], {0.5, N, N, 7});
  EXPECT_EQ((*q)[0].name, "divideSeries(host.web1.cpu,host.web2.cpu)");
  q = DivideSeries({A()}, {Make("z", {0, 1, 1, 1})});
  ExpectValues((*q)[0], {N, 3, N, 7});  // by zero is null
  EXPECT_FALSE(DivideSeries({A()}, {A(), B()}).ok());
}

TEST(Functions, FiltersAndSorting) {
  // Last values: a 7, b 1; maxima: a 7, b 4; c's max 9, last 0.
  Series c = Make("c", {9, 0, N, 0});
  SeriesList abc{A(), B(), c};
  SeriesList hc = HighestCurrent(abc, 2);
  ASSERT_EQ(hc.size(), 2u);
  EXPECT_EQ(hc[0].name, A().name);
  EXPECT_EQ(hc[1].name, B().name);
  SeriesList hm = HighestMax(abc, 1);
  ASSERT_EQ(hm.size(), 1u);
  EXPECT_EQ(hm[0].name, "c");
  SeriesList lim = Limit(abc, 1);
  ASSERT_EQ(lim.size(), 1u);
  EXPECT_EQ(lim[0].name, A().name);
  SeriesList sorted = SortByMaxima({B(), A(), c});
  ASSERT_EQ(sorted.size(), 3u);
  EXPECT_EQ(sorted[0].name, "c");
  EXPECT_EQ(sorted[1].name, A().name);
  EXPECT_EQ(sorted[2].name, B().name);
}

TEST(Functions, GroupByNode) {
  Series mem = Make("host.web1.mem", {10, 10, 10, 10});
  SeriesList g = GroupByNode({A(), B(), mem}, 1, Agg::kSum);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].name, "web1");
  ExpectValues(g[0], {11, 13, 10, 17});
  EXPECT_EQ(g[1].name, "web2");
  ExpectValues(g[1], {2, N, 4, 1});
}

TEST(Functions, KeepLastValueFillsShortGaps) {
  Series s = Make("s", {1, N, N, 4, N});
  ExpectValues(KeepLastValue({s}, static_cast<size_t>(-1))[0], {1, 1, 1, 4, 4});
  ExpectValues(KeepLastValue({s}, 1)[0], {1, N, N, 4, 4});
  ExpectValues(KeepLastValue({Make("t", {N, 2})}, 5)[0], {N, 2});
}

TEST(Functions, ConstantLineAndConsolidation) {
  Series c = ConstantLine(100, 0, 30, 10);
  EXPECT_EQ(c.name, "100");
  ExpectValues(c, {100, 100, 100});
  // 5 points into at most 2: runs of 3, averaged: (1+2+3)/3, (4+5)/2.
  Series s = Consolidate({Make("s", {1, 2, 3, 4, 5})}, 2)[0];
  ExpectValues(s, {2, 4.5});
  EXPECT_EQ(s.step, 30);
  // A percentile is never averaged.
  Series q = Make("q", {1, 2, 3});
  q.quantile = true;
  ExpectValues(Consolidate({q}, 1)[0], {1, 2, 3});
  EXPECT_EQ(DropAllNull({Make("x", {N}), A()}).size(), 1u);
}

// ---------------------------------------------------------------- evaluator

// Series by path; records the ranges asked.
struct Data {
  std::map<std::string, SeriesList> paths;
  std::vector<std::pair<int64_t, int64_t>> asked;
  Fetcher fetcher() {
    return [this](const std::string& path, int64_t from,
                  int64_t until) -> absl::StatusOr<SeriesList> {
      asked.emplace_back(from, until);
      SeriesList out = paths[path];
      for (Series& s : out) {
        s.path_expression = path;
        s.start = from - from % 10;
      }
      return out;
    };
  }
};

absl::StatusOr<SeriesList> Eval(Data& d, const std::string& target,
                                EvalRange r = {100, 139, 10}) {
  absl::StatusOr<Expr> e = ParseTarget(target);
  if (!e.ok()) return e.status();
  return Evaluate(*e, r, d.fetcher());
}

TEST(Evaluate, NestedCallsOverFetchedPaths) {
  Data d;
  d.paths["host.*.cpu"] = {A(), B()};
  absl::StatusOr<SeriesList> s =
      Eval(d, "alias(scale(sumSeries(host.*.cpu), 2), 'twice')");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].name, "twice");
  ExpectValues((*s)[0], {6, 6, 8, 16});
  s = Eval(d, "sumSeries(host.*.cpu)");
  EXPECT_EQ((*s)[0].name, "sumSeries(host.*.cpu)");
  s = Eval(d, "aliasByNode(host.*.cpu, 1)");
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].name, "web2");
  s = Eval(d, "groupByNode(host.*.cpu, 2, 'sum')");
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].name, "cpu");
  s = Eval(d, "highestMax(host.*.cpu, n=1)");
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].name, "host.web1.cpu");
  s = Eval(d, "divideSeries(host.*.cpu, constantLine(2))");
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectValues((*s)[0], {0.5, 1.5, N, 3.5});
  s = Eval(d, "asPercent(host.web1.cpu.nothing)");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
}

TEST(Evaluate, TimeShiftAndMovingAverageFetchEarlier) {
  Data d;
  d.paths["a"] = {Make("a", {1, 2, 3, 4, 5, 6, 7, 8})};
  absl::StatusOr<SeriesList> s = Eval(d, "timeShift(a, '1h')");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(d.asked.back().first, 100 - 3600);
  EXPECT_EQ((*s)[0].start, 100);
  EXPECT_EQ((*s)[0].name, "timeShift(a, \"1h\")");
  // A 4-point window (40 s at a 10 s step) reads 40 s earlier; the fetcher
  // gives 1..8 from 60, so the points from 100 average 1-4, 2-5, 3-6, 4-7.
  s = Eval(d, "movingAverage(a, 4)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(d.asked.back().first, 60);
  EXPECT_EQ((*s)[0].start, 100);
  ExpectValues((*s)[0], {2.5, 3.5, 4.5, 5.5});
  s = Eval(d, "movingAverage(a, '40s')");
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectValues((*s)[0], {2.5, 3.5, 4.5, 5.5});
  EXPECT_EQ((*s)[0].name, "movingAverage(a,'40s')");
}

TEST(Evaluate, HealthCheckAndBadCalls) {
  Data d;
  absl::StatusOr<SeriesList> s = Eval(d, "constantLine(100)");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 1u);
  ExpectValues((*s)[0], {100, 100, 100, 100});
  struct Case {
    const char* target;
    const char* says;
  } bad[] = {
      {"nosuchFunction(a)", "unknown function \"nosuchFunction\""},
      {"scale(a)", "scale() needs its argument factor"},
      {"scale(a, 'x')", "argument factor must be float"},
      {"scale(a, 2, 3)", "at most 2 arguments"},
      {"alias(a, b='x')", "no parameter \"b\""},
      {"summarize(a, 'forever')", "bad interval"},
      {"summarize(a, '1h', 'mode')", "unknown aggregation"},
      {"aliasByNode(a, 1.5)", "whole number"},
      {"'just a string'", "a path or a function call"},
      {"42", "a path or a function call"},
  };
  for (const Case& c : bad) {
    s = Eval(d, c.target);
    ASSERT_FALSE(s.ok()) << c.target;
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << c.target;
    EXPECT_NE(s.status().message().find(c.says), std::string::npos)
        << c.target << ": " << s.status();
  }
}

TEST(Evaluate, FunctionsJsonDescribesEveryFunction) {
  rapidjson::Document doc;
  std::string json = FunctionsJson();
  doc.Parse(json.c_str());
  ASSERT_TRUE(doc.IsObject());
  for (const char* name : {"sumSeries",
                           "averageSeries",
                           "maxSeries",
                           "minSeries",
                           "alias",
                           "aliasByNode",
                           "aliasSub",
                           "scale",
                           "offset",
                           "perSecond",
                           "nonNegativeDerivative",
                           "derivative",
                           "integral",
                           "movingAverage",
                           "summarize",
                           "timeShift",
                           "asPercent",
                           "divideSeries",
                           "highestCurrent",
                           "highestMax",
                           "limit",
                           "sortByMaxima",
                           "groupByNode",
                           "absolute",
                           "keepLastValue",
                           "transformNull",
                           "constantLine"}) {
    ASSERT_TRUE(doc.HasMember(name)) << name;
    const auto& f = doc[name];
    EXPECT_STREQ(f["name"].GetString(), name);
    EXPECT_TRUE(f["group"].IsString());
    EXPECT_TRUE(f["params"].IsArray());
  }
  EXPECT_EQ(doc.MemberCount(), 27u);
}

// A large answer is written by two threads and joined: every series once,
// in order, each point as it is, valid JSON; noNullPoints drops the empty
// series from either half.
TEST(WriteRenderTest, ALargeAnswerIsWholeAndInOrder) {
  for (size_t count : {size_t{3}, 2 * kSeriesPerWriter + 1}) {
    SeriesList all;
    for (size_t i = 0; i < count; ++i) {
      all.push_back(Make("s" + std::to_string(i),
                         i % 7 == 3 ? std::vector<double>{N, N}
                                    : std::vector<double>{i + 0.25, N}));
    }
    for (bool no_nulls : {false, true}) {
      Response r = WriteRender(all, /*csv=*/false, no_nulls);
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      ASSERT_TRUE(d.IsArray()) << r.body.substr(0, 200);
      size_t k = 0;
      for (size_t i = 0; i < count; ++i) {
        if (no_nulls && i % 7 == 3) continue;
        ASSERT_LT(k, d.Size());
        const auto& one = d[static_cast<rapidjson::SizeType>(k++)];
        EXPECT_EQ(one["target"].GetString(), "s" + std::to_string(i));
        const auto& points = one["datapoints"];
        ASSERT_EQ(points.Size(), no_nulls ? 1u : 2u);
        if (i % 7 == 3) {
          EXPECT_TRUE(points[0][0].IsNull());
        } else {
          EXPECT_EQ(points[0][0].GetDouble(), i + 0.25);
        }
        EXPECT_EQ(points[0][1].GetInt64(), 100);
      }
      EXPECT_EQ(k, d.Size());
    }
  }
}

}  // namespace
}  // namespace graphite
}  // namespace canopy
