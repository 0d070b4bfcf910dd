#include "canopy/line_name.h"

#include <string>

#include "canopy/key.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(IsPlainNameTest, SegmentsOfPlainBytes) {
  EXPECT_TRUE(IsPlainName("web.hits"));
  EXPECT_TRUE(IsPlainName("a_b-c.D9"));
  EXPECT_FALSE(IsPlainName(""));
  EXPECT_FALSE(IsPlainName("web..hits"));
  EXPECT_FALSE(IsPlainName(".web"));
  EXPECT_FALSE(IsPlainName("web."));
  EXPECT_FALSE(IsPlainName("web hits"));
  EXPECT_FALSE(IsPlainName("web,hits"));
  EXPECT_TRUE(IsPlainName(std::string(kMaxSegmentBytes, 'a')));
  EXPECT_FALSE(IsPlainName(std::string(kMaxSegmentBytes + 1, 'a')));
  std::string deep = "s";
  for (size_t i = 1; i < kMaxSegments; ++i) deep += ".s";
  EXPECT_TRUE(IsPlainName(deep));
  EXPECT_FALSE(IsPlainName(deep + ".s"));
}

TEST(PlainNameToKeyTest, DotsBecomeCommas) {
  std::string key = "left over";
  EXPECT_TRUE(PlainNameToKey("web.hits", &key));
  EXPECT_EQ(key, "web,hits");
  EXPECT_FALSE(PlainNameToKey("web..hits", &key));
  EXPECT_FALSE(PlainNameToKey("web;env=prod", &key));
}

TEST(ScanPlainNameTest, StopsAtTheStopByte) {
  std::string key;
  const std::string line = "web.hits:1|c";
  EXPECT_EQ(ScanPlainName(line.data(), line.data() + line.size(), ':', &key),
            8u);
  EXPECT_EQ(key, "web,hits");
  const std::string tagged = "web.hits;env=prod 1";
  EXPECT_EQ(
      ScanPlainName(tagged.data(), tagged.data() + tagged.size(), ' ', &key),
      0u);
}

}  // namespace
}  // namespace canopy
