#include "tests/server/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy {
namespace testing {

std::string BinPath(const std::string& name) {
  const char* dir = std::getenv("CANOPY_BIN_DIR");
  std::string base = dir ? dir : "build";
  return absl::StrCat(base, "/bin/", name);
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration deadline) {
  absl::Time end = absl::Now() + deadline;
  while (!condition()) {
    if (absl::Now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

int ConnectLoopback(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

ProgramResult RunProgram(const std::string& name,
                         const std::vector<std::string>& args) {
  ProgramResult r;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  std::vector<std::string> argv = {BinPath(name)};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = Spawn(argv, -1, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  // Both pipes until both close: an output may pass a pipe's buffer.
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* into[2] = {&r.out, &r.err};
  char buf[65536];
  int open = 2;
  while (open > 0 && poll(fds, 2, -1) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        into[i]->append(buf, n);
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = absl::StrCat(path ? path : "/usr/bin:/bin",
                                  ":/usr/sbin:/sbin:/usr/local/sbin");
  for (absl::string_view dir : absl::StrSplit(dirs, ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

std::string MakeTempDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(tmp ? tmp : "/tmp", "/canopy-test-XXXXXX");
  char* made = mkdtemp(templ.data());
  return made ? std::string(made) : std::string();
}

pid_t Spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (in >= 0) dup2(in, 0);
  if (out >= 0) dup2(out, 1);
  if (err >= 0) dup2(err, 2);
  execv(args[0], args.data());
  _exit(127);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    std::vector<std::string> flags, std::string data_dir) {
  std::unique_ptr<ServerProcess> p(new ServerProcess);
  if (data_dir.empty()) {
    p->data_dir_ = MakeTempDir();
    p->own_dir_ = true;
  } else {
    p->data_dir_ = data_dir;
  }
  std::string ready = absl::StrCat(p->data_dir_, "/ready");
  std::filesystem::remove(ready);
  std::vector<std::string> args = {BinPath("canopyd"), "--http=127.0.0.1:0",
                                   "--udp=127.0.0.1:0", "--tcp=127.0.0.1:0",
                                   absl::StrCat("--data_dir=", p->data_dir_),
                                   absl::StrCat("--ready_file=", ready),
                                   // Queries are bounded by their work
                                   // (--query_budget), which is the same on
                                   // every machine; the wall-clock bound
                                   // would make answers depend on the load
                                   // (and the sanitizers' slowness).
                                   "--query_time_ms=60000"};
  for (std::string& f : flags) args.push_back(std::move(f));
  pid_t pid = Spawn(args);
  if (pid < 0) return absl::InternalError("fork failed");
  p->pid_ = pid;
  // Wait for the ready file (written once the sockets listen) or an exit.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      return absl::InternalError(
          absl::StrCat("canopyd exited early with status ", status));
    }
    std::ifstream f(ready);
    std::string line;
    if (f && std::getline(f, line) && !line.empty()) {
      for (absl::string_view kv : absl::StrSplit(line, ' ')) {
        std::vector<absl::string_view> parts = absl::StrSplit(kv, '=');
        if (parts.size() != 2) continue;
        int port = 0;
        absl::SimpleAtoi(parts[1], &port);
        if (parts[0] == "http") p->http_port_ = port;
        if (parts[0] == "udp") p->udp_port_ = port;
        if (parts[0] == "tcp") p->tcp_port_ = port;
      }
      return p;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return absl::DeadlineExceededError("canopyd did not start within 20 s");
}

double ServerProcess::Metric(const std::string& name) const {
  auto r = Client().Request("GET", "/metrics");
  if (!r.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    double v;
    if (parts.size() == 2 && parts[0] == name &&
        absl::SimpleAtod(parts[1], &v)) {
      return v;
    }
  }
  return -1;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

ServerProcess::~ServerProcess() {
  Stop();
  if (own_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

}  // namespace testing
}  // namespace canopy
