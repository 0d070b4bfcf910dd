// Tree::CloseWindows in slices: a budget a call, the next call going on
// where the last stopped, while samples, new leaves and removals come in
// between; every ended window handed over once.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000 - 1700000000 % 86400;

void Add(Tree* tree, const std::string& key, double v, int64_t now) {
  LineSample s;
  s.action = Action::kAdd;
  s.value = v;
  ASSERT_TRUE(tree->AddSample(*SplitKey(key), s, now).ok());
}

TEST(TreeWindowsTest, SlicesHandEveryEndedWindowOverOnce) {
  Tree tree(Tree::Options{.step_seconds = 10, .history = true});
  constexpr int kLeaves = 1000;
  for (int i = 0; i < kLeaves; ++i) Add(&tree, absl::StrCat("s,", i), 1, kT0);
  std::map<std::pair<std::string, int64_t>, double> got;  // sum by window
  auto take = [&](const std::vector<ClosedWindow>& out) {
    for (const ClosedWindow& w : out) {
      EXPECT_EQ(got.count({w.key, w.start}), 0u) << w.key << " twice";
      got[{w.key, w.start}] = w.sum;
    }
  };
  std::vector<ClosedWindow> out;
  EXPECT_TRUE(tree.CloseWindows(kT0 + 10, &out, 300));
  EXPECT_EQ(out.size(), 300u);
  take(out);
  // Between slices: a leaf not reached yet gets a sample of the next
  // window (its window closes early), a new leaf comes, one leaf not
  // reached goes (its window is handed over), one leaf already handed
  // over gets a sample again.
  Add(&tree, "s,900", 5, kT0 + 11);
  Add(&tree, "s,new", 7, kT0 + 11);
  Add(&tree, "s,0", 3, kT0 + 12);
  ASSERT_TRUE(tree.Remove(*SplitKey("s,950")).ok());
  bool more = true;
  int calls = 1;
  while (more) {
    out.clear();
    more = tree.CloseWindows(kT0 + 10, &out, 300);
    EXPECT_LE(out.size(), 300u + 2);  // plus those closed early or removed
    take(out);
    ASSERT_LT(++calls, 10);
  }
  for (int i = 0; i < kLeaves; ++i) {
    EXPECT_EQ(got.count({absl::StrCat("s,", i), kT0}), 1u) << i;
  }
  // The next window: the leaves that got samples in it, nothing else.
  out.clear();
  EXPECT_FALSE(tree.CloseWindows(kT0 + 20, &out));
  take(out);
  EXPECT_EQ(got.size(), kLeaves + 3u);
  EXPECT_EQ((got[{"s,900", kT0 + 10}]), 5);
  EXPECT_EQ((got[{"s,new", kT0 + 10}]), 7);
  EXPECT_EQ((got[{"s,0", kT0 + 10}]), 3);
  EXPECT_EQ(tree.open_windows(), 0u);
}

}  // namespace
}  // namespace canopy
