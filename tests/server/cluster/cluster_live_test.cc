// Live reads across a cluster, black-box (the fixture: cluster_fixture.h):
// any node reads the owners' values and waits on them through replicas;
// what a replica shows (timers as distributions, units) and how long it
// is held.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/cluster/ring.h"
#include "tests/server/cluster/cluster_fixture.h"

namespace canopy {
namespace {

TEST_F(ClusterTest, AnyNodeReadsTheOwnersValuesAndWaitsOnThem) {
  auto a = StartNode("a", "a,b,c");
  auto b = StartNode("b", "a,b,c");
  auto c = StartNode("c", "a,b,c");
  auto edge = StartNode("e1", "a,b,c");
  ASSERT_TRUE(a && b && c && edge);
  std::vector<ServerProcess*> shards = {a.get(), b.get(), c.get()};
  ASSERT_TRUE(WaitFor([&] { return Alive(*edge) == 4; }));
  Ring ring({"a", "b", "c"}, 2);

  // Written through shard a; owned by all three.
  std::string json = "{\"rd\": {";
  const int n = 12;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&json, i ? "," : "", "\"h", i, "\": {\"v\": ", i,
                    ", \"os\": \"debian", i, "\"}");
  }
  json += "}}";
  auto pushed = a->Client().Request("POST", "/push", json,
                                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200);

  // Every node, the edge too, answers for every key with the owner's value.
  for (ServerProcess* reader : {edge.get(), a.get(), c.get()}) {
    for (int i = 0; i < n; ++i) {
      const std::string key = absl::StrCat("rd,h", i, ",v");
      EXPECT_TRUE(WaitFor([&] {
        return Value(*reader, key) == absl::StrCat(i);
      })) << key
          << " read through a node that does not own it: "
          << Value(*reader, key);
      const std::string os = absl::StrCat("rd,h", i, ",os");
      EXPECT_TRUE(WaitFor([&] {
        return Value(*reader, os) == absl::StrCat("debian", i);
      })) << os;
    }
  }
  // A pattern across shards, through the edge.
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", "/get?key=rd,*,v");
    if (!r.ok()) return false;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    return d.IsObject() && d["items"].Size() == static_cast<size_t>(n) &&
           !d.HasMember("stale");
  }));

  // The nested tree and a diff of two hosts that live on different shards.
  std::string other_host;
  for (int i = 1; i < n && other_host.empty(); ++i) {
    if (ring.OwnerOfKey(absl::StrCat("rd,h", i)) != ring.OwnerOfKey("rd,h0")) {
      other_host = absl::StrCat("rd,h", i);
    }
  }
  ASSERT_FALSE(other_host.empty());
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", "/api/q/rd,h0.json");
    return r.ok() && r->status == 200 &&
           r->body.find("\"debian0\"") != std::string::npos;
  }));
  EXPECT_TRUE(WaitFor([&] {
    auto r =
        edge->Client().Request("GET", absl::StrCat("/diff/rd,h0/", other_host));
    return r.ok() && r->status == 200 &&
           r->body.find("\"both\":[{") != std::string::npos;
  }));

  // A long poll on the edge wakes when the owner's value changes, written
  // through yet another node.
  const std::string key = "rd,h5,v";
  const size_t owner = ring.OwnerOfKey(key);
  ServerProcess* writer = shards[(owner + 1) % 3];
  auto got = edge->Client().Request("GET", absl::StrCat("/get?key=", key));
  ASSERT_TRUE(got.ok());
  rapidjson::Document d;
  d.Parse(got->body.c_str());
  const uint64_t seq = d["seq"].GetUint64();
  std::string pulled;
  std::thread poll([&] {
    auto r = edge->Client().Request(
        "GET", absl::StrCat("/pull?key=", key, "&since=", seq, "&timeout=20"));
    if (r.ok()) pulled = r->body;
  });
  // The poll is parked before the write.
  ASSERT_TRUE(WaitFor([&] { return edge->Metric("canopy_waiters") >= 1; }));
  const auto start = absl::Now();
  auto w = writer->Client().Request("POST", "/push",
                                    absl::StrCat("{\"", key, "\": 555}"),
                                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(w.ok() && w->status == 200);
  poll.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1))
      << "the edge's waiter woke late";
  EXPECT_NE(pulled.find("555"), std::string::npos) << pulled;

  // A removal on the owner is a removal on the readers.
  auto del =
      shards[owner]->Client().Request("DELETE", absl::StrCat("/api/q/", key));
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(WaitFor([&] { return Value(*edge, key).empty(); }));
}

// A waiter on an edge wakes for a change, not for the owner repeating what
// the edge shows already: each lease's snapshot does (a second pattern over
// the same key here; a lease renewed every 10 s in the field, which woke
// every viewer of an edge each time).
TEST_F(ClusterTest, AnEdgesWaiterIsNotWokenByASnapshotOfWhatItHas) {
  auto a = StartNode("a", "a");
  auto edge = StartNode("e1", "a");
  ASSERT_TRUE(a && edge);
  ASSERT_TRUE(WaitFor([&] { return Alive(*edge) == 2; }));
  const std::string key = "snap,h1,v";
  auto pushed = a->Client().Request("POST", "/push", "{\"snap,h1,v\": 7}",
                                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200);
  ASSERT_TRUE(WaitFor([&] { return Value(*edge, key) == "7"; }));
  auto got = edge->Client().Request("GET", absl::StrCat("/get?key=", key));
  ASSERT_TRUE(got.ok());
  rapidjson::Document d;
  d.Parse(got->body.c_str());
  const uint64_t seq = d["seq"].GetUint64();
  std::string pulled;
  std::thread poll([&] {
    auto r = edge->Client().Request(
        "GET", absl::StrCat("/pull?key=", key, "&since=", seq, "&timeout=5"));
    if (r.ok()) pulled = r->body;
  });
  ASSERT_TRUE(WaitFor([&] { return edge->Metric("canopy_waiters") >= 1; }));
  // Another pattern over the key: a lease of its own, and its snapshot.
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", "/get?key=snap,**");
    return r.ok() && r->status == 200 &&
           r->body.find("\"stale\"") == std::string::npos &&
           r->body.find(key) != std::string::npos;
  }));
  poll.join();
  EXPECT_EQ(pulled.find(key), std::string::npos)
      << "woken by a snapshot of the value it had: " << pulled;
}

// The raw item of `key` in /get on `node` ("" if none): a timer's object
// as written.
std::string RawItem(const ServerProcess& node, const std::string& key) {
  auto r = node.Client().Request("GET", absl::StrCat("/get?key=", key));
  if (!r.ok() || r->status != 200 ||
      r->body.find("\"stale\"") != std::string::npos) {
    return "";
  }
  const std::string head = absl::StrCat("{\"", key, "\":");
  const size_t at = r->body.find(head);
  if (at == std::string::npos) return "";
  const size_t end = r->body.find('}', at + head.size());
  return end == std::string::npos ? "" : r->body.substr(at, end + 1 - at);
}

// A timer's window is replicated as its distribution: every node shows
// the owner's count, mean, min, max and percentiles.
TEST_F(ClusterTest, ATimerShowsTheSameDistributionOnEveryNode) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  auto edge = StartNode("e1", "a,b");
  ASSERT_TRUE(a && b && edge);
  ASSERT_TRUE(WaitFor([&] { return Alive(*edge) == 3; }));
  Ring ring({"a", "b"}, 2);
  const std::string node = KeyOwnedBy(ring, 1, "tm");  // b's
  const std::string key = node + ",lat";
  std::string lines;
  for (int i = 1; i <= 200; ++i) {
    absl::StrAppend(&lines, node, ".lat:", i * 3 % 997, "|ms\n");
  }
  // Through a, which forwards them to b.
  auto pushed = a->Client().Request("POST", "/push", lines,
                                    {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200) << pushed->body;
  std::string owner;
  ASSERT_TRUE(WaitFor([&] {
    owner = RawItem(*b, key);
    return owner.find("\"count\":200") != std::string::npos;
  })) << owner;
  for (ServerProcess* reader : {edge.get(), a.get()}) {
    std::string shown;
    EXPECT_TRUE(WaitFor([&] {
      shown = RawItem(*reader, key);
      return shown == owner;
    })) << "owner "
        << owner << ", replica " << shown;
  }
  // The subtree as nested JSON: the same object.
  const std::string q = absl::StrCat("/api/q/", node, ".json");
  auto q_owner = b->Client().Request("GET", q);
  ASSERT_TRUE(q_owner.ok() && q_owner->status == 200);
  EXPECT_NE(q_owner->body.find("\"p99\""), std::string::npos) << q_owner->body;
  std::string shown;
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", q);
    shown = r.ok() && r->status == 200 ? r->body : "";
    return shown == q_owner->body;
  })) << "owner "
      << q_owner->body << ", edge " << shown;
}

// A long poll on an edge for a key its owner does not have yet holds the
// replica past --cluster_replica_idle_s: the owner's first write wakes it.
TEST_F(ClusterTest, AWaiterHoldsTheReplicaOfAKeyNotWrittenYet) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  auto edge = StartNode("e1", "a,b", "", "", {"--cluster_replica_idle_s=1"});
  ASSERT_TRUE(a && b && edge);
  ASSERT_TRUE(WaitFor([&] { return Alive(*edge) == 3; }));
  const std::string key = KeyOwnedBy(Ring({"a", "b"}, 2), 1, "nx") + ",v";
  uint64_t seq = 0;
  ASSERT_TRUE(WaitFor([&] {  // the replica synced (nothing there yet)
    auto r = edge->Client().Request("GET", absl::StrCat("/get?key=", key));
    if (!r.ok() || r->status != 200 ||
        r->body.find("\"stale\"") != std::string::npos) {
      return false;
    }
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    seq = d["seq"].GetUint64();
    return true;
  }));
  std::string pulled;
  std::thread poll([&] {
    auto r = edge->Client().Request(
        "GET", absl::StrCat("/pull?key=", key, "&since=", seq, "&timeout=20"));
    if (r.ok()) pulled = r->body;
  });
  ASSERT_TRUE(WaitFor([&] { return edge->Metric("canopy_waiters") >= 1; }));
  // Past the idle time, with the poll the only reader (what is awaited is
  // that nothing happens: a replica given up).
  absl::SleepFor(absl::Seconds(3));
  const auto start = absl::Now();
  auto w =
      b->Client().Request("POST", "/push", absl::StrCat("{\"", key, "\": 808}"),
                          {{"Content-Type", "application/json"}});
  ASSERT_TRUE(w.ok() && w->status == 200);
  poll.join();
  EXPECT_NE(pulled.find("808"), std::string::npos) << pulled;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "the waiter woke late";
}

TEST_F(ClusterTest, UnitsStatedOnTheOwnersShowOnEveryNode) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  auto edge = StartNode("e1", "a,b");
  ASSERT_TRUE(a && b && edge);
  ASSERT_TRUE(WaitFor([&] { return Alive(*edge) == 3; }));
  // Units on nodes at the shard depth, owned by both shards.
  std::string json = "{\"uq\": {";
  const int n = 6;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&json, i ? "," : "", "\"h", i, "\": {\"v\": ", i,
                    ", \"unit\": \"jobs\"}");
  }
  json += "}}";
  auto pushed = a->Client().Request("POST", "/push", json,
                                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200);
  std::string want = "{\"units\":{";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&want, i ? "," : "", "\"uq,h", i, ",v\":\"jobs\"");
  }
  want += "}}";
  // The edge owns nothing: every unit comes with the owners' snapshots.
  std::string last;
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", "/api/units?key=uq,*,v");
    last = r.ok() ? r->body : "";
    return last == want;
  })) << last;
  // A unit changed later reaches the readers with the owners' feed.
  pushed = a->Client().Request("POST", "/push",
                               R"({"uq": {"h0": {"v": 7, "unit": "tasks"}}})",
                               {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200);
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", "/api/units?key=uq,h0,v");
    last = r.ok() ? r->body : "";
    return last == R"({"units":{"uq,h0,v":"tasks"}})";
  })) << last;
  // And so does a unit changed alone, the value staying what it was.
  pushed = a->Client().Request("POST", "/push",
                               R"({"uq": {"h0": {"v": 7, "unit": "items"}}})",
                               {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200);
  EXPECT_TRUE(WaitFor([&] {
    auto r = edge->Client().Request("GET", "/api/units?key=uq,h0,v");
    last = r.ok() ? r->body : "";
    return last == R"({"units":{"uq,h0,v":"items"}})";
  })) << last;
}

}  // namespace
}  // namespace canopy
