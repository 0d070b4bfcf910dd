#include "canopy/tree.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

}  // namespace
}  // namespace canopy
