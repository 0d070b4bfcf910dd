#include "canopy/hll.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

std::string Member(int i) { return absl::StrCat("user-", i); }

Hll Fill(int from, int to, int precision = Hll::kDefaultPrecision) {
  Hll h(precision);
  for (int i = from; i < to; ++i) h.Add(Member(i));
  return h;
}

// Expects `h` to estimate `n` within three standard errors.
void ExpectNear(const Hll& h, double n, const char* what) {
  const double e = h.Estimate();
  const double relative = std::fabs(e - n) / n;
  EXPECT_LE(relative, 3 * h.standard_error())
      << what << ": estimate " << e << " for " << n;
  std::printf("  %-34s n=%-8.0f estimate %-10.1f error %.3f%% (1 SE %.2f%%)\n",
              what, n, e, 100 * relative, 100 * h.standard_error());
}

TEST(HllHashTest, IsStable) {
  // Golden values: a change here breaks every stored sketch.
  // MurmurHash64A with seed 0x63616e6f7079, checked against an independent
  // implementation of the reference algorithm.
  EXPECT_EQ(HllHash(""), 0xdf5acfa98a0229d8u);
  EXPECT_EQ(HllHash("canopy"), 0x578c80951fab6273u);
  EXPECT_EQ(HllHash("0123456789abcdef!"), 0x2c96a65c302d3c6bu);
  EXPECT_NE(HllHash("a"), HllHash("b"));
  EXPECT_NE(HllHash("abcdefgh"), HllHash(std::string("abcdefgh\0", 9)));
}

TEST(HllTest, EmptyIsZero) {
  Hll h;
  EXPECT_EQ(h.Estimate(), 0);
  EXPECT_TRUE(h.is_sparse());
  EXPECT_EQ(h.precision(), 14);
  EXPECT_NEAR(h.standard_error(), 1.04 / 128, 1e-12);
}

TEST(HllTest, SmallSetsAreExact) {
  Hll h;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) h.Add(Member(i));
  }
  EXPECT_EQ(h.Estimate(), 10);
  Hll k = Fill(0, 1000);
  EXPECT_TRUE(k.is_sparse());
  EXPECT_EQ(k.Estimate(), 1000);
  ExpectNear(h, 10, "10 distinct (sparse)");
  ExpectNear(k, 1000, "1000 distinct (sparse)");
}

TEST(HllTest, DenseEstimatesWithinThreeStandardErrors) {
  for (int n : {1000, 2000, 10000, 40000, 100000, 1000000}) {
    for (int precision : {12, 14}) {
      if (n == 1000 && precision == 14) continue;  // still sparse
      const Hll h = Fill(0, n, precision);
      EXPECT_FALSE(h.is_sparse());
      ExpectNear(h, n, absl::StrCat("dense p=", precision).c_str());
    }
  }
}

TEST(HllTest, DuplicatesDoNotCount) {
  Hll h;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 100000; ++i) h.Add(Member(i));
  }
  ExpectNear(h, 100000, "100000 distinct added 5 times");
}

TEST(HllTest, MergeEveryRepresentation) {
  // Overlapping ranges: [0, a) and [b, 100000) with b < a.
  struct Case {
    int a_to, b_from, b_to;
    const char* what;
  } cases[] = {
      {600, 300, 900, "sparse + sparse -> sparse"},
      {900, 100, 1000, "sparse + sparse -> dense"},
      {500, 400, 100000, "sparse + dense"},
      {60000, 59800, 60100, "dense + sparse"},
      {60000, 40000, 100000, "dense + dense"},
  };
  for (const Case& c : cases) {
    Hll a = Fill(0, c.a_to);
    const Hll b = Fill(c.b_from, c.b_to);
    ASSERT_TRUE(a.Merge(b).ok());
    const Hll all = Fill(0, c.b_to);
    if (a.is_sparse()) {
      EXPECT_EQ(a.Estimate(), c.b_to) << c.what;
    } else if (all.is_sparse()) {
      ExpectNear(a, c.b_to, c.what);
    } else {
      // Dense merge is exact: the same registers as adding everything.
      EXPECT_EQ(a.Estimate(), all.Estimate()) << c.what;
      ExpectNear(a, c.b_to, c.what);
    }
  }
  Hll self = Fill(0, 5000);
  const double before = self.Estimate();
  ASSERT_TRUE(self.Merge(self).ok());
  EXPECT_EQ(self.Estimate(), before);
}

TEST(HllTest, MergeRefusesDifferentPrecision) {
  Hll a(12), b(14);
  b.Add("x");
  EXPECT_EQ(a.Merge(b).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Estimate(), 0);
}

TEST(HllTest, SerializeRoundTrip) {
  for (int n : {0, 1, 10, 1000, 1025, 100000}) {
    for (int precision : {4, 12, 14, 18}) {
      const Hll h = Fill(0, n, precision);
      std::string bytes;
      h.Serialize(&bytes);
      absl::StatusOr<Hll> back = Hll::Deserialize(bytes);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(back->precision(), precision);
      EXPECT_EQ(back->is_sparse(), h.is_sparse());
      EXPECT_EQ(back->Estimate(), h.Estimate()) << n << " p=" << precision;
      std::string again;
      back->Serialize(&again);
      EXPECT_EQ(bytes, again);
      if (!h.is_sparse()) {
        EXPECT_EQ(bytes.size(), 3 + ((size_t{1} << precision) * 6 + 7) / 8);
      }
    }
  }
  // A small set is small on disk.
  std::string bytes;
  Fill(0, 3).Serialize(&bytes);
  EXPECT_LE(bytes.size(), 4u + 3 * 10);
}

TEST(HllTest, DeserializeRejectsDamage) {
  for (int n : {5, 100000}) {
    std::string bytes;
    Fill(0, n).Serialize(&bytes);
    for (size_t len = 0; len < bytes.size(); len += (n == 5 ? 1 : 97)) {
      EXPECT_FALSE(Hll::Deserialize(bytes.substr(0, len)).ok()) << len;
    }
    EXPECT_FALSE(Hll::Deserialize(bytes + "x").ok());
    std::string version = bytes;
    version[0] = 9;
    EXPECT_FALSE(Hll::Deserialize(version).ok());
    std::string precision = bytes;
    precision[1] = 30;
    EXPECT_FALSE(Hll::Deserialize(precision).ok());
    std::string form = bytes;
    form[2] = 7;
    EXPECT_FALSE(Hll::Deserialize(form).ok());
  }
  // A register above 64 - p + 1.
  std::string dense;
  Fill(0, 100000).Serialize(&dense);
  dense[3] = '\x3f';
  EXPECT_FALSE(Hll::Deserialize(dense).ok());
  // Sparse hashes must strictly increase.
  const std::string repeated("\x01\x0e\x00\x02\x05\x00", 6);
  EXPECT_FALSE(Hll::Deserialize(repeated).ok());
}

TEST(HllTest, ClearKeepsPrecision) {
  Hll h = Fill(0, 5000, 12);
  h.Clear();
  EXPECT_EQ(h.Estimate(), 0);
  EXPECT_EQ(h.precision(), 12);
  EXPECT_TRUE(h.is_sparse());
}

}  // namespace
}  // namespace canopy
