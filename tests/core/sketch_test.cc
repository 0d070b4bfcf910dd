#include "canopy/sketch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr double kQuantiles[] = {0.001, 0.01, 0.05, 0.1,  0.25, 0.5,
                                 0.75,  0.9,  0.95, 0.99, 0.999};

// The value of rank floor(q (n - 1)) in `sorted`: what Quantile promises to
// approximate within relative error alpha.
double Exact(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * (sorted.size() - 1))];
}

// Checks every quantile of `s` against the exact data; returns the worst
// relative error seen.
double CheckQuantiles(const Sketch& s, std::vector<double> data,
                      const char* what) {
  std::sort(data.begin(), data.end());
  const double alpha = s.relative_accuracy();
  double worst = 0;
  for (double q : kQuantiles) {
    const double exact = Exact(data, q);
    const double got = s.Quantile(q);
    const double error = std::fabs(got - exact);
    EXPECT_LE(error, alpha * std::fabs(exact) * (1 + 1e-9) + 1e-300)
        << what << " q=" << q << " exact=" << exact << " got=" << got;
    if (exact != 0) worst = std::max(worst, error / std::fabs(exact));
  }
  EXPECT_EQ(s.Quantile(0), data.front()) << what;
  EXPECT_EQ(s.Quantile(1), data.back()) << what;
  std::printf("  %-28s worst relative error %.5f%% (alpha %.2f%%)\n", what,
              100 * worst, 100 * alpha);
  return worst;
}

std::vector<double> Draw(int n, std::mt19937_64* rng, int which) {
  std::uniform_real_distribution<double> uniform(0, 1000);
  std::lognormal_distribution<double> lognormal(0, 2);
  std::normal_distribution<double> normal(0, 100);
  std::exponential_distribution<double> exponential(0.01);
  std::vector<double> out(n);
  for (double& v : out) {
    switch (which) {
      case 0:
        v = uniform(*rng);
        break;
      case 1:
        v = lognormal(*rng);
        break;
      case 2:
        v = normal(*rng);  // half negative
        break;
      case 3:
        v = -exponential(*rng);  // all negative
        break;
      default:
        v = std::round(normal(*rng) / 50);  // many exact zeros
        break;
    }
  }
  return out;
}

constexpr const char* kNames[] = {"uniform(0,1000)", "lognormal(0,2)",
                                  "normal(0,100)", "-exponential(0.01)",
                                  "rounded normal (zeros)"};

TEST(SketchTest, EmptyHasNoQuantiles) {
  Sketch s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.count(), 0);
  EXPECT_TRUE(std::isnan(s.Quantile(0.5)));
  EXPECT_EQ(s.bucket_count(), 0u);
  EXPECT_EQ(s.relative_accuracy(), Sketch::kDefaultRelativeAccuracy);
}

TEST(SketchTest, SingleValueIsExact) {
  for (double v : {42.0, -3.5, 0.0, 1e-200, 1e300}) {
    Sketch s;
    s.Add(v);
    for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(s.Quantile(q), v);
    EXPECT_EQ(s.count(), 1);
    EXPECT_EQ(s.sum(), v);
    EXPECT_EQ(s.min(), v);
    EXPECT_EQ(s.max(), v);
  }
}

// Whole values (the usual timer milliseconds) find their bucket in a
// table rather than by a logarithm: every one of them, and the values just
// beside them, must land where the formula puts them.
TEST(SketchTest, WholeValuesLandInTheirBuckets) {
  for (int v = 2; v <= 5000; ++v) {
    for (double x : {static_cast<double>(v), v - 1e-9, v + 1e-9}) {
      Sketch s;
      s.Add(1);
      s.Add(x);
      s.Add(1e6);
      // The median is the middle value's bucket (not clamped to min or
      // max), within the relative accuracy of it.
      EXPECT_NEAR(s.Quantile(0.5), x, x * Sketch::kDefaultRelativeAccuracy)
          << x;
    }
  }
}

TEST(SketchTest, RelativeErrorWithinAlphaOnSeveralDistributions) {
  std::mt19937_64 rng(7);
  for (int which = 0; which < 5; ++which) {
    const std::vector<double> data = Draw(100000, &rng, which);
    Sketch s;
    double sum = 0;
    for (double v : data) {
      s.Add(v);
      sum += v;
    }
    EXPECT_EQ(s.count(), data.size());
    EXPECT_NEAR(s.sum(), sum, 1e-6 * std::fabs(sum) + 1e-6);
    CheckQuantiles(s, data, kNames[which]);
  }
}

TEST(SketchTest, OtherAccuracies) {
  std::mt19937_64 rng(11);
  // Narrow data for 0.1%: 2048 buckets then span only a factor of about 60.
  std::lognormal_distribution<double> narrow(0, 0.3);
  std::vector<double> data(50000);
  for (double& v : data) v = narrow(rng);
  Sketch fine(0.001);
  EXPECT_EQ(fine.relative_accuracy(), 0.001);
  for (double v : data) fine.Add(v);
  EXPECT_LT(fine.bucket_count(), Sketch::kMaxBuckets);
  CheckQuantiles(fine, data, "lognormal(0,0.3) alpha 0.1%");
  Sketch coarse(0.05);
  data = Draw(50000, &rng, 1);
  for (double v : data) coarse.Add(v);
  CheckQuantiles(coarse, data, "lognormal(0,2) alpha 5%");
  EXPECT_EQ(Sketch(0).relative_accuracy(), Sketch::kMinRelativeAccuracy);
  EXPECT_EQ(Sketch(2).relative_accuracy(), Sketch::kMaxRelativeAccuracy);
}

TEST(SketchTest, MergeEqualsSketchOfUnion) {
  std::mt19937_64 rng(3);
  for (int which = 0; which < 5; ++which) {
    const std::vector<double> a = Draw(30000, &rng, which);
    const std::vector<double> b = Draw(20000, &rng, (which + 1) % 5);
    Sketch sa, sb, all;
    for (double v : a) {
      sa.Add(v);
      all.Add(v);
    }
    for (double v : b) {
      sb.Add(v);
      all.Add(v);
    }
    ASSERT_TRUE(sa.Merge(sb).ok());
    EXPECT_EQ(sa.count(), all.count());
    EXPECT_EQ(sa.min(), all.min());
    EXPECT_EQ(sa.max(), all.max());
    EXPECT_EQ(sa.bucket_count(), all.bucket_count());
    for (double q : kQuantiles) EXPECT_EQ(sa.Quantile(q), all.Quantile(q));
    std::vector<double> both = a;
    both.insert(both.end(), b.begin(), b.end());
    CheckQuantiles(sa, both, "merged");
  }
}

TEST(SketchTest, MergeIntoEmptyAndWithSelf) {
  Sketch a, empty;
  for (int i = 1; i <= 100; ++i) a.Add(i);
  ASSERT_TRUE(empty.Merge(a).ok());
  EXPECT_EQ(empty.Quantile(0.5), a.Quantile(0.5));
  ASSERT_TRUE(a.Merge(Sketch()).ok());
  EXPECT_EQ(a.count(), 100);
  ASSERT_TRUE(a.Merge(a).ok());
  EXPECT_EQ(a.count(), 200);
  EXPECT_EQ(a.sum(), 2 * 5050);
}

TEST(SketchTest, MergeRefusesDifferentAccuracy) {
  Sketch a(0.01), b(0.02);
  a.Add(1);
  b.Add(2);
  absl::Status s = a.Merge(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.count(), 1);
}

TEST(SketchTest, WeightCountsASampleSeveralTimes) {
  Sketch weighted, repeated;
  for (int i = 1; i <= 100; ++i) {
    weighted.Add(i, 10);  // "i|ms|@0.1"
    for (int k = 0; k < 10; ++k) repeated.Add(i);
  }
  EXPECT_EQ(weighted.count(), 1000);
  EXPECT_EQ(weighted.sum(), repeated.sum());
  for (double q : kQuantiles) {
    EXPECT_EQ(weighted.Quantile(q), repeated.Quantile(q)) << q;
  }
  // A fractional weight (rate 0.3) shifts the quantiles toward that value.
  Sketch s;
  s.Add(1, 1);
  s.Add(100, 1 / 0.3);
  EXPECT_NEAR(s.count(), 1 + 1 / 0.3, 1e-12);
  EXPECT_NEAR(s.Quantile(0.5), 100, 1);
}

TEST(SketchTest, IgnoresNonFiniteValuesAndBadWeights) {
  Sketch s;
  s.Add(std::numeric_limits<double>::quiet_NaN());
  s.Add(std::numeric_limits<double>::infinity());
  s.Add(-std::numeric_limits<double>::infinity());
  s.Add(1, 0);
  s.Add(1, -1);
  s.Add(1, std::numeric_limits<double>::quiet_NaN());
  s.Add(1, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.bucket_count(), 0u);
}

TEST(SketchTest, NegativeZeroAndPositiveOrder) {
  Sketch s;
  s.Add(-5);
  s.Add(0);
  s.Add(5);
  EXPECT_EQ(s.Quantile(0), -5);
  EXPECT_EQ(s.Quantile(0.5), 0);
  EXPECT_EQ(s.Quantile(1), 5);
  EXPECT_NEAR(s.Quantile(0.25), -5, 0.05);
  EXPECT_NEAR(s.Quantile(0.75), 5, 0.05);  // nearest rank: ceil(2.25) = 3rd
  EXPECT_EQ(s.bucket_count(), 3u);
  EXPECT_EQ(s.sum(), 0);
}

// The rank rule StatsD users read their upper_N by: the smallest value with
// at least q·n samples at or below it.
TEST(SketchTest, QuantilesAreNearestRank) {
  Sketch three;
  for (double v : {1.0, 2.0, 3.0}) three.Add(v);
  EXPECT_NEAR(three.Quantile(0.99), 3, 0.03);  // not the second largest
  EXPECT_NEAR(three.Quantile(0.9), 3, 0.03);
  EXPECT_NEAR(three.Quantile(0.5), 2, 0.02);
  EXPECT_NEAR(three.Quantile(0.3), 1, 0.01);
  Sketch four;
  for (double v : {1.0, 2.0, 3.0, 4.0}) four.Add(v);
  EXPECT_NEAR(four.Quantile(0.5), 2, 0.02);
  EXPECT_NEAR(four.Quantile(0.51), 3, 0.03);
  Sketch hundred;  // q·n = 7.000000000000001 still means the 7th
  for (int i = 1; i <= 100; ++i) hundred.Add(i);
  EXPECT_NEAR(hundred.Quantile(0.07), 7, 0.07);
  EXPECT_NEAR(hundred.Quantile(0.99), 99, 0.99);
  // Weighted samples count with their weight: 10 at 40 ("40|ms|@0.1"), one
  // at 1000: p90 is 40, p95 is 1000.
  Sketch weighted;
  weighted.Add(40, 10);
  weighted.Add(1000);
  EXPECT_NEAR(weighted.Quantile(0.9), 40, 0.4);
  EXPECT_NEAR(weighted.Quantile(0.95), 1000, 10);
}

// Issue 18: extreme but finite samples keep every percentile meaningful.
TEST(SketchTest, ExtremeSamplesGiveTheirRanksPercentiles) {
  Sketch s;
  for (double v : {1e308, -1e308, 5e-324}) s.Add(v);
  EXPECT_NEAR(s.Quantile(0.5), 0, 1e-300);  // the middle one, a subnormal
  EXPECT_NEAR(s.Quantile(0.9), 1e308, 1e306);
  EXPECT_NEAR(s.Quantile(0.99), 1e308, 1e306);
  EXPECT_NEAR(s.Quantile(0.1), -1e308, 1e306);
}

TEST(SketchTest, FewSamplesCostLittle) {
  Sketch s;
  for (double v : {12.0, 15.0, 250.0}) s.Add(v);
  EXPECT_EQ(s.bucket_count(), 3u);
  std::string bytes;
  s.Serialize(&bytes);
  EXPECT_LE(bytes.size(), 48u);
  EXPECT_LE(sizeof(Sketch), 128u);
}

TEST(SketchTest, BucketsAreBoundedAndTailsKeepAccuracy) {
  Sketch s;
  std::vector<double> data;
  // 1e-300 .. 1e300 needs about 69000 buckets at alpha = 1%.
  for (int i = 0; i < 200000; ++i) {
    const double v = std::pow(10.0, -300 + 600.0 * i / 199999);
    data.push_back(v);
    s.Add(v);
  }
  EXPECT_LE(s.bucket_count(), Sketch::kMaxBuckets);
  EXPECT_EQ(s.count(), data.size());
  EXPECT_EQ(s.min(), data.front());
  EXPECT_EQ(s.max(), data.back());
  std::sort(data.begin(), data.end());
  for (double q : {0.99, 0.999, 0.9999}) {
    const double exact = Exact(data, q);
    EXPECT_LE(std::fabs(s.Quantile(q) - exact), 0.01 * exact * (1 + 1e-9)) << q;
  }
  // Collapsed low quantiles read high, never below the data.
  EXPECT_GE(s.Quantile(0.01), Exact(data, 0.01));
  // The same holds for negative values, by magnitude.
  Sketch n;
  for (double v : data) n.Add(-v);
  EXPECT_LE(n.bucket_count(), Sketch::kMaxBuckets);
  EXPECT_LE(std::fabs(n.Quantile(0.001) + Exact(data, 0.999)),
            0.01 * Exact(data, 0.999) * (1 + 1e-9));
  // Merging two bounded sketches stays bounded.
  Sketch m = s;
  Sketch other;
  for (int i = 0; i < 3000; ++i) other.Add(std::pow(1.03, i));
  ASSERT_TRUE(m.Merge(other).ok());
  EXPECT_LE(m.bucket_count(), Sketch::kMaxBuckets);
  EXPECT_EQ(m.count(), s.count() + other.count());
}

void ExpectSame(const Sketch& a, const Sketch& b) {
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.sum(), b.sum());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_EQ(a.relative_accuracy(), b.relative_accuracy());
  EXPECT_EQ(a.bucket_count(), b.bucket_count());
  for (double q : kQuantiles) {
    if (a.empty()) {
      EXPECT_TRUE(std::isnan(b.Quantile(q)));
    } else {
      EXPECT_EQ(a.Quantile(q), b.Quantile(q)) << q;
    }
  }
}

TEST(SketchTest, SerializeRoundTrip) {
  std::mt19937_64 rng(5);
  for (int which = 0; which < 5; ++which) {
    Sketch s(which == 1 ? 0.02 : 0.01);
    for (double v : Draw(20000, &rng, which)) s.Add(v);
    std::string bytes;
    s.Serialize(&bytes);
    absl::StatusOr<Sketch> back = Sketch::Deserialize(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSame(s, *back);
    std::string again;
    back->Serialize(&again);
    EXPECT_EQ(bytes, again);
  }
  // Empty, and fractional weights (stored as doubles).
  for (bool fractional : {false, true}) {
    Sketch s;
    if (fractional) {
      s.Add(3, 1 / 0.3);
      s.Add(-7, 2.5);
      s.Add(0, 0.1);
    }
    std::string bytes;
    s.Serialize(&bytes);
    absl::StatusOr<Sketch> back = Sketch::Deserialize(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSame(s, *back);
  }
}

TEST(SketchTest, DeserializeRejectsDamage) {
  Sketch s;
  for (int i = -50; i <= 50; ++i) s.Add(i * 1.7);
  std::string bytes;
  s.Serialize(&bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(Sketch::Deserialize(bytes.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(Sketch::Deserialize(bytes + "x").ok());
  std::string v2 = bytes;
  v2[0] = 2;
  EXPECT_FALSE(Sketch::Deserialize(v2).ok());
  std::string flags = bytes;
  flags[1] = 4;
  EXPECT_FALSE(Sketch::Deserialize(flags).ok());
  std::string alpha = bytes;
  alpha[9] = 0x7f;  // the top byte of the alpha double: out of range
  EXPECT_FALSE(Sketch::Deserialize(alpha).ok());
  EXPECT_FALSE(Sketch::Deserialize("").ok());
  EXPECT_FALSE(Sketch::Deserialize(std::string(64, '\xff')).ok());
}

// Found by sketch_fuzz: finite values whose sum overflows both ways leave a
// NaN sum, and what Serialize writes must still read back.
TEST(SketchTest, OverflowedSumStillRoundTrips) {
  Sketch s;
  s.Add(1.7e308, 2);
  s.Add(-1.7e308, 2);
  ASSERT_TRUE(std::isnan(s.sum()));
  std::string bytes;
  s.Serialize(&bytes);
  absl::StatusOr<Sketch> back = Sketch::Deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->count(), 4);
  EXPECT_EQ(back->min(), -1.7e308);
  EXPECT_EQ(back->max(), 1.7e308);
}

}  // namespace
}  // namespace canopy
