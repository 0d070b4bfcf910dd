// canopyd nodes in a cluster, black-box: writes, faults, NATS and
// carbon-c-relay (the fixture: cluster_fixture.h; live reads:
// cluster_live_test.cc; reads of history: cluster_reads_test.cc).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/cluster/ring.h"
#include "tests/server/cluster/cluster_fixture.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

TEST_F(ClusterTest, WritesThroughAnyNodeLandOnceOnTheirOwner) {
  auto a = StartNode("a", "a,b,c");
  auto b = StartNode("b", "a,b,c");
  auto c = StartNode("c", "a,b,c");
  ASSERT_TRUE(a && b && c);
  std::vector<ServerProcess*> nodes = {a.get(), b.get(), c.get()};
  for (ServerProcess* n : nodes) {
    ASSERT_TRUE(WaitFor([&] { return Alive(*n) == 3; })) << "a node unseen";
  }
  Ring ring({"a", "b", "c"}, 2);

  // Graphite lines through node a's TCP port, a JSON push through node b's
  // HTTP, StatsD gauges through node c's UDP port.
  const int n = 24;
  std::string graphite;
  std::string json = "{\"js\": {";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&graphite, "gr.h", i, ".load ", i, ".5\n");
    absl::StrAppend(&json, i ? "," : "", "\"h", i, "\": {\"v\": ", i + 100,
                    "}");
  }
  json += "}}";
  SendTcp(a->tcp_port(), graphite);
  auto pushed = b->Client().Request("POST", "/push", json,
                                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(pushed->status, 200) << pushed->body;
  EXPECT_NE(pushed->body.find(absl::StrCat("\"accepted\":", n)),
            std::string::npos)
      << pushed->body;
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(c->udp_port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string statsd;
  for (int i = 0; i < n; ++i)
    absl::StrAppend(&statsd, "sd.h", i, ".g:", i, "|g\n");
  ASSERT_GT(sendto(udp, statsd.data(), statsd.size(), 0,
                   reinterpret_cast<sockaddr*>(&to), sizeof to),
            0);
  close(udp);

  for (int i = 0; i < n; ++i) {
    struct Want {
      std::string key, value;
    };
    for (const Want& w :
         {Want{absl::StrCat("gr,h", i, ",load"), absl::StrCat(i, ".5")},
          Want{absl::StrCat("js,h", i, ",v"), absl::StrCat(i + 100)},
          Want{absl::StrCat("sd,h", i, ",g"), absl::StrCat(i)}}) {
      const size_t owner = ring.OwnerOfKey(w.key);
      EXPECT_TRUE(WaitFor([&] {
        return Value(*nodes[owner], w.key) == w.value;
      })) << w.key
          << " never reached its owner " << ring.shards()[owner] << ": "
          << Value(*nodes[owner], w.key);
      for (size_t other = 0; other < nodes.size(); ++other) {
        if (other == owner) continue;
        EXPECT_EQ(Value(*nodes[other], w.key), "")
            << w.key << " is also on " << ring.shards()[other];
      }
    }
  }
  // What went elsewhere was acknowledged, nothing was applied twice.
  for (ServerProcess* node : nodes) {
    EXPECT_TRUE(WaitFor(
        [&] { return node->Metric("canopy_cluster_unacked_bytes") == 0; }));
    EXPECT_EQ(node->Metric("canopy_cluster_batches_duplicate_total"), 0);
    EXPECT_EQ(node->Metric("canopy_cluster_nats_connected"), 1);
  }
  EXPECT_GT(a->Metric("canopy_cluster_lines_forwarded_total"), 0);

  // Any node names a key's owner.
  auto owner = c->Client().Request("GET", "/api/cluster?key=gr,h3,load");
  ASSERT_TRUE(owner.ok());
  EXPECT_NE(owner->body.find(absl::StrCat(
                "\"owner\":\"", ring.shards()[ring.OwnerOfKey("gr,h3")], "\"")),
            std::string::npos)
      << owner->body;
}

TEST_F(ClusterTest, WritesForAnOwnerThatIsDownArriveWhenItComesBack) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2; }));
  Ring ring({"a", "b"}, 2);
  // A key that b owns.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    std::string k = absl::StrCat("down,h", i);
    if (ring.OwnerOfKey(k) == 1) key = k;
  }
  const std::string b_dir = b->data_dir();
  ASSERT_EQ(b->Stop(), 0);
  b.reset();
  auto pushed = a->Client().Request("POST", "/push",
                                    absl::StrCat("{\"", key, ",v\": 42}"),
                                    {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(pushed->status, 200) << pushed->body;
  ASSERT_TRUE(WaitFor([&] {
    return a->Metric("canopy_cluster_unacked_bytes") > 0;
  })) << "the write for b is not waiting";
  EXPECT_EQ(Value(*a, absl::StrCat(key, ",v")), "");

  b = StartNode("b", "a,b", b_dir);
  ASSERT_TRUE(b);
  EXPECT_TRUE(
      WaitFor([&] { return Value(*b, absl::StrCat(key, ",v")) == "42"; },
              absl::Seconds(20)))
      << "the write waiting for b never arrived";
  EXPECT_TRUE(
      WaitFor([&] { return a->Metric("canopy_cluster_unacked_bytes") == 0; }));
  EXPECT_GT(a->Metric("canopy_cluster_batches_resent_total"), 0);
}

// What an owner acknowledged is in its write journal before the
// acknowledgement leaves: killed with -9 between two snapshots, it comes
// back with all of it, the snapshot's part applied once.
TEST_F(ClusterTest, AnOwnerKilledWithMinus9LosesNothingItAcknowledged) {
  const std::vector<std::string> often = {"--snapshot_interval=1"};
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b", "", "", often);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2 && Alive(*b) == 2; }));
  Ring ring({"a", "b"}, 2);
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 20; ++i) {
    std::string k = absl::StrCat("kill,h", i);
    if (ring.OwnerOfKey(k) == 1) keys.push_back(absl::StrCat(k, ",v"));
  }
  ASSERT_EQ(ring.OwnerOfName("kill.h0.hits"), 1u);
  // Writes through a: JSON pushes, and StatsD counters as text.
  auto push = [&](const std::string& body, const std::string& type) {
    auto r =
        a->Client().Request("POST", "/push", body, {{"Content-Type", type}});
    ASSERT_TRUE(r.ok() && r->status == 200);
  };
  // Applied on b, then acknowledged to a.
  auto acknowledged = [&](const std::string& key, const std::string& value) {
    ASSERT_TRUE(WaitFor([&] { return Value(*b, key) == value; })) << key;
    ASSERT_TRUE(WaitFor([&] {
      return a->Metric("canopy_cluster_unacked_bytes") == 0;
    })) << "b acknowledged everything";
  };
  push("kill.h0.hits:5|c", "text/plain");
  for (size_t i = 0; i < keys.size() / 2; ++i) {
    push(absl::StrCat("{\"", keys[i], "\": ", i, "}"), "application/json");
  }
  acknowledged(keys[keys.size() / 2 - 1], absl::StrCat(keys.size() / 2 - 1));
  const std::string hits = Value(*b, "kill,h0,hits");
  ASSERT_FALSE(hits.empty());
  // In b's snapshot; what follows is in its journal only.
  const double seq = b->Metric("canopy_seq");
  ASSERT_TRUE(WaitFor([&] { return b->Metric("canopy_snapshot_seq") >= seq; }));
  push("kill.h0.more:3|c", "text/plain");
  for (size_t i = keys.size() / 2; i < keys.size(); ++i) {
    push(absl::StrCat("{\"", keys[i], "\": ", i, "}"), "application/json");
  }
  acknowledged(keys.back(), absl::StrCat(keys.size() - 1));
  const std::string more = Value(*b, "kill,h0,more");
  const std::string b_dir = b->data_dir();
  b->Kill();
  b = StartNode("b", "a,b", b_dir, "", often);
  ASSERT_TRUE(b);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(Value(*b, keys[i]), absl::StrCat(i)) << keys[i] << " is lost";
  }
  EXPECT_EQ(Value(*b, "kill,h0,hits"), hits) << "applied once, as before";
  EXPECT_EQ(Value(*b, "kill,h0,more"), more);
}

// A sender keeps what it holds for an owner in its write journal too:
// killed with -9 while the owner is down, it sends it when both are back.
TEST_F(ClusterTest, ASenderKilledWithMinus9SendsWhatItHeldWhenItComesBack) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2; }));
  Ring ring({"a", "b"}, 2);
  std::string push = "{";
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 10; ++i) {
    std::string k = absl::StrCat("held,h", i);
    if (ring.OwnerOfKey(k) != 1) continue;
    absl::StrAppend(&push, keys.empty() ? "" : ", ", "\"", k,
                    ",v\": ", keys.size());
    keys.push_back(absl::StrCat(k, ",v"));
  }
  push += "}";
  const std::string b_dir = b->data_dir();
  ASSERT_EQ(b->Stop(), 0);
  b.reset();
  auto r = a->Client().Request("POST", "/push", push,
                               {{"Content-Type", "application/json"}});
  ASSERT_TRUE(r.ok() && r->status == 200);
  ASSERT_TRUE(WaitFor([&] {
    return a->Metric("canopy_cluster_unacked_bytes") > 0;
  })) << "the batch for b is not waiting";
  const std::string a_dir = a->data_dir();
  a->Kill();
  b = StartNode("b", "a,b", b_dir);
  a = StartNode("a", "a,b", a_dir);
  ASSERT_TRUE(a && b);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_TRUE(WaitFor([&] { return Value(*b, keys[i]) == absl::StrCat(i); },
                        absl::Seconds(20)))
        << keys[i] << " is lost";
  }
  EXPECT_TRUE(
      WaitFor([&] { return a->Metric("canopy_cluster_unacked_bytes") == 0; }));
}

// A push's reply comes once what it carries for other shards is in the
// sender's journal: killed with -9 before the batch leaves, the sender
// sends it when it is back.
TEST_F(ClusterTest, APushRepliedToSurvivesItsSenderKilledBeforeItsBatchLeft) {
  const std::vector<std::string> slow = {"--cluster_batch_ms=1000"};
  auto a = StartNode("a", "a,b", "", "", slow);
  auto b = StartNode("b", "a,b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2; }));
  Ring ring({"a", "b"}, 2);
  const std::string first = absl::StrCat(KeyOwnedBy(ring, 1, "q"), ",v");
  const std::string prefix = KeyOwnedBy(ring, 1, "r");  // "r,hN"
  const std::string held = absl::StrCat(prefix, ",v");
  std::string counter = prefix;  // as a StatsD name
  std::replace(counter.begin(), counter.end(), ',', '.');
  auto push = [&](const std::string& body, const std::string& type) {
    auto r =
        a->Client().Request("POST", "/push", body, {{"Content-Type", type}});
    ASSERT_TRUE(r.ok() && r->status == 200);
  };
  // The first leaves at once; what follows waits for the interval.
  push(absl::StrCat("{\"", first, "\": 1}"), "application/json");
  ASSERT_TRUE(WaitFor([&] { return Value(*b, first) == "1"; }));
  push(absl::StrCat("{\"", held, "\": 2}"), "application/json");
  push(absl::StrCat(counter, ".more:4|c"), "text/plain");
  EXPECT_EQ(Value(*b, held), "") << "the batch left already";
  const std::string a_dir = a->data_dir();
  a->Kill();
  a = StartNode("a", "a,b", a_dir, "", slow);
  ASSERT_TRUE(a);
  EXPECT_TRUE(WaitFor([&] { return Value(*b, held) == "2"; }))
      << "the push a replied to is lost";
  EXPECT_TRUE(
      WaitFor([&] { return Value(*b, absl::StrCat(prefix, ",more")) == "4"; }));
}

// Batches leave every --cluster_batch_ms under a stream of writes, but a
// write that comes after a quiet spell leaves at once.
TEST_F(ClusterTest, AWriteAfterAQuietSpellIsNotHeldForTheBatchInterval) {
  const std::vector<std::string> slow = {"--cluster_batch_ms=1000"};
  auto a = StartNode("a", "a,b", "", "", slow);
  auto b = StartNode("b", "a,b", "", "", slow);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2; }));
  const std::string key = KeyOwnedBy(Ring({"a", "b"}, 2), 1, "lone") + ",v";
  auto pushed =
      a->Client().Request("POST", "/push", absl::StrCat("{\"", key, "\": 7}"),
                          {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200);
  EXPECT_TRUE(
      WaitFor([&] { return Value(*b, key) == "7"; }, absl::Milliseconds(700)))
      << "a lone write waited for the 1 s batch interval";
}

TEST_F(ClusterTest, NatsDownEveryNodeServesWhatItOwnsAndCatchesUp) {
  auto a = StartNode("a", "a,b");
  auto b = StartNode("b", "a,b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2; }));
  Ring ring({"a", "b"}, 2);
  const std::string mine = KeyOwnedBy(ring, 0, "nd") + ",v";
  const std::string theirs = KeyOwnedBy(ring, 1, "nd") + ",v";
  const int port = nats_.port();
  nats_.Stop();
  ASSERT_TRUE(
      WaitFor([&] { return a->Metric("canopy_cluster_nats_connected") == 0; }));
  auto pushed = a->Client().Request(
      "POST", "/push", absl::StrCat("{\"", mine, "\": 1, \"", theirs, "\": 2}"),
      {{"Content-Type", "application/json"}});
  ASSERT_TRUE(pushed.ok() && pushed->status == 200) << pushed->body;
  // What a owns is served at once; what b owns waits, counted.
  EXPECT_EQ(Value(*a, mine), "1");
  EXPECT_TRUE(
      WaitFor([&] { return a->Metric("canopy_cluster_unacked_bytes") > 0; }));

  ASSERT_TRUE(nats_.Start(program_, port));
  EXPECT_TRUE(
      WaitFor([&] { return Value(*b, theirs) == "2"; }, absl::Seconds(20)))
      << "the write held while NATS was down never reached its owner";
  EXPECT_TRUE(
      WaitFor([&] { return a->Metric("canopy_cluster_unacked_bytes") == 0; }));
  EXPECT_EQ(b->Metric("canopy_cluster_batches_applied_total"), 1);
}

TEST_F(ClusterTest, OneNatsServerOfThreeKilledChangesNothing) {
  nats_.Stop();
  NatsServer n[3];
  int client[3], route[3];
  for (int i = 0; i < 3; ++i) {
    client[i] = FreePort();
    route[i] = FreePort();
  }
  for (int i = 0; i < 3; ++i) {
    std::string routes;
    for (int j = 0; j < 3; ++j) {
      if (j == i) continue;
      absl::StrAppend(&routes, routes.empty() ? "" : ",",
                      "nats://127.0.0.1:", route[j]);
    }
    ASSERT_TRUE(n[i].Start(
        program_, client[i],
        {"--cluster_name", "canopy", "--cluster",
         absl::StrCat("nats://127.0.0.1:", route[i]), "--routes", routes}));
  }
  const std::string urls =
      absl::StrCat(n[0].url(), ",", n[1].url(), ",", n[2].url());
  auto a = StartNode("a", "a,b", "", urls);
  auto b = StartNode("b", "a,b", "", urls);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 2 && Alive(*b) == 2; }));
  Ring ring({"a", "b"}, 2);
  n[0].Stop();
  // Writes through either node still reach their owner, reads through
  // either node still see them.
  for (int round = 0; round < 2; ++round) {
    ServerProcess* via = round == 0 ? a.get() : b.get();
    const std::string key =
        KeyOwnedBy(ring, round == 0 ? 1 : 0, absl::StrCat("k", round)) + ",v";
    auto pushed = via->Client().Request(
        "POST", "/push", absl::StrCat("{\"", key, "\": ", 7 + round, "}"),
        {{"Content-Type", "application/json"}});
    ASSERT_TRUE(pushed.ok() && pushed->status == 200);
    EXPECT_TRUE(
        WaitFor([&] { return Value(*via, key) == absl::StrCat(7 + round); },
                absl::Seconds(20)))
        << key << " through " << (round == 0 ? "a" : "b");
  }
}

TEST_F(ClusterTest, CarbonCRelayInFrontOfTheShards) {
  const std::string relay = FindProgram("carbon-c-relay");
  if (relay.empty()) {
    GTEST_SKIP() << "carbon-c-relay is not installed (Debian carbon-c-relay; "
                    "scripts/deps.sh installs it)";
  }
  auto a = StartNode("a", "a,b,c");
  auto b = StartNode("b", "a,b,c");
  auto c = StartNode("c", "a,b,c");
  ASSERT_TRUE(a && b && c);
  std::vector<ServerProcess*> shards = {a.get(), b.get(), c.get()};
  ASSERT_TRUE(WaitFor([&] { return Alive(*a) == 3; }));
  // carbon-c-relay's own consistent hashing over the shards' TCP ports: it
  // hashes whole metric names, canopy the first two segments, so a line
  // may reach a shard that does not own it; that shard forwards it.
  const std::string dir = testing::MakeTempDir();
  const std::string conf = absl::StrCat(dir, "/relay.conf");
  const std::string log = absl::StrCat(dir, "/relay.log");
  const int port = FreePort();
  {
    std::ofstream f(conf);
    f << "listen type linemode 127.0.0.1:" << port << " proto tcp;\n";
    f << "cluster canopy fnv1a_ch\n";
    for (ServerProcess* s : shards)
      f << "  127.0.0.1:" << s->tcp_port() << "\n";
    f << "  ;\nmatch * send to canopy stop;\n";
  }
  pid_t pid = testing::Spawn({relay, "-f", conf, "-s", "-l", log});
  ASSERT_GT(pid, 0);
  // Lines taken before its dispatchers run may be lost: await its word.
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream f(log);
    std::stringstream text;
    text << f.rdbuf();
    return text.str().find("startup sequence complete") != std::string::npos;
  }));
  const int n = 30;
  std::string lines;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&lines, "relay.h", i, ".cpu.user ", i, " ",
                    absl::ToUnixSeconds(absl::Now()), "\n");
  }
  SendTcp(port, lines);
  Ring ring({"a", "b", "c"}, 2);
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("relay,h", i, ",cpu,user");
    const size_t owner = ring.OwnerOfKey(key);
    EXPECT_TRUE(WaitFor([&] {
      return Value(*shards[owner], key) == absl::StrCat(i);
    })) << key
        << " on " << ring.shards()[owner];
    for (size_t o = 0; o < 3; ++o) {
      if (o != owner) {
        EXPECT_EQ(Value(*shards[o], key), "") << key;
      }
    }
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  if (HasFailure()) {
    std::ifstream f(log);
    std::stringstream text;
    text << f.rdbuf();
    ADD_FAILURE() << "carbon-c-relay said:\n" << text.str();
  }
  std::filesystem::remove_all(dir);
}

TEST_F(ClusterTest, AloneThereIsNoCluster) {
  auto s = ServerProcess::Start();
  ASSERT_TRUE(s.ok());
  auto r = (*s)->Client().Request("GET", "/api/cluster");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404) << r->body;
}

TEST_F(ClusterTest, BadClusterFlagsStopTheStartWithOneLine) {
  auto r = testing::RunProgram(
      "canopyd", {"--http=127.0.0.1:0", "--udp=off", "--tcp=off",
                  "--cluster=127.0.0.1:4222", "--node=a", "--shards=a"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, "nats://")) << r.err;

  auto batch = testing::RunProgram(
      "canopyd", {"--http=127.0.0.1:0", "--udp=off", "--tcp=off",
                  "--cluster=nats://127.0.0.1:4222", "--node=a", "--shards=a",
                  "--cluster_batch_ms=0"});
  EXPECT_NE(batch.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(batch.err, "--cluster_batch_ms")) << batch.err;
}

}  // namespace
}  // namespace canopy
