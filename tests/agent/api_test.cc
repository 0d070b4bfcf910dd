// canopy-agent's on-demand collection API on --listen, black-box: the real
// agent answering real HTTP requests.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "canopy/http_client.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/agent/agent_util.h"
#include "tests/server/harness.h"

namespace canopy {
namespace testing {
namespace {

using Clock = std::chrono::steady_clock;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreeTcpPort();
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server=udp://127.0.0.1:9", "--host=api",
                                 absl::StrCat("--listen=127.0.0.1:", port_)});
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (HttpClient("127.0.0.1", port_, 5).Request("GET", "/").ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "the agent does not listen on " << port_;
  }
  void TearDown() override { EXPECT_EQ(agent_->Stop(), 0); }

  // GETs `target`; the parsed body (null on errors).
  rapidjson::Document Get(const std::string& target, int* status = nullptr) {
    rapidjson::Document d;
    absl::StatusOr<HttpReply> r =
        HttpClient("127.0.0.1", port_, 30).Request("GET", target);
    if (!r.ok()) return d;
    if (status) *status = r->status;
    EXPECT_EQ(r->Header("content-type"), "application/json");
    d.Parse(r->body.c_str());
    if (d.HasParseError()) d.SetNull();
    return d;
  }

  int port_ = 0;
  std::unique_ptr<AgentProcess> agent_;
};

std::string Result(const rapidjson::Document& d) {
  return d.IsObject() && d.HasMember("result") && d["result"].IsString()
             ? d["result"].GetString()
             : "<none>";
}

bool IsNumberArray(const rapidjson::Value& v, size_t n) {
  if (!v.IsArray() || v.Size() != n) return false;
  for (const rapidjson::Value& x : v.GetArray()) {
    if (!x.IsNumber()) return false;
  }
  return true;
}

// Checks one PerformanceInfo of `n` samples, as API.md gives it.
void ExpectInfo(const rapidjson::Value& p, size_t n, bool per_core) {
  ASSERT_TRUE(p.IsObject());
  for (const char* k : {"cpu", "memory", "io", "disk", "platform"}) {
    ASSERT_TRUE(p.HasMember(k)) << k;
  }
  const rapidjson::Value& cpu = p["cpu"];
  EXPECT_TRUE(IsNumberArray(cpu["percent"], n));
  ASSERT_TRUE(cpu["coreNum"].IsInt());
  int cores = cpu["coreNum"].GetInt();
  EXPECT_EQ(cores, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  ASSERT_TRUE(cpu["corePercent"].IsArray());
  EXPECT_EQ(cpu["corePercent"].Size(), per_core ? n : 0);
  for (const rapidjson::Value& s : cpu["corePercent"].GetArray()) {
    EXPECT_TRUE(IsNumberArray(s, cores));
  }
  EXPECT_TRUE(cpu["architecture"].IsString());
  EXPECT_TRUE(cpu["model"].IsString());
  EXPECT_TRUE(cpu["MHz"].IsNumber());
  const rapidjson::Value& mem = p["memory"];
  EXPECT_TRUE(IsNumberArray(mem["percent"], n));
  EXPECT_TRUE(IsNumberArray(mem["used"], n));
  EXPECT_TRUE(mem["total"].IsNumber() && mem["total"].GetDouble() > 0);
  for (const char* k : {"readSize", "writeSize", "readCount", "writeCount"}) {
    EXPECT_TRUE(IsNumberArray(p["io"][k], n)) << k;
  }
  ASSERT_TRUE(p["disk"].IsArray());
  EXPECT_GE(p["disk"].Size(), 1u);
  for (const rapidjson::Value& d : p["disk"].GetArray()) {
    EXPECT_TRUE(d["mountPoint"].IsString());
    EXPECT_TRUE(d["device"].IsString());
    EXPECT_TRUE(d["total"].IsNumber());
    EXPECT_TRUE(d["used"].IsNumber());
  }
  for (const char* k :
       {"version", "hostname", "system", "release", "distribution"}) {
    EXPECT_TRUE(p["platform"][k].IsString()) << k;
  }
  EXPECT_STREQ(p["platform"]["system"].GetString(), "Linux");
}

TEST_F(ApiTest, RealTime) {
  rapidjson::Document d = Get("/performance/real_time");
  ASSERT_EQ(Result(d), "succeeded");
  ASSERT_TRUE(d.HasMember("system"));
  ExpectInfo(d["system"], 1, true);
  EXPECT_FALSE(d.HasMember("process"));
}

TEST_F(ApiTest, StartThenStopGivesTheSeries) {
  rapidjson::Document d =
      Get("/performance/start_collecting?hash=h1&duration=2&interval=1"
          "&server=canopy-agent");
  ASSERT_EQ(Result(d), "succeeded");
  d = Get("/performance/start_collecting?hash=h2&duration=2&interval=1");
  ASSERT_EQ(Result(d), "succeeded");
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  d = Get("/performance/stop_collecting?hash=h1");
  ASSERT_EQ(Result(d), "succeeded");
  ExpectInfo(d["system"], 2, true);
  ASSERT_TRUE(d.HasMember("process"));
  ExpectInfo(d["process"], 2, false);
  // The agent itself is running: its rss is there.
  EXPECT_GT(d["process"]["memory"]["used"][0].GetDouble(), 0);
  d = Get("/performance/stop_collecting?hash=h2");
  ASSERT_EQ(Result(d), "succeeded");
  ExpectInfo(d["system"], 2, true);
  EXPECT_FALSE(d.HasMember("process"));
  // Stopped: the hash is gone.
  d = Get("/performance/stop_collecting?hash=h1");
  EXPECT_EQ(Result(d), "failed");
}

TEST_F(ApiTest, StopBeforeTheEndGivesWhatWasSampled) {
  ASSERT_EQ(Result(Get("/performance/start_collecting?hash=early&duration=60"
                       "&interval=0.5")),
            "succeeded");
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  rapidjson::Document d = Get("/performance/stop_collecting?hash=early");
  ASSERT_EQ(Result(d), "succeeded");
  size_t n = d["system"]["cpu"]["percent"].Size();
  EXPECT_GE(n, 2u);
  EXPECT_LE(n, 3u);
}

TEST_F(ApiTest, FailedCases) {
  for (const char* bad : {
           "/performance/start_collecting?duration=2&interval=1",
           "/performance/start_collecting?hash=x&interval=1",
           "/performance/start_collecting?hash=x&duration=2",
           "/performance/start_collecting?hash=x&duration=abc&interval=1",
           "/performance/start_collecting?hash=x&duration=0&interval=1",
           "/performance/start_collecting?hash=x&duration=100000&interval=1",
           "/performance/start_collecting?hash=x&duration=2&interval=3",
           "/performance/start_collecting?hash=x&duration=2&interval=0.01",
           "/performance/stop_collecting?hash=never-started",
           "/performance/stop_collecting",
       }) {
    int status = 0;
    rapidjson::Document d = Get(bad, &status);
    EXPECT_EQ(status, 200) << bad;
    EXPECT_EQ(Result(d), "failed") << bad;
    EXPECT_TRUE(d.HasMember("reason") && d["reason"].IsString()) << bad;
  }
  int status = 0;
  rapidjson::Document d = Get("/performance/nope", &status);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(Result(d), "failed");
}

TEST_F(ApiTest, HashesAreUniqueAndCollectionsBounded) {
  ASSERT_EQ(Result(Get("/performance/start_collecting?hash=dup&duration=60"
                       "&interval=1")),
            "succeeded");
  EXPECT_EQ(Result(Get("/performance/start_collecting?hash=dup&duration=60"
                       "&interval=1")),
            "failed");
  for (int i = 1; i < 16; ++i) {
    EXPECT_EQ(Result(Get(absl::StrCat("/performance/start_collecting?hash=n", i,
                                      "&duration=60&interval=1"))),
              "succeeded")
        << i;
  }
  rapidjson::Document d =
      Get("/performance/start_collecting?hash=n16&duration=60&interval=1");
  EXPECT_EQ(Result(d), "failed");
  EXPECT_EQ(Result(Get("/performance/stop_collecting?hash=dup")), "succeeded");
  EXPECT_EQ(Result(Get("/performance/start_collecting?hash=n16&duration=60"
                       "&interval=1")),
            "succeeded");
}

}  // namespace
}  // namespace testing
}  // namespace canopy
