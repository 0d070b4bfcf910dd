// core/dotted_name: keys from the dotted names and tags of the StatsD and
// Graphite parsers (whose own tests check the messages in context).
#include "core/dotted_name.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy {
namespace dotted_name {
namespace {

TEST(NameToKeyTest, DotsBecomeSegments) {
  std::string key = "left over from the last line";
  std::string why;
  size_t depth = 99;
  ASSERT_TRUE(NameToKey("web.hits", "name", &key, &depth, &why));
  EXPECT_EQ(key, "web,hits");
  EXPECT_EQ(depth, 2u);
  ASSERT_TRUE(NameToKey("a.b,c", "path", &key, &depth, &why));
  EXPECT_EQ(key, "a,b,c");
  EXPECT_EQ(depth, 3u);
}

TEST(NameToKeyTest, ErrorsNameTheNoun) {
  std::string key, why;
  size_t depth;
  EXPECT_FALSE(NameToKey("web..hits", "name", &key, &depth, &why));
  EXPECT_EQ(why.rfind("bad name \"web..hits\": ", 0), 0u) << why;
  EXPECT_FALSE(NameToKey("", "path", &key, &depth, &why));
  EXPECT_EQ(why.rfind("bad path \"\": ", 0), 0u) << why;
  std::string deep = "s";
  for (int i = 0; i < 32; ++i) deep += ".s";
  EXPECT_FALSE(NameToKey(deep, "path", &key, &depth, &why));
  EXPECT_NE(why.find(": deeper than 32 segments"), std::string::npos) << why;
}

TEST(AppendTagsTest, SortedUniqueAndValueless) {
  std::string key = "web,hits";
  std::string why;
  std::vector<Tag> tags = {{"region", "eu"},
                           {"env", "prod"},
                           {"debug", absl::string_view()},
                           {"env", "prod"}};
  ASSERT_TRUE(AppendTags(&tags, 2, "name", &key, &why));
  EXPECT_EQ(key, "web,hits,debug,env:prod,region:eu");
}

TEST(AppendTagsTest, TooManyLeavesTheKey) {
  std::string key = "web";
  std::string why;
  std::vector<Tag> tags = {{"a", "1"}, {"b", "2"}};
  EXPECT_TRUE(AppendTags(&tags, 30, "name", &key, &why));
  key = "web";
  tags = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  EXPECT_FALSE(AppendTags(&tags, 30, "path", &key, &why));
  EXPECT_EQ(why, "path and tags make more than 32 segments");
  EXPECT_EQ(key, "web");
}

}  // namespace
}  // namespace dotted_name
}  // namespace canopy
