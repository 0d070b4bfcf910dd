// The /proc parsers on captured samples: current and old kernels, odd
// interface names, counters that go backwards or wrap.
#include "agent/proc_parse.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy {
namespace agent {
namespace {

TEST(CounterDeltaTest, ForwardBackwardAndWrap) {
  EXPECT_EQ(CounterDelta(100, 250), 150u);
  EXPECT_EQ(CounterDelta(250, 250), 0u);
  // Went back (reboot, hot-plug, driver reload): clamped, never negative.
  EXPECT_EQ(CounterDelta(1000000, 10), 0u);
  EXPECT_EQ(CounterDelta(uint64_t{1} << 40, 5), 0u);
  // A 32-bit counter that wrapped near the top.
  EXPECT_EQ(CounterDelta(4294967290u, 10), 16u);
  EXPECT_EQ(CounterDelta(0xFFFFFFFFu, 0), 1u);
}

constexpr char kStat[] =
    "cpu  323176 1092 71269 211779 596 0 11353 180 0 0\n"
    "cpu0 156883 493 36246 109949 159 0 5780 87 0 0\n"
    "cpu1 166293 599 35023 101829 436 0 5572 93 0 0\n"
    "intr 3323127 0 0 0\n"
    "ctxt 1990473\n";

TEST(ProcStatTest, TotalAndCoresByNumber) {
  std::vector<CpuTimes> c = ParseProcStat(kStat);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].core, -1);
  EXPECT_EQ(c[0].ticks[0], 323176u);
  EXPECT_EQ(c[0].ticks[7], 180u);
  EXPECT_EQ(c[1].core, 0);
  EXPECT_EQ(c[2].core, 1);
  EXPECT_EQ(c[2].ticks[3], 101829u);
}

TEST(ProcStatTest, OfflineCoreKeepsTheNumbersOfTheOthers) {
  // cpu1 is offline: cpu2 must stay core 2, not become the second line.
  std::vector<CpuTimes> c = ParseProcStat(
      "cpu  30 0 30 300 0 0 0 0\ncpu0 10 0 10 100 0 0 0 0\n"
      "cpu2 20 0 20 200 0 0 0 0\n");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2].core, 2);
}

TEST(ProcStatTest, OldKernelWithFewerColumns) {
  // Linux 2.6.9: user nice system idle iowait irq softirq (no steal/guest).
  std::vector<CpuTimes> c = ParseProcStat(
      "cpu  1000 10 500 8000 300 20 170\n"
      "cpu0 1000 10 500 8000 300 20 170\n");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].ticks[6], 170u);
  EXPECT_EQ(c[0].ticks[7], 0u);
  EXPECT_EQ(c[0].Total(), 10000u);
  // Linux 2.4: four columns.
  c = ParseProcStat("cpu  1 2 3 4\n");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].Total(), 10u);
}

TEST(ProcStatTest, PercentsOfTheInterval) {
  CpuTimes a, b;
  a.ticks = {100, 0, 50, 800, 50, 0, 0, 0, 0, 0};
  b.ticks = {160, 0, 70, 900, 70, 0, 0, 0, 0, 0};  // +60 +20 +100 +20 = 200
  std::array<double, 9> p;
  ASSERT_TRUE(CpuPercents(a, b, &p));
  EXPECT_DOUBLE_EQ(p[0], 30);  // user
  EXPECT_DOUBLE_EQ(p[2], 10);  // system
  EXPECT_DOUBLE_EQ(p[3], 50);  // idle
  EXPECT_DOUBLE_EQ(p[4], 10);  // iowait
  EXPECT_DOUBLE_EQ(p[8], 40);  // percent = 100 - idle - iowait
  // guest is part of user already: it does not count twice.
  a.ticks[8] = 0;
  b.ticks[8] = 1000;
  ASSERT_TRUE(CpuPercents(a, b, &p));
  EXPECT_DOUBLE_EQ(p[0], 30);
}

TEST(ProcStatTest, CountersGoingBackwardsAreClamped) {
  CpuTimes a, b;
  a.ticks = {1000, 0, 500, 8000, 0, 0, 0, 0, 0, 0};
  b.ticks = {10, 0, 5, 8100, 0, 0, 0, 0, 0, 0};  // user/system reset (hotplug)
  std::array<double, 9> p;
  ASSERT_TRUE(CpuPercents(a, b, &p));
  for (double v : p) EXPECT_GE(v, 0);
  EXPECT_DOUBLE_EQ(p[3], 100);
  // No time at all: nothing to report.
  EXPECT_FALSE(CpuPercents(a, a, &p));
}

constexpr char kMeminfo[] =
    "MemTotal:       24684084 kB\n"
    "MemFree:        21766060 kB\n"
    "MemAvailable:   23953120 kB\n"
    "Buffers:           15304 kB\n"
    "Cached:          2288944 kB\n"
    "SwapCached:            0 kB\n"
    "SReclaimable:     181556 kB\n"
    "SwapTotal:       2097148 kB\n"
    "SwapFree:        1048574 kB\n"
    "HugePages_Total:       0\n";

TEST(MeminfoTest, UsedIsTotalMinusAvailable) {
  MemFigures m = ComputeMem(ParseMeminfo(kMeminfo));
  EXPECT_EQ(m.total, 24684084ull * 1024);
  EXPECT_EQ(m.available, 23953120ull * 1024);
  EXPECT_EQ(m.used, (24684084ull - 23953120ull) * 1024);
  EXPECT_EQ(m.free, 21766060ull * 1024);
  EXPECT_EQ(m.buffers, 15304ull * 1024);
  EXPECT_EQ(m.cached, (2288944ull + 181556ull) * 1024);
  EXPECT_NEAR(m.percent, 100.0 * 730964 / 24684084, 1e-9);
  EXPECT_EQ(m.swap_total, 2097148ull * 1024);
  EXPECT_EQ(m.swap_used, 1048574ull * 1024);
  EXPECT_NEAR(m.swap_percent, 50, 0.01);
}

TEST(MeminfoTest, OldKernelWithoutMemAvailable) {
  MemFigures m = ComputeMem(ParseMeminfo(
      "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"));
  EXPECT_EQ(m.available, 400u * 1024);
  EXPECT_EQ(m.used, 600u * 1024);
  EXPECT_EQ(m.swap_total, 0u);
  EXPECT_EQ(m.swap_percent, 0);
}

TEST(LoadUptimeTest, Parse) {
  double l[3];
  ASSERT_TRUE(ParseLoadavg("2.95 2.87 3.21 3/412 123456\n", l));
  EXPECT_DOUBLE_EQ(l[0], 2.95);
  EXPECT_DOUBLE_EQ(l[2], 3.21);
  EXPECT_FALSE(ParseLoadavg("garbage", l));
  double up;
  ASSERT_TRUE(ParseUptime("3386.09 6500.12\n", &up));
  EXPECT_DOUBLE_EQ(up, 3386.09);
}

constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  "
    "Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes "
    "   packets errs drop fifo colls carrier compressed\n"
    "    lo: 25348043256 60182292    0 2851    0     0          0         0 "
    "25348043256 60182292    0    0    0     0       0          0\n"
    "  eth0: 83083335    2290    1    2    0     0          0         0   "
    "149762    1474    3    4    0     0       0          0\n"
    "eth0:1:123 456 0 0 0 0 0 0 789 1011 0 0 0 0 0 0\n";

TEST(NetDevTest, SplitsAtTheLastColon) {
  std::vector<NetCounters> n = ParseNetDev(kNetDev);
  ASSERT_EQ(n.size(), 3u);
  EXPECT_EQ(n[0].iface, "lo");
  EXPECT_EQ(n[0].v[0], 25348043256u);
  EXPECT_EQ(n[0].v[6], 2851u);  // rx_dropped
  EXPECT_EQ(n[1].iface, "eth0");
  EXPECT_EQ(n[1].v[1], 149762u);  // tx_bytes
  EXPECT_EQ(n[1].v[2], 2290u);    // rx_packets
  EXPECT_EQ(n[1].v[4], 1u);       // rx_errors
  EXPECT_EQ(n[1].v[5], 3u);       // tx_errors
  EXPECT_EQ(n[1].v[7], 4u);       // tx_dropped
  // A colon in the name, and no space after the last colon.
  EXPECT_EQ(n[2].iface, "eth0:1");
  EXPECT_EQ(n[2].v[0], 123u);
  EXPECT_EQ(n[2].v[1], 789u);
}

TEST(NetDevTest, ThirtyTwoBitWrapGivesAPositiveRate) {
  // An old driver's 32-bit rx_bytes wrapping between two samples.
  std::vector<NetCounters> a =
      ParseNetDev("eth0: 4294967000 10 0 0 0 0 0 0 100 10 0 0 0 0 0 0\n");
  std::vector<NetCounters> b =
      ParseNetDev("eth0: 704 20 0 0 0 0 0 0 50 20 0 0 0 0 0 0\n");
  EXPECT_EQ(CounterDelta(a[0].v[0], b[0].v[0]), 1000u);
  // tx_bytes went back from 100 to 50 (a reset): clamped to 0.
  EXPECT_EQ(CounterDelta(a[0].v[1], b[0].v[1]), 0u);
}

constexpr char kDiskstats[] =
    "   7       0 loop0 10 0 80 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    " 254       0 vda 48000 100 2000000 5000 90000 2000 3000000 60000 0 0 0\n"
    " 254       1 vda1 47000 100 1990000 5000 89000 2000 2990000 60000 0 0 0\n"
    " 253       0 dm-0 100 0 800 0 100 0 800 0 0 0 0\n"
    "   9       0 md0 100 0 800 0 100 0 800 0 0 0 0\n"
    "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n";  // old 11-field format

TEST(DiskstatsTest, WholeDisksOnly) {
  std::vector<DiskCounters> d = ParseDiskstats(kDiskstats);
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(d[1].device, "vda");
  EXPECT_EQ(d[1].v[0], 2000000u * 512);  // read_bytes
  EXPECT_EQ(d[1].v[1], 3000000u * 512);  // write_bytes
  EXPECT_EQ(d[1].v[2], 48000u);          // reads
  EXPECT_EQ(d[1].v[3], 90000u);          // writes
  std::vector<std::string> sys_block = {"loop0", "vda", "dm-0", "md0", "sda"};
  std::vector<std::string> reported;
  for (const DiskCounters& c : d) {
    if (IsReportedDisk(c.device, sys_block)) reported.push_back(c.device);
  }
  EXPECT_EQ(reported, (std::vector<std::string>{"vda", "sda"}));
}

TEST(MountsTest, DecodesEscapesAndSkipsPseudoAndRemote) {
  std::vector<Mount> m = ParseMounts(
      "/dev/vda / ext4 rw,relatime 0 0\n"
      "proc /proc proc rw 0 0\n"
      "/dev/sdb1 /mnt/my\\040disk xfs rw 0 0\n"
      "srv:/export /data nfs4 rw 0 0\n"
      "tmpfs /run tmpfs rw 0 0\n");
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[2].mount_point, "/mnt/my disk");
  EXPECT_FALSE(IsSkippedFs(m[0].fs_type));
  EXPECT_TRUE(IsSkippedFs(m[1].fs_type));
  EXPECT_FALSE(IsSkippedFs(m[2].fs_type));
  EXPECT_TRUE(IsSkippedFs(m[3].fs_type));
  EXPECT_TRUE(IsSkippedFs(m[4].fs_type));
  EXPECT_TRUE(IsSkippedFs("cifs"));
  EXPECT_TRUE(IsSkippedFs("fuse.sshfs"));
}

TEST(PidStatTest, NamesWithSpacesAndParentheses) {
  PidStat s;
  ASSERT_TRUE(ParsePidStat(
      "4242 (my (odd) proc) R 1 4242 4242 0 -1 4194560 100 0 0 0 "
      "250 50 0 0 20 0 3 0 987654 104857600 2560 18446744073709551615 "
      "1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
      &s));
  EXPECT_EQ(s.pid, 4242);
  EXPECT_EQ(s.comm, "my (odd) proc");
  EXPECT_EQ(s.state, 'R');
  EXPECT_EQ(s.utime, 250u);
  EXPECT_EQ(s.stime, 50u);
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.start_time, 987654u);
  EXPECT_EQ(s.rss_pages, 2560);
  EXPECT_STREQ(ProcessStatusName(s.state), "running");
  EXPECT_FALSE(ParsePidStat("4242 (cut", &s));
  EXPECT_FALSE(ParsePidStat("", &s));
}

TEST(PidIoTest, Parse) {
  PidIo io;
  ASSERT_TRUE(ParsePidIo(
      "rchar: 100\nwchar: 200\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\n"
      "write_bytes: 8192\ncancelled_write_bytes: 0\n",
      &io));
  EXPECT_EQ(io.read_bytes, 4096u);
  EXPECT_EQ(io.write_bytes, 8192u);
  EXPECT_EQ(io.reads, 1u);
  EXPECT_EQ(io.writes, 2u);
  EXPECT_FALSE(ParsePidIo("rchar: 1\n", &io));
}

TEST(InfoTest, CpuinfoAndOsRelease) {
  std::string model;
  double mhz;
  ParseCpuinfo(
      "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2500.000\n\n"
      "processor\t: 1\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2700.000\n",
      &model, &mhz);
  EXPECT_EQ(model, "AMD EPYC");
  EXPECT_DOUBLE_EQ(mhz, 2600);
  ParseCpuinfo("processor\t: 0\nHardware\t: BCM2835\n", &model, &mhz);
  EXPECT_EQ(model, "BCM2835");
  EXPECT_EQ(mhz, 0);
  EXPECT_EQ(ParseOsRelease("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian "
                           "GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(ParseOsRelease("NAME=Alpine\nVERSION=3.19\n"), "Alpine 3.19");
}

TEST(CgroupTest, LimitsAndPath) {
  EXPECT_EQ(ParseCgroupBytes("536870912\n"), 536870912u);
  EXPECT_EQ(ParseCgroupBytes("max\n"), 0u);
  EXPECT_DOUBLE_EQ(ParseCgroupCpuMax("150000 100000\n"), 1.5);
  EXPECT_DOUBLE_EQ(ParseCgroupCpuMax("max 100000\n"), 0);
  EXPECT_EQ(ParseCgroupV2Path("4:memory:/x\n0::/system.slice/a.service\n"),
            "/system.slice/a.service");
  EXPECT_EQ(ParseCgroupV2Path("4:memory:/x\n"), "");
}

TEST(SafeSegmentTest, MakesOneSegment) {
  EXPECT_EQ(SafeSegment("web1"), "web1");
  EXPECT_EQ(SafeSegment("a,b\tc"), "a_b_c");
  EXPECT_EQ(SafeSegment(""), "_");
  EXPECT_EQ(SafeSegment("\xff\xfe"), "__");
  EXPECT_EQ(SafeSegment(std::string(300, 'x')).size(), 255u);
}

}  // namespace
}  // namespace agent
}  // namespace canopy
