// Tree::Collect resumed after a key, and Tree::Expire in budgeted slices.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000;

std::vector<std::string> Keys(const Tree& tree, const Pattern& pattern,
                              absl::string_view after = {}) {
  std::vector<std::string> out;
  tree.Collect(
      pattern, 0,
      [&](const LeafView& l) {
        out.emplace_back(l.key);
        return true;
      },
      nullptr, after);
  return out;
}

void Set(Tree* tree, const std::vector<std::string>& key, double v,
         int64_t now) {
  std::vector<absl::string_view> segments(key.begin(), key.end());
  tree->BeginChange();
  ASSERT_TRUE(tree->AddSample(segments, Action::kLast, v, now).ok());
}

const Node* Find(const Tree& tree, const std::vector<std::string>& key) {
  std::vector<absl::string_view> segments(key.begin(), key.end());
  return tree.Find(segments);
}

TEST(TreeRemoveTest, CollectGoesOnAfterAnyKey) {
  Tree tree(Tree::Options{});
  // Interior nodes with values of their own, names that sort by bytes
  // ("a" < "a,b" < "ab"), and branches of different depths.
  for (const std::vector<std::string>& k :
       std::vector<std::vector<std::string>>{{"a"},
                                             {"a", "b"},
                                             {"a", "b", "c"},
                                             {"a", "c"},
                                             {"ab"},
                                             {"b", "x", "y", "z"},
                                             {"b", "y"},
                                             {"c"}}) {
    Set(&tree, k, 1, kT0);
  }
  const std::vector<std::string> all = Keys(tree, Pattern::All());
  ASSERT_EQ(all, (std::vector<std::string>{"a", "a,b", "a,b,c", "a,c", "ab",
                                           "b,x,y,z", "b,y", "c"}));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(Keys(tree, Pattern::All(), all[i]),
              std::vector<std::string>(all.begin() + i + 1, all.end()))
        << "after " << all[i];
  }
  // A key that is not (or no longer) in the tree: what sorts after it.
  EXPECT_EQ(Keys(tree, Pattern::All(), "a,bb"),
            (std::vector<std::string>{"a,c", "ab", "b,x,y,z", "b,y", "c"}));
  EXPECT_EQ(Keys(tree, Pattern::All(), "b,x"),
            (std::vector<std::string>{"b,x,y,z", "b,y", "c"}));
  EXPECT_TRUE(Keys(tree, Pattern::All(), "zz").empty());
  // With a pattern: resumed within what it selects.
  EXPECT_EQ(Keys(tree, *Pattern::Parse("*,b"), "a,b"),
            (std::vector<std::string>{"a,b,c"}));
  EXPECT_EQ(Keys(tree, *Pattern::Parse("b,**"), "b,x,y,z"),
            (std::vector<std::string>{"b,y"}));
}

// Issue 18: an --expire sweep was one walk of the whole tree on the loop.
// In slices of a small budget it removes exactly what one walk would.
TEST(TreeRemoveTest, ExpireInSlicesRemovesTheStaleAndKeepsTheRest) {
  Tree tree(Tree::Options{});
  for (int h = 0; h < 20; ++h) {
    for (int i = 0; i < 50; ++i) {
      // Every third leaf sampled lately, the others long ago.
      const int64_t when = (h * 50 + i) % 3 == 0 ? kT0 + 1000 : kT0;
      Set(&tree, {"host", absl::StrCat("h", h), absl::StrCat("m", i)}, i, when);
    }
  }
  Set(&tree, {"other", "x"}, 1, kT0);  // outside the pattern: kept
  const Pattern pattern = *Pattern::Parse("host,*");
  std::string resume;
  size_t removed = 0, slices = 0;
  for (;;) {
    QueryBudget budget(QueryBudget::Limits{.work = 2000});
    removed += tree.Expire(pattern, kT0 + 500, &budget, &resume);
    ++slices;
    if (!budget.exceeded()) break;
    ASSERT_FALSE(resume.empty()) << "a slice made no progress";
    ASSERT_LT(slices, 1000u);
  }
  EXPECT_TRUE(resume.empty());
  EXPECT_GT(slices, 5u);
  EXPECT_EQ(removed, 1000u - 334u);
  const std::vector<std::string> left = Keys(tree, Pattern::All());
  EXPECT_EQ(left.size(), 334u + 1u);
  for (int h = 0; h < 20; ++h) {
    for (int i = 0; i < 50; ++i) {
      const Node* n =
          Find(tree, {"host", absl::StrCat("h", h), absl::StrCat("m", i)});
      EXPECT_EQ(n != nullptr, (h * 50 + i) % 3 == 0) << h << " " << i;
    }
  }
  EXPECT_NE(Find(tree, {"other", "x"}), nullptr);
}

}  // namespace
}  // namespace canopy
