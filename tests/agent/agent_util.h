// Helpers for the agent's black-box tests: run canopy-agent, read its
// output, find a child's figures.
#ifndef CANOPY_TESTS_AGENT_AGENT_UTIL_H_
#define CANOPY_TESTS_AGENT_AGENT_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace testing {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs canopy-agent with `args` to completion, capturing stdout and stderr.
inline RunResult RunAgentBinary(const std::vector<std::string>& args) {
  RunResult r;
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return r;
  std::vector<std::string> argv = {BinPath("canopy-agent")};
  argv.insert(argv.end(), args.begin(), args.end());
  fcntl(out[0], F_SETFD, FD_CLOEXEC);
  fcntl(err[0], F_SETFD, FD_CLOEXEC);
  pid_t pid = Spawn(argv, -1, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  // Read both pipes until both close (outputs are small but may exceed a
  // pipe buffer: wait for either with poll()).
  bool open_out = true, open_err = true;
  char buf[65536];
  while (open_out || open_err) {
    pollfd fds[2] = {{open_out ? out[0] : -1, POLLIN, 0},
                     {open_err ? err[0] : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, n);
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? open_out : open_err) = false;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// A running canopy-agent, stopped with SIGTERM by Stop() or the destructor.
class AgentProcess {
 public:
  explicit AgentProcess(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BinPath("canopy-agent")};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = Spawn(argv);
  }
  ~AgentProcess() { Stop(); }
  // SIGTERM, then the exit code (or 128 + signal).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound, read and closed: nothing listens).
inline int FreeTcpPort() { return FreePort(); }

// The JSON tree canopy-agent --once printed; a parse error leaves it null.
inline rapidjson::Document ParseOnce(const RunResult& r) {
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  if (d.HasParseError()) d.SetNull();
  return d;
}

// The value at `keys` under `v`, or null.
inline const rapidjson::Value* Path(const rapidjson::Value* v,
                                    std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (v == nullptr || !v->IsObject() || !v->HasMember(k)) return nullptr;
    v = &(*v)[k];
  }
  return v;
}

// The number `v` holds, or -1.
inline double Num(const rapidjson::Value* v) {
  return v && v->IsNumber() ? v->GetDouble() : -1;
}

// doc["host"][host], or null.
inline const rapidjson::Value* HostBody(const rapidjson::Document& d,
                                        const std::string& host) {
  if (!d.IsObject() || !d.HasMember("host")) return nullptr;
  const rapidjson::Value& h = d["host"];
  if (!h.IsObject() || !h.HasMember(host.c_str())) return nullptr;
  return &h[host.c_str()];
}

}  // namespace testing
}  // namespace canopy

#endif  // CANOPY_TESTS_AGENT_AGENT_UTIL_H_
