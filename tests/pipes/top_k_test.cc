// Tests for pipes/top_k.cc: space-saving counts and bounded admission.
#include "pipes/top_k.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(SpaceSavingTest, ExactWhileUnderCapacity) {
  SpaceSaving s(4);
  for (int i = 0; i < 5; ++i) s.Add("a");
  s.Add("b");
  s.Add("b");
  EXPECT_EQ(s.Count("a"), 5u);
  EXPECT_EQ(s.Count("b"), 2u);
  EXPECT_EQ(s.Count("c"), 0u);
}

TEST(SpaceSavingTest, HeavyHittersSurviveNoise) {
  SpaceSaving s(50);
  for (int i = 0; i < 100000; ++i) {
    if (i % 10 == 0) s.Add("heavy");
    if (i % 25 == 0) s.Add("medium");
    s.Add(absl::StrCat("noise", i));
  }
  EXPECT_GE(s.Count("heavy"), 10000u);
  EXPECT_GE(s.Count("medium"), 4000u);
  EXPECT_EQ(s.size(), 50u);
}

TEST(TopKeysTest, AdmitsAtMostK) {
  TopKeys top(3, 2);
  std::string evicted;
  EXPECT_FALSE(top.Hit("/a", &evicted));  // one hit: not yet
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(top.Hit("/a", &evicted));
  for (int i = 0; i < 100000; ++i) {
    EXPECT_FALSE(top.Hit(absl::StrCat("/random/", i), &evicted));
    EXPECT_TRUE(evicted.empty());
  }
  EXPECT_EQ(top.admitted(), 1u);
  for (const char* p : {"/b", "/c", "/d"}) {
    for (int i = 0; i < 3; ++i) top.Hit(p, &evicted);
  }
  EXPECT_EQ(top.admitted(), 3u);
  EXPECT_TRUE(top.IsAdmitted("/a"));
  EXPECT_FALSE(top.IsAdmitted("/d"));
  // A path much hotter than the weakest admitted replaces it.
  bool replaced = false;
  for (int i = 0; i < 64 && !replaced; ++i) {
    if (top.Hit("/hot", &evicted) && !evicted.empty()) replaced = true;
  }
  EXPECT_TRUE(replaced);
  EXPECT_TRUE(top.IsAdmitted("/hot"));
  EXPECT_EQ(top.admitted(), 3u);
  EXPECT_TRUE(top.IsAdmitted("/a"));  // the hottest stays
}

TEST(TopKeysTest, ZeroKAdmitsNothing) {
  TopKeys top(0, 1);
  std::string evicted;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(top.Hit("/a", &evicted));
}

}  // namespace
}  // namespace canopy
