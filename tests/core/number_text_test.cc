#include "canopy/number_text.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
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

// The definition, tried precision by precision (what NumberText did before
// it took its digits from std::to_chars): the text must be the same.
std::string ByPrintf(double d) {
  if (std::isfinite(d) && d == std::trunc(d) &&
      std::fabs(d) <= 9007199254740992.0) {
    return absl::StrFormat("%.0f", d);
  }
  for (int precision = 1; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, d);
    if (std::strtod(text.c_str(), nullptr) == d) return text;
  }
  return absl::StrFormat("%.17g", d);
}

TEST(NumberTextTest, IsTheShortestPrintfPrecisionThatReadsBack) {
  for (double d : std::initializer_list<double>{0.0001,
                                                1e-5,
                                                1e-7,
                                                0.5,
                                                1e15,
                                                1e16,
                                                1e16 + 2,
                                                1e21,
                                                1e300,
                                                -2.5e-300,
                                                5e-324,
                                                -0.0,
                                                0.0,
                                                123456.789,
                                                1.0 / 3,
                                                0.30000000000000004,
                                                9007199254740993.0,
                                                NAN,
                                                -NAN,
                                                INFINITY,
                                                -INFINITY,
                                                2.2250738585072014e-308}) {
    EXPECT_EQ(NumberText(d), ByPrintf(d)) << ByPrintf(d);
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) {
    double d;
    switch (i % 4) {
      case 0: {  // any bits
        uint64_t bits = rng();
        std::memcpy(&d, &bits, sizeof d);
        break;
      }
      case 1:  // a ratio, as averages are
        d = static_cast<double>(rng() % 100000) /
            static_cast<double>(1 + rng() % 1000);
        break;
      case 2:  // every magnitude
        d = std::ldexp(static_cast<double>(rng() % 1000000),
                       static_cast<int>(rng() % 200) - 100);
        break;
      default:  // two decimals
        d = static_cast<double>(rng() % 10000) / 100.0;
    }
    ASSERT_EQ(NumberText(d), ByPrintf(d));
  }
}

}  // namespace
}  // namespace canopy
