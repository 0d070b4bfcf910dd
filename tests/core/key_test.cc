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

// A reference matcher by backtracking, as Pattern::Matches was before it
// stepped a set of positions: the two must agree.
bool Backtrack(const std::vector<Pattern::Segment>& pat, size_t pi,
               const std::vector<absl::string_view>& segs, size_t si) {
  if (pi == pat.size()) return si == segs.size();
  const Pattern::Segment& p = pat[pi];
  if (p.kind == Pattern::Kind::kAnyDepth) {
    for (size_t k = si; k <= segs.size(); ++k) {
      if (Backtrack(pat, pi + 1, segs, k)) return true;
    }
    return false;
  }
  if (si >= segs.size()) return false;
  if (p.kind == Pattern::Kind::kLiteral && p.text != segs[si]) return false;
  if (p.kind == Pattern::Kind::kGlob && !GlobMatch(p.text, segs[si])) {
    return false;
  }
  return Backtrack(pat, pi + 1, segs, si + 1);
}

TEST(PatternTest, SteppedMatchingAgreesWithBacktracking) {
  const std::vector<std::string> patterns = {
      "**",     "**,**,**,**", "a,**",       "**,b",   "a,**,b,**,c",
      "*,**,*", "**,a*,**",    "a,*,**,b",   "**,a,a", "a,b,c",
      "",       "*",           "**,*b,**,a*"};
  const std::vector<std::vector<absl::string_view>> keys = {
      {},
      {"a"},
      {"b"},
      {"a", "b"},
      {"a", "a"},
      {"a", "x", "b"},
      {"a", "b", "c"},
      {"a", "x", "b", "y", "c"},
      {"x", "a", "a"},
      {"ab", "cb", "a1"},
      {"a", "x", "y", "z", "b", "c", "c"}};
  for (const std::string& text : patterns) {
    absl::StatusOr<Pattern> p = Pattern::Parse(text);
    ASSERT_TRUE(p.ok()) << text;
    for (const std::vector<absl::string_view>& key : keys) {
      bool expected = Backtrack(p->segments(), 0, key, 0);
      EXPECT_EQ(p->Matches(key), expected) << text << " on " << JoinKey(key);
      bool selects = false;
      for (size_t len = 0; len <= key.size() && !selects; ++len) {
        selects = Backtrack(
            p->segments(), 0,
            std::vector<absl::string_view>(key.begin(), key.begin() + len), 0);
      }
      EXPECT_EQ(p->Selects(key), selects) << text << " on " << JoinKey(key);
    }
  }
}

TEST(PatternTest, ManyAnyDepthsOnADeepKeyStepOncePerSegment) {
  // Issue 18: "**,**,**,**" against keys 29 segments deep cost
  // C(33, 4) paths per key by backtracking. Stepped, the state after each
  // segment is a set of positions: the state never grows past the pattern.
  absl::StatusOr<Pattern> p = Pattern::Parse("**,**,**,**,x");
  ASSERT_TRUE(p.ok());
  std::vector<std::string> owned(31, "seg");
  std::vector<absl::string_view> key(owned.begin(), owned.end());
  Pattern::State s = p->Start();
  EXPECT_EQ(s, 0b11111u);  // the four "**" reach position 4 at once
  for (absl::string_view seg : key) {
    s = p->Step(s, seg);
    EXPECT_EQ(s, 0b11111u);
  }
  EXPECT_FALSE(p->Matches(key));
  key.push_back("x");
  EXPECT_TRUE(p->Matches(key));
  EXPECT_TRUE(p->Accepts(p->Step(s, "x")));
}

TEST(PatternTest, OnlyLiteralNamesTheOneChildWorthLookingUp) {
  absl::StatusOr<Pattern> p = Pattern::Parse("a,b*,c");
  ASSERT_TRUE(p.ok());
  Pattern::State s = p->Start();
  ASSERT_NE(p->OnlyLiteral(s), nullptr);
  EXPECT_EQ(*p->OnlyLiteral(s), "a");
  s = p->Step(s, "a");
  EXPECT_EQ(p->OnlyLiteral(s), nullptr);  // a glob: every child is stepped
  s = p->Step(s, "bee");
  EXPECT_EQ(*p->OnlyLiteral(s), "c");
  absl::StatusOr<Pattern> deep = Pattern::Parse("**,c");
  EXPECT_EQ(deep->OnlyLiteral(deep->Start()), nullptr);
}

TEST(Utf8Test, RepairReplacesEachBadByte) {
  EXPECT_EQ(RepairUtf8("ok \xc3\xa9"), "ok \xc3\xa9");
  // A lone low surrogate as RapidJSON decodes "\udc00": three bad bytes.
  std::string repaired = RepairUtf8("\xed\xb0\x80x");
  EXPECT_TRUE(IsValidUtf8(repaired));
  EXPECT_EQ(repaired, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
  EXPECT_TRUE(IsValidUtf8(RepairUtf8("\xff\xfe\xc3")));
  EXPECT_FALSE(IsValidUtf8("\xed\xb0\x80"));
}

}  // namespace
}  // namespace canopy
