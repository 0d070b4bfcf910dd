#include "canopy/number_text.h"

#include <cstdlib>
#include <random>

#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(NumberTextTest, ShortestTextThatReadsBack) {
  EXPECT_EQ(NumberText(9.78), "9.78");  // not 9.7799999999999994
  EXPECT_EQ(NumberText(0.1), "0.1");
  EXPECT_EQ(NumberText(40), "40");
  EXPECT_EQ(NumberText(-3), "-3");
  EXPECT_EQ(NumberText(1e21), "1e+21");
  EXPECT_EQ(NumberText(9007199254740992.0), "9007199254740992");
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> any(-1e6, 1e6);
  for (int i = 0; i < 10000; ++i) {
    double d = any(rng);
    EXPECT_EQ(std::strtod(NumberText(d).c_str(), nullptr), d);
  }
}

}  // namespace
}  // namespace canopy
