#include "canopy/key.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(KeyTest, SplitsOnCommas) {
  auto k = SplitKey("host,web1,cpu,user");
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->size(), 4u);
  EXPECT_EQ((*k)[1], "web1");
  EXPECT_EQ(JoinKey(*k), "host,web1,cpu,user");
  auto root = SplitKey("");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->empty());
}

TEST(KeyTest, RejectsBadSegmentsNamingTheKey) {
  for (const char* bad :
       {",a", "a,", "a,,b", "a\nb", "a\x7f", "\xff\xfe",
        "\xc0\xaf" /* overlong '/' */, "\xed\xa0\x80" /* surrogate */}) {
    auto k = SplitKey(bad);
    EXPECT_FALSE(k.ok()) << bad;
    EXPECT_NE(k.status().message().find("bad key"), absl::string_view::npos);
  }
  EXPECT_TRUE(SplitKey(std::string(255, 'x')).ok());
  auto too_long = SplitKey(std::string(256, 'x'));
  ASSERT_FALSE(too_long.ok());
  // The error quotes at most a prefix of a hostile key.
  EXPECT_LT(too_long.status().message().size(), 200u);
  std::string deep = "a";
  for (int i = 1; i < 32; ++i) deep += ",a";
  EXPECT_TRUE(SplitKey(deep).ok());
  EXPECT_FALSE(SplitKey(deep + ",a").ok());
}

TEST(KeyTest, AcceptsUtf8) {
  EXPECT_TRUE(SplitKey("höst,日本,😀").ok());
  EXPECT_TRUE(IsValidUtf8("žluťoučký"));
  EXPECT_FALSE(IsValidUtf8("\xe6\x97"));  // cut short
}

TEST(KeyTest, DottedNamesBecomeKeys) {
  EXPECT_EQ(DottedToKey("web.hits"), "web,hits");
  EXPECT_EQ(DottedToKey("a.b,c"), "a,b,c");
}

TEST(GlobTest, Matches) {
  EXPECT_TRUE(GlobMatch("web*", "web1"));
  EXPECT_TRUE(GlobMatch("web*", "web"));
  EXPECT_TRUE(GlobMatch("*1", "web1"));
  EXPECT_TRUE(GlobMatch("w*b*1", "wxxbyy1"));
  EXPECT_FALSE(GlobMatch("web*", "db1"));
  EXPECT_FALSE(GlobMatch("w*b", "wbc"));
  EXPECT_TRUE(GlobMatch("*", ""));
}

TEST(PatternTest, OneLevelWildcards) {
  auto p = Pattern::Parse("br,ie,,venders,sogou");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Matches({"br", "ie", "7", "venders", "sogou"}));
  EXPECT_FALSE(p->Matches({"br", "ie", "venders", "sogou"}));
  auto star = Pattern::Parse("host,*,cpu");
  ASSERT_TRUE(star.ok());
  EXPECT_TRUE(star->Matches({"host", "db", "cpu"}));
  EXPECT_FALSE(star->Matches({"host", "db", "mem"}));
  EXPECT_EQ(star->FixedPrefix(), (std::vector<absl::string_view>{"host"}));
}

TEST(PatternTest, GlobsAndAnyDepth) {
  auto glob = Pattern::Parse("host,web*,cpu");
  ASSERT_TRUE(glob.ok());
  EXPECT_TRUE(glob->Matches({"host", "web12", "cpu"}));
  EXPECT_FALSE(glob->Matches({"host", "db1", "cpu"}));
  auto deep = Pattern::Parse("host,**,idle");
  ASSERT_TRUE(deep.ok());
  EXPECT_TRUE(deep->Matches({"host", "idle"}));
  EXPECT_TRUE(deep->Matches({"host", "a", "b", "c", "idle"}));
  EXPECT_FALSE(deep->Matches({"host", "a", "user"}));
  auto all = Pattern::Parse("**");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Matches({}));
  EXPECT_TRUE(all->Matches({"x", "y"}));
  EXPECT_TRUE(Pattern::Parse("")->Matches({}));
  EXPECT_FALSE(Pattern::Parse("")->Matches({"x"}));
  EXPECT_TRUE(Pattern::Parse("a,b")->IsLiteral());
  EXPECT_FALSE(Pattern::Parse("a,*")->IsLiteral());
}

TEST(PatternTest, RejectsBadPatterns) {
  EXPECT_FALSE(Pattern::Parse("a,\x01").ok());
  EXPECT_FALSE(Pattern::Parse("**,**,**,**,**").ok());
  std::string deep = "a";
  for (int i = 0; i < 32; ++i) deep += ",*";
  EXPECT_FALSE(Pattern::Parse(deep).ok());
}

}  // namespace
}  // namespace canopy
