// Black-box tests of StatsD, Graphite and JSON ingest over real UDP and TCP
// sockets and over POST /push text/plain.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/ingest/line_ingest.h"
#include "server/net/address.h"
#include "server/options.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using testing::ServerProcess;

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void SendUdp(int port, const std::string& datagram) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = Loopback(port);
  ASSERT_EQ(sendto(fd, datagram.data(), datagram.size(), 0,
                   reinterpret_cast<sockaddr*>(&a), sizeof a),
            static_cast<ssize_t>(datagram.size()));
  close(fd);
}

// Opens a TCP connection to the ingest port.
int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void Start(std::vector<std::string> flags) {
    server_.reset();
    auto s = ServerProcess::Start(std::move(flags));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    ASSERT_GT(server_->udp_port(), 0);
    ASSERT_GT(server_->tcp_port(), 0);
  }
  std::string Body(const std::string& target) {
    auto r = server_->Client().Request("GET", target);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->body : "";
  }
  // The leaves under `key` as key -> JSON text of the value.
  std::map<std::string, std::string> Get(const std::string& key) {
    rapidjson::Document d;
    std::string body = Body("/get?key=" + key);
    d.Parse(body.c_str());
    std::map<std::string, std::string> out;
    if (!d.IsObject()) return out;
    for (const auto& item : d["items"].GetArray()) {
      for (const auto& m : item.GetObject()) {
        if (m.value.IsNumber()) {
          out[m.name.GetString()] = absl::StrCat(m.value.GetDouble());
        } else if (m.value.IsString()) {
          out[m.name.GetString()] = m.value.GetString();
        } else {
          out[m.name.GetString()] = "object";
        }
      }
    }
    return out;
  }
  // A labelled or plain metric line's value from /metrics, or -1.
  double Metric(const std::string& series) {
    for (absl::string_view line : absl::StrSplit(Body("/metrics"), '\n')) {
      if (absl::StartsWith(line, series + " ")) {
        double v;
        if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
      }
    }
    return -1;
  }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(IngestTest, StatsdOverUdpEveryType) {
  SendUdp(server_->udp_port(),
          "web.hits:1|c|@0.1\nweb.hits:2|c\n"
          "web.temp:20|g\nweb.temp:+5|g\nweb.temp:-2|g\n"
          "web.lat:10|ms\nweb.lat:30|ms|@0.5\nweb.lat:20|h\n"
          "web.users:alice|s\nweb.users:bob|s\nweb.users:alice|s\n");
  ASSERT_TRUE(testing::WaitFor([&] { return Get("web").size() == 4; }));
  auto items = Get("web");
  EXPECT_EQ(items["web,hits"], "12");  // 1 at @0.1 counts 10
  EXPECT_EQ(items["web,temp"], "23");
  EXPECT_EQ(items["web,users"], "2");
  rapidjson::Document d;
  std::string body = Body("/get?key=web,lat");
  d.Parse(body.c_str());
  const auto& lat = d["items"][0]["web,lat"];
  // The sample rate weights the count, not the value.
  EXPECT_EQ(lat["count"].GetDouble(), 4);
  EXPECT_EQ(lat["min"].GetDouble(), 10);
  EXPECT_EQ(lat["max"].GetDouble(), 30);
  EXPECT_DOUBLE_EQ(lat["mean"].GetDouble(), (10 + 30 * 2 + 20) / 4.0);
  // Weighted samples 10, 20, 30, 30: the median lies between 20 and 30, p99
  // at 30, within the sketch's 1 %.
  EXPECT_GE(lat["p50"].GetDouble(), 20 * 0.99);
  EXPECT_LE(lat["p50"].GetDouble(), 30 * 1.01);
  EXPECT_NEAR(lat["p99"].GetDouble(), 30, 30 * 0.01);
}

TEST_F(IngestTest, DogstatsdTagsBecomeSegments) {
  SendUdp(server_->udp_port(), "http.req:1|c|#region:eu,env:prod\n");
  ASSERT_TRUE(testing::WaitFor([&] { return !Get("http,req").empty(); }));
  EXPECT_EQ(Get("http,req,env:prod,region:eu")["http,req,env:prod,region:eu"],
            "1");
}

TEST_F(IngestTest, BadLinesAreCountedAndTheirNeighboursApplied) {
  SendUdp(server_->udp_port(),
          "good.a:1|c\nno_value\nbad.rate:1|c|@7\nnan.v:nan|g\n"
          "bad.type:1|zz\ngood.b:2|g\n\x01\x02\xff\n");
  ASSERT_TRUE(testing::WaitFor([&] { return Get("good").size() == 2; }));
  EXPECT_TRUE(testing::WaitFor([&] {
    return Metric(
               "canopy_ingest_rejected_total{protocol=\"udp\",reason=\"bad_"
               "rate\"}") == 1;
  }));
  EXPECT_EQ(Metric("canopy_ingest_accepted_total{protocol=\"udp\"}"), 2);
  double rejected = 0;
  for (absl::string_view line : absl::StrSplit(Body("/metrics"), '\n')) {
    if (absl::StartsWith(line,
                         "canopy_ingest_rejected_total{protocol=\"udp\"")) {
      double v;
      ASSERT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v));
      rejected += v;
    }
  }
  EXPECT_EQ(rejected, 5);
}

TEST_F(IngestTest, JsonDatagram) {
  SendUdp(server_->udp_port(),
          R"({"j": {"x": 1, "y": [1, 3]}, "defaultaction": "avg"})");
  ASSERT_TRUE(testing::WaitFor([&] { return Get("j").size() == 2; }));
  EXPECT_EQ(Get("j")["j,y"], "2");
}

TEST_F(IngestTest, GraphiteStatsdAndJsonLinesOverTcp) {
  int fd = ConnectTcp(server_->tcp_port());
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "servers.web1.load 0.52 1700000000\n"
          "servers.web1.mem 1024\r\n"
          "tcp.hits:3|c\n"
          "{\"tj\": {\"v\": 7}}\n"
          "bad graphite line with words\n"
          "servers.web1.");  // the rest of a line comes in the next write
  SendAll(fd, "disk 55 -1\n");
  ASSERT_TRUE(testing::WaitFor([&] { return Get("servers").size() == 3; }));
  EXPECT_EQ(Get("servers,web1,load")["servers,web1,load"], "0.52");
  EXPECT_EQ(Get("servers,web1,disk")["servers,web1,disk"], "55");
  EXPECT_EQ(Get("tcp,hits")["tcp,hits"], "3");
  EXPECT_EQ(Get("tj")["tj,v"], "7");
  close(fd);
}

// A burst of dated history over TCP ends windows faster than history
// writes them: the connection is not read while the backlog is over
// Listeners::kPauseAboveWindows (the sender waits, as TCP makes it), and
// every line still lands, every window written.
TEST_F(IngestTest, ABurstOfHistoryOverTcpIsHeldBackNotQueued) {
  constexpr int kSeries = 2000;
  constexpr int kWindows = 90;  // 180 000 windows ended: past the bound
  const int64_t start = (time(nullptr) / 10 - kWindows - 10) * 10;
  std::string lines;
  for (int w = 0; w < kWindows; ++w) {
    for (int i = 0; i < kSeries; ++i) {
      absl::StrAppend(&lines, "burst.s", i, " ", w, " ", start + w * 10, "\n");
    }
  }
  int fd = ConnectTcp(server_->tcp_port());
  ASSERT_GE(fd, 0);
  SendAll(fd, lines);
  close(fd);
  // Each series' last window is still open: the others are all written.
  const double want = static_cast<double>(kSeries) * (kWindows - 1);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Metric("canopy_trend_windows_written_total") >= want; },
      absl::Seconds(60)))
      << Metric("canopy_trend_windows_written_total");
  EXPECT_EQ(Metric("canopy_ingest_accepted_total{protocol=\"tcp\"}"),
            kSeries * kWindows);
  EXPECT_GE(Metric("canopy_tcp_paused_total"), 1);
}

TEST_F(IngestTest, TcpLastLineWithoutNewlineCountsAtClose) {
  int fd = ConnectTcp(server_->tcp_port());
  SendAll(fd, "closing.line 9");
  close(fd);
  ASSERT_TRUE(testing::WaitFor([&] { return Get("closing").size() == 1; }));
}

TEST_F(IngestTest, HugeTcpLineIsDroppedAndTheConnectionGoesOn) {
  Start({"--max_line=1024"});
  int fd = ConnectTcp(server_->tcp_port());
  ASSERT_GE(fd, 0);
  SendAll(fd, std::string(1 << 20, 'x'));  // 1 MiB without a newline
  SendAll(fd, "\nafter.huge 1\n");
  ASSERT_TRUE(testing::WaitFor([&] { return Get("after").size() == 1; }));
  EXPECT_EQ(
      Metric(
          "canopy_ingest_rejected_total{protocol=\"tcp\",reason=\"too_long\"}"),
      1);
  close(fd);
}

TEST_F(IngestTest, AllowListRefusesOtherSources) {
  Start({"--allow=10.0.0.0/8"});
  SendUdp(server_->udp_port(), "denied.x:1|c\n");
  ASSERT_TRUE(testing::WaitFor([&] {
    return Metric(
               "canopy_ingest_rejected_total{protocol=\"udp\",reason="
               "\"denied\"}") == 1;
  }));
  EXPECT_TRUE(Get("denied").empty());
  Start({"--allow=127.0.0.0/8"});
  SendUdp(server_->udp_port(), "allowed.x:1|c\n");
  EXPECT_TRUE(testing::WaitFor([&] { return Get("allowed").size() == 1; }));
}

TEST_F(IngestTest, TextPlainPushIsAllOrNothing) {
  HttpClient c = server_->Client();
  auto r = c.Request("POST", "/push", "p.a:1|c\np.b 2\n",
                     {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"accepted\":2"), std::string::npos);
  r = c.Request("POST", "/push", "q.a:1|c\nq.b\n",
                {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("\"line\":2"), std::string::npos) << r->body;
  EXPECT_TRUE(Get("q").empty());
}

TEST_F(IngestTest, ExpireRemovesStaleLeaves) {
  // Expiry is measured in windows: a 1 s window makes the test quick.
  Start({"--expire=tmp,**=1s", "--retention=1s:1h"});
  SendUdp(server_->udp_port(), "tmp.a:1|g\nkeep.a:1|g\n");
  ASSERT_TRUE(testing::WaitFor([&] { return Get("keep").size() == 1; }));
  // Within a few seconds tmp,a is gone and its memory with it; keep,a stays.
  ASSERT_TRUE(testing::WaitFor([&] { return Get("tmp").empty(); }));
  EXPECT_EQ(Get("keep").size(), 1u);
  EXPECT_GE(Metric("canopy_expired_leaves_total"), 1);
}

// Issue 18: a sweep was one walk of the whole tree on the loop; now it goes
// in slices of one query's budget, one a second, and still removes all.
TEST_F(IngestTest, ExpireSweepsABigTreeInSlices) {
  Start({"--expire=tmp,**=1s", "--retention=1s:1h", "--query_budget=3000"});
  for (int d = 0; d < 20; ++d) {
    std::string lines;
    for (int i = 0; i < 100; ++i)
      absl::StrAppend(&lines, "tmp.d", d, ".k", i, ":1|g\n");
    SendUdp(server_->udp_port(), lines);
  }
  SendUdp(server_->udp_port(), "keep.a:1|g\n");
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Metric("canopy_expired_leaves_total") == 2000; },
      absl::Seconds(60)))
      << Metric("canopy_expired_leaves_total");
  // More walks than sweeps: 2 000 stale leaves do not fit one budget
  // (20 nodes of 100: a node wider than a budget is swept whole, once).
  EXPECT_GE(Metric("canopy_expire_slices_total"), 5);
  EXPECT_EQ(Get("keep").size(), 1u);
}

TEST_F(IngestTest, SelfFiguresLandInTheTree) {
  SendUdp(server_->udp_port(), "x:1|c\n");
  ASSERT_TRUE(testing::WaitFor([&] { return !Get("x").empty(); }));
  // Written once per window (10 s by default); use a 1 s window here.
  Start({"--retention=1s:1h"});
  SendUdp(server_->udp_port(), "x:1|c\n");
  ASSERT_TRUE(testing::WaitFor([&] {
    auto s = Get("canopy,self,ingest,udp,accepted");
    return !s.empty() && s.begin()->second == "1";
  }));
  EXPECT_FALSE(Get("canopy,self,ingest,udp,kernel_drops").empty());
}

// Unit tests of the flag parsers.
TEST(AllowListTest, Cidrs) {
  auto l = AllowList::Parse("127.0.0.0/8,::1/128,192.168.1.7");
  ASSERT_TRUE(l.ok());
  sockaddr_in a = Loopback(1);
  EXPECT_TRUE(l->Allows(reinterpret_cast<sockaddr*>(&a)));
  a.sin_addr.s_addr = inet_addr("192.168.1.8");
  EXPECT_FALSE(l->Allows(reinterpret_cast<sockaddr*>(&a)));
  a.sin_addr.s_addr = inet_addr("192.168.1.7");
  EXPECT_TRUE(l->Allows(reinterpret_cast<sockaddr*>(&a)));
  EXPECT_FALSE(AllowList::Parse("300.1.1.1/8").ok());
  EXPECT_FALSE(AllowList::Parse("10.0.0.0/33").ok());
}

TEST(ExpireTest, PatternsWithCommas) {
  auto r = ParseExpire("host,*,proc=1h,web,x=5m");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].pattern.text(), "host,*,proc");
  EXPECT_EQ((*r)[0].seconds, 3600);
  EXPECT_EQ((*r)[1].seconds, 300);
  EXPECT_FALSE(ParseExpire("a=1x").ok());
  EXPECT_FALSE(ParseExpire("a,b").ok());
}

}  // namespace
}  // namespace canopy
