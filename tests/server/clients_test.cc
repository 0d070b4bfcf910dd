// Black-box tests of canopyd against real third-party clients: collectd's
// write_graphite plugin over TCP, the npm StatsD client hot-shots over UDP,
// and promtool's check of /metrics. Each test skips, saying why, when its
// client is not installed (scripts/deps.sh installs them all).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

#ifndef CANOPY_SOURCE_DIR
#define CANOPY_SOURCE_DIR "."
#endif

namespace canopy {
namespace {

using testing::MakeTempDir;
using testing::ServerProcess;

using testing::FindProgram;

// Starts `argv` with stdin from `stdin_file` ("" for /dev/null) and stdout
// and stderr to `out_file`; returns the pid or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& stdin_file,
            const std::string& out_file) {
  int in = open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(),
                O_RDONLY | O_CLOEXEC);
  int out =
      open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = in < 0 || out < 0 ? -1 : testing::Spawn(argv, in, out, out);
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  return pid;
}

// Waits up to `deadline` for `pid` to exit; kills it past that. Returns
// the exit code, 128+signal, or -1 on a timeout.
int WaitForExit(pid_t pid, absl::Duration deadline) {
  int status = 0;
  if (!testing::WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                        deadline)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Stops a child with SIGTERM (SIGKILL after 5 s).
void Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  WaitForExit(pid, absl::Seconds(5));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

class ClientsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override {
    Stop(child_);
    server_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  void StartServer() {
    auto s = ServerProcess::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    ASSERT_GT(server_->udp_port(), 0) << "canopyd has no UDP listener";
    ASSERT_GT(server_->tcp_port(), 0) << "canopyd has no TCP listener";
  }

  std::string Body(const std::string& target) {
    auto r = server_->Client().Request("GET", target);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->body : "";
  }

  // The leaves matching `key` as key -> value (a parsed copy of each).
  std::map<std::string, rapidjson::Document> Get(const std::string& key) {
    std::map<std::string, rapidjson::Document> out;
    rapidjson::Document d;
    d.Parse(Body("/get?key=" + key).c_str());
    if (!d.IsObject() || !d.HasMember("items") || !d["items"].IsArray()) {
      return out;
    }
    for (const auto& item : d["items"].GetArray()) {
      if (!item.IsObject()) continue;
      for (const auto& m : item.GetObject()) {
        rapidjson::Document v;
        v.CopyFrom(m.value, v.GetAllocator());
        out[m.name.GetString()] = std::move(v);
      }
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
  pid_t child_ = -1;
};

// collectd (cpu, memory and load read plugins, 1 s interval) writes to
// canopyd's TCP port with write_graphite; its load figures arrive under the
// key its graphite naming gives: collectd.HOST.load.load.shortterm.
TEST_F(ClientsTest, CollectdWriteGraphite) {
  std::string collectd = FindProgram("collectd");
  if (collectd.empty()) {
    GTEST_SKIP() << "collectd is not installed (Debian package collectd-core; "
                    "scripts/deps.sh installs it)";
  }
  if (access("/usr/lib/collectd/write_graphite.so", R_OK) != 0) {
    GTEST_SKIP() << "collectd has no write_graphite plugin "
                    "(/usr/lib/collectd/write_graphite.so)";
  }
  StartServer();
  std::string conf = absl::StrCat(dir_, "/collectd.conf");
  WriteFile(conf, absl::StrCat(R"(Hostname "canopytest"
FQDNLookup false
BaseDir ")",
                               dir_, R"("
PIDFile ")",
                               dir_, R"(/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
  <Node "canopy">
    Host "127.0.0.1"
    Port ")",
                               server_->tcp_port(), R"("
    Protocol "tcp"
    Prefix "collectd."
    StoreRates true
    AlwaysAppendDS false
    EscapeCharacter "_"
  </Node>
</Plugin>
)"));
  std::string log = absl::StrCat(dir_, "/collectd.out");
  child_ = Spawn({collectd, "-f", "-C", conf}, "", log);
  ASSERT_GT(child_, 0);

  std::string found;
  bool arrived = testing::WaitFor(
      [&] {
        for (const auto& [key, value] : Get("**")) {
          std::vector<absl::string_view> segments = absl::StrSplit(key, ',');
          if (absl::StartsWith(key, "collectd,canopytest,") &&
              std::find(segments.begin(), segments.end(), "load") !=
                  segments.end() &&
              value.IsNumber()) {
            found = key;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(20));
  std::string keys;
  for (const auto& kv : Get("collectd,**"))
    absl::StrAppend(&keys, kv.first, " ");
  ASSERT_TRUE(arrived) << "no load figure from collectd within 20 s; keys: "
                       << keys << "\ncollectd said: " << ReadFile(log);
  EXPECT_EQ(Get("collectd,canopytest,load,load,shortterm").size(), 1u)
      << "found " << found << "; keys: " << keys;
  // The other read plugins arrive too.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return !Get("collectd,canopytest,memory,**").empty() &&
               !Get("collectd,canopytest,cpu*,**").empty();
      },
      absl::Seconds(10)))
      << "keys: " << keys;
}

// hot-shots sends a counter with a sample rate, a gauge, timings and set
// members to canopyd's UDP port; each arrives with its StatsD meaning.
TEST_F(ClientsTest, HotShotsStatsd) {
  std::string node = FindProgram("node");
  if (node.empty()) node = FindProgram("nodejs");
  if (node.empty()) {
    GTEST_SKIP() << "node is not installed (Debian package nodejs; "
                    "scripts/deps.sh installs it)";
  }
  const char* env_dir = std::getenv("CANOPY_CLIENTS_DIR");
  std::string modules = absl::StrCat(
      env_dir ? env_dir : CANOPY_SOURCE_DIR "/tests/clients", "/node_modules");
  if (access(absl::StrCat(modules, "/hot-shots/package.json").c_str(), R_OK) !=
      0) {
    GTEST_SKIP() << "hot-shots is not installed in " << modules
                 << " (scripts/deps.sh runs npm ci in tests/clients)";
  }
  StartServer();
  std::string script = absl::StrCat(dir_, "/send.js");
  // Math.random is pinned to 0 so that hot-shots sends every sampled call
  // (it drops a call with probability 1 - rate before sending); each line
  // still carries @0.1 and so counts 10.
  WriteFile(script, absl::StrCat(R"(
const StatsD = require(process.argv[2] + '/hot-shots');
Math.random = () => 0;
const client = new StatsD({
  host: '127.0.0.1', port: Number(process.argv[3]), protocol: 'udp',
  prefix: 'clients.hotshots.', maxBufferSize: 0,
  errorHandler: (e) => { console.error('hot-shots error:', e); process.exitCode = 1; },
});
for (let i = 0; i < 5; i++) client.increment('requests', 1, 0.1);
client.increment('plain', 3);
client.gauge('temperature', 17);
client.gauge('temperature', 21.5);
for (const ms of [100, 200, 300, 400]) client.timing('latency', ms);
for (const who of ['alice', 'bob', 'alice', 'carol']) client.set('users', who);
client.close((err) => { if (err) { console.error(err); process.exitCode = 1; } });
)"));
  std::string log = absl::StrCat(dir_, "/node.out");
  pid_t pid = Spawn({node, script, modules, absl::StrCat(server_->udp_port())},
                    "", log);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(WaitForExit(pid, absl::Seconds(30)), 0) << ReadFile(log);

  auto number = [&](const std::string& key, double want) {
    return testing::WaitFor(
        [&] {
          auto items = Get(key);
          auto it = items.find(key);
          return it != items.end() && it->second.IsNumber() &&
                 it->second.GetDouble() == want;
        },
        absl::Seconds(10));
  };
  auto show = [&](const std::string& key) { return Body("/get?key=" + key); };
  // Counter: 5 increments of 1 at @0.1 count 50.
  EXPECT_TRUE(number("clients,hotshots,requests", 50))
      << show("clients,hotshots,requests");
  EXPECT_TRUE(number("clients,hotshots,plain", 3))
      << show("clients,hotshots,plain");
  // Gauge: the last value.
  EXPECT_TRUE(number("clients,hotshots,temperature", 21.5))
      << show("clients,hotshots,temperature");
  // Timer: a JSON object with count, mean, min, max and percentiles.
  std::string timer = "clients,hotshots,latency";
  bool timer_ok = testing::WaitFor(
      [&] {
        auto items = Get(timer);
        auto it = items.find(timer);
        if (it == items.end() || !it->second.IsObject()) return false;
        const rapidjson::Value& v = it->second;
        return v.HasMember("count") && v["count"].IsNumber() &&
               v["count"].GetDouble() == 4;
      },
      absl::Seconds(10));
  ASSERT_TRUE(timer_ok) << show(timer);
  {
    auto items = Get(timer);
    const rapidjson::Value& v = items[timer];
    for (const char* field :
         {"count", "mean", "min", "max", "p50", "p90", "p99"}) {
      ASSERT_TRUE(v.HasMember(field) && v[field].IsNumber())
          << field << " missing in " << show(timer);
    }
    EXPECT_DOUBLE_EQ(v["min"].GetDouble(), 100);
    EXPECT_DOUBLE_EQ(v["max"].GetDouble(), 400);
    EXPECT_NEAR(v["mean"].GetDouble(), 250, 1e-9);
    EXPECT_GE(v["p50"].GetDouble(), 100);
    EXPECT_LE(v["p50"].GetDouble(), 400);
    EXPECT_LE(v["p90"].GetDouble(), v["p99"].GetDouble());
  }
  // Set: the distinct members.
  EXPECT_TRUE(number("clients,hotshots,users", 3))
      << show("clients,hotshots,users");
}

// promtool (from Debian's prometheus package) accepts canopyd's /metrics.
TEST_F(ClientsTest, PromtoolChecksMetrics) {
  std::string promtool = FindProgram("promtool");
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus; "
                    "scripts/deps.sh installs it)";
  }
  StartServer();
  // Some traffic first, so that the per-protocol series exist.
  auto push = server_->Client().Request("POST", "/push", R"({"a":{"b":1}})",
                                        {{"Content-Type", "application/json"}});
  ASSERT_TRUE(push.ok()) << push.status();
  std::string metrics = Body("/metrics");
  ASSERT_FALSE(metrics.empty());
  std::string in = absl::StrCat(dir_, "/metrics.txt");
  WriteFile(in, metrics);
  std::string log = absl::StrCat(dir_, "/promtool.out");
  pid_t pid = Spawn({promtool, "check", "metrics"}, in, log);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(WaitForExit(pid, absl::Seconds(30)), 0)
      << "promtool check metrics says:\n"
      << ReadFile(log) << "\n/metrics was:\n"
      << metrics;
}

}  // namespace
}  // namespace canopy
