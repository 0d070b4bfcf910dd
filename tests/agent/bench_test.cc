// The agent's machine benchmarks (agent/bench.h, agent/bench_kinds.h): each
// within its budget with sane figures and no file left behind; the net one
// against the real canopyd on loopback; a peer down or silent, a directory
// that cannot be used; SIGTERM and SIGKILL mid-benchmark; the baseline and
// the fall flag, with a real slowdown (a busy thread on the benchmark's
// core) and with a seeded baseline.
#include "agent/bench.h"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/bench_kinds.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_util.h"
#include "tests/server/harness.h"

namespace canopy {
namespace testing {
namespace {

using agent::BenchContext;
using agent::BenchFigures;

// The files in `dir` (names), or {"<missing>"}.
std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return {"<missing>"};
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  return out;
}

bool HasBenchFile(const std::string& dir) {
  for (const std::string& f : FilesIn(dir)) {
    if (absl::StartsWith(f, agent::kBenchFilePrefix)) return true;
  }
  return false;
}

double Figure(const BenchFigures& f, const std::string& name) {
  for (const agent::BenchFigure& x : f) {
    if (x.name == name) return x.value;
  }
  return -1;
}

// A sane figure: positive and finite.
void ExpectSane(const BenchFigures& f,
                std::initializer_list<const char*> names) {
  for (const char* n : names) {
    double v = Figure(f, n);
    EXPECT_TRUE(v > 0 && std::isfinite(v)) << n << " = " << v;
  }
}

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  BenchContext Ctx(absl::Duration budget) {
    BenchContext c;
    c.budget = budget;
    c.dir = dir_;
    return c;
  }
  // The time a benchmark may take beyond its budget on this shared,
  // loaded machine: a bound, not a measurement.
  static constexpr absl::Duration kSlack = absl::Seconds(3);
  std::string dir_;
};

TEST_F(BenchTest, CpuWithinBudget) {
  const absl::Duration budget = absl::Milliseconds(400);
  absl::Time t0 = absl::Now();
  absl::StatusOr<BenchFigures> f = agent::RunCpuBench(Ctx(budget));
  EXPECT_LT(absl::Now() - t0, budget + kSlack);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectSane(*f, {"single_mops", "multi_mops", "threads"});
  EXPECT_GE(Figure(*f, "threads"), 1);
}

TEST_F(BenchTest, SqliteWithinBudgetAndLeavesNoFile) {
  const absl::Duration budget = absl::Milliseconds(500);
  absl::Time t0 = absl::Now();
  absl::StatusOr<BenchFigures> f = agent::RunSqliteBench(Ctx(budget));
  EXPECT_LT(absl::Now() - t0, budget + kSlack);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectSane(*f, {"tps", "p99_ms", "transactions"});
  EXPECT_TRUE(FilesIn(dir_).empty()) << FilesIn(dir_)[0];
}

TEST_F(BenchTest, DiskWithinBudgetAndLeavesNoFile) {
  const absl::Duration budget = absl::Milliseconds(500);
  absl::Time t0 = absl::Now();
  absl::StatusOr<BenchFigures> f = agent::RunDiskBench(Ctx(budget));
  EXPECT_LT(absl::Now() - t0, budget + kSlack);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectSane(*f, {"fsync_ms", "write_mbps", "read_mbps"});
  EXPECT_TRUE(FilesIn(dir_).empty()) << FilesIn(dir_)[0];
}

TEST_F(BenchTest, UnusableDirectoryIsAnErrorWithNoFigures) {
  // A path under a regular file: every create fails (ENOTDIR), as on a
  // read-only or vanished disk; root cannot be kept out by permissions.
  std::string file = dir_ + "/file";
  std::ofstream(file) << "x";
  BenchContext c = Ctx(absl::Milliseconds(300));
  c.dir = file + "/sub";
  absl::StatusOr<BenchFigures> disk = agent::RunDiskBench(c);
  ASSERT_FALSE(disk.ok());
  EXPECT_TRUE(absl::StartsWith(disk.status().message(), "disk: "))
      << disk.status();
  absl::StatusOr<BenchFigures> sql = agent::RunSqliteBench(c);
  ASSERT_FALSE(sql.ok());
  EXPECT_TRUE(absl::StartsWith(sql.status().message(), "sqlite: "))
      << sql.status();
}

// A real full disk, then a real read-only one: a small tmpfs mounted for
// the test (skipped where the test may not mount, e.g. without
// CAP_SYS_ADMIN).
TEST_F(BenchTest, FullAndReadOnlyDisksAreErrorsWithNoFigures) {
  std::string mnt = dir_ + "/mnt";
  std::filesystem::create_directory(mnt);
  if (mount("canopy-bench-test", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {  // on every way out, before TearDown removes dir_
    std::string at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    std::ofstream fill(mnt + "/fill", std::ios::binary);
    std::string mib(1 << 20, 'f');
    for (int i = 0; i < 4 && fill; ++i) fill.write(mib.data(), mib.size());
  }
  BenchContext c = Ctx(absl::Milliseconds(300));
  c.dir = mnt;
  absl::StatusOr<BenchFigures> disk = agent::RunDiskBench(c);
  EXPECT_TRUE(absl::IsResourceExhausted(disk.status())) << disk.status();
  absl::StatusOr<BenchFigures> sql = agent::RunSqliteBench(c);
  EXPECT_FALSE(sql.ok());
  EXPECT_TRUE(absl::StartsWith(sql.status().message(), "sqlite: "))
      << sql.status();
  EXPECT_EQ(FilesIn(mnt), std::vector<std::string>{"fill"});

  ASSERT_EQ(unlink((mnt + "/fill").c_str()), 0);
  ASSERT_EQ(
      mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  disk = agent::RunDiskBench(c);
  EXPECT_TRUE(absl::StrContains(disk.status().message(), "Read-only"))
      << disk.status();
  sql = agent::RunSqliteBench(c);
  EXPECT_TRUE(absl::StartsWith(sql.status().message(), "sqlite: "))
      << sql.status();
  EXPECT_TRUE(FilesIn(mnt).empty());
}

TEST_F(BenchTest, StopEndsABenchmarkSoonWithNoFigures) {
  std::atomic<bool> stop{false};
  BenchContext c = Ctx(absl::Seconds(10));
  c.stop = &stop;
  absl::StatusOr<BenchFigures> f;
  absl::Time t0 = absl::Now();
  std::thread run([&] { f = agent::RunSqliteBench(c); });
  ASSERT_TRUE(WaitFor([&] { return HasBenchFile(dir_); }));
  stop = true;
  run.join();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(9));
  EXPECT_TRUE(absl::IsCancelled(f.status())) << f.status();
  EXPECT_TRUE(FilesIn(dir_).empty()) << FilesIn(dir_)[0];
}

TEST_F(BenchTest, NetAgainstCanopyd) {
  auto server = ServerProcess::Start({"--read_token=rt", "--write_token=wt"});
  ASSERT_TRUE(server.ok()) << server.status();
  BenchContext c = Ctx(absl::Seconds(1));
  c.peer = absl::StrCat("http://127.0.0.1:", (*server)->http_port());
  absl::StatusOr<BenchFigures> refused = agent::RunNetBench(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "token"))
      << refused.status();
  // One token for both ways: canopyd's read and write tokens may differ,
  // the peer URL carries one, so give the server the same for both.
  (*server).reset();
  server = ServerProcess::Start({"--read_token=t", "--write_token=t"});
  ASSERT_TRUE(server.ok()) << server.status();
  c.peer =
      absl::StrCat("http://127.0.0.1:", (*server)->http_port(), "/?token=t");
  absl::Time t0 = absl::Now();
  absl::StatusOr<BenchFigures> f = agent::RunNetBench(c);
  EXPECT_LT(absl::Now() - t0, c.budget + absl::Seconds(3) + kSlack);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectSane(*f, {"rtt_ms", "download_mbps", "upload_mbps"});
}

TEST_F(BenchTest, NetPeerDownIsAnError) {
  BenchContext c = Ctx(absl::Milliseconds(500));
  c.peer = absl::StrCat("http://127.0.0.1:", FreePort());
  absl::StatusOr<BenchFigures> f = agent::RunNetBench(c);
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(absl::StartsWith(f.status().message(), "net: rtt: "))
      << f.status();
}

TEST_F(BenchTest, NetSilentPeerTimesOutWithinTheBound) {
  // Listens (the kernel completes connections) but never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 64), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  BenchContext c = Ctx(absl::Milliseconds(600));
  c.peer = absl::StrCat("http://127.0.0.1:", ntohs(a.sin_port));
  absl::Time t0 = absl::Now();
  absl::StatusOr<BenchFigures> f = agent::RunNetBench(c);
  EXPECT_LT(absl::Now() - t0, c.budget + absl::Seconds(3) + kSlack);
  close(fd);
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(absl::StartsWith(f.status().message(), "net: ")) << f.status();
}

TEST(BaselinesTest, RecentMedianAgainstTheRunsBeforeKeptAcrossRestarts) {
  std::string dir = MakeTempDir();
  std::string path = dir + "/baseline.json";
  {
    agent::Baselines b(path, 4);
    for (double v : {10, 30, 20, 100, 5}) b.Add("cpu", "single_mops", v);
    // 3 recent runs but only 2 before them.
    EXPECT_FALSE(b.Judge("cpu", "single_mops").has_value());
    b.Add("cpu", "single_mops", 6);
    // Before: 10 30 20 -> 20; recent: 100 5 6 -> 6.
    ASSERT_TRUE(b.Judge("cpu", "single_mops").has_value());
    EXPECT_EQ(b.Judge("cpu", "single_mops")->baseline, 20);
    EXPECT_EQ(b.Judge("cpu", "single_mops")->recent, 6);
    for (double v : {50, 50, 50, 50, 7, 7}) b.Add("cpu", "single_mops", v);
    // 4 + 3 kept: 6 50 50 50 | 50 7 7.
    EXPECT_EQ(b.Judge("cpu", "single_mops")->baseline, 50);
    EXPECT_EQ(b.Judge("cpu", "single_mops")->recent, 7);
    ASSERT_TRUE(b.Save().ok());
  }
  agent::Baselines again(path, 4);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Judge("cpu", "single_mops")->baseline, 50);
  EXPECT_FALSE(again.Judge("disk", "read_mbps").has_value());
  std::ofstream(path) << "{not json";
  EXPECT_FALSE(again.Load().ok());
  EXPECT_FALSE(again.Judge("cpu", "single_mops").has_value());
  std::filesystem::remove_all(dir);
}

// --- the agent binary ------------------------------------------------------

const rapidjson::Value* Bench(const rapidjson::Document& d,
                              std::initializer_list<const char*> keys) {
  const rapidjson::Value* b = Path(HostBody(d, "h"), {"bench"});
  return Path(b, keys);
}

TEST_F(BenchTest, OncePrintsEveryBenchmarkWithTheTree) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  RunResult r = RunAgentBinary(
      {"--once", "--host=h", "--interval=100ms", "--bench=cpu,sqlite,disk,net",
       "--bench_budget=300ms", "--bench_dir=" + dir_,
       absl::StrCat("--bench_peer=http://127.0.0.1:", (*server)->http_port())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  ASSERT_NE(Path(HostBody(d, "h"), {"mem", "total"}), nullptr) << r.out;
  for (const char* kind : {"cpu", "sqlite", "disk", "net"}) {
    EXPECT_EQ(Num(Bench(d, {kind, "ok"})), 1) << kind << " " << r.out;
    EXPECT_EQ(Bench(d, {kind, "error"}), nullptr) << kind;
    EXPECT_GE(Num(Bench(d, {kind, "fall_percent"})), 0) << kind;
  }
  EXPECT_GT(Num(Bench(d, {"cpu", "single_mops"})), 0);
  EXPECT_GT(Num(Bench(d, {"sqlite", "tps"})), 0);
  EXPECT_GT(Num(Bench(d, {"disk", "read_mbps"})), 0);
  EXPECT_GT(Num(Bench(d, {"net", "upload_mbps"})), 0);
  EXPECT_EQ(Num(Bench(d, {"degraded"})), 0);
  // Only the baseline stays in the directory.
  EXPECT_EQ(FilesIn(dir_), std::vector<std::string>{"baseline.json"});
}

TEST_F(BenchTest, PeerDownIsAnErrorLeafAndCollectionGoesOn) {
  RunResult r = RunAgentBinary(
      {"--once", "--host=h", "--interval=100ms", "--bench=net",
       "--bench_budget=300ms", "--bench_dir=" + dir_,
       absl::StrCat("--bench_peer=http://127.0.0.1:", FreePort())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  ASSERT_NE(Path(HostBody(d, "h"), {"mem", "total"}), nullptr) << r.out;
  EXPECT_EQ(Num(Bench(d, {"net", "ok"})), 0) << r.out;
  const rapidjson::Value* e = Bench(d, {"net", "error"});
  ASSERT_TRUE(e != nullptr && e->IsString()) << r.out;
  EXPECT_TRUE(absl::StartsWith(e->GetString(), "net: ")) << e->GetString();
  EXPECT_EQ(Bench(d, {"net", "download_mbps"}), nullptr);
  EXPECT_EQ(Bench(d, {"net", "fall_percent"}), nullptr);
  EXPECT_TRUE(absl::StrContains(r.err, "net: ")) << r.err;
}

TEST_F(BenchTest, BadFlagsAreOneLine) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--bench=cpu,gpu"},
        {"--bench=net"},
        {"--bench=cpu", "--bench_interval=1s"},
        {"--bench=cpu", "--bench_budget=1m"},
        {"--bench=cpu", "--bench_fall_percent=0"}}) {
    args.push_back("--once");
    RunResult r = RunAgentBinary(args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_TRUE(absl::StrContains(r.err, "--bench")) << r.err;
  }
}

// Runs the agent in its loop with a long sqlite benchmark and waits until
// the database file exists; returns the agent's pid (or -1).
pid_t StartLongSqlite(const std::string& dir) {
  pid_t pid =
      Spawn({BinPath("canopy-agent"), "--host=h", "--interval=30s",
             "--bench=sqlite", "--bench_budget=10s", "--bench_dir=" + dir,
             absl::StrCat("--server=udp://127.0.0.1:", FreePort())});
  if (pid <= 0) return -1;
  if (!WaitFor([&] { return HasBenchFile(dir); }, absl::Seconds(20))) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

TEST_F(BenchTest, SigtermMidBenchmarkLeavesNothingBehind) {
  pid_t pid = StartLongSqlite(dir_);
  ASSERT_GT(pid, 0);
  absl::Time t0 = absl::Now();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // It gave up the 10 s benchmark rather than finishing it.
  EXPECT_LT(absl::Now() - t0, absl::Seconds(8));
  EXPECT_FALSE(HasBenchFile(dir_));
  EXPECT_TRUE(FilesIn(dir_).empty()) << FilesIn(dir_)[0];  // no baseline
}

TEST_F(BenchTest, SigkillMidBenchmarkIsCleanedByTheNextStart) {
  pid_t pid = StartLongSqlite(dir_);
  ASSERT_GT(pid, 0);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(HasBenchFile(dir_));
  RunResult r =
      RunAgentBinary({"--once", "--host=h", "--interval=100ms", "--bench=cpu",
                      "--bench_budget=100ms", "--bench_dir=" + dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(HasBenchFile(dir_));
  EXPECT_TRUE(absl::StrContains(r.err, "an earlier run left")) << r.err;
}

// The agent's cpu figures in `once` output, and the fall flags.
struct CpuRun {
  double single = -1, fall = -1, degraded = -1, baseline = -1, recent = -1;
};
CpuRun RunCpuOnce(const std::string& dir) {
  RunResult r =
      RunAgentBinary({"--once", "--host=h", "--interval=100ms", "--bench=cpu",
                      "--bench_budget=300ms", "--bench_dir=" + dir});
  rapidjson::Document d = ParseOnce(r);
  CpuRun c;
  c.single = Num(Bench(d, {"cpu", "single_mops"}));
  c.fall = Num(Bench(d, {"cpu", "fall_percent"}));
  c.degraded = Num(Bench(d, {"degraded"}));
  c.baseline = Num(Bench(d, {"cpu", "baseline", "single_mops"}));
  c.recent = Num(Bench(d, {"cpu", "recent", "single_mops"}));
  return c;
}

TEST_F(BenchTest, SeededBaselineAboveTheFiguresIsAFall) {
  std::ofstream(dir_ + "/baseline.json")
      << "{\"cpu\":{\"single_mops\":[1e9,1e9,1e9,1,1],"
         "\"multi_mops\":[1e9,1e9,1e9,1,1]}}";
  CpuRun c = RunCpuOnce(dir_);
  EXPECT_EQ(c.baseline, 1e9);
  EXPECT_GT(c.fall, 99);
  EXPECT_EQ(c.degraded, 1);
}

TEST_F(BenchTest, BusyThreadBesideTheCpuBenchmarkIsAFall) {
  // The test's thread (and so the agents it starts) and a busy thread on
  // one core: the benchmark runs at nice 19, the busy thread at nice 0,
  // so it gets a small share of that core (CFS weights 15 and 1024).
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
  int core = 0;
  while (!CPU_ISSET(core, &mine)) ++core;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(core, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  CpuRun base;
  for (int i = 0; i < 3; ++i) {
    base = RunCpuOnce(dir_);
    ASSERT_GT(base.single, 0);
  }
  std::atomic<bool> busy{true};
  std::thread spinner([&] {
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    volatile uint64_t x = 0;
    while (busy.load(std::memory_order_relaxed)) x = x + 1;
  });
  // Three slow runs: a fall is judged on the median of the last three.
  CpuRun slow;
  for (int i = 0; i < 3; ++i) slow = RunCpuOnce(dir_);
  busy = false;
  spinner.join();
  sched_setaffinity(0, sizeof mine, &mine);
  EXPECT_GT(slow.baseline, 0);
  EXPECT_LT(slow.recent, slow.baseline);
  EXPECT_GT(slow.fall, 25) << slow.recent << " vs " << slow.baseline;
  EXPECT_EQ(slow.degraded, 1);
}

}  // namespace
}  // namespace testing
}  // namespace canopy
