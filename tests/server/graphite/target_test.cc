// The Graphite target parser, path globs and time texts (server/graphite/
// target.h, path_glob.h, time_text.h) as pure functions.
#include "server/graphite/target.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/graphite/path_glob.h"
#include "server/graphite/time_text.h"

namespace canopy {
namespace graphite {
namespace {

TEST(ParseTarget, APathIsAPath) {
  absl::StatusOr<Expr> e = ParseTarget("host.web1.cpu.user");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, Expr::kPath);
  EXPECT_EQ(e->text, "host.web1.cpu.user");
}

TEST(ParseTarget, GlobsAndBracesStayInThePath) {
  absl::StatusOr<Expr> e = ParseTarget("sumSeries(host.{web1,db?}.cpu.[a-u]*)");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->kind, Expr::kCall);
  EXPECT_EQ(e->name, "sumSeries");
  ASSERT_EQ(e->args.size(), 1u);
  EXPECT_EQ(e->args[0].kind, Expr::kPath);
  EXPECT_EQ(e->args[0].text, "host.{web1,db?}.cpu.[a-u]*");
}

TEST(ParseTarget, NestedCallsWithEveryKindOfArgument) {
  absl::StatusOr<Expr> e = ParseTarget(
      " alias( summarize(scale(a.b, -2.5e1), \"1h\", 'max', true),"
      " 'it\\'s' ) ");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "alias");
  ASSERT_EQ(e->args.size(), 2u);
  EXPECT_EQ(e->args[1].kind, Expr::kString);
  EXPECT_EQ(e->args[1].text, "it's");
  const Expr& sum = e->args[0];
  EXPECT_EQ(sum.name, "summarize");
  ASSERT_EQ(sum.args.size(), 4u);
  EXPECT_EQ(sum.args[1].text, "1h");
  EXPECT_EQ(sum.args[2].text, "max");
  EXPECT_EQ(sum.args[3].kind, Expr::kBool);
  EXPECT_TRUE(sum.args[3].boolean);
  const Expr& scale = sum.args[0];
  EXPECT_EQ(scale.args[1].kind, Expr::kNumber);
  EXPECT_EQ(scale.args[1].number, -25);
  EXPECT_EQ(ExprText(*e),
            "alias(summarize(scale(a.b,-25),'1h','max',True),'it\\'s')");
}

TEST(ParseTarget, KeywordArgumentsAndNone) {
  absl::StatusOr<Expr> e = ParseTarget("perSecond(a.b, maxValue=None)");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->kwargs.size(), 1u);
  EXPECT_EQ(e->kwargs[0].first, "maxValue");
  EXPECT_EQ(e->kwargs[0].second.kind, Expr::kNone);
  EXPECT_TRUE(ParseTarget("constantLine(100)").ok());
  EXPECT_TRUE(ParseTarget("f()").ok());
}

TEST(ParseTarget, MalformedTargetsSayWhereAndWhat) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"sumSeries(a.b", "column 14: expected ',' or ')'"},
      {"sumSeries(a.b))", "column 15: expected the end"},
      {"alias(a.b, 'x)", "closing quote"},
      {"a.{b,c", "'}'"},
      {"", "expected an expression"},
      {"f(,)", "column 3"},
      {"f(x=1, a.b)", "positional after keyword"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Expr> e = ParseTarget(c.text);
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(e.status()));
    EXPECT_TRUE(absl::StrContains(e.status().message(), c.says))
        << c.text << ": " << e.status();
  }
}

TEST(ParseTarget, DepthAndLengthAreBounded) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "f(";
  deep += "a";
  for (int i = 0; i < 100; ++i) deep += ")";
  absl::StatusOr<Expr> e = ParseTarget(deep);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(absl::StrContains(e.status().message(), "nested deeper"));
  EXPECT_FALSE(ParseTarget(std::string(kMaxTargetBytes + 1, 'a')).ok());
}

TEST(PathGlob, MatchesGraphitesGlobsSegmentBySegment) {
  absl::StatusOr<PathGlob> g = PathGlob::Parse("host.{web1,db*}.cpu.?ser");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->depth(), 4u);
  EXPECT_TRUE(g->Matches(*SplitKey("host,web1,cpu,user")));
  EXPECT_TRUE(g->Matches(*SplitKey("host,db7,cpu,user")));
  EXPECT_FALSE(g->Matches(*SplitKey("host,web2,cpu,user")));
  EXPECT_FALSE(g->Matches(*SplitKey("host,web1,cpu,user,more")));
  EXPECT_FALSE(g->Matches(*SplitKey("host,web1,cpu")));
  ASSERT_EQ(g->FixedPrefix().size(), 1u);
  EXPECT_EQ(g->FixedPrefix()[0], "host");
  absl::StatusOr<PathGlob> c = PathGlob::Parse("a.[0-3][!a]");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Matches(*SplitKey("a,2b")));
  EXPECT_FALSE(c->Matches(*SplitKey("a,2a")));
  EXPECT_FALSE(c->Matches(*SplitKey("a,7b")));
  EXPECT_EQ(KeyToDotted("host,web1,cpu"), "host.web1.cpu");
}

TEST(PathGlob, BadPathsAreRefused) {
  EXPECT_FALSE(PathGlob::Parse("a..b").ok());
  EXPECT_FALSE(PathGlob::Parse("").ok());
  std::string many = "x";
  for (int i = 0; i < 10; ++i) many += ".{a,b}";
  EXPECT_TRUE(PathGlob::Parse(many).ok());  // 2 alternatives per segment
  std::string wide = "x.";
  for (int i = 0; i < 10; ++i) wide += "{a,b}";
  EXPECT_FALSE(PathGlob::Parse(wide).ok());  // 1024 in one segment
}

TEST(TimeText, RelativeAbsoluteAndIntervals) {
  const int64_t now = 1800000000;
  EXPECT_EQ(*ParseGraphiteTime("now", now), now);
  EXPECT_EQ(*ParseGraphiteTime("-6h", now), now - 6 * 3600);
  EXPECT_EQ(*ParseGraphiteTime("-5min", now), now - 300);
  EXPECT_EQ(*ParseGraphiteTime("-7d", now), now - 7 * 86400);
  EXPECT_EQ(*ParseGraphiteTime("now-1w", now), now - 7 * 86400);
  EXPECT_EQ(*ParseGraphiteTime("1700000000", now), 1700000000);
  // 2023-11-14 22:13 UTC is 1699999980.
  EXPECT_EQ(*ParseGraphiteTime("22:13_20231114", now), 1699999980);
  EXPECT_EQ(*ParseGraphiteTime("20231114", now), 1699920000);
  EXPECT_EQ(*ParseInterval("1mon"), 30 * 86400);
  EXPECT_EQ(*ParseInterval("-1y"), -365 * 86400);
  EXPECT_EQ(*ParseInterval("30s"), 30);
  EXPECT_FALSE(ParseGraphiteTime("yesterday", now).ok());
  EXPECT_FALSE(ParseGraphiteTime("-5parsecs", now).ok());
  EXPECT_FALSE(ParseInterval("").ok());
  EXPECT_FALSE(ParseInterval("99999999999999y").ok());
}

}  // namespace
}  // namespace graphite
}  // namespace canopy
