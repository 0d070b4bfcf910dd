#include "canopy/tree.h"

#include <cfloat>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/node_pool.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000;  // a multiple of 10: a window start

class TreeTest : public ::testing::Test {
 protected:
  TreeTest() : tree_(Tree::Options{}) {}

  void Push(const std::string& json, int64_t now = kT0) {
    Push_ p;
    TextPosition where;
    absl::Status s = ParseJsonPush(json, &p, &where);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(tree_.Apply(p, now).ok());
  }
  using Push_ = ::canopy::Push;

  LiveValue Live(const std::string& key, int64_t now) {
    const Node* n = tree_.Find(*SplitKey(key));
    EXPECT_NE(n, nullptr) << key;
    if (n == nullptr) return LiveValue();
    return n->Live(n->EffectiveAction(), now, tree_.step_seconds());
  }

  std::map<std::string, double> Changed(const std::string& pattern,
                                        uint64_t since) {
    std::map<std::string, double> out;
    tree_.Collect(*Pattern::Parse(pattern), since, [&](const LeafView& l) {
      out[std::string(l.key)] = l.node->Live(l.action, kT0, 10).value;
      return true;
    });
    return out;
  }

  Tree tree_;
};

TEST_F(TreeTest, AddKeepsARunningTotalAndARatePerWindow) {
  Push(R"({"hits": 5, "defaultaction": "add"})", kT0);
  Push(R"({"hits": 15})", kT0 + 3);
  EXPECT_EQ(Live("hits", kT0 + 5).value, 20);
  EXPECT_EQ(Live("hits", kT0 + 5).rate, 0);  // no closed window yet
  // In the next window, the rate is the last window's sum per second.
  EXPECT_DOUBLE_EQ(Live("hits", kT0 + 12).rate, 2.0);
  Push(R"({"hits": 1})", kT0 + 14);
  EXPECT_EQ(Live("hits", kT0 + 15).value, 21);
  EXPECT_DOUBLE_EQ(Live("hits", kT0 + 15).rate, 2.0);
  // Two windows later with no samples, the rate is 0, the total stays.
  EXPECT_EQ(Live("hits", kT0 + 35).rate, 0);
  EXPECT_EQ(Live("hits", kT0 + 35).value, 21);
}

TEST_F(TreeTest, AvgMaxMinAreFiguresOfTheWindow) {
  Push(R"({"a": {"x": [1, 2, 6]}, "defaultaction": "avg",
           "m": {"x": [1, 7, 3], "defaultaction": "max"},
           "n": {"x": [4, 2, 8], "defaultaction": "min"}})");
  EXPECT_EQ(Live("a,x", kT0).value, 3);
  EXPECT_EQ(Live("m,x", kT0).value, 7);
  EXPECT_EQ(Live("n,x", kT0).value, 2);
  // A new window starts fresh: only its own samples count...
  Push(R"({"a,x": 10})", kT0 + 10);
  EXPECT_EQ(Live("a,x", kT0 + 10).value, 10);
  // ...and until it has samples, the last window's figure stands.
  EXPECT_EQ(Live("n,x", kT0 + 10).value, 2);
  EXPECT_EQ(Live("n,x", kT0 + 1000).value, 2);
}

TEST_F(TreeTest, ActionsInheritFromTheNearestAncestor) {
  Push(R"({"web": {"defaultaction": "add"}})");
  Push(R"({"web": {"a": {"b": 1}, "c": {"d": 2, "defaultaction": "max"}}})");
  EXPECT_EQ(tree_.Find(*SplitKey("web,a,b"))->EffectiveAction(), Action::kAdd);
  EXPECT_EQ(tree_.Find(*SplitKey("web,c,d"))->EffectiveAction(), Action::kMax);
  EXPECT_EQ(tree_.root()->EffectiveAction(), Action::kLast);
}

TEST_F(TreeTest, InteriorAggregates) {
  Push(R"({"s": {"a": 2, "b": 4, "defaultaction": "add"},
           "v": {"a": 2, "b": 4, "defaultaction": "avg"},
           "x": {"a": 2, "b": 4, "defaultaction": "max"},
           "l": {"a": 2, "b": 4}})");
  auto value = [&](const char* k) {
    const Node* n = tree_.Find(*SplitKey(k));
    return tree_.ValueOf(n, n->EffectiveAction(), kT0);
  };
  EXPECT_EQ(value("s").value, 6);
  EXPECT_EQ(value("v").value, 3);
  EXPECT_EQ(value("x").value, 4);
  EXPECT_FALSE(value("l").has);  // last has no aggregate
}

TEST_F(TreeTest, CollectReturnsOnlyWhatChangedSince) {
  Push(R"({"a": {"x": 1, "y": 2}, "b": {"z": 3}})");
  uint64_t s1 = tree_.seq();
  Push(R"({"a": {"y": 5}})");
  EXPECT_EQ(Changed("", s1), (std::map<std::string, double>{{"a,y", 5}}));
  EXPECT_EQ(Changed("b", s1).size(), 0u);
  EXPECT_EQ(Changed("", 0).size(), 3u);
  // Subtree max-seq: the unchanged branch is pruned.
  EXPECT_EQ(tree_.Find(*SplitKey("b"))->max_seq(), s1);
  EXPECT_EQ(tree_.Find(*SplitKey("a"))->max_seq(), tree_.seq());
}

TEST_F(TreeTest, RemoveLeavesTombstonesAndForgetsOldOnes) {
  Tree small(Tree::Options{10, 1000, /*max_tombstones=*/2});
  Push_ p;
  TextPosition where;
  ASSERT_TRUE(
      ParseJsonPush(R"({"r": {"a": 1, "b": 2, "c": 3}})", &p, &where).ok());
  ASSERT_TRUE(small.Apply(p, kT0).ok());
  uint64_t before = small.seq();
  auto removed = small.Remove(*SplitKey("r,a"));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  std::vector<std::string> gone;
  small.CollectRemoved(*Pattern::Parse("r"), before,
                       [&](absl::string_view k) { gone.emplace_back(k); });
  EXPECT_EQ(gone, (std::vector<std::string>{"r,a"}));
  EXPECT_TRUE(small.CanAnswerSince(before));
  ASSERT_TRUE(small.Remove(*SplitKey("r,b")).ok());
  ASSERT_TRUE(small.Remove(*SplitKey("r,c")).ok());
  // Only two tombstones are kept: a cursor from before the first is stale.
  EXPECT_FALSE(small.CanAnswerSince(before));
  EXPECT_FALSE(small.CanAnswerSince(small.seq() + 1));
  EXPECT_EQ(small.leaf_count(), 0u);
  EXPECT_EQ(small.node_count(), 2u);  // the root and r
  EXPECT_FALSE(small.Remove({}).ok());
  EXPECT_EQ(small.Remove(*SplitKey("zz")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TreeTest, MaxNodesRefusesWholePushes) {
  Tree small(Tree::Options{10, /*max_nodes=*/5, 100});
  Push_ p;
  TextPosition where;
  ASSERT_TRUE(ParseJsonPush(R"({"a": {"b": 1, "c": 1}})", &p, &where).ok());
  ASSERT_TRUE(small.Apply(p, kT0).ok());  // 4 nodes with the root
  ASSERT_TRUE(
      ParseJsonPush(R"({"a": {"b": 2, "d": 1, "e": 1}})", &p, &where).ok());
  absl::Status s = small.Apply(p, kT0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(small.node_count(), 4u);
  EXPECT_EQ(small.Find(*SplitKey("a,b"))->window().last, 1);  // untouched
  // Repeated names in one push count once.
  ASSERT_TRUE(ParseJsonPush(R"([{"a,d": 1}, {"a,d": 2}])", &p, &where).ok());
  EXPECT_TRUE(small.Apply(p, kT0).ok());
  EXPECT_EQ(small.node_count(), 5u);
  EXPECT_FALSE(small.AddSample({"z"}, Action::kAdd, 1, kT0).ok());
}

TEST_F(TreeTest, AddSampleGivesTheTypeActionOnlyToNewLeaves) {
  ASSERT_TRUE(tree_.AddSample({"web", "hits"}, Action::kAdd, 1, kT0).ok());
  ASSERT_TRUE(tree_.AddSample({"web", "hits"}, Action::kAdd, 2, kT0).ok());
  EXPECT_EQ(Live("web,hits", kT0).value, 3);
  Push(R"({"g": {"defaultaction": "max"}})");
  ASSERT_TRUE(tree_.AddSample({"g", "x"}, Action::kLast, 5, kT0).ok());
  // The leaf had no own action: it gets "last" although its parent says max.
  EXPECT_EQ(tree_.Find(*SplitKey("g,x"))->own_action(), Action::kLast);
}

TEST_F(TreeTest, TextLeavesAndMarkers) {
  Push(R"({"h": {"os": "Debian", "marker": "reboot"}})", kT0 + 4);
  LiveValue v = Live("h,os", kT0);
  EXPECT_TRUE(v.is_text);
  EXPECT_EQ(v.text, "Debian");
  const auto* markers = tree_.Find(*SplitKey("h"))->markers();
  ASSERT_NE(markers, nullptr);
  ASSERT_EQ(markers->size(), 1u);
  EXPECT_EQ((*markers)[0].text, "reboot");
  EXPECT_EQ((*markers)[0].time, kT0 + 4);
  Push(R"({"h": {"os": 3}})");
  EXPECT_FALSE(Live("h,os", kT0).is_text);
}

class RecordingObserver : public TreeObserver {
 public:
  void OnChange(void* watch) override { changes.push_back(watch); }
  void OnWatchRemoved(void* watch) override { removed.push_back(watch); }
  bool WantsCreates() const override { return want_creates; }
  void OnNodeCreated(Node* node) override { created.push_back(node); }
  std::vector<void*> changes, removed;
  std::vector<Node*> created;
  bool want_creates = false;
};

TEST_F(TreeTest, ObserverSeesEachWatchOncePerChange) {
  RecordingObserver obs;
  tree_.SetObserver(&obs);
  Push(R"({"a": {"b": 1}})");
  int token_a, token_root;
  tree_.SetWatch(const_cast<Node*>(tree_.Find(*SplitKey("a"))), &token_a);
  tree_.SetWatch(tree_.root(), &token_root);
  Push(R"({"a": {"b": 2, "c": 3}, "z": 1})");
  EXPECT_EQ(obs.changes, (std::vector<void*>{&token_a, &token_root}));
  obs.want_creates = true;
  Push(R"({"n": {"m": 1}})");
  ASSERT_EQ(obs.created.size(), 2u);
  EXPECT_EQ(obs.created[0]->name(), "n");
  ASSERT_TRUE(tree_.Remove(*SplitKey("a")).ok());
  EXPECT_EQ(obs.removed, (std::vector<void*>{&token_a}));
  tree_.SetObserver(nullptr);
}

// A snapshot spilled a few megabytes at a time is the same bytes, in
// several pieces, as one built whole.
TEST_F(TreeTest, ASpilledSnapshotIsTheSameBytesInPieces) {
  Tree tree(Tree::Options{.step_seconds = 10, .history = true});
  for (int h = 0; h < 300; ++h) {
    for (int i = 0; i < 500; ++i) {
      LineSample s;
      s.action = Action::kAvg;
      s.value = h * 1000 + i + 0.5;
      ASSERT_TRUE(
          tree.AddSample(*SplitKey(absl::StrCat("snap,host", h, ",metric", i)),
                         s, kT0)
              .ok());
    }
  }
  std::string whole;
  tree.Snapshot(&whole);
  std::string joined, piece;
  int pieces = 0;
  tree.Snapshot(&piece, [&](const std::string& bytes) {
    joined += bytes;
    ++pieces;
  });
  EXPECT_TRUE(piece.empty());
  EXPECT_GE(pieces, 2);
  EXPECT_EQ(joined.size(), whole.size());
  EXPECT_TRUE(joined == whole);
  Tree back(Tree::Options{.step_seconds = 10, .history = true});
  ASSERT_TRUE(back.Restore(joined).ok());
  EXPECT_EQ(back.leaf_count(), 150000u);
}

TEST_F(TreeTest, SnapshotRestoresValuesActionsMarkersAndSeq) {
  Push(R"({"web": {"hits": 3, "defaultaction": "add", "marker": "m1"},
           "h": {"os": "Debian", "load": [1, 2]}})");
  ASSERT_TRUE(tree_.AddSample({"lat"}, Action::kTimer, 12, kT0).ok());
  ASSERT_TRUE(tree_.AddSample({"lat"}, Action::kTimer, 30, kT0).ok());
  LineSample member;
  member.action = Action::kSet;
  member.member = "alice";
  ASSERT_TRUE(tree_.AddSample({"users"}, member, kT0).ok());
  std::string bytes;
  tree_.Snapshot(&bytes);
  Tree back(Tree::Options{});
  ASSERT_TRUE(back.Restore(bytes).ok());
  EXPECT_EQ(back.seq(), tree_.seq());
  EXPECT_EQ(back.leaf_count(), tree_.leaf_count());
  EXPECT_EQ(back.node_count(), tree_.node_count());
  std::map<std::string, std::string> a, b;
  auto dump = [](const Tree& t, std::map<std::string, std::string>* out) {
    t.Collect(Pattern::All(), 0, [&](const LeafView& l) {
      LiveValue v = l.node->Live(l.action, kT0, 10);
      (*out)[std::string(l.key)] = absl::StrCat(
          ActionName(l.action), " ",
          v.is_text ? std::string(v.text) : absl::StrCat(v.value), " ",
          l.node->seq(),
          v.sketch ? absl::StrCat(" p99=", v.sketch->Quantile(0.99)) : "");
      return true;
    });
  };
  dump(tree_, &a);
  dump(back, &b);
  EXPECT_EQ(a, b);
  EXPECT_EQ((*back.Find({"web"})->markers())[0].text, "m1");
  // Garbage is refused and changes nothing.
  EXPECT_FALSE(back.Restore("CNPYTREE\x01garbage").ok());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    ASSERT_FALSE(back.Restore(bytes.substr(0, cut)).ok()) << cut;
  }
  EXPECT_EQ(back.leaf_count(), tree_.leaf_count());
}

TEST_F(TreeTest, AUnitIsInheritedByTheLeavesUnderItsNode) {
  Push(R"({"app": {"mem": {"heap": 1, "stack": 2}, "unit": "bytes"},
           "q": {"depth": 3, "wait": {"p1": 4, "unit": "ms"}}})");
  auto unit = [&](const std::string& key) {
    return std::string(tree_.Find(*SplitKey(key))->StatedUnit());
  };
  EXPECT_EQ(unit("app,mem,heap"), "bytes");
  EXPECT_EQ(unit("app"), "bytes");
  EXPECT_EQ(unit("q,wait,p1"), "ms");
  EXPECT_EQ(unit("q,depth"), "");
  // At the top level "unit" goes to each key of its object, like
  // "defaultaction": never to the whole tree.
  Push(R"({"q,depth": 5, "unit": "jobs"})");
  EXPECT_EQ(unit("q,depth"), "jobs");
  EXPECT_EQ(tree_.root()->own_unit(), "");
  EXPECT_EQ(unit("q,wait,p1"), "ms");
  // null removes the node's own unit: the leaves inherit again.
  Push(R"({"app": {"mem": {"unit": "KiB", "heap": 1}}})");
  EXPECT_EQ(unit("app,mem,heap"), "KiB");
  Push(R"({"app": {"mem": {"unit": null}}})");
  EXPECT_EQ(unit("app,mem,heap"), "bytes");
}

TEST_F(TreeTest, SnapshotKeepsUnitsAndReadsVersionOne) {
  Push(R"({"web": {"bytes_out": 3, "unit": "bytes"}, "x": {"y": 1}})");
  std::string bytes;
  tree_.Snapshot(&bytes);
  Tree back(Tree::Options{});
  ASSERT_TRUE(back.Restore(bytes).ok());
  EXPECT_EQ(back.Find({"web"})->own_unit(), "bytes");
  EXPECT_EQ(back.Find({"web", "bytes_out"})->StatedUnit(), "bytes");
  EXPECT_EQ(back.Find({"x", "y"})->StatedUnit(), "");
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    ASSERT_FALSE(back.Restore(bytes.substr(0, cut)).ok()) << cut;
  }
  // A snapshot from before units (version 1, written by older builds)
  // still loads: the same bytes without units, with version 1.
  Tree old(Tree::Options{});
  Push_ p;
  TextPosition where;
  ASSERT_TRUE(ParseJsonPush(R"({"x": {"y": 1}})", &p, &where).ok());
  ASSERT_TRUE(old.Apply(p, kT0).ok());
  std::string v1;
  old.Snapshot(&v1);
  ASSERT_EQ(v1[8], 2);  // the version varint, after the magic
  v1[8] = 1;
  Tree from_v1(Tree::Options{});
  ASSERT_TRUE(from_v1.Restore(v1).ok());
  EXPECT_EQ(from_v1.leaf_count(), 1u);
  // A version 1 snapshot cannot hold a unit.
  std::string with_unit = bytes;
  with_unit[8] = 1;
  EXPECT_FALSE(from_v1.Restore(with_unit).ok());
}

TEST(AggregatorTest, FoldsByAction) {
  Aggregator sum(Action::kAdd), avg(Action::kAvg), mx(Action::kMax),
      last(Action::kLast);
  for (double v : {1.0, 5.0, 3.0}) {
    sum.Add(v);
    avg.Add(v);
    mx.Add(v);
    last.Add(v);
  }
  EXPECT_EQ(sum.value(), 9);
  EXPECT_EQ(avg.value(), 3);
  EXPECT_EQ(mx.value(), 5);
  EXPECT_FALSE(last.has());
  EXPECT_FALSE(Aggregator(Action::kMin).has());
}

// Issue 18: "**,**,**,**" over 8 010 leaves 29 segments deep took 30 s.
// Stepped down the tree, the walk visits each node once: its work is at
// most nodes x (pattern length + 1), plus the sorting of children.
TEST(TreeQueryTest, ManyAnyDepthsVisitEachNodeOnce) {
  Tree tree(Tree::Options{});
  for (int i = 0; i < 8010; ++i) {
    KeySegments key = {"deep"};
    std::vector<std::string> owned;
    for (int j = 1; j < 16; ++j) owned.push_back(absl::StrCat("c", j));
    for (int j = 0; j < 13; ++j)
      owned.push_back(absl::StrCat("b", (i >> j) & 1));
    for (const std::string& s : owned) key.push_back(s);
    tree.BeginChange();
    ASSERT_TRUE(tree.AddSample(key, Action::kLast, i, kT0).ok());
  }
  for (const char* text :
       {"**,**,**,**", "**,b1,**,b0,**,nothing", "deep,**,**,**,*"}) {
    Pattern p = *Pattern::Parse(text);
    QueryBudget budget(QueryBudget::Limits{.work = ~uint64_t{0},
                                           .time = absl::InfiniteDuration()});
    size_t leaves = 0;
    tree.Collect(
        p, 0,
        [&](const LeafView&) {
          ++leaves;
          return true;
        },
        &budget);
    // Each node: one visit, at most the pattern's positions per step, and
    // binary children sorted (2 x 2 per node at most).
    const uint64_t bound =
        tree.node_count() * (2 * (p.segments().size() + 1) + 4);
    EXPECT_LE(budget.used(), bound) << text;
    EXPECT_FALSE(budget.exceeded());
    EXPECT_EQ(leaves, absl::StrContains(text, "nothing") ? 0u : 8010u) << text;
  }
}

TEST(TreeQueryTest, AQueryPastItsBudgetStopsAndSaysWhy) {
  Tree tree(Tree::Options{});
  for (int i = 0; i < 1000; ++i) {
    tree.BeginChange();
    ASSERT_TRUE(
        tree.AddSample({"w", absl::StrCat("k", i)}, Action::kLast, i, kT0)
            .ok());
  }
  QueryBudget budget(QueryBudget::Limits{.work = 500});
  size_t leaves = 0;
  EXPECT_FALSE(tree.Collect(
      *Pattern::Parse("**"), 0,
      [&](const LeafView&) {
        ++leaves;
        return true;
      },
      &budget));
  EXPECT_TRUE(budget.exceeded());
  EXPECT_LT(leaves, 1000u);
  absl::Status refusal = budget.Refusal();
  EXPECT_EQ(refusal.code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StrContains(refusal.message(), "--query_budget"))
      << refusal;
  // A literal key costs its depth, whatever the tree's width.
  QueryBudget small(QueryBudget::Limits{.work = 20});
  leaves = 0;
  EXPECT_TRUE(tree.Collect(
      *Pattern::Parse("w,k7"), 0,
      [&](const LeafView&) {
        ++leaves;
        return true;
      },
      &small));
  EXPECT_EQ(leaves, 1u);
  EXPECT_FALSE(small.exceeded());
}

TEST(TreeQueryTest, AQueryPastItsTimeStopsAndSaysWhy) {
  Tree tree(Tree::Options{});
  for (int i = 0; i < 3000; ++i) {
    tree.BeginChange();
    ASSERT_TRUE(
        tree.AddSample({"w", absl::StrCat("k", i)}, Action::kLast, i, kT0)
            .ok());
  }
  // A deadline already past: the first clock check (every 1 024 units of
  // work) stops the walk.
  QueryBudget budget(QueryBudget::Limits{.work = ~uint64_t{0},
                                         .time = absl::Milliseconds(-1)});
  EXPECT_FALSE(tree.Collect(
      *Pattern::Parse("**"), 0, [](const LeafView&) { return true; }, &budget));
  EXPECT_TRUE(budget.exceeded());
  EXPECT_LE(budget.used(), 1024u + 3000u * 13u);
  EXPECT_TRUE(absl::StrContains(budget.Refusal().message(), "--query_time_ms"))
      << budget.Refusal();
}

TEST_F(TreeTest, OverflowingSamplesAreRefusedAndCounted) {
  // add [1e308, 1e308]: the second would make the total +inf.
  Push(R"({"sum": [1e308, 1e308], "defaultaction": "add"})");
  EXPECT_EQ(Live("sum", kT0).value, 1e308);
  EXPECT_EQ(tree_.overflow_refused(), 1u);
  // A StatsD gauge delta "+1e308" on a gauge at 1e308.
  tree_.BeginChange();
  LineSample g;
  g.action = Action::kLast;
  g.value = 1e308;
  ASSERT_TRUE(tree_.AddSample({"g"}, g, kT0).ok());
  g.relative = true;
  tree_.BeginChange();
  ASSERT_TRUE(tree_.AddSample({"g"}, g, kT0 + 10).ok());
  EXPECT_EQ(Live("g", kT0 + 10).value, 1e308);
  EXPECT_EQ(tree_.overflow_refused(), 2u);
  g.value = -1e308;  // a delta that fits is taken
  tree_.BeginChange();
  ASSERT_TRUE(tree_.AddSample({"g"}, g, kT0 + 10).ok());
  EXPECT_EQ(Live("g", kT0 + 10).value, 0);
  EXPECT_EQ(tree_.overflow_refused(), 2u);
}

TEST_F(TreeTest, AggregatesOfFiniteChildrenStayFinite) {
  Push(R"({"p": {"a": 1e308, "b": 1e308}, "defaultaction": "add"})");
  Push(R"({"q": {"a": 1e308, "b": -1e308}, "defaultaction": "add"})");
  Push(R"({"m": {"a": 1.5e308, "b": 1.5e308}, "defaultaction": "average"})");
  auto aggregate = [&](const char* key) {
    const Node* n = tree_.Find(*SplitKey(key));
    return tree_.ValueOf(n, n->EffectiveAction(), kT0).value;
  };
  EXPECT_EQ(aggregate("p"), DBL_MAX);  // saturated, not +inf
  EXPECT_EQ(aggregate("q"), 0);        // not NaN (+inf - inf)
  EXPECT_EQ(aggregate("m"), 1.5e308);  // the mean, exact
}

TEST_F(TreeTest, TimerOverExtremesKeepsFiniteFigures) {
  Push(R"({"t": [1e308, -1e308, 5e-324], "defaultaction": "timer"})");
  LiveValue v = Live("t", kT0);
  ASSERT_NE(v.sketch, nullptr);
  EXPECT_EQ(v.sketch->count(), 3);
  EXPECT_TRUE(std::isfinite(v.value));
  EXPECT_EQ(v.sketch->min(), -1e308);
  EXPECT_EQ(v.sketch->max(), 1e308);
  for (double q : {0.5, 0.9, 0.99}) {
    EXPECT_TRUE(std::isfinite(v.sketch->Quantile(q))) << q;
  }
  // Two timers at 1e308 merge into a parent whose sum saturates.
  Push(R"({"tt": {"a": [1e308], "b": [1e308]}, "defaultaction": "timer"})");
  const Node* n = tree_.Find(*SplitKey("tt"));
  LiveValue merged = tree_.ValueOf(n, Action::kTimer, kT0);
  ASSERT_NE(merged.merged, nullptr);
  EXPECT_TRUE(std::isfinite(merged.merged->sum()));
  EXPECT_TRUE(std::isfinite(merged.value));
}

TEST_F(TreeTest, TimeDatesTheWholeObjectWhereverItStands) {
  // History on: a sample dated into an earlier window becomes a late window
  // of its own; one dated now stays in the open window.
  Tree tree(Tree::Options{.step_seconds = 10, .history = true});
  auto apply = [&](const std::string& json) {
    Push_ p;
    TextPosition where;
    ASSERT_TRUE(ParseJsonPush(json, &p, &where).ok()) << json;
    ASSERT_TRUE(tree.Apply(p, kT0 + 600).ok());
  };
  const std::string t = absl::StrCat(kT0);
  apply(R"({"before": 1, "time": )" + t + "}");
  apply(R"({"time": )" + t + R"(, "after": 1})");
  apply(R"({"nested": {"x": 1}, "time": )" + t + "}");
  apply(R"([{"l1": 1, "time": )" + t + R"(}, {"l2": 1}])");
  std::vector<ClosedWindow> closed;
  tree.CloseWindows(kT0 + 600, &closed);
  std::map<std::string, int64_t> start;
  for (const ClosedWindow& w : closed) start[w.key] = w.start;
  EXPECT_EQ(start["before"], kT0);
  EXPECT_EQ(start["after"], kT0);
  EXPECT_EQ(start["nested,x"], kT0);
  EXPECT_EQ(start["l1"], kT0);
  // The next object of a list is dated now: not closed yet.
  EXPECT_EQ(start.count("l2"), 0u);
}

// A sender whose timestamps lag (collectd, a Graphite relay) or history
// sent with its timestamps: a sample dated after its leaf's window, though
// before now, opens its own window, handed over in order (stored, rolled up
// and sent by remote_write like any other); only one dated into a window
// the leaf has passed is late.
TEST_F(TreeTest, ADatedSampleNewerThanItsLeafsWindowIsInOrder) {
  Tree tree(Tree::Options{.step_seconds = 10, .history = true});
  auto add = [&](double v, int64_t time, int64_t now) {
    LineSample s;
    s.action = Action::kLast;
    s.value = v;
    s.time = time;
    ASSERT_TRUE(tree.AddSample(*SplitKey("lag"), s, now).ok());
  };
  auto close = [&](int64_t now) {
    std::vector<ClosedWindow> closed;
    tree.CloseWindows(now, &closed);
    return closed;
  };
  add(1, kT0 + 8, kT0 + 11);  // the window at kT0, already over
  std::vector<ClosedWindow> first = close(kT0 + 11);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].start, kT0);
  EXPECT_FALSE(first[0].late);
  add(2, kT0 + 18, kT0 + 21);  // the next one, also a little late
  add(3, kT0 + 19, kT0 + 21);
  EXPECT_EQ(
      tree.Find(*SplitKey("lag"))->Live(Action::kLast, kT0 + 21, 10).value, 3);
  std::vector<ClosedWindow> second = close(kT0 + 21);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].start, kT0 + 10);
  EXPECT_EQ(second[0].count, 2);
  EXPECT_FALSE(second[0].late);
  add(4, kT0 + 3, kT0 + 25);  // into the window at kT0: late
  std::vector<ClosedWindow> third = close(kT0 + 31);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].start, kT0);
  EXPECT_TRUE(third[0].late);
}

// After a large removal the node slabs left empty go back (and only those):
// the nodes still in the tree keep their values, and the tree grows again.
TEST_F(TreeTest, ReleaseMemoryGivesBackEmptySlabsOnly) {
  auto push_hosts = [&](const std::string& top, int hosts, int value) {
    for (int h = 0; h < hosts; ++h) {
      std::string body = absl::StrCat("{\"", top, "\":{\"", h, "\":{");
      for (int i = 0; i < 100; ++i) {
        absl::StrAppend(&body, i ? "," : "", "\"", i, "\":", value + i);
      }
      body += "}}}";
      Push(body);
    }
  };
  push_hosts("a", 200, 1);
  push_hosts("b", 200, 2);
  EXPECT_EQ(tree_.ReleaseMemory(), 0u);  // nothing removed yet
  ASSERT_TRUE(tree_.Remove(*SplitKey("a")).ok());
  size_t released = tree_.ReleaseMemory();
#ifdef CANOPY_NODE_POOL_ASAN
  EXPECT_EQ(released, 0u);  // ASan builds give each node to the allocator
#else
  // 20 000 nodes of ~112 bytes were in slabs of their own.
  EXPECT_GT(released, 20000u * 100 * 9 / 10);
#endif
  EXPECT_EQ(tree_.leaf_count(), 20000u);
  EXPECT_EQ(Live("b,199,99", kT0).value, 2 + 99);
  push_hosts("a", 200, 3);  // new slabs cut, freed nodes reused
  EXPECT_EQ(tree_.leaf_count(), 40000u);
  EXPECT_EQ(Live("a,5,7", kT0).value, 3 + 7);
  EXPECT_EQ(Live("b,0,0", kT0).value, 2);
}

}  // namespace
}  // namespace canopy
