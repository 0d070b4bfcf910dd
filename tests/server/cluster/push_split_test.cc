#include "server/cluster/push_split.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

// Every sample and text of a push as (key, value or text).
std::multimap<std::string, std::string> Writes(const Push& push) {
  std::multimap<std::string, std::string> out;
  std::vector<std::string> path;
  for (const PushOp& op : push.ops) {
    switch (op.kind) {
      case PushOp::Kind::kEnter:
        path.emplace_back(op.name);
        break;
      case PushOp::Kind::kLeave:
        path.resize(path.size() - op.count);
        break;
      case PushOp::Kind::kSample:
      case PushOp::Kind::kText: {
        std::vector<std::string> key = path;
        key.emplace_back(op.name);
        out.emplace(absl::StrJoin(key, ","), op.kind == PushOp::Kind::kText
                                                 ? std::string(op.text)
                                                 : absl::StrCat(op.value));
        break;
      }
      default:
        break;
    }
  }
  return out;
}

Push Parse(const std::string& json) {
  Push push;
  TextPosition where;
  absl::Status s = ParseJsonPush(json, &push, &where);
  EXPECT_TRUE(s.ok()) << s;
  return push;
}

const char kMixed[] = R"({
  "time": 1700000000,
  "host": {
    "web1": {"cpu": {"user": 1, "idle": 2}, "os": "debian",
             "defaultaction": "average"},
    "web2": {"cpu": {"user": 3}},
    "db1": {"disk": {"sda": {"read": 4, "write": 5}}, "marker": "rebooted"},
    "db2": 6
  },
  "br": {"ie": {"7": 8}, "fx": 9},
  "top": 10,
  "deep,a,b,c": 11
})";

TEST(PushSplitTest, TheOwnersPartsAddUpToTheWholePush) {
  Ring ring({"a", "b", "c"}, 2);
  const Push whole = Parse(kMixed);
  const auto all = Writes(whole);
  std::vector<bool> owners = OwnersOfPush(whole, ring);
  std::multimap<std::string, std::string> united;
  size_t leaves = 0;
  for (size_t o = 0; o < 3; ++o) {
    Push part = Parse(kMixed);
    KeepOwned(&part, ring, o);
    leaves += part.leaves;
    const auto mine = Writes(part);
    EXPECT_EQ(owners[o], !mine.empty()) << o;
    for (const auto& [key, v] : mine) {
      EXPECT_EQ(ring.OwnerOfKey(key), o) << key;
      united.emplace(key, v);
    }
  }
  EXPECT_EQ(united, all);
  EXPECT_EQ(leaves, whole.leaves);
}

TEST(PushSplitTest, APartCreatesNoNodeItsShardDoesNotOwn) {
  Ring ring({"a", "b", "c"}, 2);
  for (size_t o = 0; o < 3; ++o) {
    Push part = Parse(kMixed);
    KeepOwned(&part, ring, o);
    Tree tree{Tree::Options()};
    ASSERT_TRUE(tree.Apply(part, 1700000000).ok());
    // The nodes: the root and every prefix of a kept key, nothing else.
    std::set<std::string> prefixes;
    for (const auto& [key, v] : Writes(part)) {
      std::vector<std::string> segs = absl::StrSplit(key, ',');
      for (size_t n = 1; n <= segs.size(); ++n) {
        prefixes.insert(absl::StrJoin(segs.begin(), segs.begin() + n, ","));
      }
    }
    EXPECT_EQ(tree.node_count(), 1 + prefixes.size()) << o;
  }
}

TEST(PushSplitTest, TimeGoesWithEveryPart) {
  Ring ring({"a", "b", "c"}, 2);
  for (size_t o = 0; o < 3; ++o) {
    Push part = Parse(kMixed);
    KeepOwned(&part, ring, o);
    if (part.leaves == 0) continue;
    ASSERT_FALSE(part.ops.empty());
    EXPECT_EQ(part.ops.front().kind, PushOp::Kind::kTime);
    EXPECT_EQ(part.ops.front().value, 1700000000);
  }
}

TEST(PushSplitTest, AUnitGoesWithTheNodeItNames) {
  Ring ring({"a", "b", "c"}, 2);
  const char kUnits[] = R"({
    "host": {"web1": {"mem": {"used": 1, "unit": "bytes"}}, "web2": {"x": 2}},
    "br,ie": 3, "unit": "jobs"})";
  int nested = 0, top = 0;
  for (size_t o = 0; o < 3; ++o) {
    Push part = Parse(kUnits);
    KeepOwned(&part, ring, o);
    Tree tree{Tree::Options()};
    ASSERT_TRUE(tree.Apply(part, 1700000000).ok());
    if (const Node* n = tree.Find({"host", "web1", "mem"})) {
      EXPECT_EQ(n->own_unit(), "bytes");
      EXPECT_EQ(ring.OwnerOfKey("host,web1"), o);
      ++nested;
    }
    if (const Node* n = tree.Find({"br", "ie"}); n && !n->own_unit().empty()) {
      EXPECT_EQ(n->own_unit(), "jobs");
      EXPECT_EQ(ring.OwnerOfKey("br,ie"), o);
      ++top;
    }
  }
  EXPECT_EQ(nested, 1);
  EXPECT_EQ(top, 1);
}

// A unit or a marker on a node above the shard depth goes to every shard:
// the node's descendants are spread over all of them.
TEST(PushSplitTest, AMarkAboveTheShardDepthGoesToEveryShard) {
  Ring ring({"a", "b", "c"}, 2);
  // A unit and a marker inside the node's object; a unit at the top, for
  // the node its sibling key names.
  const char kInside[] =
      R"({"host": {"unit": "bytes", "marker": "moved", "web1": {"mem": 1}}})";
  const char kTop[] = R"({"br": {"ie": 2}, "unit": "jobs"})";
  for (const char* push : {kInside, kTop}) {
    EXPECT_EQ(OwnersOfPush(Parse(push), ring),
              (std::vector<bool>{true, true, true}))
        << push;
  }
  for (size_t o = 0; o < 3; ++o) {
    Push inside = Parse(kInside);
    KeepOwned(&inside, ring, o);
    Push top = Parse(kTop);
    KeepOwned(&top, ring, o);
    Tree tree{Tree::Options()};
    ASSERT_TRUE(tree.Apply(inside, 1700000000).ok());
    ASSERT_TRUE(tree.Apply(top, 1700000000).ok());
    const Node* host = tree.Find({"host"});
    ASSERT_NE(host, nullptr) << o;
    EXPECT_EQ(host->own_unit(), "bytes") << o;
    const Node* br = tree.Find({"br"});
    ASSERT_NE(br, nullptr) << o;
    EXPECT_EQ(br->own_unit(), "jobs") << o;
    int markers = 0;
    for (const PushOp& op : inside.ops) {
      markers += op.kind == PushOp::Kind::kMarker;
    }
    EXPECT_EQ(markers, 1) << o;
    // The samples still go to their owners only.
    EXPECT_EQ(tree.Find({"host", "web1", "mem"}) != nullptr,
              ring.OwnerOfKey("host,web1") == o);
    EXPECT_EQ(tree.Find({"br", "ie"}) != nullptr,
              ring.OwnerOfKey("br,ie") == o);
  }
}

}  // namespace
}  // namespace canopy
