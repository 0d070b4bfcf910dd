// Black-box tests of the `canopy` command-line client: each test starts the
// real canopyd on loopback ports (tests/server/harness.h) and runs the real
// `canopy` binary against it, checking what it prints and how it exits.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "canopy/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int exit_code = -1;  // 128+signal if killed
  std::string out;
  std::string err;
};

// A running `canopy` process with its stdin, stdout and stderr on pipes.
// `env`: NAME=value entries put in (or over) the test's own environment.
class Cli {
 public:
  explicit Cli(const std::vector<std::string>& args,
               const std::string& input = "",
               const std::vector<std::string>& env = {}) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    std::string bin = testing::BinPath("canopy");
    std::vector<std::string> argv_strings = {bin};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = env;
    for (char** e = environ; *e != nullptr; ++e) {
      absl::string_view entry = *e;
      bool replaced = false;
      for (const std::string& mine : env) {
        replaced |= absl::StartsWith(entry, mine.substr(0, mine.find('=') + 1));
      }
      if (!replaced) env_strings.emplace_back(entry);
    }
    std::vector<char*> envp;
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      execve(bin.c_str(), argv.data(), envp.data());
      std::fprintf(stderr, "exec %s: %s\n", bin.c_str(), std::strerror(errno));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    // Small inputs only: they fit in the pipe's buffer.
    if (!input.empty()) {
      ssize_t n = write(in[1], input.data(), input.size());
      EXPECT_EQ(n, static_cast<ssize_t>(input.size()));
    }
    close(in[1]);
  }

  ~Cli() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
  }

  // Waits until the process has written `text` to stderr (kept for Wait).
  bool WaitForStderr(absl::string_view text) {
    return testing::WaitFor([&] {
      struct pollfd p = {err_fd_, POLLIN, 0};
      if (err_fd_ >= 0 && poll(&p, 1, 0) > 0) {
        char buf[4096];
        ssize_t n = read(err_fd_, buf, sizeof buf);
        if (n > 0) err_.append(buf, n);
      }
      return absl::StrContains(err_, text);
    });
  }

  // Collects the output until the process exits; kills it after `seconds`.
  Result Wait(double seconds = 20) {
    Result r;
    r.err = std::move(err_);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    bool killed = false;
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 && !killed) {
        ADD_FAILURE() << "canopy did not finish within " << seconds << "s";
        kill(pid_, SIGKILL);
        killed = true;
        left = 1000;
      }
      struct pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      int rc = poll(fds, 2, static_cast<int>(std::max<int64_t>(left, 1)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[4096];
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          (i == 0 ? r.out : r.err).append(buf, n);
        } else {
          close(fds[i].fd);
          (i == 0 ? out_fd_ : err_fd_) = -1;
        }
      }
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    waited_ = true;
    r.exit_code =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool waited_ = false;
  std::string err_;  // stderr read before Wait
};

Result RunCanopy(const std::vector<std::string>& args,
                 const std::string& input = "",
                 const std::vector<std::string>& env = {}) {
  return Cli(args, input, env).Wait();
}

std::vector<std::string> Lines(absl::string_view text) {
  std::vector<std::string> lines =
      absl::StrSplit(absl::StripSuffix(text, "\n"), '\n');
  if (text.empty()) lines.clear();
  return lines;
}

// "key  value" lines as a map; checks that the values form one column.
std::map<std::string, std::string> KeyValues(absl::string_view text) {
  std::map<std::string, std::string> out;
  size_t column = 0;
  for (const std::string& line : Lines(text)) {
    size_t space = line.find(' ');
    size_t value = line.find_first_not_of(' ', space);
    EXPECT_NE(value, std::string::npos) << line;
    if (value == std::string::npos) continue;
    if (column == 0) column = value;
    EXPECT_EQ(value, column) << "values not aligned:\n" << text;
    out[line.substr(0, space)] = line.substr(value);
  }
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> flags) {
    auto server = testing::ServerProcess::Start(std::move(flags));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::string ServerFlag() const {
    return absl::StrCat("--server=http://127.0.0.1:", server_->http_port());
  }

  // Runs `canopy --server=... args...`.
  Result Canopy(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), ServerFlag());
    return RunCanopy(args, input);
  }

  void Push(absl::string_view json) {
    HttpClient http = server_->Client();
    auto reply = http.Request("POST", "/push", json,
                              {{"Content-Type", "application/json"}});
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->status, 200) << reply->body;
  }

  int64_t Seq() {
    HttpClient http = server_->Client();
    auto reply = http.Request("GET", "/get?key=no,such,key");
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return -1;
    rapidjson::Document doc;
    doc.Parse(reply->body.c_str());
    EXPECT_TRUE(doc.IsObject() && doc.HasMember("seq")) << reply->body;
    if (!doc.IsObject() || !doc.HasMember("seq")) return -1;
    return doc["seq"].GetInt64();
  }

  // Waits until canopyd's /metrics reports at least `n` parked waiters.
  bool WaitForWaiters(int n) {
    HttpClient http = server_->Client();
    return testing::WaitFor([&] {
      auto reply = http.Request("GET", "/metrics");
      if (!reply.ok()) return false;
      for (absl::string_view line : absl::StrSplit(reply->body, '\n')) {
        int64_t waiters = 0;
        if (absl::ConsumePrefix(&line, "canopy_waiters ") &&
            absl::SimpleAtoi(line, &waiters) && waiters >= n) {
          return true;
        }
      }
      return false;
    });
  }

  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(CliTest, PushThenGet) {
  Result push = Canopy({"push", "br,ie,7=2328", "br,ie,8=1.5", "br,os=linux"});
  EXPECT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(push.out, "accepted 3\n");
  EXPECT_EQ(push.err, "");

  Result get = Canopy({"get", "br,ie", "br,os"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.err, "");
  std::map<std::string, std::string> values = KeyValues(get.out);
  EXPECT_EQ(values["br,ie,7"], "2328");
  EXPECT_EQ(values["br,ie,8"], "1.5");
  EXPECT_EQ(values["br,os"], "linux");
  EXPECT_EQ(values.size(), 3u) << get.out;
}

TEST_F(CliTest, GetPatternAndJson) {
  Push(R"({"host": {"web1": {"load": 1.5}, "web2": {"load": 2}}})");
  Result get = Canopy({"get", "host,*,load"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  std::map<std::string, std::string> values = KeyValues(get.out);
  EXPECT_EQ(values["host,web1,load"], "1.5");
  EXPECT_EQ(values["host,web2,load"], "2");

  Result json = Canopy({"get", "host,web1", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  ASSERT_TRUE(doc.IsObject()) << json.out;
  EXPECT_TRUE(doc.HasMember("seq"));
  ASSERT_TRUE(doc.HasMember("items") && doc["items"].IsArray());
  ASSERT_EQ(doc["items"].Size(), 1u);
  EXPECT_EQ(doc["items"][0]["host,web1,load"].GetDouble(), 1.5);
}

TEST_F(CliTest, GetNothingPrintsNothing) {
  Result get = Canopy({"get", "no,such,key"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "");
}

TEST_F(CliTest, PushFileAndStdin) {
  std::string dir = testing::MakeTempDir();
  std::string file = dir + "/push.json";
  std::ofstream(file) << R"([{"f": {"a": 1, "b": "x"}}])";
  Result from_file = Canopy({"push", "--file=" + file});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, "accepted 2\n");

  Result from_stdin = Canopy({"push", "-"}, R"({"f,c": 3})");
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "accepted 1\n");

  std::map<std::string, std::string> values =
      KeyValues(Canopy({"get", "f"}).out);
  EXPECT_EQ(values["f,a"], "1");
  EXPECT_EQ(values["f,b"], "x");
  EXPECT_EQ(values["f,c"], "3");
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

TEST_F(CliTest, PushWithActionAdds) {
  for (int i = 0; i < 3; ++i) {
    Result push = Canopy({"push", "web,hits=2", "--action=add"});
    ASSERT_EQ(push.exit_code, 0) << push.err;
  }
  EXPECT_EQ(KeyValues(Canopy({"get", "web,hits"}).out)["web,hits"], "6");
}

TEST_F(CliTest, MalformedPushIsOneLineFromTheServer) {
  Result push = Canopy({"push", "-"}, "{\"a\": \n  [1, }");
  EXPECT_EQ(push.exit_code, 1);
  EXPECT_EQ(push.out, "");
  ASSERT_EQ(Lines(push.err).size(), 1u) << push.err;
  EXPECT_THAT(push.err, AllOf(StartsWith("canopy: "), HasSubstr("line 2")));
}

TEST_F(CliTest, BadKeyIsRefusedBeforeSending) {
  Result push = Canopy({"push", "a,,b=1"});
  EXPECT_EQ(push.exit_code, 1);
  ASSERT_EQ(Lines(push.err).size(), 1u) << push.err;
  EXPECT_THAT(push.err, StartsWith("canopy: "));
  Result get = Canopy({"get"});
  EXPECT_EQ(get.exit_code, 2);
  EXPECT_EQ(Lines(get.err).size(), 1u) << get.err;
}

TEST_F(CliTest, Tree) {
  Push(R"({"br": {"ie": {"7": 2328, "8": 5}, "webkit": 12},
          "defaultaction": "add"})");
  Result tree = Canopy({"tree", "br", "--actions"});
  EXPECT_EQ(tree.exit_code, 0) << tree.err;
  std::vector<std::string> lines = Lines(tree.out);
  ASSERT_GE(lines.size(), 6u) << tree.out;
  EXPECT_THAT(lines[0], StartsWith("br"));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 ie"));
  EXPECT_THAT(tree.out, HasSubstr("\u2502   \u251c\u2500\u2500 7  2328"));
  EXPECT_THAT(tree.out, HasSubstr("\u2502   \u2514\u2500\u2500 8  5"));
  EXPECT_THAT(tree.out, HasSubstr("webkit  12"));
  EXPECT_THAT(tree.out, HasSubstr("[add]"));
  EXPECT_THAT(lines.back(), HasSubstr("3 leaves"));

  Result shallow = Canopy({"tree", "br", "--depth=1"});
  EXPECT_EQ(shallow.exit_code, 0) << shallow.err;
  EXPECT_THAT(shallow.out, HasSubstr("ie"));
  EXPECT_THAT(shallow.out, Not(HasSubstr("2328")));
}

TEST_F(CliTest, TreeOfTheRoot) {
  Push(R"({"a": {"b": 1, "t": "text"}})");
  Result tree = Canopy({"tree"});
  EXPECT_EQ(tree.exit_code, 0) << tree.err;
  std::vector<std::string> lines = Lines(tree.out);
  ASSERT_GE(lines.size(), 3u) << tree.out;
  EXPECT_THAT(lines[0], StartsWith("."));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 a"));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 b  1"));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 t  text"));
}

TEST_F(CliTest, Diff) {
  Push(R"({"a": {"x": 1, "y": 2}, "b": {"y": 5, "z": "text"}})");
  Result diff = Canopy({"diff", "a", "b"});
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  std::vector<std::string> lines = Lines(diff.out);
  ASSERT_EQ(lines.size(), 4u) << diff.out;
  EXPECT_THAT(lines[0], AllOf(StartsWith("PATH"), HasSubstr("DELTA")));
  std::map<std::string, std::vector<std::string>> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells =
        absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    rows[cells[0]] = cells;
  }
  EXPECT_THAT(rows["y"], ElementsAre("y", "2", "5", "+3"));
  EXPECT_THAT(rows["x"], ElementsAre("x", "1", "-", "only", "in", "A"));
  EXPECT_THAT(rows["z"], ElementsAre("z", "-", "text", "only", "in", "B"));
}

TEST_F(CliTest, Remove) {
  Push(R"({"gone": {"a": 1, "b": 2}, "kept": 3})");
  Result rm = Canopy({"rm", "gone"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_THAT(rm.out, StartsWith("removed gone"));
  EXPECT_EQ(Canopy({"get", "gone"}).out, "");
  EXPECT_EQ(KeyValues(Canopy({"get", "kept"}).out)["kept"], "3");

  Result root = Canopy({"rm", ""});
  EXPECT_EQ(root.exit_code, 2);
  EXPECT_EQ(Lines(root.err).size(), 1u) << root.err;
}

TEST_F(CliTest, WatchFromASeqPrintsTheChangeAndStops) {
  Push(R"({"w": {"v": 1, "other": 1}})");
  int64_t since = Seq();
  Cli watch({ServerFlag(), "watch", "w,v", "--count=1",
             absl::StrCat("--since=", since)});
  Push(R"({"w": {"v": 42, "other": 2}})");
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out),
            (std::map<std::string, std::string>{{"w,v", "42"}}));
}

TEST_F(CliTest, WatchFromNowWaitsForTheNextChange) {
  Push(R"({"w": {"v": 1}})");
  Cli watch({ServerFlag(), "watch", "w", "--count=1"});
  ASSERT_TRUE(WaitForWaiters(1));
  Push(R"({"w": {"v": 7}})");
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out)["w,v"], "7");
}

TEST_F(CliTest, WatchShowsRemovedLeaves) {
  Push(R"({"w": {"v": 1}})");
  int64_t since = Seq();
  Cli watch({ServerFlag(), "watch", "w", "--count=1",
             absl::StrCat("--since=", since)});
  HttpClient http = server_->Client();
  auto reply = http.Request("DELETE", "/api/q/w,v");
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->status, 200) << reply->body;
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out)["w,v"], "(removed)") << r.out;
}

TEST_F(CliTest, WatchJsonPrintsOneReplyPerLine) {
  int64_t since = Seq();
  Cli watch({ServerFlag(), "watch", "j", "--count=2", "--json",
             absl::StrCat("--since=", since)});
  Push(R"({"j": 1})");
  ASSERT_TRUE(WaitForWaiters(1));
  Push(R"({"j": 2})");
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const std::string& line : lines) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    EXPECT_TRUE(doc.IsObject() && doc.HasMember("items")) << line;
  }
}

TEST_F(CliTest, TokenIsSent) {
  StartServer({"--write_token=sekrit"});
  Result denied = Canopy({"push", "t=1"});
  EXPECT_EQ(denied.exit_code, 1);
  ASSERT_EQ(Lines(denied.err).size(), 1u) << denied.err;
  EXPECT_THAT(denied.err, StartsWith("canopy: "));
  Result allowed = Canopy({"push", "t=1", "--token=sekrit"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(allowed.out, "accepted 1\n");
}

TEST_F(CliTest, ConfigFileSetsFlagsAndTheCommandLineWins) {
  std::string dir = testing::MakeTempDir();
  std::string file = dir + "/canopy.conf";
  std::ofstream(file) << "# test\n"
                      << ServerFlag().substr(2) << "\njson=true\n";
  Push(R"({"c": 1})");
  Result json = RunCanopy({"--config=" + file, "get", "c"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, StartsWith("{"));
  Result plain = RunCanopy({"--config=" + file, "--json=false", "get", "c"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(KeyValues(plain.out)["c"], "1");
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

TEST_F(CliTest, EnvironmentGivesTheServerAndTokenTheFlagsWin) {
  StartServer({"--write_token=sekrit"});
  const std::string url =
      absl::StrCat("http://127.0.0.1:", server_->http_port());
  Result from_env = RunCanopy({"push", "e=1"}, "",
                              {"CANOPY_SERVER=" + url, "CANOPY_TOKEN=sekrit"});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_EQ(from_env.out, "accepted 1\n");

  // --server and --token win over the environment.
  Result flags =
      RunCanopy({"--server=" + url, "--token=sekrit", "push", "e=2"}, "",
                {"CANOPY_SERVER=http://127.0.0.1:1", "CANOPY_TOKEN=wrong"});
  EXPECT_EQ(flags.exit_code, 0) << flags.err;
  EXPECT_EQ(flags.out, "accepted 1\n");

  // The environment's token is sent, and refused when it is wrong.
  Result wrong =
      RunCanopy({"--server=" + url, "push", "e=3"}, "", {"CANOPY_TOKEN=wrong"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, StartsWith("canopy: "));
}

// ---------------------------------------------------------------- history

// Pushes k,a = i and k,b = 10 * i dated at `base + 60 * i` for i in [0, n)
// and waits until /trend returns every point (the server hands windows to
// history about once a second).
class CliTrendTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    int64_t now = time(nullptr);
    base_ = now - now % 60 - 1800;  // half an hour ago, on a minute
    // Keep every sample in one UTC day (for export).
    int64_t last = base_ + 60 * (kMinutes - 1);
    if (last / 86400 != base_ / 86400) base_ = last / 86400 * 86400;
    for (int i = 0; i < kMinutes; ++i) {
      Push(absl::StrCat(R"({"time": )", base_ + 60 * i, R"(, "k": {"a": )", i,
                        R"(, "b": )", 10 * i, "}}"));
    }
    HttpClient http = server_->Client();
    std::string target =
        absl::StrCat("/trend?key=k&from=", base_, "&to=", To(), "&step=60");
    std::string body;
    bool all_points = testing::WaitFor(
        [&] {
          auto reply = http.Request("GET", target);
          body = reply.ok() ? reply->body : reply.status().ToString();
          rapidjson::Document doc;
          doc.Parse(body.c_str());
          return reply.ok() && reply->status == 200 && doc.IsObject() &&
                 doc["series"].Size() == 2 &&
                 doc["series"][0]["points"].Size() == kMinutes &&
                 doc["series"][1]["points"].Size() == kMinutes;
        },
        absl::Seconds(15));
    ASSERT_TRUE(all_points)
        << "history never showed the pushed points: " << body;
  }

  int64_t To() const { return base_ + 60 * kMinutes - 1; }
  std::string UtcDay() const {
    return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(base_),
                            absl::UTCTimeZone());
  }

  static constexpr int kMinutes = 5;
  int64_t base_ = 0;
};

TEST_F(CliTrendTest, TablePrintsLocalTimesAndValuesPerSeries) {
  Result trend = Canopy({"trend", "k", absl::StrCat("--from=", base_),
                         absl::StrCat("--to=", To()), "--step=60"});
  ASSERT_EQ(trend.exit_code, 0) << trend.err;
  EXPECT_EQ(trend.err, "");
  std::vector<std::string> lines = Lines(trend.out);
  // "k,a  (every 1m, avg)", 5 rows, a blank line, "k,b ...", 5 rows.
  ASSERT_EQ(lines.size(), 2u * (kMinutes + 1) + 1) << trend.out;
  EXPECT_EQ(lines[0], "k,a  (every 1m, avg)");
  EXPECT_EQ(lines[kMinutes + 1], "");
  EXPECT_EQ(lines[kMinutes + 2], "k,b  (every 1m, avg)");
  for (int i = 0; i < kMinutes; ++i) {
    std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez",
                                        absl::FromUnixSeconds(base_ + 60 * i),
                                        absl::LocalTimeZone());
    EXPECT_EQ(lines[1 + i], absl::StrCat(time, "  ", i));
    EXPECT_EQ(lines[kMinutes + 3 + i], absl::StrCat(time, "  ", 10 * i));
  }

  // One key, another fn, the range given as local times.
  std::string from = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(base_), absl::LocalTimeZone());
  Result one = Canopy({"trend", "k,b", "--from=" + from,
                       absl::StrCat("--to=", To()), "--step=1m", "--fn=count"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  lines = Lines(one.out);
  ASSERT_EQ(lines.size(), kMinutes + 1u) << one.out;
  EXPECT_EQ(lines[0], "k,b  (every 1m, count)");
  EXPECT_THAT(lines[kMinutes], ::testing::EndsWith("  1"));
}

TEST_F(CliTrendTest, SparkPrintsOneLinePerSeries) {
  Result spark = Canopy({"trend", "k", absl::StrCat("--from=", base_),
                         absl::StrCat("--to=", To()), "--step=60", "--spark"});
  ASSERT_EQ(spark.exit_code, 0) << spark.err;
  std::vector<std::string> lines = Lines(spark.out);
  ASSERT_EQ(lines.size(), 2u) << spark.out;
  // 0..4: bars 0, 2, 4, 5, 7 of eight.
  EXPECT_EQ(lines[0],
            "k,a  \u2581\u2583\u2585\u2586\u2588  min 0  max 4   last 4");
  EXPECT_EQ(lines[1],
            "k,b  \u2581\u2583\u2585\u2586\u2588  min 0  max 40  last 40");
}

TEST_F(CliTrendTest, CsvAndJsonAreTheServersReply) {
  Result csv = Canopy({"trend", "k", absl::StrCat("--from=", base_),
                       absl::StrCat("--to=", To()), "--step=60", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::string> lines = Lines(csv.out);
  ASSERT_EQ(lines.size(), kMinutes + 1u) << csv.out;
  EXPECT_EQ(lines[0], "time,\"k,a\",\"k,b\"");
  EXPECT_EQ(lines[kMinutes], absl::StrCat(base_ + 240, ",4,40"));

  Result json = Canopy({"trend", "k,a", absl::StrCat("--from=", base_),
                        absl::StrCat("--to=", To()), "--step=60", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  ASSERT_TRUE(doc.IsObject()) << json.out;
  EXPECT_EQ(doc["step"].GetInt(), 60);
  EXPECT_EQ(doc["series"][0]["points"].Size(), static_cast<unsigned>(kMinutes));
}

TEST_F(CliTrendTest, ErrorsAreOneLine) {
  Result bad_fn = Canopy({"trend", "k", "--fn=median"});
  EXPECT_EQ(bad_fn.exit_code, 1);
  EXPECT_EQ(bad_fn.out, "");
  ASSERT_EQ(Lines(bad_fn.err).size(), 1u) << bad_fn.err;
  EXPECT_THAT(bad_fn.err, StartsWith("canopy: "));

  Result bad_time = Canopy({"trend", "k", "--from=yesterday-ish"});
  EXPECT_EQ(bad_time.exit_code, 1);
  ASSERT_EQ(Lines(bad_time.err).size(), 1u) << bad_time.err;
  EXPECT_THAT(bad_time.err, StartsWith("canopy: bad time"));

  Result backwards = Canopy({"trend", "k", "--from=-1h", "--to=-2h"});
  EXPECT_EQ(backwards.exit_code, 1);
  EXPECT_THAT(backwards.err, StartsWith("canopy: "));

  Result no_key = Canopy({"trend"});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_EQ(Lines(no_key.err).size(), 1u) << no_key.err;
}

TEST_F(CliTrendTest, ExportWritesOneCsvPerKeyAndATarGz) {
  std::string dir = testing::MakeTempDir() + "/out";  // export creates it
  std::string day = UtcDay();
  Result exp = Canopy(
      {"export", "--day=" + day, "--key=k,**", "--step=60", "--out=" + dir});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  std::vector<std::string> lines = Lines(exp.out);
  ASSERT_EQ(lines.size(), 3u) << exp.out;
  EXPECT_EQ(lines[0], absl::StrCat("wrote ", dir, "/k,a.csv (5 rows)"));
  EXPECT_EQ(lines[1], absl::StrCat("wrote ", dir, "/k,b.csv (5 rows)"));
  std::string archive = absl::StrCat(dir, "/canopy-export-", day, ".tar.gz");
  EXPECT_THAT(lines[2],
              StartsWith(absl::StrCat("wrote ", archive, " (2 files, ")));

  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  };
  std::vector<std::string> a = Lines(read(dir + "/k,a.csv"));
  ASSERT_EQ(a.size(), kMinutes + 1u);
  EXPECT_EQ(a[0], "time,\"k,a\"");
  for (int i = 0; i < kMinutes; ++i) {
    EXPECT_EQ(a[1 + i], absl::StrCat(base_ + 60 * i, ",", i));
  }
  std::vector<std::string> b = Lines(read(dir + "/k,b.csv"));
  ASSERT_EQ(b.size(), kMinutes + 1u);
  EXPECT_EQ(b[0], "time,\"k,b\"");
  EXPECT_EQ(b[kMinutes], absl::StrCat(base_ + 240, ",40"));

  std::string listing;
  FILE* tar = popen(absl::StrCat("tar -tzf '", archive, "'").c_str(), "r");
  ASSERT_NE(tar, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, tar)) > 0;)
    listing.append(buf, n);
  EXPECT_EQ(pclose(tar), 0);
  std::string top = absl::StrCat("canopy-export-", day, "/");
  EXPECT_THAT(Lines(listing), ElementsAre(top + "k,a.csv", top + "k,b.csv"));

  // A day without history writes nothing and says so.
  Result empty = Canopy(
      {"export", "--day=2001-01-01", "--key=k,**", "--out=" + dir + "/old"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, StartsWith("canopy: no history under k,**"));
  Result bad_day = Canopy({"export", "--day=2026-13-01", "--out=" + dir});
  EXPECT_EQ(bad_day.exit_code, 2);
  EXPECT_THAT(bad_day.err, HasSubstr("bad --day"));

  std::string rm = absl::StrCat("rm -rf '", dir.substr(0, dir.size() - 4), "'");
  EXPECT_EQ(std::system(rm.c_str()), 0);
}

TEST(CliNoServerTest, HelpListsTheCommands) {
  Result r = RunCanopy({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("Usage: canopy [flags] COMMAND"));
  for (const char* command :
       {"get", "watch", "push", "tree", "diff", "rm", "trend", "export"}) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\n  ", command, " ")));
  }
}

TEST(CliNoServerTest, HelpCommandPrintsACommandsHelp) {
  Result all = RunCanopy({"help"});
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_EQ(all.out, RunCanopy({"--help"}).out);
  for (const char* command : {"get", "watch", "push", "tree", "diff", "rm",
                              "trend", "export", "pipe"}) {
    Result r = RunCanopy({"help", command});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_THAT(r.out,
                StartsWith(absl::StrCat("Usage: canopy [flags] ", command)));
  }
  // After flags too, and without a server to talk to.
  Result after_flags = RunCanopy(
      {"--server=http://127.0.0.1:1", "--timeout=5", "help", "trend"});
  EXPECT_EQ(after_flags.exit_code, 0) << after_flags.err;
  EXPECT_THAT(after_flags.out, HasSubstr("--spark"));

  Result unknown = RunCanopy({"help", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(Lines(unknown.err).size(), 1u) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("frobnicate"));
}

TEST(CliNoServerTest, BadFlagIsOneLine) {
  Result r = RunCanopy({"--no_such_flag=1", "get", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no_such_flag"));

  Result bad_value = RunCanopy({"--timeout=soon", "get", "x"});
  EXPECT_NE(bad_value.exit_code, 0);
  EXPECT_EQ(Lines(bad_value.err).size(), 1u) << bad_value.err;
}

TEST(CliNoServerTest, UnknownCommandIsOneLine) {
  Result r = RunCanopy({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("frobnicate"));
}

TEST(CliNoServerTest, ServerDownIsAClearError) {
  // A port that was just free: start a server, note its port, stop it.
  auto server = testing::ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->http_port();
  (*server)->Stop();
  Result r = RunCanopy({absl::StrCat("--server=127.0.0.1:", port), "get", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, AllOf(StartsWith("canopy: "), HasSubstr("cannot connect"),
                           HasSubstr(absl::StrCat(port))));
}

TEST(CliNoServerTest, WatchWaitsForTheServerToComeBack) {
  std::string dir = testing::MakeTempDir();
  auto first = testing::ServerProcess::Start({}, dir);
  ASSERT_TRUE(first.ok()) << first.status();
  int port = (*first)->http_port();
  (*first)->Stop();
  Cli watch({absl::StrCat("--server=127.0.0.1:", port), "watch", "back",
             "--count=1", "--since=0"});
  // The watch finds the server away (and backs off) before it comes back.
  ASSERT_TRUE(watch.WaitForStderr("retrying"));
  auto second = testing::ServerProcess::Start(
      {absl::StrCat("--http=127.0.0.1:", port)}, dir);
  ASSERT_TRUE(second.ok()) << second.status();
  HttpClient http = (*second)->Client();
  auto reply = http.Request("POST", "/push", R"({"back": 1})",
                            {{"Content-Type", "application/json"}});
  ASSERT_TRUE(reply.ok()) << reply.status();
  Result r = watch.Wait(40);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out)["back"], "1");
  EXPECT_THAT(r.err, HasSubstr("retrying"));
  (*second)->Stop();
  std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
}

}  // namespace
}  // namespace canopy
