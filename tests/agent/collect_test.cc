// The collectors on this machine, checked against independent sources
// (/proc read by the test, statvfs, df, a child process with a known load),
// and the pieces around them: the hanging statvfs, the UDP split, the spool.
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/agent.h"
#include "agent/disks.h"
#include "agent/json.h"
#include "agent/proc_parse.h"
#include "agent/processes.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "canopy/mutex.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_util.h"

namespace canopy {
namespace agent {
namespace {

using ::canopy::testing::HostBody;
using ::canopy::testing::RunAgentBinary;
using ::canopy::testing::RunResult;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t MeminfoKb(const std::string& field) {
  for (absl::string_view line :
       absl::StrSplit(ReadFile("/proc/meminfo"), '\n')) {
    if (absl::ConsumePrefix(&line, field + ":")) {
      std::vector<absl::string_view> f =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      uint64_t v = 0;
      if (!f.empty() && absl::SimpleAtoi(f[0], &v)) return v;
    }
  }
  return 0;
}

// Runs `canopy-agent --once` and parses its tree.
rapidjson::Document Once(const std::vector<std::string>& extra,
                         const std::string& host = "t") {
  std::vector<std::string> args = {"--once", "--host=" + host};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = RunAgentBinary(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  EXPECT_FALSE(d.HasParseError()) << r.out;
  return d;
}

TEST(AccuracyTest, MemoryMatchesProcMeminfo) {
  rapidjson::Document d = Once({"--interval=200ms"});
  const rapidjson::Value* h = HostBody(d, "t");
  ASSERT_NE(h, nullptr);
  const rapidjson::Value& mem = (*h)["mem"];
  uint64_t total = MeminfoKb("MemTotal") * 1024;
  uint64_t avail = MeminfoKb("MemAvailable") * 1024;
  EXPECT_EQ(mem["total"].GetUint64(), total);
  // MemAvailable moves a little between the two readings: within 2 %.
  EXPECT_NEAR(mem["available"].GetDouble(), avail, total * 0.02);
  EXPECT_EQ(mem["used"].GetUint64(),
            mem["total"].GetUint64() - mem["available"].GetUint64());
  EXPECT_NEAR(mem["percent"].GetDouble(),
              100.0 * mem["used"].GetDouble() / mem["total"].GetDouble(), 0.01);
  EXPECT_STREQ(mem["defaultaction"].GetString(), "last");
  EXPECT_EQ((*h)["swap"]["total"].GetUint64(), MeminfoKb("SwapTotal") * 1024);
  // The other keys of API.md are there.
  for (const char* k : {"cpu", "load", "info", "net", "disk", "proc"}) {
    EXPECT_TRUE(h->HasMember(k)) << k;
  }
  EXPECT_TRUE(h->HasMember("uptime"));
  EXPECT_STREQ((*h)["cpu"]["defaultaction"].GetString(), "avg");
  for (const char* k : {"1", "5", "15"}) EXPECT_TRUE((*h)["load"].HasMember(k));
  for (const char* k : {"hostname", "os", "kernel", "arch", "cores"}) {
    EXPECT_TRUE((*h)["info"].HasMember(k)) << k;
  }
  EXPECT_EQ((*h)["info"]["cores"].GetInt(), sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(AccuracyTest, RootDiskMatchesStatvfsAndDf) {
  rapidjson::Document d = Once({"--interval=200ms"});
  const rapidjson::Value* h = HostBody(d, "t");
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE((*h)["disk"].HasMember("/")) << canopy::agent::ToJson(d);
  const rapidjson::Value& root = (*h)["disk"]["/"];
  struct statvfs st;
  ASSERT_EQ(statvfs("/", &st), 0);
  uint64_t total = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  uint64_t used = static_cast<uint64_t>(st.f_blocks - st.f_bfree) * st.f_frsize;
  uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  EXPECT_EQ(root["total"].GetUint64(), total);
  // Others write to this disk meanwhile: within 0.5 % of the size.
  EXPECT_NEAR(root["used"].GetDouble(), used, total * 0.005);
  EXPECT_NEAR(root["free"].GetDouble(), avail, total * 0.005);

  // df -B1 /: Filesystem 1B-blocks Used Available Use% Mounted on
  FILE* p = popen("df -B1 / 2>/dev/null | tail -1", "r");
  ASSERT_NE(p, nullptr);
  char line[1024] = {};
  ASSERT_NE(fgets(line, sizeof line, p), nullptr);
  pclose(p);
  std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  ASSERT_GE(f.size(), 5u) << line;
  uint64_t df_total, df_used, df_avail;
  ASSERT_TRUE(absl::SimpleAtoi(f[1], &df_total));
  ASSERT_TRUE(absl::SimpleAtoi(f[2], &df_used));
  ASSERT_TRUE(absl::SimpleAtoi(f[3], &df_avail));
  EXPECT_EQ(root["total"].GetUint64(), df_total);
  EXPECT_NEAR(root["used"].GetDouble(), df_used, total * 0.005);
  EXPECT_NEAR(root["free"].GetDouble(), df_avail, total * 0.005);
  int df_pct = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripSuffix(f[4], "%"), &df_pct));
  EXPECT_NEAR(root["percent"].GetDouble(), df_pct, 1.0);  // df rounds up
  // Pseudo file systems are not disks.
  for (const char* pseudo : {"/proc", "/sys", "/dev", "/dev/shm"}) {
    EXPECT_FALSE((*h)["disk"].HasMember(pseudo)) << pseudo;
  }
}

// A child that busy-loops pinned to one core, named `name`, holding `bytes`
// of touched memory. Killed by the destructor.
class BusyChild {
 public:
  BusyChild(const char* name, int core, size_t bytes) {
    pid_ = fork();
    if (pid_ == 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(core, &set);
      sched_setaffinity(0, sizeof set, &set);
      prctl(PR_SET_NAME, name);
      // mmap, not malloc: after fork() in a threaded test the allocator's
      // lock may be held by a thread that does not exist here.
      char* mem =
          static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      memset(mem, 1, bytes);
      volatile uint64_t x = 0;
      while (true) x = x + mem[x % bytes];
    }
  }
  ~BusyChild() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// utime + stime of `pid` in seconds, read by the test.
double CpuSeconds(pid_t pid) {
  std::string s = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  PidStat st;
  if (!ParsePidStat(s, &st)) return 0;
  return static_cast<double>(st.utime + st.stime) / sysconf(_SC_CLK_TCK);
}

uint64_t VmRssBytes(pid_t pid) {
  std::string s = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(s, '\n')) {
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      uint64_t kb = 0;
      absl::SimpleAtoi(
          absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kb);
      return kb * 1024;
    }
  }
  return 0;
}

TEST(AccuracyTest, BusyChildOnOneCoreAndWatchedByName) {
  int core = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1;
  constexpr size_t kBytes = 64 << 20;
  BusyChild child("canopybusy", core, kBytes);
  // Its memory touched (the memset done).
  ASSERT_TRUE(::canopy::testing::WaitFor(
      [&] { return VmRssBytes(child.pid()) >= kBytes; }));
  double cpu0 = CpuSeconds(child.pid());
  auto t0 = std::chrono::steady_clock::now();
  rapidjson::Document d =
      Once({"--interval=2s", "--watch=canopybusy", "--top_n=0"});
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  double independent = 100 * (CpuSeconds(child.pid()) - cpu0) / wall;
  const rapidjson::Value* h = HostBody(d, "t");
  ASSERT_NE(h, nullptr);

  // The pinned core is busy: at least 80 % (it is ~100 % busy whoever else
  // runs there, the child included).
  std::string n = absl::StrCat(core);
  ASSERT_TRUE((*h)["cpu"]["core"].HasMember(n.c_str()));
  const rapidjson::Value& c = (*h)["cpu"]["core"][n.c_str()];
  EXPECT_GE(c["percent"].GetDouble(), 80) << ToJson(c);
  double sum = 0;
  for (const char* k : {"user", "nice", "system", "idle", "iowait", "irq",
                        "softirq", "steal"}) {
    sum += c[k].GetDouble();
  }
  EXPECT_NEAR(sum, 100, 0.1);

  // Found by --watch, keyed by name and pid.
  std::string key = absl::StrCat("canopybusy-", child.pid());
  ASSERT_TRUE((*h)["proc"].HasMember(key.c_str())) << ToJson((*h)["proc"]);
  const rapidjson::Value& p = (*h)["proc"][key.c_str()];
  EXPECT_EQ(p["pid"].GetInt(), child.pid());
  EXPECT_STREQ(p["status"].GetString(), "running");
  EXPECT_EQ(p["threads"].GetInt(), 1);
  EXPECT_TRUE(p.HasMember("user"));
  // cpu of one core, against the test's own reading over a slightly longer
  // window: within 20 points, and clearly busy.
  EXPECT_GE(p["cpu_percent"].GetDouble(), 40);
  EXPECT_NEAR(p["cpu_percent"].GetDouble(), independent, 20)
      << "independent " << independent;
  // rss: the touched 64 MiB, as /proc/PID/status says (within 5 %).
  double rss = p["rss"].GetDouble();
  EXPECT_GE(rss, kBytes);
  EXPECT_NEAR(rss, VmRssBytes(child.pid()), VmRssBytes(child.pid()) * 0.05);
  EXPECT_NEAR(p["memory_percent"].GetDouble(),
              100 * rss / (*h)["mem"]["total"].GetDouble(), 0.01);
  // --top_n=0: only the watched.
  EXPECT_EQ((*h)["proc"].MemberCount(), 2u);  // it and "defaultaction"
}

TEST(AccuracyTest, AnonymizedProcessesHaveNoNames) {
  BusyChild child("canopysecret", 0, 1 << 20);
  ASSERT_TRUE(::canopy::testing::WaitFor([&] {  // named (prctl done)
    return ReadFile(absl::StrCat("/proc/", child.pid(), "/comm")) ==
           "canopysecret\n";
  }));
  RunResult r = RunAgentBinary({"--once", "--host=t", "--interval=300ms",
                                "--watch=canopysecret", "--anonymize"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("canopysecret"), std::string::npos);
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  const rapidjson::Value& procs = (*HostBody(d, "t"))["proc"];
  PidStat st;
  ASSERT_TRUE(ParsePidStat(
      ReadFile(absl::StrCat("/proc/", child.pid(), "/stat")), &st));
  std::string key = absl::StrCat(child.pid(), "-", st.start_time);
  ASSERT_TRUE(procs.HasMember(key.c_str())) << r.out;
  EXPECT_FALSE(procs[key.c_str()].HasMember("user"));
}

TEST(WatchTest, LongNamesMatchTheKernelsFifteenBytes) {
  EXPECT_TRUE(WatchMatches("nginx", "nginx"));
  EXPECT_FALSE(WatchMatches("nginx", "nginx-debug"));
  EXPECT_TRUE(WatchMatches("systemd-journald-extra", "systemd-journal"));
  EXPECT_FALSE(WatchMatches("systemd", "systemd-journal"));
}

TEST(DiskCollectorTest, HangingStatvfsIsSkippedNotWaitedFor) {
  std::string mounts = ::canopy::testing::MakeTempDir() + "/mounts";
  std::ofstream(mounts) << "/dev/vda / ext4 rw 0 0\n"
                           "srv:/x /hang ext4 rw 0 0\n"
                           "/dev/vdb /data ext4 rw 0 0\n";
  Notification release;
  std::atomic<int> hang_calls{0};
  StatFsFn fake = [&](const std::string& path, struct statvfs* st) {
    if (path == "/hang") {
      ++hang_calls;
      release.WaitForNotification();
    }
    memset(st, 0, sizeof *st);
    st->f_frsize = 4096;
    st->f_blocks = 1000;
    st->f_bfree = 400;
    st->f_bavail = 300;
    return 0;
  };
  ErrorLog log;
  DiskCollector disks(&log, absl::Milliseconds(100), mounts, fake);
  for (int round = 0; round < 3; ++round) {
    rapidjson::Document d;
    d.SetObject();
    auto t0 = std::chrono::steady_clock::now();
    disks.Collect(&d, d.GetAllocator());
    auto took = std::chrono::steady_clock::now() - t0;
    // One timeout at most, and only in the first round.
    EXPECT_LT(took, std::chrono::milliseconds(round == 0 ? 500 : 50));
    ASSERT_TRUE(d.HasMember("disk"));
    EXPECT_TRUE(d["disk"].HasMember("/"));
    EXPECT_TRUE(d["disk"].HasMember("/data"));
    EXPECT_FALSE(d["disk"].HasMember("/hang"));
    EXPECT_EQ(d["disk"]["/"]["total"].GetUint64(), 4096000u);
    EXPECT_EQ(d["disk"]["/"]["used"].GetUint64(), 600u * 4096);
    EXPECT_EQ(d["disk"]["/"]["free"].GetUint64(), 300u * 4096);
    EXPECT_NEAR(d["disk"]["/"]["percent"].GetDouble(), 66.667, 0.01);
  }
  EXPECT_EQ(hang_calls, 1);  // not asked again while the call hangs
  EXPECT_EQ(disks.hung(), 1);
  EXPECT_GE(log.errors(), 1);
  release.Notify();
  // Back once the hung call returned.
  EXPECT_TRUE(::canopy::testing::WaitFor([&] {
    rapidjson::Document d;
    d.SetObject();
    disks.Collect(&d, d.GetAllocator());
    return d.HasMember("disk") && d["disk"].HasMember("/hang");
  }));
  EXPECT_EQ(disks.hung(), 0);
}

TEST(SplitTreeTest, SmallTreeIsOnePiece) {
  rapidjson::Document d;
  d.Parse(R"({"host":{"h":{"mem":{"total":1}}},"time":5})");
  int over = 0;
  std::vector<std::string> p = SplitTree(d, 60000, &over);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], R"({"host":{"h":{"mem":{"total":1}}},"time":5})");
}

TEST(SplitTreeTest, LargeTreeSplitsBySubtreeUnderTheLimit) {
  rapidjson::Document d;
  d.SetObject();
  JsonAlloc& a = d.GetAllocator();
  rapidjson::Value& h = Child(Child(d, "host", a), "h", a);
  SetText(Child(h, "agent", a), "defaultaction", "last", a);
  SetInt(Child(h, "agent", a), "seq", 7, a);
  rapidjson::Value& proc = Child(h, "proc", a);
  SetText(proc, "defaultaction", "last", a);
  for (int i = 0; i < 3000; ++i) {
    rapidjson::Value& p = Child(proc, absl::StrCat("process-name-", i), a);
    SetInt(p, "rss", 123456789, a);
    SetInt(p, "pid", i, a);
  }
  SetNumber(d, "time", 1700000000, a);
  int over = 0;
  std::vector<std::string> pieces = SplitTree(d, 20000, &over);
  EXPECT_EQ(over, 0);
  ASSERT_GT(pieces.size(), 3u);
  int procs = 0, seqs = 0;
  for (const std::string& s : pieces) {
    EXPECT_LE(s.size(), 20000u);
    rapidjson::Document p;
    p.Parse(s.c_str());
    ASSERT_FALSE(p.HasParseError());
    EXPECT_EQ(p["time"].GetDouble(), 1700000000);
    const rapidjson::Value& b = p["host"]["h"];
    if (b.HasMember("agent")) seqs += b["agent"].HasMember("seq");
    if (b.HasMember("proc")) {
      EXPECT_STREQ(b["proc"]["defaultaction"].GetString(), "last");
      procs += b["proc"].MemberCount() - 1;
    }
  }
  EXPECT_EQ(procs, 3000);
  EXPECT_EQ(seqs, 1);  // the sequence number is sent once per push
}

TEST(ServerAddressTest, Parse) {
  absl::StatusOr<ServerAddress> a = ParseServerAddress("udp://127.0.0.1:8125");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->scheme, ServerAddress::Scheme::kUdp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8125);
  a = ParseServerAddress("tcp://metrics.example:2004");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->scheme, ServerAddress::Scheme::kTcp);
  EXPECT_EQ(a->port, 2004);
  a = ParseServerAddress("http://[::1]");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 7575);
  EXPECT_FALSE(ParseServerAddress("ftp://x:1").ok());
  EXPECT_FALSE(ParseServerAddress("udp://x:99999").ok());
  EXPECT_FALSE(ParseServerAddress("udp://:1").ok());
}

TEST(SpoolTest, BoundedOldestDroppedAndReopened) {
  std::string dir = ::canopy::testing::MakeTempDir() + "/spool";
  {
    Spool s(dir, 100);
    ASSERT_TRUE(s.Open().ok());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(
          s.Push(absl::StrCat("record-", i, std::string(20, 'x'))).ok());
    }
    // 5 x 28 bytes > 100: the two oldest went.
    EXPECT_EQ(s.size(), 3u);
    EXPECT_EQ(s.dropped(), 2u);
    EXPECT_EQ(s.bytes(), 84u);
    EXPECT_FALSE(s.Push(std::string(101, 'y')).ok());  // larger than the bound
  }
  Spool s(dir, 100);
  ASSERT_TRUE(s.Open().ok());  // what the last run left, in order
  std::string r;
  for (int i = 2; i < 5; ++i) {
    ASSERT_TRUE(s.Front(&r));
    EXPECT_TRUE(absl::StartsWith(r, absl::StrCat("record-", i))) << r;
    s.PopFront();
  }
  EXPECT_FALSE(s.Front(&r));
  EXPECT_EQ(s.bytes(), 0u);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

}  // namespace
}  // namespace agent
}  // namespace canopy
