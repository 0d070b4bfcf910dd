// /trend, snapshots and markers against the real canopyd: dated pushes
// read back, clean stops, kills and restarts.
#include <event2/event.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/trend/store.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

class TrendServerTest : public ::testing::Test {
 protected:
  void Start(std::string dir = "") {
    auto s = testing::ServerProcess::Start({"--retention=10s:2d,1m:30d"}, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  HttpReply Get(const std::string& target) {
    auto r = server_->Client().Request("GET", target);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : HttpReply();
  }
  void Push(const std::string& json) {
    auto r = server_->Client().Request("POST", "/push", json,
                                       {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(TrendServerTest, DatedPushesComeBackFromTrendAsJsonAndCsv) {
  Start();
  int64_t now = time(nullptr);
  int64_t base = now - now % 60 - 3600;  // an hour ago, on a minute
  for (int i = 0; i < 6; ++i) {
    Push(absl::StrCat(R"({"time": )", base + i * 60, R"(, "srv": {"a": )", i,
                      R"(, "b": )", 10 * i, "}}"));
  }
  // The dated windows were handed over at once: query until they show.
  std::string target = absl::StrCat("/trend?key=srv&from=", base,
                                    "&to=", base + 359, "&step=60&fn=max");
  rapidjson::Document d;
  testing::WaitFor([&] {
    HttpReply r = Get(target);
    EXPECT_EQ(r.status, 200) << r.body;
    d.Parse(r.body.c_str());
    return d.IsObject() && d["series"].Size() == 2 &&
           d["series"][1]["points"].Size() == 6;
  });
  ASSERT_EQ(d["series"].Size(), 2u);
  EXPECT_EQ(d["step"].GetInt(), 60);
  EXPECT_STREQ(d["series"][0]["key"].GetString(), "srv,a");
  ASSERT_EQ(d["series"][1]["points"].Size(), 6u);
  EXPECT_EQ(d["series"][1]["points"][5][0].GetInt64(), base + 300);
  EXPECT_EQ(d["series"][1]["points"][5][1].GetDouble(), 50);

  HttpReply csv = Get(target + "&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.Header("content-type").substr(0, 8), "text/csv");
  std::vector<std::string> lines =
      absl::StrSplit(csv.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "time,\"srv,a\",\"srv,b\"");
  EXPECT_EQ(lines[6], absl::StrCat(base + 300, ",5,50"));

  // CSV numbers as the JSON writes them: 9.78, not 9.7799999999999994.
  Push(absl::StrCat(R"({"time": )", base, R"(, "dec": {"x": 9.78}})"));
  std::string dec = absl::StrCat("/trend?key=dec,x&from=", base,
                                 "&to=", base + 59, "&step=60&format=csv");
  HttpReply dec_csv;
  EXPECT_TRUE(testing::WaitFor([&] {
    dec_csv = Get(dec);
    return std::count(dec_csv.body.begin(), dec_csv.body.end(), '\n') >= 2;
  }));
  EXPECT_EQ(dec_csv.body, absl::StrCat("time,\"dec,x\"\n", base, ",9.78\n"));
}

TEST_F(TrendServerTest, BadQueriesGetClearErrors) {
  Start();
  EXPECT_EQ(Get("/trend").status, 400);
  EXPECT_EQ(Get("/trend?key=a&from=yesterday").status, 400);
  EXPECT_EQ(Get("/trend?key=a&step=-5").status, 400);
  EXPECT_EQ(Get("/trend?key=a&fn=median").status, 400);
  EXPECT_EQ(Get("/trend?key=a&from=now&to=-1h").status, 400);
  HttpReply empty = Get("/trend?key=never,seen&from=-1h");
  EXPECT_EQ(empty.status, 200);
  EXPECT_NE(empty.body.find("\"series\":[]"), std::string::npos);
}

TEST_F(TrendServerTest, ACleanStopLosesNothing) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  Push(R"({"keep": {"x": 42}})");
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  Start(dir);
  // The open window was flushed at the stop: history has it right away.
  HttpReply r = Get("/trend?key=keep&from=-5m&step=10&fn=last");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(",42]"), std::string::npos) << r.body;
  server_.reset();
  std::filesystem::remove_all(dir);
}

// A restart brings the tree back: values, actions, markers and the seq, so
// counters do not reset and a /pull cursor stays valid.
TEST_F(TrendServerTest, RestartRestoresTheTreeAndTheSeq) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  Push(R"({"c": {"hits": 5, "defaultaction": "add", "marker": "v1"}})");
  Push(R"({"c": {"hits": 2}, "t": "text"})");
  std::string before = Get("/get?key=c&key=t").body;
  rapidjson::Document d;
  d.Parse(before.c_str());
  uint64_t seq = d["seq"].GetUint64();
  ASSERT_EQ(server_->Stop(), 0);
  server_.reset();
  Start(dir);
  EXPECT_EQ(Get("/get?key=c&key=t").body, before);
  HttpReply meta = Get("/api/q/c.json?meta=1");
  EXPECT_NE(meta.body.find("\"action\":\"add\""), std::string::npos);
  EXPECT_NE(meta.body.find("v1"), std::string::npos);
  // The cursor from before the restart is honoured: a change answers it
  // with just that change, no reset.
  Push(R"({"c": {"hits": 1}})");
  HttpReply pull = Get(absl::StrCat("/pull?key=c&since=", seq, "&timeout=5"));
  EXPECT_EQ(pull.body.find("reset"), std::string::npos) << pull.body;
  EXPECT_NE(pull.body.find("\"c,hits\":8"), std::string::npos) << pull.body;
  server_.reset();
  std::filesystem::remove_all(dir);
}

// kill -9 keeps what the last snapshot held (the tree) and every window
// already handed to history; it loses what came after the snapshot.
TEST_F(TrendServerTest, KillKeepsTheLastSnapshot) {
  std::string dir = testing::MakeTempDir();
  auto s = testing::ServerProcess::Start(
      {"--retention=10s:2d", "--snapshot_interval=1"}, dir);
  ASSERT_TRUE(s.ok());
  server_ = std::move(*s);
  Push(R"({"k": {"a": 1, "b": 2}})");
  rapidjson::Document d;
  d.Parse(Get("/get?key=k").body.c_str());
  uint64_t seq = d["seq"].GetUint64();
  // Await a snapshot holding that seq.
  ASSERT_TRUE(testing::WaitFor([&] {
    for (absl::string_view line : absl::StrSplit(Get("/metrics").body, '\n')) {
      uint64_t v;
      if (absl::ConsumePrefix(&line, "canopy_snapshot_seq ") &&
          absl::SimpleAtoi(line, &v) && v >= seq) {
        return true;
      }
    }
    return false;
  }));
  server_->Kill();
  server_.reset();
  Start(dir);
  std::string after = Get("/get?key=k").body;
  EXPECT_NE(after.find("\"k,a\":1"), std::string::npos) << after;
  EXPECT_NE(after.find("\"k,b\":2"), std::string::npos) << after;
  server_.reset();
  std::filesystem::remove_all(dir);
}

// kill -9 loses no window already handed to history: count them exactly
// before the kill and after the restart.
TEST_F(TrendServerTest, KillKeepsEveryStoredWindow) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  int64_t now = time(nullptr);
  int64_t base = now - now % 60 - 1800;
  for (int i = 0; i < 12; ++i) {
    Push(absl::StrCat(R"({"time": )", base + i * 60, R"(, "killed": {"x": )", i,
                      "}}"));
  }
  std::string target =
      absl::StrCat("/trend?key=killed&from=", base, "&to=", base + 12 * 60 - 1,
                   "&step=60&fn=last");
  auto count = [&]() -> int {
    rapidjson::Document d;
    d.Parse(Get(target).body.c_str());
    if (!d.IsObject() || d["series"].Size() != 1) return 0;
    return static_cast<int>(d["series"][0]["points"].Size());
  };
  testing::WaitFor([&] { return count() == 12; });
  ASSERT_EQ(count(), 12);
  server_->Kill();
  server_.reset();
  Start(dir);
  EXPECT_EQ(count(), 12);
  server_.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(TrendServerTest, AnUnreadableSnapshotStopsTheStartWithOneLine) {
  std::string dir = testing::MakeTempDir();
  {
    std::FILE* f = std::fopen((dir + "/tree.snapshot").c_str(), "wb");
    std::fputs("not a snapshot", f);
    std::fclose(f);
  }
  auto s = testing::ServerProcess::Start({}, dir);
  EXPECT_FALSE(s.ok());
  std::filesystem::remove_all(dir);
}

TEST_F(TrendServerTest, MarkersComeBackByKeyAndTime) {
  Start();
  Push(R"({"app": {"marker": "deploy 1.4", "x": 1}})");
  HttpReply r = Get("/api/markers?key=app&from=-1h");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"text\":\"deploy 1.4\""), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"key\":\"app\""), std::string::npos);
  r = Get("/api/markers?key=other");
  EXPECT_NE(r.body.find("\"markers\":[]"), std::string::npos);
}

// A marker pushed on a node shows on the charts of every node under it:
// /api/markers for a leaf carries it (/graph reads the same FindMarkers).
TEST_F(TrendServerTest, MarkersOnANodeShowUnderIt) {
  Start();
  Push(R"({"app": {"requests": {"home": 1, "marker": "deploy v1.4"}}})");
  HttpReply r = Get("/api/markers?key=app,requests,home&from=-1h");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"text\":\"deploy v1.4\""), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"key\":\"app,requests\""), std::string::npos);
  // A sibling does not inherit it.
  Push(R"({"app": {"other": 1}})");
  r = Get("/api/markers?key=app,other&from=-1h");
  EXPECT_NE(r.body.find("\"markers\":[]"), std::string::npos) << r.body;
}

// /graph draws the markers of the nodes above the key: the chart of
// app,requests,home changes when its parent gets a marker, and stays the
// same when a sibling does. (PNG: the same drawing gives the same bytes.)
TEST_F(TrendServerTest, GraphDrawsTheMarkersOfAncestors) {
  Start();
  int64_t now = time(nullptr);
  for (int i = 1; i <= 6; ++i) {
    Push(absl::StrCat(R"({"time": )", now - 600 + 60 * i,
                      R"(, "app": {"requests": {"home": )", i, "}}}"));
  }
  ASSERT_TRUE(testing::WaitFor([&] {
    HttpReply r =
        Get(absl::StrCat("/trend?key=app,requests,home&from=", now - 600,
                         "&to=", now, "&step=60"));
    return r.body.find("]]}]") != std::string::npos &&
           std::count(r.body.begin(), r.body.end(), '[') >= 8;
  }));
  const std::string graph =
      absl::StrCat("/graph/app,requests,home.png?from=", now - 600,
                   "&to=", now + 600, "&step=60&width=400&height=200");
  HttpReply before = Get(graph);
  ASSERT_EQ(before.status, 200) << before.body;
  Push(R"({"app": {"other": {"marker": "not mine"}}})");
  EXPECT_EQ(Get(graph).body, before.body) << "a sibling's marker drawn";
  Push(R"({"app": {"requests": {"marker": "deploy v1.4"}}})");
  HttpReply after = Get(graph);
  ASSERT_EQ(after.status, 200);
  EXPECT_NE(after.body, before.body) << "the parent's marker not drawn";
}

}  // namespace
}  // namespace canopy
