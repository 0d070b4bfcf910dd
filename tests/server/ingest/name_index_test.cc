// The name index of the line ingest's fast path (server/ingest/name_index.h)
// on its own: it finds what was inserted and nothing else, stays within its
// bound by forgetting, and its hash spreads names that differ in a byte or
// two (as metric names do) over the slots.
//
// Threads: the test's thread.
#include "server/ingest/name_index.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000;

TEST(NameIndexTest, FindsWhatWasInsertedAndIsBounded) {
  Tree tree{Tree::Options{}};
  Tree::KeyedSample s{"a,b", LineSample{}};
  std::vector<std::pair<size_t, absl::Status>> errors;
  tree.AddSamplesByKey({&s, 1}, kT0, &errors);
  const Node* leaf = tree.Find(*SplitKey("a,b"));
  ASSERT_NE(leaf, nullptr);

  NameIndex index(/*max_names=*/100);
  EXPECT_EQ(index.Find("a.b", index.Hash("a.b")), nullptr);
  for (int i = 0; i < 250; ++i) {
    const std::string name = absl::StrCat("n", i);
    index.Insert(name, index.Hash(name), leaf);
    EXPECT_EQ(index.Find(name, index.Hash(name)), leaf);
    EXPECT_LE(index.size(), 100u);
  }
  // The latest names are there; the index forgot the oldest when full.
  EXPECT_EQ(index.Find("n249", index.Hash("n249")), leaf);
  EXPECT_EQ(index.Find("n0", index.Hash("n0")), nullptr);
  // A name is told apart from one with the same hash.
  index.Insert("x", 7, leaf);
  EXPECT_EQ(index.Find("x", 7), leaf);
  EXPECT_EQ(index.Find("y", 7), nullptr);
  index.Clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.Find("n249", index.Hash("n249")), nullptr);
}

// Names that differ in a byte or two (as metric names do) spread over the
// slots: the index's probe runs stay short.
TEST(NameIndexTest, SimilarNamesSpreadOverTheSlots) {
  NameIndex index;
  constexpr size_t kSlots = 1 << 16;
  std::vector<int> load(kSlots);
  for (int i = 0; i < 1 << 16; ++i) {
    const std::string name =
        absl::StrCat("host.web", i % 7, ".cpu", i / 7 % 100, ".m", i);
    ++load[index.Hash(name) & (kSlots - 1)];
    EXPECT_NE(index.Hash(name), index.Hash(name + "x"));
  }
  // One name a slot on average: a fair hash puts at most ~9 in any.
  EXPECT_LE(*std::max_element(load.begin(), load.end()), 12);
  for (size_t n = 1; n <= 40; ++n) {  // every tail length
    const std::string a(n, 'a');
    std::string b = a;
    b[n / 2] = 'b';
    EXPECT_NE(index.Hash(a), index.Hash(b)) << n;
  }
}

}  // namespace
}  // namespace canopy
