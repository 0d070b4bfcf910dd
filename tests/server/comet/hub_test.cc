// Comet's hub without sockets: a real Tree, and a fake Sink that records
// what the hub delivers, releases and asks to flush. Covers what a /pull or
// /stream client relies on: an answer on the next flush with just the
// changed leaves, one coalesced reply per burst, nothing for a change beside
// its keys, removed leaves as null, a reset when the cursor is lost, the
// timeout reply, and a client that left freed only at a flush.
//
// Threads: each test runs on one thread, as the event loop does.
#include "server/comet/hub.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/json_push.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/stats.h"

namespace canopy {
namespace {

constexpr int64_t kT0 = 1700000000;

// Records every call; Deliver refuses streams while `backed_up` (as the
// real sink does while its output is past the high-water mark).
class FakeSink : public Hub::Sink {
 public:
  struct Delivery {
    Hub::WaiterId id;
    std::string body;
    uint64_t seq;
    bool stream;
  };

  bool Deliver(Hub::WaiterId id, const std::shared_ptr<const std::string>& body,
               uint64_t seq, bool stream) override {
    ++deliver_calls;
    if (stream && backed_up) return false;
    deliveries.push_back(Delivery{id, *body, seq, stream});
    return true;
  }
  void Release(Hub::WaiterId id, bool close) override {
    releases.emplace_back(id, close);
  }
  void ScheduleFlush() override { ++flush_requests; }

  // The deliveries to `id`, in order.
  std::vector<Delivery> To(Hub::WaiterId id) const {
    std::vector<Delivery> out;
    for (const Delivery& d : deliveries) {
      if (d.id == id) out.push_back(d);
    }
    return out;
  }

  bool backed_up = false;
  int deliver_calls = 0;
  int flush_requests = 0;
  std::vector<Delivery> deliveries;
  std::vector<std::pair<Hub::WaiterId, bool>> releases;
};

using Items = std::map<std::string, std::string>;

// A reply body's items as key -> value text ("null" for a removed leaf),
// and its seq and reset flag.
struct Reply {
  uint64_t seq = 0;
  bool reset = false;
  Items items;
};

Reply ParseReply(const std::string& body) {
  Reply r;
  rapidjson::Document d;
  d.Parse(body.c_str());
  EXPECT_TRUE(d.IsObject()) << body;
  if (!d.IsObject()) return r;
  r.seq = d["seq"].GetUint64();
  r.reset = d.HasMember("reset") && d["reset"].GetBool();
  for (const auto& item : d["items"].GetArray()) {
    for (const auto& m : item.GetObject()) {
      std::string value;
      if (m.value.IsNull()) {
        value = "null";
      } else if (m.value.IsNumber()) {
        value = absl::StrCat(m.value.GetDouble());
      } else if (m.value.IsString()) {
        value = m.value.GetString();
      } else {
        value = "object";
      }
      r.items[m.name.GetString()] = value;
    }
  }
  return r;
}

std::vector<Pattern> Patterns(std::initializer_list<const char*> texts) {
  std::vector<Pattern> out;
  for (const char* t : texts) {
    absl::StatusOr<Pattern> p = Pattern::Parse(t);
    EXPECT_TRUE(p.ok()) << t;
    if (p.ok()) out.push_back(*p);
  }
  return out;
}

class HubTest : public ::testing::Test {
 protected:
  HubTest() : tree_(Tree::Options{}), hub_(&tree_, &stats_, &sink_) {}

  // Applies a JSON push to the tree; returns the tree's seq after it.
  uint64_t Push(const std::string& json) {
    canopy::Push push;
    TextPosition where;
    absl::Status s = ParseJsonPush(json, &push, &where);
    EXPECT_TRUE(s.ok()) << s;
    s = tree_.Apply(push, kT0);
    EXPECT_TRUE(s.ok()) << s;
    return tree_.seq();
  }

  // The items of the one reply waiter `id` got (none, and a failure, if it
  // got none or several).
  Items OnlyReply(Hub::WaiterId id) {
    std::vector<FakeSink::Delivery> got = sink_.To(id);
    EXPECT_EQ(got.size(), 1u) << "waiter " << id;
    if (got.size() != 1) return Items();
    return ParseReply(got[0].body).items;
  }

  Tree tree_;
  Stats stats_;
  FakeSink sink_;
  Hub hub_;  // after the tree, the stats and the sink it points to
};

// A kept waiter (the comet workers' pulls) outlives its reply: between
// polls it is not a parked waiter but still watches, and gets what changes
// from its last reply's seq; Resumed parks it again unless a reply after
// the client's cursor is on its way; a timeout while a reply is on its way
// adds nothing; Gone frees it.
TEST_F(HubTest, AKeptWaiterOutlivesItsRepliesAndLosesNothingBetweenPolls) {
  uint64_t since = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web"}), since, 0, /*keep=*/true);
  EXPECT_EQ(hub_.waiters(), 1u);
  uint64_t s1 = Push(R"({"web": {"a": 2}})");
  hub_.Flush(kT0);
  ASSERT_EQ(sink_.To(id).size(), 1u);
  EXPECT_EQ(sink_.To(id)[0].seq, s1);
  EXPECT_TRUE(sink_.releases.empty());
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(hub_.between_polls(), 1u);
  EXPECT_EQ(hub_.watch_lists(), 1u);
  // A change between polls: delivered from s1, to be held for the client.
  uint64_t s2 = Push(R"({"web": {"b": 3}})");
  hub_.Flush(kT0);
  ASSERT_EQ(sink_.To(id).size(), 2u);
  EXPECT_EQ(ParseReply(sink_.To(id)[1].body).items, (Items{{"web,b", "3"}}));
  EXPECT_EQ(sink_.To(id)[1].seq, s2);
  // The client comes back from s1: that s2 reply is its answer, so it is
  // still between polls; a timeout meanwhile adds nothing.
  hub_.Resumed(id, s1);
  EXPECT_EQ(hub_.waiters(), 0u);
  hub_.Expire(id);
  EXPECT_EQ(sink_.To(id).size(), 2u);
  // Back from s2: parked again, and a timeout answers with s2.
  hub_.Resumed(id, s2);
  EXPECT_EQ(hub_.waiters(), 1u);
  EXPECT_EQ(hub_.between_polls(), 0u);
  hub_.Expire(id);
  ASSERT_EQ(sink_.To(id).size(), 3u);
  EXPECT_EQ(ParseReply(sink_.To(id)[2].body).seq, s2);
  EXPECT_TRUE(ParseReply(sink_.To(id)[2].body).items.empty());
  EXPECT_EQ(hub_.between_polls(), 1u);
  // Let go: freed at the next flush.
  hub_.Gone(id);
  hub_.Flush(kT0);
  EXPECT_EQ(hub_.between_polls(), 0u);
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(hub_.watch_lists(), 0u);
  Push(R"({"web": {"a": 9}})");
  hub_.Flush(kT0);
  EXPECT_EQ(sink_.To(id).size(), 3u);
}

TEST_F(HubTest, AParkedPullIsAnsweredOnTheNextFlushAndReleased) {
  uint64_t since = Push(R"({"web": {"a": 1, "b": 2}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web"}), since);
  EXPECT_EQ(hub_.waiters(), 1u);
  EXPECT_EQ(sink_.flush_requests, 0);

  Push(R"({"web": {"a": 5}})");
  EXPECT_EQ(sink_.flush_requests, 1);
  EXPECT_TRUE(sink_.deliveries.empty());  // not before the flush
  hub_.Flush(kT0);

  std::vector<FakeSink::Delivery> got = sink_.To(id);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].stream);
  EXPECT_EQ(got[0].seq, tree_.seq());
  Reply r = ParseReply(got[0].body);
  EXPECT_EQ(r.seq, tree_.seq());
  EXPECT_FALSE(r.reset);
  EXPECT_EQ(r.items, (Items{{"web,a", "5"}}));
  EXPECT_EQ(sink_.releases,
            (std::vector<std::pair<Hub::WaiterId, bool>>{{id, false}}));
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(hub_.watch_lists(), 0u);
  EXPECT_EQ(stats_.pull_replies, 1u);

  // Answered and freed: a later change asks for nothing.
  Push(R"({"web": {"a": 6}})");
  hub_.Flush(kT0);
  EXPECT_EQ(sink_.deliveries.size(), 1u);
}

TEST_F(HubTest, ABurstBeforeOneFlushIsOneCoalescedReply) {
  uint64_t since = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web"}), since);
  Push(R"({"web": {"a": 2}})");
  Push(R"({"web": {"b": 3}})");
  Push(R"({"web": {"a": 4, "c": 5}})");
  EXPECT_EQ(sink_.flush_requests, 1);  // one flush asked for the burst
  hub_.Flush(kT0);

  std::vector<FakeSink::Delivery> got = sink_.To(id);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq, tree_.seq());
  EXPECT_EQ(ParseReply(got[0].body).items,
            (Items{{"web,a", "4"}, {"web,b", "3"}, {"web,c", "5"}}));
}

TEST_F(HubTest, WaitersAlikeGetTheSameBodyAndEachItsOwnSince) {
  uint64_t s0 = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId first = hub_.Park(Patterns({"web", "db"}), s0);
  Hub::WaiterId twin = hub_.Park(Patterns({"web", "db"}), s0);
  uint64_t s1 = Push(R"({"web": {"a": 2}})");
  // Same patterns, a later cursor: must not be given the others' reply.
  Hub::WaiterId later = hub_.Park(Patterns({"web", "db"}), s1);
  Push(R"({"db": {"q": 7}})");
  hub_.Flush(kT0);

  ASSERT_EQ(sink_.To(first).size(), 1u);
  ASSERT_EQ(sink_.To(twin).size(), 1u);
  EXPECT_EQ(sink_.To(first)[0].body, sink_.To(twin)[0].body);
  EXPECT_EQ(OnlyReply(first), (Items{{"web,a", "2"}, {"db,q", "7"}}));
  EXPECT_EQ(OnlyReply(later), (Items{{"db,q", "7"}}));
  EXPECT_EQ(hub_.waiters(), 0u);
}

TEST_F(HubTest, AChangeBesideTheWaitersPatternsDeliversNothing) {
  uint64_t since = Push(R"({"web": {"a": {"hits": 1}}, "db": {"x": 1}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web,*,hits"}), since);
  // Outside the watched node: not even a flush.
  Push(R"({"db": {"x": 2}})");
  // Under the watched node "web", but not matching the pattern.
  Push(R"({"web": {"a": {"misses": 1}}})");
  hub_.Flush(kT0);
  EXPECT_TRUE(sink_.deliveries.empty());
  EXPECT_TRUE(sink_.releases.empty());
  EXPECT_EQ(hub_.waiters(), 1u);

  // Still parked: a matching change answers it.
  Push(R"({"web": {"b": {"hits": 9}}})");
  hub_.Flush(kT0);
  EXPECT_EQ(OnlyReply(id), (Items{{"web,b,hits", "9"}}));
}

TEST_F(HubTest, ARemovedLeafIsNull) {
  uint64_t since = Push(R"({"web": {"a": 1, "b": 2}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web"}), since);
  ASSERT_TRUE(tree_.Remove(*SplitKey("web,b")).ok());
  hub_.Flush(kT0);
  EXPECT_EQ(OnlyReply(id), (Items{{"web,b", "null"}}));
}

TEST_F(HubTest, PullNowAnswersAtOnceOnlyWhenSomethingChanged) {
  uint64_t s1 = Push(R"({"web": {"a": 1}, "db": {"x": 1}})");
  EXPECT_FALSE(hub_.PullNow(Patterns({"web"}), s1, kT0)->has_value());
  Push(R"({"db": {"x": 2}})");
  EXPECT_FALSE(hub_.PullNow(Patterns({"web"}), s1, kT0)->has_value());
  EXPECT_EQ(stats_.pull_replies, 0u);

  Push(R"({"web": {"a": 3}})");
  std::optional<std::string> body = *hub_.PullNow(Patterns({"web"}), s1, kT0);
  ASSERT_TRUE(body.has_value());
  Reply r = ParseReply(*body);
  EXPECT_EQ(r.seq, tree_.seq());
  EXPECT_FALSE(r.reset);
  EXPECT_EQ(r.items, (Items{{"web,a", "3"}}));
  EXPECT_EQ(stats_.pull_replies, 1u);
  EXPECT_EQ(hub_.waiters(), 0u);  // nothing parked
}

TEST_F(HubTest, PullNowResetsACursorFromTheFuture) {
  Push(R"({"web": {"a": 1, "b": 2}, "db": {"x": 1}})");
  uint64_t future = tree_.seq() + 100;
  ASSERT_FALSE(tree_.CanAnswerSince(future));
  std::optional<std::string> body =
      *hub_.PullNow(Patterns({"web"}), future, kT0);
  ASSERT_TRUE(body.has_value());
  Reply r = ParseReply(*body);
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.seq, tree_.seq());
  // Every leaf under the patterns, changed or not.
  EXPECT_EQ(r.items, (Items{{"web,a", "1"}, {"web,b", "2"}}));
}

TEST_F(HubTest, PullNowResetsACursorOlderThanTheRemovalsKept) {
  Tree::Options options;
  options.max_tombstones = 2;
  Tree tree(options);
  Stats stats;
  FakeSink sink;
  Hub hub(&tree, &stats, &sink);
  canopy::Push push;
  TextPosition where;
  ASSERT_TRUE(
      ParseJsonPush(R"({"g": {"a": 1, "b": 2, "c": 3, "d": 4}})", &push, &where)
          .ok());
  ASSERT_TRUE(tree.Apply(push, kT0).ok());
  uint64_t since = tree.seq();
  for (const char* key : {"g,a", "g,b", "g,c"}) {
    ASSERT_TRUE(tree.Remove(*SplitKey(key)).ok());
  }
  // The first removal's tombstone is forgotten: a reply from `since` would
  // miss it.
  ASSERT_FALSE(tree.CanAnswerSince(since));
  std::optional<std::string> body = *hub.PullNow(Patterns({"g"}), since, kT0);
  ASSERT_TRUE(body.has_value());
  Reply r = ParseReply(*body);
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.items, (Items{{"g,d", "4"}}));
}

TEST_F(HubTest, ExpireAnswersNoItemsAtTheWaitersSeq) {
  uint64_t since = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web"}), since);
  Push(R"({"elsewhere": 1})");  // the tree moves on beside the waiter
  hub_.Expire(id);
  std::vector<FakeSink::Delivery> got = sink_.To(id);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, absl::StrCat("{\"seq\":", since, ",\"items\":[]}"));
  EXPECT_EQ(got[0].seq, since);
  EXPECT_FALSE(got[0].stream);
  EXPECT_EQ(sink_.releases,
            (std::vector<std::pair<Hub::WaiterId, bool>>{{id, false}}));
  EXPECT_EQ(stats_.pull_timeouts, 1u);
  EXPECT_EQ(stats_.pull_replies, 0u);
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(hub_.watch_lists(), 0u);
  // Expiring it again (a late timer) does nothing.
  hub_.Expire(id);
  EXPECT_EQ(sink_.deliveries.size(), 1u);
  EXPECT_EQ(stats_.pull_timeouts, 1u);
}

// Issue 18: every reply has a budget. A pull or stream past it is refused
// at the door (413); a parked waiter whose next reply would pass it is
// closed, never sent a partial reply.
TEST_F(HubTest, RepliesPastTheQueryLimitsAreRefusedNeverCut) {
  hub_.SetQueryLimits(QueryBudget::Limits{.work = 60});
  std::string wide = "{\"w\": {";
  for (int i = 0; i < 40; ++i)
    absl::StrAppend(&wide, i ? "," : "", "\"k", i, "\": 1");
  uint64_t since = Push(wide + "}}");
  absl::StatusOr<std::optional<std::string>> now =
      hub_.PullNow(Patterns({"**"}), 0, kT0);
  EXPECT_EQ(now.status().code(), absl::StatusCode::kOutOfRange);
  std::string first;
  uint64_t seq = 0;
  EXPECT_EQ(hub_.OpenStream(Patterns({"w"}), false, 0, kT0, &first, &seq)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(stats_.queries_refused, 2u);
  // A narrow waiter is answered; a wide one is closed when the change
  // under it comes.
  Hub::WaiterId narrow = hub_.Park(Patterns({"w,k3"}), since);
  Hub::WaiterId broad = hub_.Park(Patterns({"w"}), since);
  Push(R"({"w": {"k3": 2}})");
  hub_.Flush(kT0);
  EXPECT_EQ(sink_.To(narrow).size(), 1u);
  EXPECT_TRUE(sink_.To(broad).empty());
  EXPECT_EQ(sink_.releases, (std::vector<std::pair<Hub::WaiterId, bool>>{
                                {narrow, false}, {broad, true}}));
  EXPECT_EQ(stats_.queries_refused, 3u);
  EXPECT_EQ(hub_.waiters(), 0u);
}

TEST_F(HubTest, AWaiterWhoseClientLeftIsFreedAtTheNextFlushOnly) {
  uint64_t since = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId id = hub_.Park(Patterns({"web"}), since);
  hub_.Gone(id);
  // Not inside the callback that noticed: the sink still holds it.
  EXPECT_TRUE(sink_.releases.empty());
  EXPECT_EQ(hub_.waiters(), 1u);
  EXPECT_EQ(sink_.flush_requests, 1);
  // A change before the flush is not delivered to it.
  Push(R"({"web": {"a": 2}})");
  hub_.Flush(kT0);
  EXPECT_TRUE(sink_.deliveries.empty());
  EXPECT_EQ(sink_.releases,
            (std::vector<std::pair<Hub::WaiterId, bool>>{{id, true}}));
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(hub_.watch_lists(), 0u);
  // The watch is off the tree: no more flushes asked for.
  Push(R"({"web": {"a": 3}})");
  EXPECT_EQ(sink_.flush_requests, 1);
}

TEST_F(HubTest, ABackedUpStreamGetsOneCoalescedEventOnceDrained) {
  Push(R"({"web": {"a": 1}})");
  std::string first;
  uint64_t seq = 0;
  Hub::WaiterId id = *hub_.OpenStream(Patterns({"web"}), /*has_since=*/false, 0,
                                      kT0, &first, &seq);
  sink_.backed_up = true;
  Push(R"({"web": {"a": 2}})");
  hub_.Flush(kT0);
  Push(R"({"web": {"b": 3}})");
  hub_.Flush(kT0);
  Push(R"({"web": {"c": 4}})");
  hub_.Flush(kT0);
  EXPECT_TRUE(sink_.To(id).empty());
  EXPECT_TRUE(sink_.releases.empty());  // backed up is not gone

  sink_.backed_up = false;
  hub_.Drained(id);
  hub_.Flush(kT0);
  std::vector<FakeSink::Delivery> got = sink_.To(id);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].stream);
  EXPECT_EQ(got[0].seq, tree_.seq());
  EXPECT_EQ(ParseReply(got[0].body).items,
            (Items{{"web,a", "2"}, {"web,b", "3"}, {"web,c", "4"}}));
  EXPECT_EQ(hub_.streams(), 1u);  // a stream stays open
  // A drain with nothing backed up sends nothing.
  hub_.Drained(id);
  hub_.Flush(kT0);
  EXPECT_EQ(sink_.To(id).size(), 1u);
}

// A stream known to be backed up is offered nothing until it drains: a slow
// client costs no reply body per flush (a regression test: each change
// marked it again and each flush built its body).
TEST_F(HubTest, ABackedUpStreamIsNotOfferedEventsUntilDrained) {
  Push(R"({"web": {"a": 1}})");
  std::string first;
  uint64_t seq = 0;
  ASSERT_TRUE(hub_.OpenStream(Patterns({"web"}), /*has_since=*/false, 0, kT0,
                              &first, &seq)
                  .ok());
  sink_.backed_up = true;
  Push(R"({"web": {"a": 2}})");
  hub_.Flush(kT0);
  EXPECT_EQ(sink_.deliver_calls, 1);  // refused: now backed up
  Push(R"({"web": {"a": 3}})");
  hub_.Flush(kT0);
  Push(R"({"web": {"a": 4}})");
  hub_.Flush(kT0);
  EXPECT_EQ(sink_.deliver_calls, 1);
}

TEST_F(HubTest, AStreamsFirstEventHoldsTheCurrentLeavesAndItsSeq) {
  Push(R"({"web": {"a": 1}, "db": {"x": 1}})");
  Push(R"({"web": {"b": 2}})");
  std::string first;
  uint64_t seq = 0;
  Hub::WaiterId id = *hub_.OpenStream(Patterns({"web"}), /*has_since=*/false, 0,
                                      kT0, &first, &seq);
  EXPECT_EQ(seq, tree_.seq());
  Reply r = ParseReply(first);
  EXPECT_EQ(r.seq, seq);
  EXPECT_FALSE(r.reset);
  EXPECT_EQ(r.items, (Items{{"web,a", "1"}, {"web,b", "2"}}));
  EXPECT_EQ(hub_.streams(), 1u);

  // Then one event per flush with only what changed.
  Push(R"({"web": {"b": 5}})");
  hub_.Flush(kT0);
  Push(R"({"web": {"a": 6}})");
  hub_.Flush(kT0);
  std::vector<FakeSink::Delivery> got = sink_.To(id);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(ParseReply(got[0].body).items, (Items{{"web,b", "5"}}));
  EXPECT_EQ(ParseReply(got[1].body).items, (Items{{"web,a", "6"}}));
  EXPECT_EQ(got[1].seq, tree_.seq());
  EXPECT_TRUE(sink_.releases.empty());
}

TEST_F(HubTest, AStreamResumesFromAnHonouredSince) {
  uint64_t since = Push(R"({"web": {"a": 1, "b": 1}})");
  Push(R"({"web": {"b": 2}})");
  std::string first;
  uint64_t seq = 0;
  ASSERT_TRUE(hub_.OpenStream(Patterns({"web"}), /*has_since=*/true, since, kT0,
                              &first, &seq)
                  .ok());
  Reply r = ParseReply(first);
  EXPECT_FALSE(r.reset);
  EXPECT_EQ(r.items, (Items{{"web,b", "2"}}));
  // A cursor from the future is reset: every leaf.
  ASSERT_TRUE(hub_.OpenStream(Patterns({"web"}), /*has_since=*/true,
                              tree_.seq() + 5, kT0, &first, &seq)
                  .ok());
  r = ParseReply(first);
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.items, (Items{{"web,a", "1"}, {"web,b", "2"}}));
}

TEST_F(HubTest, AWaiterOnANodeNotYetMadeWakesWhenItIs) {
  uint64_t since = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId id = hub_.Park(Patterns({"later,x"}), since);
  EXPECT_EQ(hub_.watch_lists(), 1u);
  Push(R"({"later": {"y": 1}})");  // the parent only: no wake
  hub_.Flush(kT0);
  EXPECT_TRUE(sink_.deliveries.empty());
  Push(R"({"later": {"x": {"z": 7}}})");
  hub_.Flush(kT0);
  EXPECT_EQ(OnlyReply(id), (Items{{"later,x,z", "7"}}));
}

TEST_F(HubTest, AWaiterWhoseNodeIsRemovedHearsOfItAndOfItsReturn) {
  uint64_t since = Push(R"({"svc": {"a": {"n": 1}, "b": 1}})");
  Hub::WaiterId before = hub_.Park(Patterns({"svc,a"}), since);
  // The watched node goes with its parent.
  ASSERT_TRUE(tree_.Remove(*SplitKey("svc")).ok());
  hub_.Flush(kT0);
  EXPECT_EQ(OnlyReply(before), (Items{{"svc,a,n", "null"}}));

  // Parked while the node is gone: made again, it wakes the waiter.
  since = tree_.seq();
  Hub::WaiterId after = hub_.Park(Patterns({"svc,a"}), since);
  Push(R"({"svc": {"a": {"n": 2}}})");
  hub_.Flush(kT0);
  EXPECT_EQ(OnlyReply(after), (Items{{"svc,a,n", "2"}}));
  EXPECT_EQ(hub_.watch_lists(), 0u);
}

TEST_F(HubTest, CloseAllFreesEveryWaiterWithoutAReply) {
  uint64_t since = Push(R"({"web": {"a": 1}})");
  Hub::WaiterId p1 = hub_.Park(Patterns({"web"}), since);
  Hub::WaiterId p2 = hub_.Park(Patterns({"later"}), since);  // unbound
  Hub::WaiterId gone = hub_.Park(Patterns({"db"}), since);
  hub_.Gone(gone);
  std::string first;
  uint64_t seq = 0;
  Hub::WaiterId s =
      *hub_.OpenStream(Patterns({"web"}), false, 0, kT0, &first, &seq);
  Push(R"({"web": {"a": 2}})");  // marked, not flushed yet
  ASSERT_EQ(hub_.waiters(), 4u);

  hub_.CloseAll();
  EXPECT_TRUE(sink_.deliveries.empty());
  std::map<Hub::WaiterId, int> released;
  for (const auto& [id, close] : sink_.releases) ++released[id];
  EXPECT_EQ(released, (std::map<Hub::WaiterId, int>{
                          {p1, 1}, {p2, 1}, {gone, 1}, {s, 1}}));
  EXPECT_EQ(hub_.waiters(), 0u);
  EXPECT_EQ(hub_.streams(), 0u);
  EXPECT_EQ(hub_.watch_lists(), 0u);
  // Nothing is left to flush or watch.
  hub_.Flush(kT0);
  Push(R"({"web": {"a": 3}, "later": 1})");
  hub_.Flush(kT0);
  EXPECT_TRUE(sink_.deliveries.empty());
  EXPECT_EQ(sink_.releases.size(), 4u);
}

}  // namespace
}  // namespace canopy
