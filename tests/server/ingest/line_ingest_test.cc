// LineIngest in one process (no sockets): the fast path that finds known
// names in a NameIndex must give what the full parsers give, keep the
// order and line numbers of a text's lines, and never use a leaf the tree
// has freed (under ASan a stale pointer is a failure here).
#include "server/ingest/line_ingest.h"

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/sketch.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000;

class LineIngestTest : public ::testing::Test {
 protected:
  LineIngestTest() : tree_(Options()), ingest_(&tree_, &stats_) {}

  static Tree::Options Options() {
    Tree::Options o;
    o.history = true;
    return o;
  }

  LineIngest::Result Lines(absl::string_view text, int64_t now = kT0) {
    return ingest_.ApplyLines(text, "udp", now);
  }

  const Node* Leaf(absl::string_view key) { return tree_.Find(*SplitKey(key)); }
  double Value(absl::string_view key, int64_t now = kT0) {
    const Node* n = Leaf(key);
    EXPECT_NE(n, nullptr) << key;
    if (n == nullptr) return -1;
    return n->Live(n->EffectiveAction(), now, tree_.step_seconds()).value;
  }
  uint64_t Rejected(const std::string& reason) {
    return stats_.rejected["udp"][reason];
  }

  Tree tree_;
  Stats stats_;
  LineIngest ingest_;
};

TEST_F(LineIngestTest, KnownNamesGiveWhatTheFirstLineGave) {
  // The first datagram makes the leaves (the slow path); the later ones
  // find them by name as sent.
  for (int round = 0; round < 5; ++round) {
    LineIngest::Result r = Lines(
        "web.hits:1|c\nweb.load:+2|g\nweb.ms:12.5|ms\nweb.hits:2|c|@0.5\n"
        "cpu.user 0.25\n");
    EXPECT_EQ(r.accepted, 5u);
    EXPECT_EQ(r.rejected, 0u);
  }
  EXPECT_EQ(Value("web,hits"), 5 * (1 + 2 / 0.5));
  EXPECT_EQ(Value("web,load"), 10);
  EXPECT_EQ(Value("cpu,user"), 0.25);
  const Node* ms = Leaf("web,ms");
  ASSERT_NE(ms, nullptr);
  LiveValue live = ms->Live(ms->EffectiveAction(), kT0, tree_.step_seconds());
  ASSERT_NE(live.sketch, nullptr);
  EXPECT_EQ(live.sketch->count(), 5);
  EXPECT_EQ(live.sketch->sum(), 5 * 12.5);
  EXPECT_NEAR(live.sketch->Quantile(0.5), 12.5, 12.5 * 0.01);
}

TEST_F(LineIngestTest, ALineThatIsNotPlainKeepsItsPlaceAndNumber) {
  Lines("a.x:1|c\nc.x:1|c\n");  // both known from now on
  LineIngest::Result r =
      Lines("a.x:1|c\nbad..name:1|c\nc.x:5|c\nno_colon_here\na.x:1|c\n");
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_EQ(Rejected("bad_name"), 1u);
  EXPECT_EQ(Value("a,x"), 3);
  EXPECT_EQ(Value("c,x"), 6);
  // A line without ':' whose scan for a name runs into the next line: the
  // next line is still its own.
  r = Lines("garbage\na.x:1|c\n");
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(Value("a,x"), 4);
}

TEST_F(LineIngestTest, TagsAndSetsTakeTheFullParsersBesideKnownNames) {
  Lines("api.hits:1|c\n");
  LineIngest::Result r = Lines(
      "api.hits:1|c\napi.tagged:1|c|#env:prod\nusers:alice|s\nusers:bob|s\n"
      "api.hits:1|c\n");
  EXPECT_EQ(r.accepted, 5u);
  EXPECT_EQ(Value("api,hits"), 3);
  EXPECT_EQ(Value("api,tagged,env:prod"), 1);
  EXPECT_EQ(Value("users"), 2);
}

TEST_F(LineIngestTest, ARemovedLeafIsMadeAgainNotWrittenThroughAStalePointer) {
  Lines("svc.a.hits:1|c\nsvc.b.hits:1|c\n");
  ASSERT_TRUE(tree_.Remove(*SplitKey("svc,a")).ok());
  EXPECT_EQ(Leaf("svc,a,hits"), nullptr);
  // Freed nodes are reused by the next nodes made: make some first, so
  // that a stale pointer would point at one of them.
  Lines("other.one:1|c\nother.two:1|c\n");
  Lines("svc.a.hits:7|c\nsvc.b.hits:1|c\n");
  EXPECT_EQ(Value("svc,a,hits"), 7);
  EXPECT_EQ(Value("svc,b,hits"), 2);
  EXPECT_EQ(Value("other,one"), 1);
  EXPECT_EQ(Value("other,two"), 1);
}

TEST_F(LineIngestTest, AnExpiredLeafIsMadeAgain) {
  Lines("old.x:1|c\nnew.x:1|c\n", kT0);
  Lines("new.x:1|c\n", kT0 + 100);
  ASSERT_EQ(tree_.Expire(*Pattern::Parse("*"), kT0 + 50), 1u);
  EXPECT_EQ(Leaf("old,x"), nullptr);
  Lines("old.x:3|c\nnew.x:1|c\n", kT0 + 101);
  EXPECT_EQ(Value("old,x", kT0 + 101), 3);
  EXPECT_EQ(Value("new,x", kT0 + 101), 3);
}

TEST_F(LineIngestTest, ARestoredTreeIsFoundAfresh) {
  Lines("r.x:1|c\n");
  std::string snapshot;
  tree_.Snapshot(&snapshot);
  Lines("r.x:1|c\nr.y:1|c\n");
  ASSERT_TRUE(tree_.Restore(snapshot).ok());
  Lines("r.x:1|c\nr.y:5|c\n");
  EXPECT_EQ(Value("r,x"), 2);
  EXPECT_EQ(Value("r,y"), 5);
}

TEST_F(LineIngestTest, ManyNamesInOneTextAndAcrossBatches) {
  // More lines than one flush holds, over more names than a run of
  // lookups: every sample lands once.
  std::string text;
  for (int i = 0; i < 10000; ++i) {
    absl::StrAppend(&text, "many.g", i % 37, ".m", i % 1000, ":1|c\n");
  }
  for (int round = 0; round < 3; ++round) {
    LineIngest::Result r = Lines(text);
    EXPECT_EQ(r.accepted, 10000u);
  }
  double total = 0;
  for (int g = 0; g < 37; ++g) {
    for (int m = 0; m < 1000; ++m) {
      const Node* n = Leaf(absl::StrCat("many,g", g, ",m", m));
      if (n != nullptr) total += Value(absl::StrCat("many,g", g, ",m", m));
    }
  }
  EXPECT_EQ(total, 30000);
}

}  // namespace
}  // namespace canopy

namespace canopy {
namespace {

// A rejected line is logged as a warning naming its protocol, sender and
// line (the fast path's bad names and the full parsers' errors alike).
TEST(LineIngestLogTest, ARejectedLineNamesItsProtocolAndSender) {
  Tree tree{Tree::Options()};
  Stats stats;
  LineIngest ingest(&tree, &stats);
  sockaddr_in from = {};
  from.sin_family = AF_INET;
  from.sin_port = htons(4711);
  inet_pton(AF_INET, "10.0.0.5", &from.sin_addr);
  ::testing::internal::CaptureStderr();
  LineIngest::Result r =
      ingest.ApplyLines("good:1|c\nnot a line at all\n", "udp", kT0,
                        reinterpret_cast<const sockaddr*>(&from));
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_NE(log.find(" WARN rejected udp line 2 from 10.0.0.5:4711 ("),
            std::string::npos)
      << log;
  ::testing::internal::CaptureStderr();
  ingest.ApplyLines("x,,y:1|c\n", "tcp", kT0);  // a bad name, no sender
  log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find(" WARN rejected tcp line 1 ("), std::string::npos) << log;
}

}  // namespace
}  // namespace canopy
