// History across a cluster, black-box (the fixture: cluster_fixture.h):
// /trend and /graph of one key from its owner, reads over keys of several
// shards (/render, /metrics/find, /metrics/index.json, /trend with a glob)
// gathered from every shard, and only owners writing a key's history.
#include <map>
#include <string>
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

TEST_F(ClusterTest, HistoryIsReadFromTheOwnerThroughAnyNode) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  auto edge = StartNode("e1", "a,b");
  ASSERT_TRUE(a && b && edge);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 3 && Alive(*edge) == 3; }));
  Ring ring({"a", "b"}, 2);
  const std::string key = KeyOwnedBy(ring, 1, "tr");  // b's
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const int64_t base = now - now % 60 - 3600;
  for (int i = 0; i < 6; ++i) {
    // Through a, which forwards it: b's history gets it.
    auto r = a->Client().Request("POST", "/push",
                                 absl::StrCat("{\"time\": ", base + i * 60,
                                              ", \"", key, ",v\": ", i, "}"),
                                 {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  const std::string target =
      absl::StrCat("/trend?key=", key, "&from=", base, "&to=", base + 359,
                   "&step=60&fn=max");
  for (ServerProcess* reader : {a.get(), edge.get(), b.get()}) {
    rapidjson::Document d;
    EXPECT_TRUE(WaitFor([&] {
      auto r = reader->Client().Request("GET", target);
      if (!r.ok() || r->status != 200) return false;
      d.Parse(r->body.c_str());
      return d.IsObject() && d["series"].Size() == 1 &&
             d["series"][0]["points"].Size() == 6;
    })) << "the owner's history, read through another node";
    if (d.IsObject() && d["series"].Size() == 1 &&
        d["series"][0]["points"].Size() == 6) {
      EXPECT_EQ(d["series"][0]["points"][5][1].GetDouble(), 5);
    }
  }
  auto svg = edge->Client().Request(
      "GET",
      absl::StrCat("/graph/", key, ".svg?from=", base, "&to=", base + 359));
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->status, 200) << svg->body.substr(0, 200);
  EXPECT_NE(svg->body.find("<svg"), std::string::npos);
}

// Dated values pushed through one node for keys all three shards own: a
// /render of a glob through any node (an edge too) has every series once,
// with its values; so have /metrics/find, /metrics/index.json and /trend
// with a glob before the shard depth. A silent shard fails them, named.
TEST_F(ClusterTest, ReadsOverEveryShardGatherEachSeriesFromItsOwner) {
  auto a = StartNode("a", "a,b,c");
  auto b = StartNode("b", "a,b,c");
  auto c = StartNode("c", "a,b,c");
  auto edge = StartNode("e1", "a,b,c");
  ASSERT_TRUE(a && b && c && edge);
  std::vector<ServerProcess*> readers = {a.get(), b.get(), c.get(), edge.get()};
  for (ServerProcess* n : readers) {
    ASSERT_TRUE(WaitFor([&] { return Alive(*n) == 4; })) << "a node unseen";
  }
  Ring ring({"a", "b", "c"}, 2);
  // Two keys for each shard, under one first segment.
  std::vector<std::string> keys;
  for (size_t owner = 0; owner < 3; ++owner) {
    for (int i = 0; i < 2; ++i) {
      keys.push_back(KeyOwnedBy(ring, owner, absl::StrCat("ga", i)));
    }
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const int64_t base = now - now % 60 - 3600;
  for (int m = 0; m < 3; ++m) {
    std::string one = "{\"time\": " + std::to_string(base + m * 60);
    for (size_t k = 0; k < keys.size(); ++k) {
      absl::StrAppend(&one, ", \"", keys[k], ",v\": ", k * 10 + m);
    }
    one += "}";
    auto r = a->Client().Request("POST", "/push", one,
                                 {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : "");
  }
  // The series as Graphite names, in the order one store lists them, and
  // the last value of each.
  std::map<std::string, double> last_of;
  for (size_t k = 0; k < keys.size(); ++k) {
    std::string n = keys[k] + ",v";
    for (char& ch : n) ch = ch == ',' ? '.' : ch;
    last_of[n] = static_cast<double>(k * 10 + 2);
  }
  std::vector<std::string> names;
  for (const auto& [n, unused] : last_of) names.push_back(n);
  const std::string render = absl::StrCat(
      "/render?format=json&target=ga*.*.v&from=", base, "&until=", base + 179);
  for (ServerProcess* reader : readers) {
    rapidjson::Document d;
    std::string body;
    // Each series once, in name order, with its three values.
    auto complete = [&] {
      auto r = reader->Client().Request("GET", render);
      if (!r.ok() || r->status != 200) return false;
      body = r->body;
      d.Parse(body.c_str());
      if (!d.IsArray() || d.Size() != names.size()) return false;
      for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
        if (d[i]["target"].GetString() != names[i]) return false;
        int points = 0;
        for (const auto& p : d[i]["datapoints"].GetArray()) {
          points += p[0].IsNumber();
        }
        if (points != 3) return false;
      }
      return true;
    };
    EXPECT_TRUE(WaitFor(complete)) << "every shard's series: " << body;
    if (!d.IsArray() || d.Size() != names.size()) continue;
    for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
      double last = -1;
      for (const auto& p : d[i]["datapoints"].GetArray()) {
        if (p[0].IsNumber()) last = p[0].GetDouble();
      }
      EXPECT_EQ(last, last_of[names[i]]) << names[i];
    }
  }
  // A function over every shard's series.
  auto sum = edge->Client().Request(
      "GET", absl::StrCat("/render?format=json&target=sumSeries(ga*.*.v)&from=",
                          base, "&until=", base + 179));
  ASSERT_TRUE(sum.ok());
  ASSERT_EQ(sum->status, 200) << sum->body;
  {
    rapidjson::Document d;
    d.Parse(sum->body.c_str());
    ASSERT_TRUE(d.IsArray() && d.Size() == 1) << sum->body;
    double first = -1;
    for (const auto& p : d[0]["datapoints"].GetArray()) {
      if (p[0].IsNumber()) {
        first = p[0].GetDouble();
        break;
      }
    }
    EXPECT_EQ(first, 0 + 10 + 20 + 30 + 40 + 50) << sum->body;
  }
  // Grafana's query editor and template variables, through the edge.
  auto find = edge->Client().Request("GET", "/metrics/find?query=ga*.*");
  ASSERT_TRUE(find.ok());
  ASSERT_EQ(find->status, 200) << find->body;
  for (const std::string& n : names) {
    const std::string node = n.substr(0, n.rfind('.'));
    EXPECT_NE(find->body.find(absl::StrCat("\"id\":\"", node, "\"")),
              std::string::npos)
        << node << " in " << find->body;
  }
  auto index = b->Client().Request("GET", "/metrics/index.json");
  ASSERT_TRUE(index.ok());
  for (const std::string& n : names) {
    EXPECT_NE(index->body.find(absl::StrCat("\"", n, "\"")), std::string::npos)
        << n << " in " << index->body;
  }
  // /trend with a glob where the shard is chosen.
  auto trend = c->Client().Request(
      "GET", absl::StrCat("/trend?key=ga*,*,v&from=", base, "&to=", base + 179,
                          "&step=60&fn=max"));
  ASSERT_TRUE(trend.ok());
  ASSERT_EQ(trend->status, 200) << trend->body;
  {
    rapidjson::Document d;
    d.Parse(trend->body.c_str());
    ASSERT_TRUE(d.IsObject() && d["series"].IsArray()) << trend->body;
    EXPECT_EQ(d["series"].Size(), keys.size()) << trend->body;
  }
  // A shard stops: a read over every shard says which one is missing
  // rather than answer without its series.
  c.reset();
  auto silent = [&] {
    auto r = a->Client().Request("GET", render);
    return r.ok() && r->status == 503 &&
           r->body.find("shard c") != std::string::npos;
  };
  EXPECT_TRUE(WaitFor(silent, absl::Seconds(10)));
}

// A key replicated on an edge and on another shard (read there) goes into
// its owner's history only: the readers' windows of it are counted and
// kept out of theirs (before, every reader wrote it again). A node's own
// figures (canopy,self,NODE,...) go to the owner of canopy,self like any
// write, so an edge writes no history at all, and every node reads every
// node's figures.
TEST_F(ClusterTest, OnlyTheOwnerWritesAKeysHistory) {
  const std::vector<std::string> windows = {"--retention=1s:1h"};
  auto a = StartNode("a", "a,b", "", "", windows);
  auto b = StartNode("b", "a,b", "", "", windows);
  auto edge = StartNode("e1", "a,b", "", "", windows);
  ASSERT_TRUE(a && b && edge);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 3 && Alive(*edge) == 3; }));
  Ring ring({"a", "b"}, 2);
  const std::string key = absl::StrCat(KeyOwnedBy(ring, 1, "rh"), ",v");
  int value = 0;
  auto push = [&] {
    ++value;
    auto r = b->Client().Request("POST", "/push",
                                 absl::StrCat("{\"", key, "\": ", value, "}"),
                                 {{"Content-Type", "application/json"}});
    return r.ok() && r->status == 200;
  };
  ASSERT_TRUE(push());
  for (ServerProcess* reader : {a.get(), edge.get()}) {
    ASSERT_TRUE(WaitFor([&] { return Value(*reader, key) == "1"; }))
        << "the reader holds the replica";
  }
  // New values, a window after another, until both readers have ended
  // windows of the replica.
  EXPECT_TRUE(WaitFor(
      [&] {
        push();
        return edge->Metric("canopy_cluster_replica_windows_total") >= 2 &&
               a->Metric("canopy_cluster_replica_windows_total") >= 2 &&
               b->Metric("canopy_trend_windows_written_total") >= 2;
      },
      absl::Seconds(20)));
  EXPECT_EQ(edge->Metric("canopy_trend_windows_written_total"), 0);
  // The edge's own figures, on its owner and read through every node.
  const std::string figure = "canopy,self,e1,tree,leaves";
  for (ServerProcess* reader : {a.get(), b.get(), edge.get()}) {
    EXPECT_TRUE(WaitFor([&] { return !Value(*reader, figure).empty(); }))
        << "the edge's figures, read through another node";
  }
}

}  // namespace
}  // namespace canopy
