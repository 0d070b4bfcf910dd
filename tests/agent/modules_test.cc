// canopy-agent's modules, black-box: module files in a --conf_dir (exec
// modules printing JSON and Graphite lines, a hanging command, garbage,
// an .off file, the example .so), the directory re-read while the agent
// runs, and the parsers behind them.
#include "agent/modules.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/checks.h"
#include "agent/command.h"
#include "agent/log.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/agent/agent_util.h"
#include "tests/server/harness.h"

namespace canopy {
namespace testing {
namespace {

using Clock = std::chrono::steady_clock;

// The example module CMake builds beside bin/: lib/canopy-example-module.so.
std::string ExampleSo() {
  std::string bin = BinPath("canopy-agent");
  return bin.substr(0, bin.rfind("/bin/")) + "/lib/canopy-example-module.so";
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

class ModulesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  RunResult Once(const std::string& interval = "1500ms") {
    return RunAgentBinary(
        {"--once", "--interval=" + interval, "--host=m", "--conf_dir=" + dir_});
  }
  std::string dir_;
};

TEST_F(ModulesTest, ExecJsonAndGraphiteLand) {
  Write(dir_ + "/json.conf",
        "# a JSON tree\ntype = exec\n"
        "command = echo '{\"app\": {\"queue\": 12, \"sub\": {\"x\": 1}}}'\n");
  Write(dir_ + "/graphite.conf",
        "type = exec\n"
        "command = printf 'gr.hits 3\\ngr.load.avg 0.5 1700000000\\n'\n");
  Write(dir_ + "/prefixed.on",
        "type = exec\ncommand = echo 'a.b 7'\nprefix = apps,mine\n");
  RunResult r = Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* h = HostBody(d, "m");
  ASSERT_NE(h, nullptr) << r.out;
  EXPECT_EQ(Num(Path(h, {"app", "queue"})), 12) << r.out << r.err;
  EXPECT_EQ(Num(Path(h, {"app", "sub", "x"})), 1);
  EXPECT_EQ(Num(Path(h, {"gr", "hits"})), 3);
  EXPECT_EQ(Num(Path(h, {"gr", "load", "avg"})), 0.5);
  EXPECT_EQ(Num(Path(&d, {"apps", "mine", "a", "b"})), 7) << r.out;
}

TEST_F(ModulesTest, HangingGarbageOffAndBadFilesDoNotStopTheRest) {
  // A sleep this test alone runs (tests run in parallel), to find it in ps.
  const std::string sleeper = absl::StrCat("sleep 60.", getpid());
  Write(dir_ + "/hang.conf",
        absl::StrCat("type = exec\ncommand = echo '{\"hung\": 1}'; ", sleeper,
                     "\ntimeout = 500ms\n"));
  Write(dir_ + "/garbage.conf",
        "type = exec\ncommand = echo 'this is { not json'\n");
  Write(dir_ + "/broken.conf", "type = exec\ncommand = echo '{\"a\": '\n");
  Write(dir_ + "/fails.conf",
        "type = exec\ncommand = echo '{\"failed\": 1}'; exit 3\n");
  Write(dir_ + "/off.off", "type = exec\ncommand = echo '{\"off\": 1}'\n");
  Write(dir_ + "/typo.conf", "type = exec\ncomand = true\n");
  Write(dir_ + "/good.conf", "type = exec\ncommand = echo '{\"good\": 1}'\n");
  auto t0 = Clock::now();
  RunResult r = Once();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* h = HostBody(d, "m");
  ASSERT_NE(h, nullptr) << r.out;
  EXPECT_EQ(Num(Path(h, {"good"})), 1) << r.out;
  EXPECT_EQ(Path(h, {"hung"}), nullptr);
  EXPECT_EQ(Path(h, {"off"}), nullptr);
  EXPECT_EQ(Path(h, {"failed"}), nullptr);
  EXPECT_EQ(Path(h, {"a"}), nullptr);
  EXPECT_GE(Num(Path(h, {"agent", "errors"})), 5);
  EXPECT_NE(r.err.find("hang.conf: killed at its timeout"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("garbage.conf: output ignored"), std::string::npos);
  EXPECT_NE(r.err.find("broken.conf: output ignored: not JSON"),
            std::string::npos);
  EXPECT_NE(r.err.find("fails.conf: exited with 3"), std::string::npos);
  EXPECT_NE(r.err.find("typo.conf:2: unknown key \"comand\""),
            std::string::npos);
  EXPECT_EQ(r.err.find("off.off"), std::string::npos);
  // The hanging command's process group is gone (awaited: the kill is
  // asynchronous).
  auto running = [&]() {
    FILE* p = popen(
        absl::StrCat("ps -eo args | grep -c '^", sleeper, "$'").c_str(), "r");
    char buf[16] = {};
    if (fgets(buf, sizeof buf, p) == nullptr) buf[0] = 0;
    pclose(p);
    return std::string(buf) != "0\n";
  };
  EXPECT_TRUE(WaitFor([&] { return !running(); }, absl::Seconds(5)))
      << "the hung command was not killed";
}

TEST_F(ModulesTest, TheExampleSharedObjectLoadsAndAFailingInitIsSkipped) {
  ASSERT_EQ(access(ExampleSo().c_str(), R_OK), 0) << ExampleSo();
  Write(dir_ + "/so.conf", absl::StrCat("type = so\npath = ", ExampleSo(),
                                        "\noptions = greeting=bonjour\n"));
  Write(dir_ + "/refuses.conf",
        absl::StrCat("type = so\npath = ", ExampleSo(), "\noptions = fail\n"));
  Write(dir_ + "/missing.conf", "type = so\npath = nowhere.so\n");
  RunResult r = Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* ex = Path(HostBody(d, "m"), {"example"});
  ASSERT_NE(ex, nullptr) << r.out << r.err;
  EXPECT_GE(Num(Path(ex, {"calls"})), 1);
  EXPECT_EQ(Num(Path(ex, {"greeting_len"})), 7);
  ASSERT_NE(Path(ex, {"greeting"}), nullptr);
  EXPECT_STREQ(Path(ex, {"greeting"})->GetString(), "bonjour");
  EXPECT_NE(r.err.find("refuses.conf: canopy_module_init returned 1"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("missing.conf: cannot load"), std::string::npos);
}

TEST_F(ModulesTest, BuiltInChecksFromModuleFiles) {
  int closed = FreeTcpPort();
  Write(dir_ + "/ports.conf",
        absl::StrCat("type = port\nports = ", closed, "\ntimeout = 1s\n"));
  Write(dir_ + "/site.conf",
        absl::StrCat("type = url\nurl = http://127.0.0.1:", closed, "/\n"));
  RunResult r = Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* h = HostBody(d, "m");
  std::string p = absl::StrCat(closed);
  const rapidjson::Value* state = Path(h, {"port", p.c_str(), "state"});
  ASSERT_NE(state, nullptr) << r.out;
  EXPECT_STREQ(state->GetString(), "closed");
  // The url's name defaults to the file's.
  EXPECT_EQ(Num(Path(h, {"url", "site", "status"})), 0) << r.out;
}

// Regression: the Collect right after the Tick that started a module took
// its first output when the module's thread was quick enough, so --once
// (whose first Collect only primes the rates) sometimes printed no module
// output at all. Now that Collect leaves it, however quick the module.
TEST_F(ModulesTest, TheCollectAfterTheStartingTickLeavesTheOutputForTheNext) {
  Write(dir_ + "/quick.conf",
        "type = exec\ncommand = echo run >> runs; echo '{\"quick\": 1}'\n"
        "interval = 100ms\n");
  agent::ErrorLog log;
  agent::CheckRunner checks(&log);
  agent::ModuleSet modules(&log, &checks, {dir_, absl::Seconds(1), {}, "m"});
  modules.Tick();
  // The second run has begun (runs in the conf dir): the first one's
  // output is there to take.
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream in(dir_ + "/runs");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) ++n;
    return n >= 2;
  }));
  rapidjson::Document first, second;
  first.SetObject();
  second.SetObject();
  modules.Collect(&first);
  EXPECT_EQ(Path(&first, {"host", "m", "quick"}), nullptr);
  modules.Collect(&second);
  EXPECT_EQ(Num(Path(&second, {"host", "m", "quick"})), 1);
}

TEST_F(ModulesTest, TheShippedExamplesParse) {
  for (const char* f :
       {"exec.conf", "so.conf", "ports.conf", "url.conf", "nginx.conf"}) {
    std::string path = absl::StrCat(CANOPY_SOURCE_DIR, "/agent/examples/", f);
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    absl::StatusOr<agent::ModuleConf> c =
        agent::ParseModuleConf(f, ss.str(), "/etc", absl::Seconds(1));
    EXPECT_TRUE(c.ok()) << f << ": " << c.status();
  }
  // The example command prints a tree.
  agent::CommandResult r =
      agent::RunCommand("./example-command.sh",
                        absl::StrCat(CANOPY_SOURCE_DIR, "/agent/examples"),
                        absl::Seconds(5), 1 << 20, nullptr);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  absl::StatusOr<std::string> json = agent::ParseModuleOutput(r.out);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("example_cmd"), std::string::npos) << *json;
}

// Files added, switched off and changed while the agent runs are picked
// up at the next look at the directory.
TEST_F(ModulesTest, TheDirectoryIsReReadWhileRunning) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  AgentProcess agent(
      {absl::StrCat("--server=udp://127.0.0.1:", (*server)->udp_port()),
       "--interval=300ms", "--host=live", "--conf_dir=" + dir_});
  HttpClient http = (*server)->Client();
  auto value = [&](const std::string& key) {
    absl::StatusOr<HttpReply> r =
        http.Request("GET", absl::StrCat("/get?key=", UrlEncode(key)));
    if (!r.ok() || r->status != 200) return -1.0;
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    if (d.HasParseError() || !d.HasMember("items")) return -1.0;
    for (const rapidjson::Value& item : d["items"].GetArray()) {
      for (auto& m : item.GetObject()) {
        if (key == m.name.GetString() && m.value.IsNumber()) {
          return m.value.GetDouble();
        }
      }
    }
    return -1.0;
  };
  auto await = [&](const std::string& key, double want) {
    double v = -1;
    WaitFor(
        [&] {
          v = value(key);
          return v == want;
        },
        absl::Seconds(15));
    return v;
  };
  // The agent has read the (empty) directory: it has pushed an interval.
  ASSERT_TRUE(WaitFor([&] { return value("host,live,agent,seq") >= 1; }));
  Write(dir_ + "/later.conf",
        "type = exec\ncommand = echo 'later.v 1'\ninterval = 300ms\n");
  EXPECT_EQ(await("host,live,later,v", 1), 1);
  // Edited in place: the new command runs.
  Write(dir_ + "/later.conf",
        "type = exec\ncommand = echo 'later.v 2'\ninterval = 300ms\n");
  EXPECT_EQ(await("host,live,later,v", 2), 2);
  EXPECT_EQ(agent.Stop(), 0);
}

TEST(ModuleConfTest, Parse) {
  absl::StatusOr<agent::ModuleConf> c = agent::ParseModuleConf(
      "x.conf",
      "# comment\n\ntype = exec\ncommand = \"echo hi\"\ninterval = 10s\n"
      "timeout = 2\nprefix = a,b\n",
      "/d", absl::Seconds(1));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->command, "echo hi");
  EXPECT_EQ(c->interval, absl::Seconds(10));
  EXPECT_EQ(c->timeout, absl::Seconds(2));
  EXPECT_EQ(c->prefix, (std::vector<std::string>{"a", "b"}));
  c = agent::ParseModuleConf("s.conf", "type = so\npath = m.so\n", "/d",
                             absl::Seconds(1));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->path, "/d/m.so");
  for (const char* bad :
       {"", "type = nope\n", "type = exec\n", "type = port\nports = 0\n",
        "type = url\nurl = ftp://x\n",
        "type = exec\ncommand = x\ninterval = 1ms\n", "type exec\n",
        "type = url\nurl = http://x/\nname = a,b\n"}) {
    EXPECT_FALSE(
        agent::ParseModuleConf("b.conf", bad, "/d", absl::Seconds(1)).ok())
        << bad;
  }
}

TEST(ModuleOutputTest, JsonGraphiteAndGarbage) {
  EXPECT_EQ(*agent::ParseModuleOutput(" {\"a\": {\"b\": 1}}\n"),
            "{\"a\":{\"b\":1}}");
  EXPECT_EQ(*agent::ParseModuleOutput("a.b 1\na.c 2 1700000000\n"),
            "{\"a\":{\"b\":1.0,\"c\":2.0}}");
  EXPECT_EQ(*agent::ParseModuleOutput("  \n"), "");
  EXPECT_FALSE(agent::ParseModuleOutput("[1, 2]").ok());
  EXPECT_FALSE(agent::ParseModuleOutput("{\"a\": 1} trailing").ok());
  EXPECT_FALSE(agent::ParseModuleOutput("a.b 1\nnonsense\n").ok());
}

// Output with a prefix outside the host survives the UDP split.
TEST(ModuleOutputTest, PrefixedOutputGetsAPieceOfItsOwn) {
  rapidjson::Document d;
  d.Parse(
      "{\"host\": {\"h\": {\"a\": {\"x\": \"0123456789012345678901234567\"},"
      " \"b\": {\"y\": \"0123456789012345678901234567\"}}},"
      " \"apps\": {\"mine\": {\"v\": 1}}, \"time\": 5}");
  ASSERT_FALSE(d.HasParseError());
  int oversized = 0;
  std::vector<std::string> pieces = agent::SplitTree(d, 90, &oversized);
  EXPECT_EQ(oversized, 0);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[2], "{\"apps\":{\"mine\":{\"v\":1}},\"time\":5}");
}

TEST(RunCommandTest, TimeoutKillsTheGroup) {
  auto t0 = Clock::now();
  agent::CommandResult r =
      agent::RunCommand("sleep 30 & sleep 30; echo never", "",
                        absl::Milliseconds(300), 1024, nullptr);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.out, "");
  r = agent::RunCommand("yes", "", absl::Seconds(5), 4096, nullptr);
  EXPECT_TRUE(r.too_long);
  r = agent::RunCommand("echo out; echo err >&2; exit 2", "", absl::Seconds(5),
                        4096, nullptr);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace testing
}  // namespace canopy
