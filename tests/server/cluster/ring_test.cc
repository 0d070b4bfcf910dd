#include "server/cluster/ring.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/cluster/cluster.h"

namespace canopy {
namespace {

TEST(RingTest, AKeyItsNameAndItsSegmentsHaveOneOwner) {
  Ring ring({"a", "b", "c"}, 2);
  for (int i = 0; i < 200; ++i) {
    const std::string host = absl::StrCat("web", i);
    const size_t owner = ring.OwnerOfKey(absl::StrCat("host,", host));
    EXPECT_EQ(ring.OwnerOfKey(absl::StrCat("host,", host, ",cpu,user")), owner);
    EXPECT_EQ(ring.OwnerOfName(absl::StrCat("host.", host, ".cpu.user")),
              owner);
    EXPECT_EQ(ring.OwnerOfName(absl::StrCat("host.", host, ".load;dc=x")),
              owner);
    EXPECT_EQ(ring.OwnerOfSegments({"host", host, "mem"}), owner);
    // A whole line: its name ends at the StatsD ':' or the Graphite ' '.
    EXPECT_EQ(ring.OwnerOfName(absl::StrCat("host.", host, ":1|c")), owner);
    EXPECT_EQ(ring.OwnerOfName(absl::StrCat("host.", host, " 5 1700000000")),
              owner);
    EXPECT_EQ(ring.OwnerOfName(absl::StrCat(host, ":1|c|#a:b")),
              ring.OwnerOfKey(host));
  }
}

TEST(RingTest, TheSameInEveryProcess) {
  // Pinned: every node of a cluster, whatever its build, must agree.
  EXPECT_EQ(StableHash("canopy"), StableHash("canopy"));
  Ring ring({"a", "b", "c"}, 2);
  std::string owners;
  for (const char* k : {"host,web1", "host,web2", "host,db1", "br,ie", "x"}) {
    owners += ring.shards()[ring.OwnerOfKey(k)];
  }
  Ring again({"a", "b", "c"}, 2);
  std::string owners_again;
  for (const char* k : {"host,web1", "host,web2", "host,db1", "br,ie", "x"}) {
    owners_again += again.shards()[again.OwnerOfKey(k)];
  }
  EXPECT_EQ(owners, owners_again);
  // ("ab", "c") and ("a", "bc") are different prefixes.
  EXPECT_NE(StableHash("ab\x1f"
                       "c"),
            StableHash("a\x1f"
                       "bc"));
}

TEST(RingTest, SharesAreEvenAndAddingAShardMovesOnlyItsShare) {
  Ring three({"a", "b", "c"}, 2);
  Ring four({"a", "b", "c", "d"}, 2);
  std::map<size_t, int> count;
  int moved = 0;
  const int n = 6000;
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("host,h", i);
    const size_t before = three.OwnerOfKey(key);
    const size_t after = four.OwnerOfKey(key);
    ++count[before];
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, 3u) << key << ": a key moved between old shards";
    }
  }
  for (size_t s = 0; s < 3; ++s) {
    EXPECT_GT(count[s], n / 3 * 0.85) << s;
    EXPECT_LT(count[s], n / 3 * 1.15) << s;
  }
  EXPECT_GT(moved, n / 4 * 0.85);
  EXPECT_LT(moved, n / 4 * 1.15);
}

TEST(ClusterConfigTest, FlagsAreCheckedWithAReason) {
  auto ok = ParseClusterConfig("nats://127.0.0.1:4222,nats://127.0.0.1:4223",
                               "a", "a,b,c", 2);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->urls.size(), 2u);
  EXPECT_EQ(ok->shards.size(), 3u);
  EXPECT_FALSE(ParseClusterConfig("127.0.0.1:4222", "a", "a", 2).ok());
  EXPECT_FALSE(ParseClusterConfig("nats://x:1", "", "a", 2).ok());
  EXPECT_FALSE(ParseClusterConfig("nats://x:1", "a b", "a", 2).ok());
  EXPECT_FALSE(ParseClusterConfig("nats://x:1", "a", "", 2).ok());
  EXPECT_FALSE(ParseClusterConfig("nats://x:1", "a", "a,a", 2).ok());
  EXPECT_FALSE(ParseClusterConfig("nats://x:1", "a", "a", 0).ok());
  // An edge: a node that is not a shard.
  EXPECT_TRUE(ParseClusterConfig("nats://x:1", "e1", "a,b", 2).ok());
}

}  // namespace
}  // namespace canopy
