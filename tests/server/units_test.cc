// Units against the real canopyd over loopback: the reserved "unit" key of
// a push, GET /api/units, a bad unit refused whole, and units kept across
// a restart (the snapshot).
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

class UnitsServerTest : public ::testing::Test {
 protected:
  void Start(const std::string& dir) {
    auto s = testing::ServerProcess::Start({}, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  HttpReply Do(const std::string& method, const std::string& target,
               const std::string& body = "") {
    auto r = server_->Client().Request(method, target, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpReply();
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(UnitsServerTest, StatedUnitsAreServedAndSurviveARestart) {
  const std::string dir = testing::MakeTempDir();
  Start(dir);
  ASSERT_EQ(Do("POST", "/push",
               R"({"app": {"queue": {"depth": 4, "unit": "jobs"},
                           "rss": 1000, "wait_ms": 3},
                   "host": {"h1": {"net": {"eth0": {"rx_bytes": 10}}}}})")
                .status,
            200);
  const std::string units = "/api/units?key=app,**&key=host,**";
  const std::string want =
      R"({"units":{"app,queue,depth":"jobs","app,rss":"bytes",)"
      R"("app,wait_ms":"ms","host,h1,net,eth0,rx_bytes":"bytes/s"}})";
  HttpReply r = Do("GET", units);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").substr(0, 16), "application/json");
  EXPECT_EQ(r.body, want);

  // A unit that is not a short printable word: 400 with the reason, and
  // nothing of that push is applied.
  HttpReply bad =
      Do("POST", "/push", R"({"app": {"queue": {"depth": 99}, "unit": 5}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("unit\\\" must be a string or null"),
            std::string::npos)
      << bad.body;
  HttpReply get = Do("GET", "/get?key=app,queue,depth");
  EXPECT_NE(get.body.find("\"app,queue,depth\":4"), std::string::npos)
      << get.body;

  // A stop and a start: the snapshot keeps the stated unit.
  server_.reset();
  Start(dir);
  EXPECT_EQ(Do("GET", units).body, want);
  server_.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace canopy
