// canopy-agent end to end: the real agent pushing to the real canopyd over
// UDP, TCP and HTTP; the spool across a server restart; flags and config.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/agent/agent_util.h"
#include "tests/server/harness.h"

namespace canopy {
namespace testing {
namespace {

using Clock = std::chrono::steady_clock;

// The number at `key` in /get, or -1.
double GetNumber(const HttpClient& http, const std::string& key) {
  absl::StatusOr<HttpReply> r =
      http.Request("GET", absl::StrCat("/get?key=", UrlEncode(key)));
  if (!r.ok() || r->status != 200) return -1;
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  if (d.HasParseError() || !d.HasMember("items")) return -1;
  for (const rapidjson::Value& item : d["items"].GetArray()) {
    for (auto& m : item.GetObject()) {
      if (key == m.name.GetString() && m.value.IsNumber()) {
        return m.value.GetDouble();
      }
    }
  }
  return -1;
}

// Waits until `key` reads at least `at_least`, for up to `seconds`; the
// last reading.
double AwaitNumber(const HttpClient& http, const std::string& key,
                   double at_least, double seconds) {
  double v = -1;
  WaitFor(
      [&] {
        v = GetNumber(http, key);
        return v >= at_least;
      },
      absl::Seconds(seconds));
  return v;
}

// The value of the gauge or counter `name` in canopyd's /metrics, or -1.
double MetricValue(const HttpClient& http, const std::string& name) {
  absl::StatusOr<HttpReply> r = http.Request("GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (!absl::ConsumePrefix(&line, name + " ")) continue;
    double v;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return -1;
}

uint64_t MemTotalBytes() {
  std::ifstream f("/proc/meminfo");
  std::string name, unit;
  uint64_t kb = 0;
  f >> name >> kb >> unit;
  return kb * 1024;
}

size_t FilesIn(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    n += absl::EndsWith(e.path().string(), ".json");
  }
  return n;
}

class PushTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PushTest, TreeArrivesUnderTheHost) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string scheme = GetParam();
  int port = scheme == "udp"   ? (*server)->udp_port()
             : scheme == "tcp" ? (*server)->tcp_port()
                               : (*server)->http_port();
  std::string host = "e2e-" + scheme;
  std::string spool = MakeTempDir();
  AgentProcess agent({absl::StrCat("--server=", scheme, "://127.0.0.1:", port),
                      "--interval=500ms", "--host=" + host,
                      "--spool_dir=" + spool});
  HttpClient http = (*server)->Client();
  std::string k = absl::StrCat("host,", host, ",");
  EXPECT_EQ(AwaitNumber(http, k + "mem,total", 1, 15), MemTotalBytes());
  EXPECT_GE(AwaitNumber(http, k + "agent,seq", 2, 10), 2);
  EXPECT_GE(GetNumber(http, k + "cpu,percent"), 0);
  EXPECT_GE(GetNumber(http, k + "cpu,core,0,idle"), 0);
  EXPECT_GE(GetNumber(http, k + "load,1"), 0);
  EXPECT_GT(GetNumber(http, k + "disk,/,total"), 0);
  EXPECT_EQ(GetNumber(http, k + "agent,interval_ms"), 500);
  EXPECT_EQ(GetNumber(http, k + "agent,dropped"), 0);
  // cpu is averaged over the window, as API.md says.
  absl::StatusOr<HttpReply> meta = http.Request(
      "GET", absl::StrCat("/api/q/host,", host, ",cpu.json?meta=1&depth=0"));
  ASSERT_TRUE(meta.ok());
  EXPECT_NE(meta->body.find("\"avg\""), std::string::npos) << meta->body;
  EXPECT_EQ(agent.Stop(), 0);  // SIGTERM: a clean stop
  std::filesystem::remove_all(spool);
}

INSTANTIATE_TEST_SUITE_P(Schemes, PushTest,
                         ::testing::Values("udp", "tcp", "http"));

// An agent left running for months must not grow: its memory after 200
// more intervals is what it was, within what a busier process table may
// add (each interval's tree is about 17 KB, so a tree kept per interval
// shows as 3.4 MB). ASan's quarantine holds
// freed memory, so its figure says nothing there.
TEST(MemoryTest, FlatOverManyIntervals) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "resident memory under ASan includes its quarantine";
#endif
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  AgentProcess agent(
      {absl::StrCat("--server=udp://127.0.0.1:", (*server)->udp_port()),
       "--interval=100ms", "--host=mem"});
  HttpClient http = (*server)->Client();
  ASSERT_GE(AwaitNumber(http, "host,mem,agent,seq", 30, 30), 30);
  double before = GetNumber(http, "host,mem,agent,rss_bytes");
  ASSERT_GT(before, 1 << 20);
  ASSERT_GE(AwaitNumber(http, "host,mem,agent,seq", 230, 90), 230);
  double after = GetNumber(http, "host,mem,agent,rss_bytes");
  EXPECT_LT(after - before, 1.5 * 1024 * 1024) << before << " -> " << after;
  EXPECT_EQ(agent.Stop(), 0);
}

// Sums the trend counts of `key` (samples per 10 s window).
int64_t TrendCount(const HttpClient& http, const std::string& key) {
  absl::StatusOr<HttpReply> r =
      http.Request("GET", absl::StrCat("/trend?key=", UrlEncode(key),
                                       "&from=-10m&to=now&step=10&fn=count"));
  if (!r.ok() || r->status != 200) return -1;
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  if (d.HasParseError() || !d.HasMember("series")) return -1;
  int64_t sum = 0;
  for (const rapidjson::Value& s : d["series"].GetArray()) {
    for (const rapidjson::Value& p : s["points"].GetArray()) {
      sum += static_cast<int64_t>(p[1].GetDouble());
    }
  }
  return sum;
}

class SpoolTest : public ::testing::TestWithParam<std::string> {};

// Stop the server for a few intervals, start it again on the same port and
// data dir: every interval's seq arrives, none twice.
TEST_P(SpoolTest, EveryIntervalArrivesAfterARestart) {
  const std::string scheme = GetParam();
  const int http_port = FreeTcpPort(), tcp_port = FreeTcpPort();
  const std::string data = MakeTempDir();
  const std::string spool = MakeTempDir();
  const std::vector<std::string> flags = {
      absl::StrCat("--http=127.0.0.1:", http_port),
      absl::StrCat("--tcp=127.0.0.1:", tcp_port), "--udp=off"};
  const std::string host = "spool-" + scheme;
  const std::string seq_key = absl::StrCat("host,", host, ",agent,seq");

  auto first = ServerProcess::Start(flags, data);
  ASSERT_TRUE(first.ok()) << first.status();
  AgentProcess agent(
      {absl::StrCat("--server=", scheme,
                    "://127.0.0.1:", scheme == "tcp" ? tcp_port : http_port),
       "--interval=500ms", "--host=" + host, "--spool_dir=" + spool});
  double before = AwaitNumber((*first)->Client(), seq_key, 3, 15);
  ASSERT_GE(before, 3);
  // A clean stop with the agent's TCP connection still open (regression:
  // canopyd leaked open TCP ingest connections at its stop, which
  // LeakSanitizer reported as an exit code of 1).
  EXPECT_EQ((*first)->Stop(), 0);
  first->reset();

  // The agent spools while the server is down: await a few intervals' files.
  EXPECT_TRUE(WaitFor([&] { return FilesIn(spool) >= 4u; }, absl::Seconds(15)))
      << "the agent spools while the server is down";

  auto second = ServerProcess::Start(flags, data);
  ASSERT_TRUE(second.ok()) << second.status();
  HttpClient http = (*second)->Client();
  // Caught up: the spool drained and fresh pushes arrive.
  EXPECT_TRUE(WaitFor([&] { return FilesIn(spool) == 0; }, absl::Seconds(40)));
  // Two fresh intervals past the spooled ones (the last spooled lines may
  // still be in flight when the spool is empty: count from them, not from
  // what the server shows at that moment).
  const double fresh = std::max(GetNumber(http, seq_key), before + 4) + 2;
  EXPECT_GE(AwaitNumber(http, seq_key, fresh, 20), fresh);
  ASSERT_EQ(agent.Stop(), 0);
  // The agent has sent all it had (over HTTP each push was answered); over
  // TCP the server has read its last line once it closed the connection.
  EXPECT_TRUE(WaitFor(
      [&] { return MetricValue(http, "canopy_tcp_connections") == 0; }));
  // At least: the seqs before the stop, four spooled, two fresh.
  // (Awaited: on a loaded machine the last lines may still be in flight.)
  EXPECT_TRUE(WaitFor([&] { return GetNumber(http, seq_key) >= before + 6; }));
  const int64_t last = static_cast<int64_t>(GetNumber(http, seq_key));
  ASSERT_GE(last, before + 6);

  // Every seq from 1 to `last` is one sample in the history (windows close
  // every 10 s: wait for the last one).
  int64_t count = -1;
  WaitFor(
      [&] {
        count = TrendCount(http, seq_key);
        return count >= last;
      },
      absl::Seconds(30));
  EXPECT_EQ(count, last) << "seq samples in the history vs the last seq";
  second->reset();
  std::filesystem::remove_all(data);
  std::filesystem::remove_all(spool);
}

INSTANTIATE_TEST_SUITE_P(Schemes, SpoolTest, ::testing::Values("http", "tcp"));

// Issue 18: the agent writes "time" last in each interval's object, and
// canopyd dated such samples now: after an outage the spooled intervals all
// landed in the window of the replay and the outage's windows stayed empty.
// Each sample now goes to the window of its interval: at one sample per
// 500 ms, no 10 s window holds more than 21 (21 for jitter at the edges),
// and every window from the first to the last holds some.
TEST(SpoolReplayTest, SpooledIntervalsLandInTheirOwnWindows) {
  const int http_port = FreeTcpPort();
  const std::string data = MakeTempDir();
  const std::string spool = MakeTempDir();
  const std::vector<std::string> flags = {
      absl::StrCat("--http=127.0.0.1:", http_port), "--tcp=off", "--udp=off"};
  const std::string seq_key = "host,replay,agent,seq";
  auto first = ServerProcess::Start(flags, data);
  ASSERT_TRUE(first.ok()) << first.status();
  AgentProcess agent({absl::StrCat("--server=http://127.0.0.1:", http_port),
                      "--interval=500ms", "--host=replay",
                      "--spool_dir=" + spool});
  ASSERT_GE(AwaitNumber((*first)->Client(), seq_key, 2, 15), 2);
  EXPECT_EQ((*first)->Stop(), 0);
  first->reset();
  // An outage longer than a window (10 s): 24 intervals spooled.
  ASSERT_TRUE(WaitFor([&] { return FilesIn(spool) >= 24u; }, absl::Seconds(40)))
      << "the agent spools while the server is down";
  auto second = ServerProcess::Start(flags, data);
  ASSERT_TRUE(second.ok()) << second.status();
  HttpClient http = (*second)->Client();
  ASSERT_TRUE(WaitFor([&] { return FilesIn(spool) == 0; }, absl::Seconds(40)));
  ASSERT_GE(AwaitNumber(http, seq_key, 30, 20), 30);
  ASSERT_EQ(agent.Stop(), 0);
  // The agent's last seq, once it has stopped (each push was answered):
  // the history must hold that many samples before its windows are read.
  const double last = GetNumber(http, seq_key);
  // Every seq up to `last` is in the history (windows close every 10 s).
  std::vector<std::pair<int64_t, int64_t>> windows;  // (start, count)
  WaitFor(
      [&] {
        windows.clear();
        absl::StatusOr<HttpReply> r = http.Request(
            "GET", absl::StrCat("/trend?key=", UrlEncode(seq_key),
                                "&from=-10m&to=now&step=10&fn=count"));
        if (!r.ok() || r->status != 200) return false;
        rapidjson::Document d;
        d.Parse(r->body.c_str());
        if (d.HasParseError() || d["series"].Empty()) return false;
        int64_t sum = 0;
        for (const rapidjson::Value& p : d["series"][0]["points"].GetArray()) {
          windows.emplace_back(p[0].GetInt64(),
                               static_cast<int64_t>(p[1].GetDouble()));
          sum += windows.back().second;
        }
        return sum >= static_cast<int64_t>(last);
      },
      absl::Seconds(30));
  std::string shown;
  for (const auto& [start, count] : windows) {
    absl::StrAppend(&shown, " ", start, ":", count);
  }
  // 30 or more samples at 2 a second span two 10 s windows or more.
  ASSERT_GE(windows.size(), 2u)
      << "windows (start:count):" << shown << "; last seq " << last;
  for (size_t i = 0; i < windows.size(); ++i) {
    EXPECT_LE(windows[i].second, 21)
        << "window " << windows[i].first << " holds other windows' samples";
    if (i > 0) {
      EXPECT_EQ(windows[i].first - windows[i - 1].first, 10)
          << "an empty window in the history between " << windows[i - 1].first
          << " and " << windows[i].first;
    }
  }
  second->reset();
  std::filesystem::remove_all(data);
  std::filesystem::remove_all(spool);
}

TEST(FlagsTest, BadFlagsSayOneLineAndExitOne) {
  for (const char* bad : {"--bogus=1", "--interval=abc", "--server=ftp://x:1",
                          "--host=a,b", "--top_n=-1"}) {
    RunResult r = RunAgentBinary({bad});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(FlagsTest, ConfigFileAndTheCommandLineWins) {
  std::string dir = MakeTempDir();
  std::string conf = dir + "/agent.conf";
  std::ofstream(conf) << "# agent settings\nhost=fromconfig\n"
                         "--interval=30s\ntop_n=1\n";
  auto t0 = Clock::now();
  RunResult r =
      RunAgentBinary({"--config=" + conf, "--once", "--interval=200ms"});
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_NE(HostBody(d, "fromconfig"), nullptr) << r.out;
  std::ofstream(conf) << "nonsense\n";
  r = RunAgentBinary({"--config=" + conf, "--once"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("agent.conf:1: unknown flag 'nonsense'"),
            std::string::npos)
      << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace testing
}  // namespace canopy
