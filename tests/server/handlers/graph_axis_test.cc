// The axes of the server-drawn charts: round steps, labels with units,
// clock ticks on a 24-hour clock.
#include "server/handlers/graph_axis.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy {
namespace {

// True if `step` is 1, 2 or 5 times a power of ten.
bool DecimalRound(double step) {
  const double mag = std::pow(10, std::floor(std::log10(step)));
  const double m = step / mag;
  return std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 ||
         std::fabs(m - 5) < 1e-9;
}

void ExpectRound(const ValueAxis& a, double lo, double hi, int max_ticks) {
  EXPECT_LE(a.lo, lo + a.step * 1e-9);
  EXPECT_GE(a.hi, hi - a.step * 1e-9);
  EXPECT_LE(static_cast<int>(a.ticks.size()), max_ticks);
  EXPECT_GE(a.ticks.size(), 2u);
  ASSERT_EQ(a.ticks.size(), a.labels.size());
  for (double t : a.ticks) {
    const double k = t / a.step;
    EXPECT_NEAR(k, std::round(k), 1e-9) << t << " step " << a.step;
  }
  for (size_t i = 1; i < a.labels.size(); ++i) {
    EXPECT_NE(a.labels[i], a.labels[i - 1]);
  }
}

TEST(ValueAxisTest, TicksAreRoundNumbers) {
  // The figures: 94.18 and -3.014 are data, never ticks.
  ValueAxis a = MakeValueAxis(3.1, 94.18, 6, "");
  ExpectRound(a, 3.1, 94.18, 6);
  EXPECT_TRUE(DecimalRound(a.step)) << a.step;
  EXPECT_EQ(a.labels.front(), "0");
  EXPECT_EQ(a.labels.back(), "100");
  a = MakeValueAxis(-3.014, 7.2, 6, "");
  ExpectRound(a, -3.014, 7.2, 6);
  EXPECT_EQ(a.labels.front(), "-5");
  for (const std::string& l : a.labels) {
    EXPECT_EQ(l.find('.'), std::string::npos) << l;
  }
  a = MakeValueAxis(0.0012, 0.0093, 5, "");
  ExpectRound(a, 0.0012, 0.0093, 5);
  EXPECT_TRUE(DecimalRound(a.step));
  // One value: a range around it.
  a = MakeValueAxis(42, 42, 5, "");
  ExpectRound(a, 42, 42, 5);
}

TEST(ValueAxisTest, LabelsCarryTheUnit) {
  ValueAxis a = MakeValueAxis(0, 99.5, 6, "percent");
  EXPECT_EQ(a.labels.front(), "0 %");
  EXPECT_EQ(a.labels.back(), "100 %");
  // Bytes step by powers of two: 1 GiB, not 1.07 GB.
  const double gib = 1024.0 * 1024 * 1024;
  a = MakeValueAxis(0, 3.5 * gib, 6, "bytes");
  ExpectRound(a, 0, 3.5 * gib, 6);
  EXPECT_EQ(std::exp2(std::round(std::log2(a.step))), a.step);
  EXPECT_EQ(a.labels[0], "0 B");
  EXPECT_EQ(a.labels[1], "1 GiB");
  EXPECT_EQ(a.labels.back(), "4 GiB");
  a = MakeValueAxis(0, 700 * 1024, 6, "bytes/s");
  EXPECT_EQ(a.labels[1], "256 KiB/s");
  // Times past a minute step on the clock: ms shown as min.
  a = MakeValueAxis(0, 175000, 6, "ms");
  ExpectRound(a, 0, 175000, 6);
  EXPECT_EQ(a.step, 60000);
  EXPECT_EQ(a.labels[1], "1 min");
  EXPECT_EQ(a.labels.back(), "3 min");
  a = MakeValueAxis(0, 0.8, 5, "s");
  EXPECT_EQ(a.labels[1], "200 ms");
  a = MakeValueAxis(0, 50, 6, "/s");
  EXPECT_EQ(a.labels[1], "10/s");
  // A word that is not a known unit follows the figure as it is.
  a = MakeValueAxis(0, 10, 6, "jobs");
  EXPECT_EQ(a.labels[1], "2 jobs");
}

TEST(ValueAxisTest, CloseValuesGetTheDigitsTheyNeed) {
  ValueAxis a = MakeValueAxis(100.1, 100.5, 6, "");
  ExpectRound(a, 100.1, 100.5, 6);
  EXPECT_EQ(a.labels[0], "100.1");
  const double gib = 1024.0 * 1024 * 1024;
  a = MakeValueAxis(10 * gib, 10 * gib + 4 * 1024 * 1024, 5, "bytes");
  ExpectRound(a, 10 * gib, 10 * gib + 4 * 1024 * 1024, 5);
}

TEST(TimeAxisTest, TicksOnTheClockLabelledOnA24HourClock) {
  // 2023-11-14 22:13:20 UTC to 01:13:20: ticks on whole half hours, the
  // date at midnight.
  const int64_t from = 1700000000, to = from + 3 * 3600;
  TimeAxis a = MakeTimeAxis(from, to, 7);
  ASSERT_FALSE(a.ticks.empty());
  EXPECT_LE(static_cast<int>(a.ticks.size()), 7);
  for (int64_t t : a.ticks) {
    EXPECT_EQ(t % a.step, 0);
    EXPECT_GE(t, from);
    EXPECT_LE(t, to);
  }
  EXPECT_EQ(a.step, 1800);
  EXPECT_EQ(a.labels, (std::vector<std::string>{"22:30", "23:00", "23:30",
                                                "11-15", "00:30", "01:00"}));
  // A range a second longer still ticks every half hour.
  EXPECT_EQ(MakeTimeAxis(from, to + 1, 7).step, 1800);
  // A week: dates; a year: months.
  a = MakeTimeAxis(from, from + 7 * 86400, 7);
  EXPECT_EQ(a.labels.front(), "11-15");
  a = MakeTimeAxis(from, from + 365 * 86400, 6);
  EXPECT_EQ(a.labels.front(), "2024-01");
}

}  // namespace
}  // namespace canopy
