// remote_write and remote_read against the real receivers: VictoriaMetrics
// (Debian victoria-metrics) and Prometheus (Debian prometheus), each started
// by the test on a loopback port with its own data directory, and canopyd
// started with 1 s windows. Each test skips, saying why, when its receiver
// is not installed (scripts/deps.sh installs both, so CI runs them).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/http_client.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using testing::MakeTempDir;
using testing::ServerProcess;
using testing::WaitFor;

using testing::FindProgram;
using testing::FreePort;

// A receiver daemon (VictoriaMetrics or Prometheus) on a fixed loopback
// port and data directory, so that it can be stopped and started again.
class Receiver {
 public:
  Receiver(std::string program, std::vector<std::string> args,
           std::string ready_path, std::string log)
      : program_(std::move(program)),
        args_(std::move(args)),
        ready_path_(std::move(ready_path)),
        log_(std::move(log)) {}
  ~Receiver() { Stop(); }

  // Starts it and waits until it answers its readiness path.
  bool Start(int port) {
    port_ = port;
    std::vector<std::string> argv = {program_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    int out =
        open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = testing::Spawn(argv, -1, out, out);
    close(out);
    if (pid_ <= 0) return false;
    return WaitFor(
        [&] {
          auto r = Client().Request("GET", ready_path_);
          return r.ok() && r->status == 200;
        },
        absl::Seconds(30));
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    if (!WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; },
                 absl::Seconds(20))) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  HttpClient Client() const { return HttpClient("127.0.0.1", port_, 10); }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    return t.size() > 3000 ? t.substr(t.size() - 3000) : t;
  }

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::string ready_path_;
  std::string log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Timestamped samples of one series: ms -> value.
using Points = std::map<int64_t, double>;

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override {
    server_.reset();
    vm_.reset();
    prom_.reset();
    std::filesystem::remove_all(dir_);
  }

  // VictoriaMetrics on a fresh port; false (with a skip) if not installed.
  bool StartVictoria() {
    std::string vm = FindProgram("victoria-metrics");
    if (vm.empty()) return false;
    vm_port_ = FreePort();
    vm_ = std::make_unique<Receiver>(
        vm,
        std::vector<std::string>{
            absl::StrCat("-storageDataPath=", dir_, "/vm"),
            absl::StrCat("-httpListenAddr=127.0.0.1:", vm_port_),
            "-retentionPeriod=100y", "-search.latencyOffset=0s",
            "-loggerLevel=ERROR"},
        "/health", dir_ + "/vm.log");
    EXPECT_TRUE(vm_->Start(vm_port_)) << vm_->Log();
    return true;
  }
  std::string VictoriaWriteUrl() const {
    return absl::StrCat("http://127.0.0.1:", vm_port_, "/api/v1/write");
  }

  // Prometheus as a remote_write receiver (and, with `remote_read`, reading
  // from canopyd); false if not installed.
  bool StartPrometheus(const std::string& remote_read = "") {
    std::string prom = FindProgram("prometheus");
    if (prom.empty()) return false;
    prom_port_ = FreePort();
    std::string config = dir_ + "/prometheus.yml";
    {
      std::ofstream f(config);
      f << "global:\n  scrape_interval: 15s\n";
      if (!remote_read.empty()) {
        f << "remote_read:\n  - url: " << remote_read
          << "\n    read_recent: true\n";
      }
    }
    prom_ = std::make_unique<Receiver>(
        prom,
        std::vector<std::string>{
            absl::StrCat("--config.file=", config),
            absl::StrCat("--storage.tsdb.path=", dir_, "/prom"),
            absl::StrCat("--web.listen-address=127.0.0.1:", prom_port_),
            "--web.enable-remote-write-receiver", "--log.level=error"},
        "/-/ready", dir_ + "/prom.log");
    EXPECT_TRUE(prom_->Start(prom_port_)) << prom_->Log();
    return true;
  }

  void StartCanopy(const std::vector<std::string>& urls) {
    std::vector<std::string> flags = {"--retention=1s:1h,1m:1d",
                                      "--remote_write_timeout=2"};
    if (!urls.empty()) {
      flags.push_back(
          absl::StrCat("--remote_write=", absl::StrJoin(urls, ",")));
    }
    auto s = ServerProcess::Start(flags, dir_ + "/canopy");
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  void Push(const std::string& json) {
    auto r = server_->Client().Request("POST", "/push", json);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
  }

  // canopyd's own history of `key` (fn over 1 s windows), keyed by ms.
  Points Trend(const std::string& key, const std::string& fn) {
    Points out;
    auto r = server_->Client().Request(
        "GET", absl::StrCat("/trend?key=", UrlEncode(key),
                            "&from=-1h&to=now&step=1&fn=", fn));
    if (!r.ok() || r->status != 200) return out;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    if (!d.IsObject() || !d.HasMember("series")) return out;
    for (const auto& s : d["series"].GetArray()) {
      if (std::string(s["key"].GetString()) != key) continue;
      for (const auto& p : s["points"].GetArray()) {
        out[p[0].GetInt64() * 1000] = p[1].GetDouble();
      }
    }
    return out;
  }

  // The raw samples VictoriaMetrics holds for `selector`.
  Points Victoria(const std::string& selector) {
    Points out;
    (void)vm_->Client().Request("GET", "/internal/force_flush");
    auto r = vm_->Client().Request(
        "GET", absl::StrCat("/api/v1/export?match[]=", UrlEncode(selector)));
    if (!r.ok() || r->status != 200) return out;
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      if (line.empty()) continue;
      rapidjson::Document d;
      d.Parse(line.data(), line.size());
      if (!d.IsObject()) continue;
      const auto& v = d["values"];
      const auto& t = d["timestamps"];
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        out[t[i].GetInt64()] = v[i].GetDouble();
      }
    }
    return out;
  }

  // The raw samples Prometheus holds for `selector` (a range selector of
  // the last hour, through /api/v1/query).
  Points Prometheus(const std::string& selector) {
    Points out;
    auto r = prom_->Client().Request(
        "GET", absl::StrCat("/api/v1/query?query=",
                            UrlEncode(absl::StrCat(selector, "[1h]"))));
    if (!r.ok() || r->status != 200) return out;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    if (!d.IsObject() || !d.HasMember("data")) return out;
    for (const auto& s : d["data"]["result"].GetArray()) {
      for (const auto& p : s["values"].GetArray()) {
        double v = 0;
        (void)absl::SimpleAtod(p[1].GetString(), &v);
        out[static_cast<int64_t>(p[0].GetDouble() * 1000 + 0.5)] = v;
      }
    }
    return out;
  }

  // Waits until every window canopyd has of `key` (fn) is at the receiver
  // under `selector`, at the same millisecond and equal (within `rel`, for
  // figures that are not short decimals: /trend's JSON writes 15 to 17
  // digits, VictoriaMetrics keeps 12 significant digits); reports the
  // difference if not.
  void ExpectSame(const std::string& key, const std::string& fn,
                  const std::string& selector,
                  const std::function<Points(const std::string&)>& read,
                  size_t at_least, double rel = 0) {
    Points mine, theirs;
    bool same = WaitFor(
        [&] {
          mine = Trend(key, fn);
          theirs = read(selector);
          if (mine.size() < at_least || mine.size() != theirs.size()) {
            return false;
          }
          for (const auto& [ms, v] : mine) {
            auto it = theirs.find(ms);
            if (it == theirs.end() ||
                std::fabs(it->second - v) > rel * std::fabs(v)) {
              return false;
            }
          }
          return true;
        },
        absl::Seconds(30));
    std::string m, t;
    for (auto& [k, v] : mine)
      absl::StrAppend(&m, k, "=", absl::StrFormat("%.17g", v), " ");
    for (auto& [k, v] : theirs)
      absl::StrAppend(&t, k, "=", absl::StrFormat("%.17g", v), " ");
    EXPECT_TRUE(same) << selector << "\n canopy:   " << m
                      << "\n receiver: " << t;
  }

  std::string dir_;
  int vm_port_ = 0;
  int prom_port_ = 0;
  std::unique_ptr<Receiver> vm_;
  std::unique_ptr<Receiver> prom_;
  std::unique_ptr<ServerProcess> server_;
};

// Pushes a gauge, a counter and a timer over a few windows.
void PushSome(const std::function<void(const std::string&)>& push) {
  push(R"({"host": {"web1": {"cpu": {"user": 42.5}}}})");
  push(R"({"hits": {"web1": {"get": 3}, "defaultaction": "add"}})");
  push(R"({"lat": {"web1": {"get": [10, 20, 30, 40, 1000]},
           "defaultaction": "timer"}})");
  // The next window (1 s): wait for it on canopyd's clock.
  int64_t t0 = time(nullptr);
  WaitFor([&] { return time(nullptr) > t0; }, absl::Seconds(3));
  push(R"({"host": {"web1": {"cpu": {"user": 17.25}}}})");
  push(R"({"hits": {"web1": {"get": 4}}})");
  push(R"({"host": {"web2": {"cpu": {"user": 0.125}}}})");
}

TEST_F(RemoteTest, VictoriaMetricsHasEveryWindowWithItsValues) {
  if (!StartVictoria()) {
    GTEST_SKIP() << "victoria-metrics is not installed (Debian package "
                    "victoria-metrics; scripts/deps.sh installs it)";
  }
  StartCanopy({VictoriaWriteUrl()});
  PushSome([&](const std::string& j) { Push(j); });
  auto vm = [&](const std::string& s) { return Victoria(s); };
  ExpectSame("host,web1,cpu,user", "last",
             R"(canopy_value{key="host,web1,cpu,user"})", vm, 2);
  ExpectSame("host,web2,cpu,user", "last",
             R"(canopy_value{s0="host",s1="web2",s2="cpu",s3="user"})", vm, 1);
  ExpectSame("hits,web1,get", "sum", R"(canopy_increase{key="hits,web1,get"})",
             vm, 2);
  ExpectSame("lat,web1,get", "p99",
             R"(canopy_timer{key="lat,web1,get",quantile="0.99"})", vm, 1,
             1e-11);
  ExpectSame("lat,web1,get", "count",
             R"(canopy_timer_count{key="lat,web1,get"})", vm, 1);
  // The counter counts on: its last sample is the running total.
  Points total = Victoria(R"(canopy_total{key="hits,web1,get"})");
  ASSERT_FALSE(total.empty());
  EXPECT_EQ(total.rbegin()->second, 7);
  // Grouping by a segment label works in PromQL.
  auto r = vm_->Client().Request(
      "GET",
      absl::StrCat("/api/v1/query?query=",
                   UrlEncode("count(count_over_time(canopy_value{s0=\"host\","
                             "s2=\"cpu\"}[1h])) by (s1)")));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->body.find("\"s1\":\"web1\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"s1\":\"web2\""), std::string::npos) << r->body;
  EXPECT_EQ(server_->Metric("canopy_remote_write_intake_dropped_total"), 0);
}

TEST_F(RemoteTest, PrometheusHasEveryWindowWithItsValues) {
  if (!StartPrometheus()) {
    GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  }
  StartCanopy({absl::StrCat("http://127.0.0.1:", prom_port_, "/api/v1/write")});
  PushSome([&](const std::string& j) { Push(j); });
  auto prom = [&](const std::string& s) { return Prometheus(s); };
  ExpectSame("host,web1,cpu,user", "last",
             R"(canopy_value{key="host,web1,cpu,user"})", prom, 2);
  ExpectSame("hits,web1,get", "sum", R"(canopy_increase{key="hits,web1,get"})",
             prom, 2);
  ExpectSame("lat,web1,get", "p50",
             R"(canopy_timer{key="lat,web1,get",quantile="0.5"})", prom, 1,
             1e-15);
  Points total = Prometheus(R"(canopy_total{key="hits,web1,get"})");
  ASSERT_FALSE(total.empty());
  EXPECT_EQ(total.rbegin()->second, 7);
}

// A receiver down for a while, and canopyd restarted meanwhile: every window
// arrives once it is back.
TEST_F(RemoteTest, ReceiverDownAndCanopyRestartedLosesNothing) {
  if (!StartVictoria()) {
    GTEST_SKIP() << "victoria-metrics is not installed (Debian package "
                    "victoria-metrics; scripts/deps.sh installs it)";
  }
  StartCanopy({VictoriaWriteUrl()});
  Push(R"({"down": {"a": 1}})");
  ExpectSame(
      "down,a", "last", R"(canopy_value{key="down,a"})",
      [&](const std::string& s) { return Victoria(s); }, 1);
  vm_->Stop();
  for (double v : {2.5, 3.5}) {
    int64_t t0 = time(nullptr);
    Push(absl::StrCat(R"({"down": {"a": )", v, "}}"));
    WaitFor([&] { return time(nullptr) > t0; }, absl::Seconds(3));
  }
  // Sent and failed at least once while the receiver is away.
  std::string retried = absl::StrCat("canopy_remote_write_retried_total{url=\"",
                                     VictoriaWriteUrl(), "\"}");
  auto metric = [&](const std::string& line) {
    auto r = server_->Client().Request("GET", "/metrics");
    if (!r.ok()) return -1.0;
    size_t at = r->body.find(line + " ");
    if (at == std::string::npos) return -1.0;
    double v = -1;
    (void)absl::SimpleAtod(
        r->body.substr(at + line.size() + 1,
                       r->body.find('\n', at) - at - line.size() - 1),
        &v);
    return v;
  };
  ASSERT_TRUE(WaitFor([&] { return metric(retried) > 0; }))
      << "no retry while the receiver was down";
  ASSERT_TRUE(WaitFor([&] {
    return metric(absl::StrCat("canopy_remote_write_lag_seconds{url=\"",
                               VictoriaWriteUrl(), "\"}")) > 0;
  }));
  // canopyd restarts with what it has not sent.
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  StartCanopy({VictoriaWriteUrl()});
  // In a window of its own (not the one the stop closed).
  int64_t t1 = time(nullptr);
  WaitFor([&] { return time(nullptr) > t1; }, absl::Seconds(3));
  Push(R"({"down": {"a": 4.5}})");
  ASSERT_TRUE(vm_->Start(vm_port_)) << vm_->Log();
  ExpectSame(
      "down,a", "last", R"(canopy_value{key="down,a"})",
      [&](const std::string& s) { return Victoria(s); }, 4);
  EXPECT_TRUE(WaitFor([&] {
    return metric(absl::StrCat("canopy_remote_write_lag_seconds{url=\"",
                               VictoriaWriteUrl(), "\"}")) == 0;
  }));
}

// Receivers that answer garbage or never answer: canopyd serves on, its
// history is written, and the sender retries.
TEST_F(RemoteTest, GarbageAndHangingReceiversDoNotStallCanopy) {
  int garbage = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int hanging = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int ports[2];
  int fds[2] = {garbage, hanging};
  for (int i = 0; i < 2; ++i) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fds[i], reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(fds[i], 16), 0);
    socklen_t len = sizeof a;
    getsockname(fds[i], reinterpret_cast<sockaddr*>(&a), &len);
    ports[i] = ntohs(a.sin_port);
  }
  std::atomic<bool> stop{false};
  std::vector<int> held;  // the hanging receiver's connections, never read
  std::thread responder([&] {
    while (!stop) {
      for (int i = 0; i < 2; ++i) {
        int c = accept4(fds[i], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) continue;
        if (i == 0) {
          const char junk[] = "\x16\x03garbage\r\n\r\nnot http at all";
          (void)!write(c, junk, sizeof junk - 1);
          close(c);
        } else {
          held.push_back(c);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (int i = 0; i < 2; ++i) {
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
  StartCanopy({absl::StrCat("http://127.0.0.1:", ports[0], "/api/v1/write"),
               absl::StrCat("http://127.0.0.1:", ports[1], "/api/v1/write")});
  auto metric = [&](int port) {
    auto r = server_->Client().Request("GET", "/metrics");
    std::string line = absl::StrCat(
        "canopy_remote_write_retried_total{url=\"http://127.0.0.1:", port,
        "/api/v1/write\"} ");
    if (!r.ok()) return -1.0;
    size_t at = r->body.find(line);
    if (at == std::string::npos) return -1.0;
    double v = -1;
    (void)absl::SimpleAtod(
        r->body.substr(at + line.size(),
                       r->body.find('\n', at) - at - line.size()),
        &v);
    return v;
  };
  // Pushes and reads stay quick while both senders are stuck.
  for (int i = 0; i < 5; ++i) {
    int64_t t0 = time(nullptr);
    absl::Time before = absl::Now();
    Push(absl::StrCat(R"({"stall": {"x": )", i, "}}"));
    auto r = server_->Client().Request("GET", "/get?key=stall");
    ASSERT_TRUE(r.ok());
    EXPECT_LT(absl::Now() - before, absl::Seconds(1));
    WaitFor([&] { return time(nullptr) > t0; }, absl::Seconds(3));
  }
  EXPECT_TRUE(WaitFor([&] { return metric(ports[0]) >= 2; }));
  EXPECT_TRUE(WaitFor([&] { return metric(ports[1]) >= 1; }));
  // History is written all the same.
  EXPECT_TRUE(WaitFor([&] { return Trend("stall,x", "last").size() >= 4; }));
  // And canopyd stops promptly with a transfer hanging.
  absl::Time before = absl::Now();
  EXPECT_EQ(server_->Stop(), 0);
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
  server_.reset();
  stop = true;
  responder.join();
  for (int c : held) close(c);
  close(garbage);
  close(hanging);
}

// Runs `argv` to its end; its stdout and stderr.
std::string RunToEnd(const std::vector<std::string>& argv,
                     const std::string& log) {
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = testing::Spawn(argv, -1, out, out);
  close(out);
  int status;
  if (pid > 0 && !WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                          absl::Seconds(30))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A Prometheus whose remote_read points at canopyd answers promtool's
// PromQL with canopy's history.
TEST_F(RemoteTest, PrometheusRemoteReadAnswersPromtoolWithCanopysValues) {
  std::string promtool = FindProgram("promtool");
  if (FindProgram("prometheus").empty() || promtool.empty()) {
    GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  }
  StartCanopy({});
  PushSome([&](const std::string& j) { Push(j); });
  // Once the windows are in canopy's history.
  Points cpu, hits;
  ASSERT_TRUE(WaitFor([&] {
    cpu = Trend("host,web1,cpu,user", "last");
    hits = Trend("hits,web1,get", "sum");
    return cpu.size() >= 2 && hits.size() >= 1 &&
           !Trend("host,web2,cpu,user", "last").empty();
  }));
  ASSERT_TRUE(StartPrometheus(
      absl::StrCat("http://127.0.0.1:", server_->http_port(), "/api/v1/read")));
  std::string prom = absl::StrCat("http://127.0.0.1:", prom_port_);
  // The newest gauge figure, by key.
  std::string out = RunToEnd({promtool, "query", "instant", prom,
                              R"(canopy_value{key="host,web1,cpu,user"})"},
                             dir_ + "/promtool.out");
  EXPECT_NE(out.find("=> 17.25 @"), std::string::npos) << out;
  // Grouped by a segment label.
  out = RunToEnd({promtool, "query", "instant", prom,
                  R"(sum by (s1) (canopy_value{s0="host",s2=~"cp.*"}))"},
                 dir_ + "/promtool.out");
  EXPECT_NE(out.find("{s1=\"web1\"} => 17.25 @"), std::string::npos) << out;
  EXPECT_NE(out.find("{s1=\"web2\"} => 0.125 @"), std::string::npos) << out;
  // A range: every window canopy has, at its own time.
  int64_t first = cpu.begin()->first / 1000;
  int64_t last = cpu.rbegin()->first / 1000;
  out = RunToEnd({promtool, "query", "range", "--start", absl::StrCat(first),
                  "--end", absl::StrCat(last), "--step", "1s", prom,
                  R"(canopy_value{key="host,web1,cpu,user"})"},
                 dir_ + "/promtool.out");
  for (const auto& [ms, v] : cpu) {
    EXPECT_NE(out.find(absl::StrCat(v, " @[", ms / 1000)), std::string::npos)
        << v << " at " << ms << " not in:\n"
        << out;
  }
  // What the counter added over the windows.
  out = RunToEnd({promtool, "query", "instant", prom,
                  R"(sum_over_time(canopy_increase{key="hits,web1,get"}[1h]))"},
                 dir_ + "/promtool.out");
  EXPECT_NE(out.find("=> 7 @"), std::string::npos) << out;
}

// Bad remote_read bodies: 400 with the reason, and canopyd serves on.
TEST_F(RemoteTest, RemoteReadRefusesWhatIsNotSnappyProtobuf) {
  StartCanopy({});
  HttpClient http = server_->Client();
  auto r = http.Request("POST", "/api/v1/read", "{\"queries\": []}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("snappy"), std::string::npos) << r->body;
  // Snappy, but not a ReadRequest (a varint field with no end).
  std::string junk("\x05\x10\xff\xff\xff\xff", 6);
  r = http.Request("POST", "/api/v1/read", junk);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  // Five bytes that claim four gigabytes once uncompressed.
  std::string huge("\xff\xff\xff\xff\x0f", 5);
  r = http.Request("POST", "/api/v1/read", huge);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  auto ok = http.Request("GET", "/healthz");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
}

// GET /metrics?key=K names the live leaves as remote_write names them:
// counters typed counter (_total), timers as summaries with quantiles, the
// segments beside key; promtool accepts it.
TEST_F(RemoteTest, MetricsKeyExportsCountersAndSummaries) {
  StartCanopy({});
  PushSome([&](const std::string& j) { Push(j); });
  auto r =
      server_->Client().Request("GET", "/metrics?key=hits&key=lat&key=host");
  ASSERT_TRUE(r.ok());
  const std::string& body = r->body;
  EXPECT_NE(body.find("# TYPE canopy_total counter\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("canopy_total{key=\"hits,web1,get\",s0=\"hits\","
                      "s1=\"web1\",s2=\"get\"} 7\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("# TYPE canopy_timer summary\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("canopy_timer{key=\"lat,web1,get\",quantile=\"0.5\","),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("canopy_value{key=\"host,web1,cpu,user\",s0=\"host\","
                      "s1=\"web1\",s2=\"cpu\",s3=\"user\"} 17.25\n"),
            std::string::npos)
      << body;
  std::string promtool = FindProgram("promtool");
  if (promtool.empty()) return;  // the rest needs promtool
  std::string in = dir_ + "/metrics.txt";
  {
    std::ofstream f(in);
    f << body;
  }
  std::string log = dir_ + "/promtool.out";
  int infd = open(in.c_str(), O_RDONLY | O_CLOEXEC);
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = testing::Spawn({promtool, "check", "metrics"}, infd, out, out);
  close(infd);
  close(out);
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                      absl::Seconds(30)));
  std::ifstream l(log);
  std::stringstream said;
  said << l.rdbuf();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "promtool check metrics says:\n"
      << said.str() << "\n/metrics was:\n"
      << body;
}

}  // namespace
}  // namespace canopy
