// Black-box tests of canopyd: the real binary on loopback, real sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using testing::ServerProcess;

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

// The items of a /get or /pull reply as key -> value text ("null" if removed).
std::map<std::string, std::string> Items(const rapidjson::Document& d) {
  std::map<std::string, std::string> out;
  if (!d.IsObject() || !d.HasMember("items")) return out;
  for (const auto& item : d["items"].GetArray()) {
    for (const auto& m : item.GetObject()) {
      std::string v;
      if (m.value.IsNull()) {
        v = "null";
      } else if (m.value.IsString()) {
        v = m.value.GetString();
      } else {
        v = absl::StrCat(m.value.GetDouble());
      }
      out[m.name.GetString()] = v;
    }
  }
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> flags) {
    server_.reset();
    auto s = ServerProcess::Start(std::move(flags));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  HttpReply Do(const std::string& method, const std::string& target,
               const std::string& body = "", const HttpHeaders& headers = {}) {
    auto r = server_->Client().Request(method, target, body, headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpReply();
  }
  HttpReply Push(const std::string& json,
                 const HttpHeaders& headers = {
                     {"Content-Type", "application/json"}}) {
    return Do("POST", "/push", json, headers);
  }
  std::map<std::string, std::string> Get(const std::string& query) {
    HttpReply r = Do("GET", "/get?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return Items(Json(r.body));
  }
  uint64_t Seq() {
    return Json(Do("GET", "/get?key=nothing,here").body)["seq"].GetUint64();
  }
  // A figure from /metrics (without labels), or -1.
  double Metric(const std::string& name) { return server_->Metric(name); }
  // Polls /metrics until `name` equals `want` or 10 s pass.
  bool AwaitMetric(const std::string& name, double want) {
    return testing::WaitFor([&] { return Metric(name) == want; });
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerTest, HealthzAnswersOk) {
  HttpReply r = Do("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK\n");
}

TEST_F(ServerTest, SeedFormatPushAndGet) {
  HttpReply r = Push(
      R"([{"cpu": {"10.3.1.12": {"idle": 32, "user": 9}}, "defaultaction": "average"},
          {"br,ie": {"7": 2328, "sogou": {"3": "323"}}}])");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body)["accepted"].GetInt(), 4);
  auto items = Get("key=br");
  EXPECT_EQ(items, (std::map<std::string, std::string>{
                       {"br,ie,7", "2328"}, {"br,ie,sogou,3", "323"}}));
  auto cpu = Get("key=cpu,10.3.1.12");
  EXPECT_EQ(cpu["cpu,10.3.1.12,idle"], "32");
  EXPECT_EQ(cpu["cpu,10.3.1.12,user"], "9");
  // /get/ is the same endpoint; several key= are merged.
  HttpReply both = Do("GET", "/get/?key=br,ie,7&key=cpu,*,idle");
  EXPECT_EQ(Items(Json(both.body)).size(), 2u);
}

TEST_F(ServerTest, FormFieldJsonAndCurlStyleBodies) {
  HttpReply r = Push("json=%7B%22a%22%3A%201%7D",
                     {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  // curl -d sends JSON labelled as a form.
  r = Push(R"({"b": 2})",
           {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Get("key=a")["a"], "1");
  EXPECT_EQ(Get("key=b")["b"], "2");
}

TEST_F(ServerTest, AccessLogFieldRunsThePipes) {
  std::string lines =
      "10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 512 "
      "\"-\" \"curl/8.0\"\n"
      "10.0.0.2 - - [21/Nov/2026:10:00:01 +0000] \"GET /b HTTP/1.1\" 503 10 "
      "\"-\" \"curl/8.0\"\n";
  std::string body = "accesslog=" + UrlEncode(lines);
  HttpReply r =
      Push(body, {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto items = Get("key=web");
  EXPECT_EQ(items["web,hits"], "2");
  EXPECT_EQ(items["web,bytes"], "522");
  EXPECT_EQ(items["web,status,200"], "1");
  EXPECT_EQ(items["web,errors"], "1");
  // A body none of whose lines parse is a 400 with the position.
  r = Push("accesslog=" + UrlEncode("not a log line\n"),
           {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("\"line\":1"), std::string::npos) << r.body;
}

TEST_F(ServerTest, NumbersTextsAndSampleArrays) {
  HttpReply r = Push(
      R"({"h": {"load": "0.50", "os": "Debian 12", "lat": [10, 20, 60],
                "defaultaction": "avg"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body)["accepted"].GetInt(), 5);
  auto items = Get("key=h");
  EXPECT_EQ(items["h,load"], "0.5");
  EXPECT_EQ(items["h,os"], "Debian 12");
  EXPECT_EQ(items["h,lat"], "30");  // mean of the window's samples
}

TEST_F(ServerTest, ActionsAggregateAndInherit) {
  ASSERT_EQ(
      Push(R"({"web": {"hits": {"a": 1, "b": 2}}, "defaultaction": "sum"})")
          .status,
      200);
  ASSERT_EQ(Push(R"({"web,hits,a": 4})").status, 200);  // inherits add
  ASSERT_EQ(Push(R"({"t": {"x": [3, 9, 1], "defaultaction": "max"},
                     "u": {"x": [3, 9, 1], "defaultaction": "min"},
                     "v": {"x": [3, 9, 1]}})")
                .status,
            200);
  auto items = Get("key=web&key=t&key=u&key=v");
  EXPECT_EQ(items["web,hits,a"], "5");
  EXPECT_EQ(items["web,hits,b"], "2");
  EXPECT_EQ(items["t,x"], "9");
  EXPECT_EQ(items["u,x"], "1");
  EXPECT_EQ(items["v,x"], "1");  // last by default
  // Interior aggregate of an add subtree is the sum of its children.
  HttpReply q = Do("GET", "/api/q/web.json?meta=1");
  rapidjson::Document d = Json(q.body);
  EXPECT_STREQ(d["action"].GetString(), "add");
  EXPECT_EQ(d["value"].GetDouble(), 7);
  EXPECT_EQ(d["children"]["hits"]["children"]["a"]["value"].GetDouble(), 5);
  EXPECT_TRUE(d["children"]["hits"]["children"]["a"].HasMember("rate"));
}

TEST_F(ServerTest, NestedQueryDepthMetaAndMarkers) {
  ASSERT_EQ(Push(R"({"br": {"ie": {"7": 3, "8": 4}, "ff": {"9": 5},
                            "defaultaction": "add", "marker": "deploy 1.4"}})")
                .status,
            200);
  HttpReply r = Do("GET", "/api/q/br.json");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(d["ie"]["7"].GetInt(), 3);
  EXPECT_EQ(d["ff"]["9"].GetInt(), 5);
  r = Do("GET", "/api/q/br.json?depth=1");
  d = Json(r.body);
  EXPECT_EQ(d["ie"].GetInt(), 7);  // cut at depth 1: the aggregate
  r = Do("GET", "/api/q/br.json?meta=1");
  d = Json(r.body);
  EXPECT_STREQ(d["key"].GetString(), "br");
  ASSERT_TRUE(d.HasMember("markers"));
  EXPECT_STREQ(d["markers"][0]["text"].GetString(), "deploy 1.4");
  EXPECT_EQ(d["value"].GetInt(), 12);
  r = Do("GET", "/api/q/.json");
  EXPECT_EQ(Json(r.body)["br"]["ie"]["8"].GetInt(), 4);
  EXPECT_EQ(Do("GET", "/api/q/nope.json").status, 404);
}

TEST_F(ServerTest, PatternsSelectNodes) {
  ASSERT_EQ(
      Push(R"({"br": {"ie": {"venders": {"sogou": {"1": 1}, "qq": {"2": 2}}},
                            "ff": {"venders": {"sogou": {"3": 3}}}},
                     "host": {"web1": {"cpu": 1}, "web2": {"cpu": 2}, "db1": {"cpu": 3}}})")
          .status,
      200);
  EXPECT_EQ(Get("key=br,,venders,sogou").size(), 2u);
  EXPECT_EQ(Get("key=br,*,venders,sogou").size(), 2u);
  EXPECT_EQ(Get("key=host,web*,cpu").size(), 2u);
  EXPECT_EQ(Get("key=**,sogou").size(), 2u);
  EXPECT_EQ(Get("key=**").size(), 6u);
  EXPECT_EQ(Get("").size(), 6u);
  auto limited = Json(Do("GET", "/get?key=**&limit=2").body);
  EXPECT_EQ(limited["items"].Size(), 2u);
  EXPECT_TRUE(limited["truncated"].GetBool());
}

TEST_F(ServerTest, DiffAlignsSubtrees) {
  ASSERT_EQ(Push(R"({"a": {"ie": {"7": 1, "8": 5}, "only": 1},
                     "b": {"ie": {"7": 3, "8": 5}, "extra": "x"}})")
                .status,
            200);
  HttpReply r = Do("GET", "/diff/a/b");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Json(r.body);
  ASSERT_EQ(d["only_a"].Size(), 1u);
  EXPECT_STREQ(d["only_a"][0]["path"].GetString(), "only");
  ASSERT_EQ(d["only_b"].Size(), 1u);
  EXPECT_STREQ(d["only_b"][0]["path"].GetString(), "extra");
  ASSERT_EQ(d["both"].Size(), 2u);
  EXPECT_STREQ(d["both"][0]["path"].GetString(), "ie,7");
  EXPECT_EQ(d["both"][0]["delta"].GetInt(), 2);
  EXPECT_EQ(d["both"][1]["delta"].GetInt(), 0);
}

// Regression: keys holding a '/' (a disk's mount point) sent as %2F.
TEST_F(ServerTest, DiffOfKeysWithSlashes) {
  ASSERT_EQ(Push(R"({"h1": {"disk": {"/var": {"used": 5}}},
                     "h2": {"disk": {"/var": {"used": 7}}}})")
                .status,
            200);
  HttpReply r = Do("GET", "/diff/h1,disk,%2Fvar/h2,disk,%2Fvar");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Json(r.body);
  ASSERT_EQ(d["both"].Size(), 1u);
  EXPECT_STREQ(d["both"][0]["path"].GetString(), "used");
  EXPECT_EQ(d["both"][0]["delta"].GetInt(), 2);
}

TEST_F(ServerTest, DeleteRemovesSubtreeAndPullReportsNull) {
  ASSERT_EQ(Push(R"({"x": {"a": 1, "b": {"c": 2}}, "y": 3})").status, 200);
  uint64_t since = Seq();
  HttpReply r = Do("DELETE", "/api/q/x,b");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body)["removed"].GetInt(), 1);
  EXPECT_EQ(Get("key=x").size(), 1u);
  r = Do("GET", absl::StrCat("/pull?key=x&since=", since, "&timeout=5"));
  auto items = Items(Json(r.body));
  EXPECT_EQ(items, (std::map<std::string, std::string>{{"x,b,c", "null"}}));
  EXPECT_EQ(Do("DELETE", "/api/q/x,b").status, 404);
}

TEST_F(ServerTest, PullAnswersAtOnceWhenBehind) {
  ASSERT_EQ(Push(R"({"k": 1})").status, 200);
  uint64_t s1 = Seq();
  ASSERT_EQ(Push(R"({"k": 2, "other": 1})").status, 200);
  auto start = std::chrono::steady_clock::now();
  HttpReply r =
      Do("GET", absl::StrCat("/pull?key=k&since=", s1, "&timeout=20"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(Items(d), (std::map<std::string, std::string>{{"k", "2"}}));
  EXPECT_GT(d["seq"].GetUint64(), s1);
}

TEST_F(ServerTest, PullWaitsForAChangeUnderItsKeyOnly) {
  ASSERT_EQ(Push(R"({"watched": {"a": 1}, "elsewhere": 1})").status, 200);
  uint64_t since = Seq();
  std::atomic<bool> answered{false};
  HttpReply reply;
  std::thread poller([&] {
    auto r = server_->Client().Request(
        "GET", absl::StrCat("/pull?key=watched&since=", since, "&timeout=30"));
    if (r.ok()) reply = *r;
    answered = true;
  });
  // A witness parked on the last key pushed below: once it has its answer,
  // the flush that would have answered the poller wrongly has run.
  HttpReply witness;
  std::thread witness_poller([&] {
    auto r = server_->Client().Request(
        "GET", absl::StrCat("/pull?key=watched2&since=", since, "&timeout=30"));
    if (r.ok()) witness = *r;
  });
  EXPECT_TRUE(AwaitMetric("canopy_waiters", 2));
  // A change elsewhere does not answer the waiter...
  EXPECT_EQ(Push(R"({"elsewhere": 2})").status, 200);
  EXPECT_EQ(Push(R"({"watched2": 2})").status, 200);
  witness_poller.join();
  EXPECT_EQ(Items(Json(witness.body)),
            (std::map<std::string, std::string>{{"watched2", "2"}}));
  EXPECT_EQ(Metric("canopy_waiters"), 1);
  EXPECT_FALSE(answered.load());
  // ...a change under its key does.
  EXPECT_EQ(Push(R"({"watched": {"a": 5}})").status, 200);
  poller.join();
  EXPECT_EQ(Items(Json(reply.body)),
            (std::map<std::string, std::string>{{"watched,a", "5"}}));
}

TEST_F(ServerTest, PullTimesOutWithSeqUnchanged) {
  ASSERT_EQ(Push(R"({"a": 1})").status, 200);
  uint64_t since = Seq();
  HttpReply r =
      Do("GET", absl::StrCat("/pull?key=a&since=", since, "&timeout=1"));
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(d["items"].Size(), 0u);
  EXPECT_EQ(d["seq"].GetUint64(), since);
}

TEST_F(ServerTest, PullWaitsForANodeThatDoesNotExistYet) {
  std::thread pusher([&] {
    ASSERT_TRUE(AwaitMetric("canopy_waiters", 1));
    HttpClient c = server_->Client();
    (void)c.Request("POST", "/push", R"({"later": {"x": 7}})",
                    {{"Content-Type", "application/json"}});
  });
  HttpReply r = Do("GET", "/pull?key=later,x&timeout=30");
  pusher.join();
  EXPECT_EQ(Items(Json(r.body)),
            (std::map<std::string, std::string>{{"later,x", "7"}}));
}

TEST_F(ServerTest, CursorFromTheFutureGetsResetSnapshot) {
  ASSERT_EQ(Push(R"({"a": 1, "b": 2})").status, 200);
  HttpReply r = Do("GET", "/pull?key=a&since=999999&timeout=5");
  rapidjson::Document d = Json(r.body);
  EXPECT_TRUE(d["reset"].GetBool());
  EXPECT_EQ(Items(d), (std::map<std::string, std::string>{{"a", "1"}}));
}

// A client that loops on /pull with the returned seq while 10 000 pushes
// land ends with every final value: no update is lost between polls.
TEST_F(ServerTest, BurstOfPushesLosesNothingBetweenPolls) {
  constexpr int kPushes = 10000;
  constexpr int kKeys = 50;
  std::atomic<bool> done{false};
  std::thread pusher([&] {
    HttpClient c = server_->Client();
    for (int i = 0; i < kPushes; ++i) {
      std::string body =
          absl::StrCat(R"({"burst": {"k)", i % kKeys, R"(": )", i, "}}");
      auto r = c.Request("POST", "/push", body,
                         {{"Content-Type", "application/json"}});
      ASSERT_TRUE(r.ok() && r->status == 200);
    }
    done = true;
  });
  std::map<std::string, std::string> seen;
  uint64_t since = 0;
  bool first = true;
  while (true) {
    bool finished = done.load();
    std::string target =
        first ? "/pull?key=burst&since=0&timeout=1"
              : absl::StrCat("/pull?key=burst&since=", since, "&timeout=1");
    first = false;
    HttpReply r = Do("GET", target);
    ASSERT_EQ(r.status, 200);
    rapidjson::Document d = Json(r.body);
    for (const auto& [k, v] : Items(d)) seen[k] = v;
    since = d["seq"].GetUint64();
    if (finished && d["items"].Size() == 0) break;
  }
  pusher.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kKeys));
  for (int k = 0; k < kKeys; ++k) {
    int last = kPushes - kKeys + k;
    EXPECT_EQ(seen[absl::StrCat("burst,k", k)], absl::StrCat(last));
  }
}

// Opens a raw long-poll and returns its socket.
int OpenPull(int port, const std::string& target) {
  int fd = testing::ConnectLoopback(port);
  if (fd < 0) return -1;
  std::string req =
      absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST_F(ServerTest, ClientsThatHangUpLeaveNoWaiters) {
  constexpr int kClients = 1000;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = OpenPull(server_->http_port(),
                      absl::StrCat("/pull?key=hang,", i % 10, "&timeout=120"));
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  ASSERT_TRUE(AwaitMetric("canopy_waiters", kClients));
  for (int fd : fds) close(fd);
  EXPECT_TRUE(AwaitMetric("canopy_waiters", 0));
  EXPECT_EQ(Metric("canopy_watch_lists"), 0);
  EXPECT_EQ(Metric("canopy_waiters_gone_total"), kClients);
  // The server still serves.
  ASSERT_EQ(Push(R"({"after": 1})").status, 200);
}

TEST_F(ServerTest, StreamSendsEventsAndResumesFromLastEventId) {
  ASSERT_EQ(Push(R"({"s": {"a": 1}})").status, 200);
  std::vector<std::string> events;
  std::string pending;
  std::thread pusher([&] {
    ASSERT_TRUE(AwaitMetric("canopy_streams", 1));
    HttpClient c = server_->Client();
    (void)c.Request("POST", "/push", R"({"s": {"a": 2}})",
                    {{"Content-Type", "application/json"}});
  });
  auto status = server_->Client(20).Stream(
      "/stream?key=s", {}, [&](absl::string_view data) {
        pending.append(data.data(), data.size());
        size_t end;
        while ((end = pending.find("\n\n")) != std::string::npos) {
          events.push_back(pending.substr(0, end));
          pending.erase(0, end + 2);
        }
        return events.size() < 2;
      });
  pusher.join();
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].find("\"s,a\":1"), std::string::npos) << events[0];
  EXPECT_NE(events[1].find("\"s,a\":2"), std::string::npos) << events[1];
  // id: S on the first event; resuming from it replays only the change.
  std::string id = events[0].substr(4, events[0].find('\n') - 4);
  std::vector<std::string> resumed;
  auto again = server_->Client(20).Stream(
      "/stream?key=s", {{"Last-Event-ID", id}}, [&](absl::string_view data) {
        resumed.emplace_back(data);
        return false;
      });
  ASSERT_TRUE(again.ok());
  ASSERT_FALSE(resumed.empty());
  EXPECT_NE(resumed[0].find("\"s,a\":2"), std::string::npos) << resumed[0];
}

TEST_F(ServerTest, MalformedJsonIsRejectedWithPositionAndChangesNothing) {
  ASSERT_EQ(Push(R"({"keep": 1})").status, 200);
  uint64_t seq = Seq();
  struct Case {
    const char* body;
    const char* error_part;
  };
  const Case cases[] = {
      {"{\"a\": 1,\n \"b\": tru}", "malformed JSON"},
      {R"({"a": 1, "": 2})", "empty"},
      {R"({"a,,b": 2})", "empty segment"},
      {"{\"a\\u0001\": 2}", "control character"},
      {R"({"a": null})", "null"},
      {R"({"a": true})", "true and false"},
      {R"({"a": [1, [2]]})", "arrays do not nest"},
      {R"({"a": [1, "x"]})", "numbers only"},
      {R"({"a": 1, "defaultaction": "median"})", "unknown action"},
      {R"(42)", "top level"},
      {R"({"a": 1e999})", "malformed JSON"},
      {R"({"ok": 1, "bad": {"x": null}})", "null"},
  };
  for (const Case& c : cases) {
    HttpReply r = Push(c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    rapidjson::Document d = Json(r.body);
    ASSERT_TRUE(d.HasMember("error")) << r.body;
    EXPECT_NE(std::string(d["error"].GetString()).find(c.error_part),
              std::string::npos)
        << c.body << " -> " << r.body;
    EXPECT_GE(d["line"].GetInt(), 1);
    EXPECT_GE(d["column"].GetInt(), 1);
  }
  HttpReply r = Push("{\"a\": 1,\n \"b\": tru}");
  EXPECT_EQ(Json(r.body)["line"].GetInt(), 2);
  EXPECT_EQ(Seq(), seq);  // nothing applied, not even the good half
  EXPECT_EQ(Get("key=ok").size(), 0u);
}

TEST_F(ServerTest, KeysTooLongOrTooDeepAreRejected) {
  std::string long_seg(256, 'x');
  HttpReply r = Push(absl::StrCat(R"({")", long_seg, R"(": 1})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("longer than 255"), std::string::npos) << r.body;
  std::string deep;
  for (int i = 0; i < 33; ++i) absl::StrAppend(&deep, i ? "," : "", "s", i);
  r = Push(absl::StrCat(R"({")", deep, R"(": 1})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("deeper than 32"), std::string::npos) << r.body;
  // Deep by nesting, not commas, too; and a hostile nesting depth.
  std::string nested;
  for (int i = 0; i < 40; ++i) nested += R"({"n": )";
  nested += "1";
  for (int i = 0; i < 40; ++i) nested += "}";
  EXPECT_EQ(Push(nested).status, 400);
  EXPECT_EQ(Push(std::string(100000, '[')).status, 400);
  EXPECT_EQ(Do("GET", "/get?key=a%01b").status, 400);
  EXPECT_EQ(Do("GET", "/api/q/a,,b.json").status, 400);
  EXPECT_EQ(Seq(), 0u);
}

TEST_F(ServerTest, BodyOverMaxBodyGets413) {
  StartServer({"--max_body=1000"});
  std::string big = R"({"a": ")" + std::string(2000, 'x') + R"("})";
  EXPECT_EQ(Push(big).status, 413);
  EXPECT_EQ(Push(R"({"a": 1})").status, 200);  // still serving
}

TEST_F(ServerTest, TreeOverMaxNodesGets507AndNothingApplied) {
  StartServer({"--max_nodes=10"});
  ASSERT_EQ(Push(R"({"a": {"b": 1, "c": 2}})").status, 200);  // 4 nodes
  HttpReply r =
      Push(R"({"x": {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6}})");
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_NE(r.body.find("max_nodes"), std::string::npos);
  EXPECT_EQ(Get("key=x").size(), 0u);
  // Writing to existing nodes still works when full.
  EXPECT_EQ(Push(R"({"a": {"b": 5}})").status, 200);
  EXPECT_EQ(Get("key=a,b")["a,b"], "5");
}

TEST_F(ServerTest, TooManyWaitersGet503) {
  StartServer({"--max_waiters=3"});
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    fds.push_back(OpenPull(server_->http_port(), "/pull?key=w&timeout=60"));
  }
  ASSERT_TRUE(AwaitMetric("canopy_waiters", 3));
  HttpReply r = Do("GET", "/pull?key=w&timeout=60");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("too many waiters"), std::string::npos);
  for (int fd : fds) close(fd);
}

TEST_F(ServerTest, TokensGuardWritesAndReads) {
  StartServer({"--write_token=sekrit", "--read_token=peek"});
  EXPECT_EQ(Push(R"({"a": 1})").status, 401);
  EXPECT_EQ(Push(R"({"a": 1})", {{"Content-Type", "application/json"},
                                 {"Authorization", "Bearer wrong"}})
                .status,
            403);
  EXPECT_EQ(Push(R"({"a": 1})", {{"Content-Type", "application/json"},
                                 {"Authorization", "Bearer sekrit"}})
                .status,
            200);
  EXPECT_EQ(Do("DELETE", "/api/q/a").status, 401);
  EXPECT_EQ(Do("GET", "/get?key=a").status, 401);
  HttpReply r = Do("GET", "/get?key=a&token=peek");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Items(Json(r.body))["a"], "1");
  EXPECT_EQ(Do("GET", "/healthz").status, 200);  // the health check is open
}

TEST_F(ServerTest, MetricsExposeServerFigures) {
  ASSERT_EQ(Push(R"({"m": {"x": 1, "y": 2}})").status, 200);
  Push("{bad");
  HttpReply r = Do("GET", "/metrics?key=m");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("canopy_leaves 2\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("canopy_ingest_accepted_total{protocol=\"http\"} 2"),
            std::string::npos);
  EXPECT_NE(
      r.body.find(
          "canopy_ingest_rejected_total{protocol=\"http\",reason=\"json\"} 1"),
      std::string::npos);
  EXPECT_NE(r.body.find("canopy_value{key=\"m,y\",s0=\"m\",s1=\"y\"} 2"),
            std::string::npos)
      << r.body;
  EXPECT_GT(Metric("canopy_fd_limit"), 0);
}

TEST_F(ServerTest, UnknownEndpointsAndMethods) {
  EXPECT_EQ(Do("GET", "/nope").status, 404);
  EXPECT_EQ(Do("GET", "/push").status, 405);
  HttpReply r = Do("GET", "/");
  EXPECT_EQ(r.status, 302);
  // The overview when the built pages are in canopyd's web dir, else the
  // live page built into the binary (handlers_test checks which is when).
  std::string to = r.Header("location");
  EXPECT_TRUE(to == "/overview/" || to == "/realtime/") << to;
  EXPECT_EQ(Do("GET", to).status, 200);
  EXPECT_EQ(Do("GET", "/realtime/").status, 200);
}

TEST_F(ServerTest, SigtermStopsCleanly) {
  ASSERT_EQ(Push(R"({"a": 1})").status, 200);
  int fd = OpenPull(server_->http_port(), "/pull?key=a&timeout=60");
  ASSERT_TRUE(AwaitMetric("canopy_waiters", 1));
  EXPECT_EQ(server_->Stop(), 0);
  close(fd);
}

}  // namespace
}  // namespace canopy
