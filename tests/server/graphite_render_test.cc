// The Graphite render API against the real canopyd with real history:
// values sent with explicit times over the Graphite line protocol (TCP) and
// JSON pushes, read back the way Grafana's Graphite data source asks
// (POST /render as a form, the constantLine health check, /metrics/find).
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

constexpr char kForm[] = "application/x-www-form-urlencoded";

class GraphiteRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing::ServerProcess::Start({"--retention=10s:2d,1m:30d"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    int64_t now = time(nullptr);
    base_ = now - now % 3600 - 3600;  // the start of the hour before last
  }
  HttpReply Send(const std::string& method, const std::string& target,
                 const std::string& body = "",
                 const std::string& type = kForm) {
    auto r = server_->Client().Request(method, target, body,
                                       {{"Content-Type", type}});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : HttpReply();
  }
  // Graphite plaintext lines over the TCP port.
  void SendLines(const std::string& lines) {
    int fd = testing::ConnectLoopback(server_->tcp_port());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, lines.data(), lines.size()),
              static_cast<ssize_t>(lines.size()));
    close(fd);
  }
  // POST /render as Grafana sends it; the parsed JSON array.
  rapidjson::Document Render(const std::string& form) {
    HttpReply r = Send("POST", "/render", form);
    rapidjson::Document d;
    EXPECT_EQ(r.status, 200) << r.body;
    d.Parse(r.body.c_str());
    return d;
  }
  // Awaits until `form` renders `series` series whose first has `points`
  // non-null points (the dated windows reached LevelDB).
  rapidjson::Document AwaitRender(const std::string& form, size_t series,
                                  size_t points) {
    rapidjson::Document d;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          d = Render(form);
          if (!d.IsArray() || d.Size() != series) return false;
          size_t n = 0;
          for (const auto& p : d[0]["datapoints"].GetArray()) {
            n += p[0].IsNull() ? 0 : 1;
          }
          return n == points;
        },
        absl::Seconds(30)));
    return d;
  }
  std::unique_ptr<testing::ServerProcess> server_;
  int64_t base_ = 0;
};

TEST_F(GraphiteRenderTest, GrafanasRenderRequestReadsTheHistory) {
  // host.web1.cpu.user = i and host.web2.cpu.user = 10 i, a minute apart.
  std::string lines;
  for (int i = 0; i < 6; ++i) {
    absl::StrAppend(&lines, "host.web1.cpu.user ", i, " ", base_ + i * 60,
                    "\nhost.web2.cpu.user ", 10 * i, " ", base_ + i * 60, "\n");
  }
  SendLines(lines);
  std::string range = absl::StrCat("&from=", base_, "&until=", base_ + 359,
                                   "&format=json&maxDataPoints=1000");
  rapidjson::Document d = AwaitRender("target=host.*.cpu.user" + range, 2, 6);
  ASSERT_EQ(d.Size(), 2u);
  EXPECT_STREQ(d[0]["target"].GetString(), "host.web1.cpu.user");
  EXPECT_STREQ(d[0]["tags"]["name"].GetString(), "host.web1.cpu.user");
  // At the 10 s step the pushes are every sixth point.
  const auto& p = d[1]["datapoints"];
  ASSERT_EQ(p.Size(), 36u);
  EXPECT_EQ(p[0][1].GetInt64(), base_);
  EXPECT_EQ(p[0][0].GetDouble(), 0);
  EXPECT_TRUE(p[1][0].IsNull());
  EXPECT_EQ(p[30][1].GetInt64(), base_ + 300);
  EXPECT_EQ(p[30][0].GetDouble(), 50);

  // Functions nested, several targets in one form; sums 0 11 22 33 44 55,
  // doubled.
  d = Render(
      "target=alias(scale(sumSeries(host.{web1,web2}.cpu.user),2),'both')"
      "&target=aliasByNode(host.web2.cpu.*,1)&target=transformNull("
      "perSecond(host.web1.cpu.user),-1)" +
      range);
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 3u);
  EXPECT_STREQ(d[0]["target"].GetString(), "both");
  EXPECT_EQ(d[0]["datapoints"][30][0].GetDouble(), 110);
  EXPECT_STREQ(d[1]["target"].GetString(), "web2");
  // perSecond of a value that appears every 60 s: the point before is null,
  // so every point is null and transformNull makes it -1.
  EXPECT_EQ(d[2]["datapoints"][30][0].GetDouble(), -1);

  // maxDataPoints: 6 points asked over 6 minutes: one a minute, each the
  // minute's value (the store merged the windows).
  d = Render(absl::StrCat("target=host.web2.cpu.user&from=", base_, "&until=",
                          base_ + 359, "&format=json&maxDataPoints=6"));
  ASSERT_EQ(d.Size(), 1u);
  const auto& m = d[0]["datapoints"];
  ASSERT_LE(m.Size(), 6u);
  EXPECT_EQ(m[m.Size() - 1][0].GetDouble(), 50);
  EXPECT_EQ(m[1][1].GetInt64() - m[0][1].GetInt64(), 60);

  // Grafana's own shape: relative times, its panel width as maxDataPoints.
  d = Render(
      "target=host.web1.cpu.user&from=-6h&until=now&format=json"
      "&maxDataPoints=1000");
  ASSERT_EQ(d.Size(), 1u);
  double total = 0;
  size_t values = 0;
  for (const auto& point : d[0]["datapoints"].GetArray()) {
    if (point[0].IsNull()) continue;
    total += point[0].GetDouble();
    ++values;
  }
  EXPECT_EQ(values, 6u);
  EXPECT_EQ(total, 0 + 1 + 2 + 3 + 4 + 5);

  // noNullPoints drops the empty points; CSV has one row a point.
  d = Render("target=host.web1.cpu.user&noNullPoints=true" + range);
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_EQ(d[0]["datapoints"].Size(), 6u);
  HttpReply csv = Send("GET", absl::StrCat("/render?target=host.web1.cpu.user"
                                           "&noNullPoints=1&format=csv&from=",
                                           base_, "&until=", base_ + 359));
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_TRUE(absl::StartsWith(csv.body, "host.web1.cpu.user,")) << csv.body;
  EXPECT_TRUE(absl::StrContains(csv.body, ",5\r\n")) << csv.body;

  // Grafana's template variables and query editor.
  HttpReply find = Send("GET", "/metrics/find?query=*");
  ASSERT_EQ(find.status, 200);
  rapidjson::Document f;
  f.Parse(find.body.c_str());
  ASSERT_TRUE(f.IsArray());
  ASSERT_EQ(f.Size(), 1u);
  EXPECT_STREQ(f[0]["text"].GetString(), "host");
  EXPECT_EQ(f[0]["expandable"].GetInt(), 1);
  find = Send("POST", "/metrics/find", "query=host.*.cpu.*&from=-6h");
  f.Parse(find.body.c_str());
  ASSERT_TRUE(f.IsArray());
  ASSERT_EQ(f.Size(), 2u);
  EXPECT_STREQ(f[1]["id"].GetString(), "host.web2.cpu.user");
  EXPECT_EQ(f[1]["leaf"].GetInt(), 1);
  EXPECT_EQ(f[1]["expandable"].GetInt(), 0);
  HttpReply expand = Send("GET", "/metrics/expand?query=host.web?.cpu");
  EXPECT_EQ(expand.body, R"({"results":["host.web1.cpu","host.web2.cpu"]})");
  HttpReply index = Send("GET", "/metrics/index.json");
  EXPECT_EQ(index.body, R"(["host.web1.cpu.user","host.web2.cpu.user"])");
}

TEST_F(GraphiteRenderTest, HealthCheckVersionFunctionsAndTags) {
  // What Grafana's "Save & test" posts.
  rapidjson::Document d = Render(
      "target=constantLine(100)&from=-1h&until=now&format=json"
      "&maxDataPoints=300");
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 1u);
  ASSERT_GE(d[0]["datapoints"].Size(), 1u);
  EXPECT_EQ(d[0]["datapoints"][0][0].GetDouble(), 100);
  EXPECT_EQ(Send("GET", "/version").body, "1.1.10");
  rapidjson::Document fns;
  fns.Parse(Send("GET", "/functions").body.c_str());
  ASSERT_TRUE(fns.IsObject());
  EXPECT_TRUE(fns.HasMember("movingAverage"));
  EXPECT_EQ(Send("GET", "/tags/autoComplete/tags?expr=").body, "[]");
  EXPECT_EQ(Send("GET", "/tags/autoComplete/values?tag=x").body, "[]");
}

TEST_F(GraphiteRenderTest, TimerPercentilesAreMergedNotAveraged) {
  // Minute one: ten samples 1..10; minute two: ninety 1001..1090. Over
  // both, the median is the 50th sample, 1040; the average of the two
  // minutes' medians would be about (5.5 + 1045.5) / 2 = 525.5.
  for (int i = 1; i <= 100; ++i) {
    int64_t t = i <= 10 ? base_ : base_ + 60;
    double v = i <= 10 ? i : 990 + i;
    HttpReply r =
        Send("POST", "/push",
             absl::StrCat(R"({"time": )", t,
                          R"(, "api": {"defaultaction": "timer", "latency": )",
                          v, "}}"),
             "application/json");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  std::string one_minute =
      absl::StrCat("target=api.latency.p50&from=", base_, "&until=", base_ + 59,
                   "&maxDataPoints=1");
  AwaitRender(one_minute, 1, 1);
  rapidjson::Document d =
      AwaitRender(absl::StrCat("target=api.latency.p50&from=", base_,
                               "&until=", base_ + 119, "&maxDataPoints=1"),
                  1, 1);
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_STREQ(d[0]["target"].GetString(), "api.latency.p50");
  double p50 = d[0]["datapoints"][0][0].GetDouble();
  EXPECT_NEAR(p50, 1040, 1040 * 0.03);
  // The key's own figure is the average: (55 + sum 1001..1090) / 100.
  d = Render(absl::StrCat("target=api.latency&from=", base_,
                          "&until=", base_ + 119, "&maxDataPoints=1"));
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_NEAR(d[0]["datapoints"][0][0].GetDouble(),
              (55 + 90 * 1000 + 90 * 91 / 2.0) / 100, 1e-9);
  // Grafana's query editor finds the figures: the timer is a series and a
  // branch whose children are its percentiles, count, sum...
  rapidjson::Document f;
  f.Parse(Send("GET", "/metrics/find?query=api.*").body.c_str());
  ASSERT_TRUE(f.IsArray());
  ASSERT_EQ(f.Size(), 1u);
  EXPECT_STREQ(f[0]["id"].GetString(), "api.latency");
  EXPECT_EQ(f[0]["leaf"].GetInt(), 1);
  EXPECT_EQ(f[0]["expandable"].GetInt(), 1);
  f.Parse(Send("GET", "/metrics/find?query=api.latency.p*").body.c_str());
  ASSERT_TRUE(f.IsArray());
  std::vector<std::string> ids;
  for (const auto& n : f.GetArray()) {
    ids.push_back(n["id"].GetString());
    EXPECT_EQ(n["leaf"].GetInt(), 1);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"api.latency.p50", "api.latency.p90",
                                           "api.latency.p99"}));
  EXPECT_EQ(Send("GET", "/metrics/expand?query=api.latency.{count,sum}").body,
            R"({"results":["api.latency.count","api.latency.sum"]})");
}

TEST_F(GraphiteRenderTest, BadRequestsAre400AndTheServerServesOn) {
  struct Case {
    const char* form;
    const char* says;
  } cases[] = {
      {"target=sumSeries(a.b", "bad target at column"},
      {"target=noSuchFunction(a.b)", "unknown function"},
      {"target=scale(a.b)", "needs its argument factor"},
      {"target=a.b&from=yesterday", "bad time"},
      {"target=a.b&format=png", "not served here"},
      {"target=a.b&maxDataPoints=0", "bad maxDataPoints"},
      {"target=a..b", "empty segment"},
  };
  for (const Case& c : cases) {
    HttpReply r = Send("POST", "/render", c.form);
    EXPECT_EQ(r.status, 400) << c.form << ": " << r.body;
    EXPECT_TRUE(absl::StrContains(r.body, c.says)) << c.form << ": " << r.body;
  }
  EXPECT_EQ(Send("GET", "/metrics/find").status, 400);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  EXPECT_EQ(Render("target=constantLine(1)").Size(), 1u);
}

TEST(GraphiteRenderLimits, TenYearsAtOnePointASecondIsRefused) {
  auto s = testing::ServerProcess::Start({"--retention=1s:10y"});
  ASSERT_TRUE(s.ok()) << s.status();
  auto r = (*s)->Client().Request("POST", "/render",
                                  "target=constantLine(1)&from=-10y&until=now",
                                  {{"Content-Type", kForm}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, "set maxDataPoints")) << r->body;
  // With maxDataPoints the same range is fine.
  r = (*s)->Client().Request(
      "POST", "/render",
      "target=constantLine(1)&from=-10y&until=now&maxDataPoints=500",
      {{"Content-Type", kForm}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
}

}  // namespace
}  // namespace canopy
