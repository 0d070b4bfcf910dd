// Memory with history on (issue 17), against the real canopyd: 200 000
// leaves whose windows history has written stay under a bound drawn from
// the goal (10 M leaves in 2 GB), a restart brings every leaf and its last
// windows back, and DELETE of half the tree gives memory back.
//
// RSS bounds are skipped in sanitized builds: freed memory stays in the
// sanitizer's quarantine, and its shadow memory is in RSS.
#include "canopy/memory.h"

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

uint64_t RssOf(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    absl::string_view v(line);
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      uint64_t kb = 0;
      EXPECT_TRUE(absl::SimpleAtoi(
          absl::StripSuffix(absl::StripAsciiWhitespace(v), " kB"), &kb));
      return kb * 1024;
    }
  }
  return 0;
}

class MemoryTest : public ::testing::Test {
 protected:
  static constexpr int kPerHost = 500;

  void Start(std::vector<std::string> flags, std::string dir = "") {
    flags.push_back("--expire=");
    auto s = testing::ServerProcess::Start(flags, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    auto r = server_->Client(120).Request(
        method, target, body, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpReply();
  }
  // `leaves` leaves under `top`: a third gauges, a third averages, a third
  // counters, kPerHost a host, each at value `round` + its number.
  void PushLeaves(const std::string& top, int leaves, int round) {
    const int hosts = leaves / kPerHost;
    const char* kinds[][2] = {{"g", "last"}, {"a", "avg"}, {"c", "add"}};
    for (int k = 0; k < 3; ++k) {
      for (int h0 = 0; h0 < hosts / 3; h0 += 20) {
        std::string body =
            absl::StrCat("{\"", top, "\":{\"", kinds[k][0], "\":{");
        for (int h = h0; h < std::min(h0 + 20, hosts / 3); ++h) {
          if (h > h0) body += ',';
          absl::StrAppend(&body, "\"", h, "\":{");
          for (int i = 0; i < kPerHost; ++i) {
            absl::StrAppend(&body, i ? "," : "", "\"", i, "\":", round + i);
          }
          body += '}';
        }
        absl::StrAppend(&body, "}},\"defaultaction\":\"", kinds[k][1], "\"}");
        HttpReply r = Request("POST", "/push", body);
        ASSERT_EQ(r.status, 200) << r.body;
      }
    }
  }
  // Waits until history has written `n` windows in all.
  bool AwaitWritten(double n) {
    return testing::WaitFor(
        [&] {
          return server_->Metric("canopy_trend_windows_written_total") >= n;
        },
        absl::Seconds(120));
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

// The goal is 2 GB for 10 M leaves, 200 bytes a leaf all in. At 200 000
// leaves RSS grows by 360 – 380 bytes a leaf once history holds two
// windows of each (the allocator's slack and LevelDB's small fixed part
// weigh more here than at 10 M leaves, where memory.sh measured 267); it
// took 635 at 1 M leaves before issue 17's changes. The bound, 2.5x the
// goal, fails such a regression and leaves room for a loaded machine.
TEST_F(MemoryTest, HistoryOfTwoHundredThousandLeavesStaysUnderTheBound) {
  if (kSanitized) GTEST_SKIP() << "RSS says nothing under a sanitizer";
  constexpr int kLeaves = 198000;  // 3 kinds x 132 hosts x 500
  // LevelDB's fixed amounts (memtables, cache) kept small: at 200 000
  // leaves the default 2 x 16 MB of memtables alone would be 160 bytes a
  // leaf, and at 10 M leaves 3.
  Start({"--retention=1s:1h,1m:1d", "--trend_write_buffer_mb=2",
         "--trend_cache_mb=2"});
  PushLeaves("warm", 3 * kPerHost, 0);
  ASSERT_TRUE(AwaitWritten(3 * kPerHost));
  const uint64_t base = RssOf(server_->pid());
  PushLeaves("mem", kLeaves, 1);
  ASSERT_TRUE(AwaitWritten(3 * kPerHost + kLeaves));
  // A second window of every leaf: known series, the state history keeps.
  PushLeaves("mem", kLeaves, 2);
  ASSERT_TRUE(AwaitWritten(3 * kPerHost + 2.0 * kLeaves));
  const uint64_t rss = RssOf(server_->pid());
  const double per_leaf = static_cast<double>(rss - base) / kLeaves;
  std::printf("RSS %llu -> %llu bytes: %.0f bytes a leaf\n",
              static_cast<unsigned long long>(base),
              static_cast<unsigned long long>(rss), per_leaf);
  EXPECT_LE(per_leaf, 2.5 * 200);
}

// Every leaf comes back after a clean stop, with its value and action, and
// history has the last windows of each.
TEST_F(MemoryTest, RestartBringsBackEveryLeafAndItsLastWindows) {
  constexpr int kLeaves = 99000;  // 3 kinds x 66 hosts x 500
  std::string dir = testing::MakeTempDir();
  Start({"--retention=1s:1h,1m:1d"}, dir);
  PushLeaves("r", kLeaves, 1);
  ASSERT_TRUE(AwaitWritten(kLeaves));
  PushLeaves("r", kLeaves, 7);
  // Gauges and counters: an average's live value depends on the clock
  // (its window may have ended by the time it is read again).
  const std::string kGet = "/get?key=r,g&key=r,c&limit=1000000";
  HttpReply before = Request("GET", kGet);
  ASSERT_EQ(before.status, 200);
  // canopyd's own figures are leaves too (canopy,...).
  const double leaves = server_->Metric("canopy_leaves");
  ASSERT_GE(leaves, kLeaves);
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();

  Start({"--retention=1s:1h,1m:1d"}, dir);
  EXPECT_EQ(server_->Metric("canopy_leaves"), leaves);
  HttpReply after = Request("GET", kGet);
  ASSERT_EQ(after.status, 200);
  // Every value alike (the seq may have moved on: canopyd writes its own
  // figures as leaves once a window).
  auto items = [](const std::string& body) {
    size_t at = body.find("\"items\"");
    return at == std::string::npos ? std::string() : body.substr(at);
  };
  ASSERT_FALSE(items(before.body).empty());
  EXPECT_TRUE(items(after.body) == items(before.body))
      << before.body.substr(0, 300) << "\n"
      << after.body.substr(0, 300);
  // Every leaf a series (the dictionary is read after the start).
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_trend_series") >= kLeaves; }));
  // The last windows of every series of a host of each kind: the second
  // push (7 + i), flushed at the stop, and the first (1 + i) before it.
  for (const char* kind : {"g", "a", "c"}) {
    HttpReply t = Request("GET", absl::StrCat("/trend?key=r,", kind,
                                              ",65&from=-10m&step=1"
                                              "&fn=max"));
    ASSERT_EQ(t.status, 200) << t.body;
    rapidjson::Document d;
    d.Parse(t.body.c_str());
    ASSERT_TRUE(d.IsObject()) << t.body;
    ASSERT_EQ(d["series"].Size(), static_cast<size_t>(kPerHost)) << kind;
    for (const auto& s : d["series"].GetArray()) {
      std::vector<std::string> parts =
          absl::StrSplit(s["key"].GetString(), ',');
      ASSERT_EQ(parts.size(), 4u);
      int i = 0;
      ASSERT_TRUE(absl::SimpleAtoi(parts[3], &i));
      const auto& points = s["points"];
      ASSERT_GE(points.Size(), 2u) << s["key"].GetString();
      EXPECT_EQ(points[0][1].GetDouble(), 1 + i) << s["key"].GetString();
      EXPECT_EQ(points[points.Size() - 1][1].GetDouble(), 7 + i)
          << s["key"].GetString();
    }
  }
  server_.reset();
  std::filesystem::remove_all(dir);
}

// DELETE of half the tree gives back most of what those leaves held.
TEST_F(MemoryTest, DeletingHalfTheTreeGivesMemoryBack) {
  if (kSanitized) GTEST_SKIP() << "RSS says nothing under a sanitizer";
  constexpr int kLeaves = 300000;  // 3 kinds x 200 hosts x 500
  Start({"--history=false"});
  const uint64_t base = RssOf(server_->pid());
  PushLeaves("d", kLeaves, 1);
  const uint64_t full = RssOf(server_->pid());
  ASSERT_GT(full, base);
  // The gauges and half the averages: half the leaves.
  ASSERT_EQ(Request("DELETE", "/api/q/d,g").status, 200);
  for (int h = 0; h < kLeaves / 3 / kPerHost / 2; ++h) {
    ASSERT_EQ(Request("DELETE", absl::StrCat("/api/q/d,a,", h)).status, 200);
  }
  EXPECT_LE(server_->Metric("canopy_leaves"), kLeaves / 2 + 100);
  // Given back on the next tick: at least 40 % of what the leaves took.
  uint64_t rss = full;
  bool fell = testing::WaitFor(
      [&] {
        rss = RssOf(server_->pid());
        return rss <= full - (full - base) * 2 / 5;
      },
      absl::Seconds(20));
  EXPECT_TRUE(fell) << "RSS " << base << " -> " << full << " -> " << rss;
}

}  // namespace
}  // namespace canopy
