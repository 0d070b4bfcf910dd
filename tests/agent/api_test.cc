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

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreeTcpPort();
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server=udp://127.0.0.1:9", "--host=api",
                                 absl::StrCat("--listen=127.0.0.1:", port_)});
    ASSERT_TRUE(WaitFor([this] {
      return HttpClient("127.0.0.1", port_, 5).Request("GET", "/").ok();
    })) << "the agent does not listen on "
        << port_;
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

// How many samples a stop_collecting answer holds.
size_t Samples(const rapidjson::Document& d) {
  const rapidjson::Value* p = Path(&d, {"system", "cpu", "percent"});
  return p != nullptr && p->IsArray() ? p->Size() : 0;
}

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

// Two collections of two samples each (0.6 s every 0.3 s), one of them
// with the agent's own processes, stopped once they ended by the test's
// clock. The sleep only paces a round: a loaded machine may have sampled
// less by then (never more), and then another round runs, until the
// series are whole or the deadline passes.
TEST_F(ApiTest, StartThenStopGivesTheSeries) {
  rapidjson::Document with_process, system_only;
  std::string h1;
  int round = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        ++round;
        h1 = absl::StrCat("h1-", round);
        const std::string h2 = absl::StrCat("h2-", round);
        EXPECT_EQ(Result(Get(absl::StrCat(
                      "/performance/start_collecting?hash=", h1,
                      "&duration=0.6&interval=0.3&server=canopy-agent"))),
                  "succeeded");
        EXPECT_EQ(Result(Get(absl::StrCat("/performance/start_collecting?hash=",
                                          h2, "&duration=0.6&interval=0.3"))),
                  "succeeded");
        std::this_thread::sleep_for(std::chrono::milliseconds(900));
        with_process = Get("/performance/stop_collecting?hash=" + h1);
        system_only = Get("/performance/stop_collecting?hash=" + h2);
        EXPECT_EQ(Result(with_process), "succeeded");
        EXPECT_EQ(Result(system_only), "succeeded");
        EXPECT_LE(Samples(with_process), 2u);  // never past the duration
        EXPECT_LE(Samples(system_only), 2u);
        return Samples(with_process) == 2 && Samples(system_only) == 2;
      },
      absl::Seconds(30)))
      << "the collections never completed their two samples";
  ExpectInfo(with_process["system"], 2, true);
  ASSERT_TRUE(with_process.HasMember("process"));
  ExpectInfo(with_process["process"], 2, false);
  // The agent itself is running: its rss is there.
  EXPECT_GT(with_process["process"]["memory"]["used"][0].GetDouble(), 0);
  ExpectInfo(system_only["system"], 2, true);
  EXPECT_FALSE(system_only.HasMember("process"));
  // Stopped: the hash is gone.
  EXPECT_EQ(Result(Get("/performance/stop_collecting?hash=" + h1)), "failed");
}

// A collection of 600 samples (60 s every 0.1 s) stopped early answers the
// samples taken so far: never more than the time it ran allows, and some
// once the agent's loop has ticked (a round that stopped before is run
// again). The sleep only paces a round.
TEST_F(ApiTest, StopBeforeTheEndGivesWhatWasSampled) {
  int round = 0;
  size_t n = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string hash = absl::StrCat("early-", ++round);
        const absl::Time t0 = absl::Now();
        EXPECT_EQ(Result(Get(absl::StrCat("/performance/start_collecting?hash=",
                                          hash, "&duration=60&interval=0.1"))),
                  "succeeded");
        std::this_thread::sleep_for(std::chrono::milliseconds(350));
        rapidjson::Document d =
            Get("/performance/stop_collecting?hash=" + hash);
        const double ran = absl::ToDoubleSeconds(absl::Now() - t0);
        EXPECT_EQ(Result(d), "succeeded");
        n = Samples(d);
        // One sample per 0.1 s at most (+1: libevent's coarse clock).
        EXPECT_LE(n, static_cast<size_t>(ran / 0.1) + 1) << ran;
        EXPECT_LT(n, 600u);
        if (n > 0) ExpectInfo(d["system"], n, true);
        return n >= 2;
      },
      absl::Seconds(30)))
      << n;
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
