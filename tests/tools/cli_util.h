// The test side of the `canopy` CLI's black-box tests: run the real binary
// (Cli), read what it printed, and a fixture with a real canopyd.
#ifndef CANOPY_TESTS_TOOLS_CLI_UTIL_H_
#define CANOPY_TESTS_TOOLS_CLI_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
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
namespace cli_testing {

struct Result {
  int exit_code = -1;  // 128+signal if killed
  std::string out;
  std::string err;
};

// A running `canopy` process with its stdin, stdout and stderr on pipes.
// `env`: NAME=value entries put in (or over) the test's own environment.
// `terminal`: stdout is a terminal (a pseudo-terminal in raw mode) as when a
// person runs it.
class Cli {
 public:
  explicit Cli(const std::vector<std::string>& args,
               const std::string& input = "",
               const std::vector<std::string>& env = {},
               bool terminal = false) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    if (terminal) {
      struct termios raw;
      if (openpty(&out[0], &out[1], nullptr, nullptr, nullptr) != 0) {
        ADD_FAILURE() << "openpty: " << std::strerror(errno);
        return;
      }
      tcgetattr(out[1], &raw);
      cfmakeraw(&raw);
      tcsetattr(out[1], TCSANOW, &raw);
      fcntl(out[0], F_SETFD, FD_CLOEXEC);
      fcntl(out[1], F_SETFD, FD_CLOEXEC);
    } else if (pipe2(out, O_CLOEXEC) != 0) {
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

inline Result RunCanopy(const std::vector<std::string>& args,
                        const std::string& input = "",
                        const std::vector<std::string>& env = {}) {
  return Cli(args, input, env).Wait();
}

// Runs `canopy args...` with stdout on a terminal.
inline Result RunCanopyOnTerminal(const std::vector<std::string>& args,
                                  const std::vector<std::string>& env = {}) {
  return Cli(args, "", env, /*terminal=*/true).Wait();
}

inline std::vector<std::string> Lines(absl::string_view text) {
  std::vector<std::string> lines =
      absl::StrSplit(absl::StripSuffix(text, "\n"), '\n');
  if (text.empty()) lines.clear();
  return lines;
}

// "key  value" lines as a map; checks that the values form one column.
inline std::map<std::string, std::string> KeyValues(absl::string_view text) {
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

}  // namespace cli_testing
}  // namespace canopy

#endif  // CANOPY_TESTS_TOOLS_CLI_UTIL_H_
