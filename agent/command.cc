// Running a module's command. See agent/command.h.
#include "agent/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace canopy {
namespace agent {

CommandResult RunCommand(const std::string& command, const std::string& dir,
                         absl::Duration timeout, size_t max_output,
                         const std::atomic<bool>* stop) {
  CommandResult r;
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) != 0) {
    r.err = strerror(errno);
    return r;
  }
  if (pipe2(errp, O_CLOEXEC) != 0) {
    r.err = strerror(errno);
    close(outp[0]);
    close(outp[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  if (!dir.empty()) posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    sigaddset(&defaults, s);
  }
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(outp[1]);
  close(errp[1]);
  if (rc != 0) {
    r.err = absl::StrCat("cannot start /bin/sh: ", strerror(rc));
    close(outp[0]);
    close(errp[0]);
    return r;
  }
  fcntl(outp[0], F_SETFL, O_NONBLOCK);
  fcntl(errp[0], F_SETFL, O_NONBLOCK);
  const absl::Time deadline = absl::Now() + timeout;
  bool out_open = true, err_open = true, exited = false, kill_it = false;
  int status = 0;
  char buf[16384];
  while (true) {
    if (stop && stop->load()) kill_it = true;
    if (absl::Now() >= deadline) {
      r.timed_out = true;
      kill_it = true;
    }
    if (kill_it) break;
    if (!out_open && !err_open) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        break;
      }
      usleep(5000);
      continue;
    }
    pollfd fds[2] = {{out_open ? outp[0] : -1, POLLIN, 0},
                     {err_open ? errp[0] : -1, POLLIN, 0}};
    int ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(deadline - absl::Now()) + 1, 1, 100));
    if (poll(fds, 2, ms) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? out_open : err_open;
      if (!open || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        if (i == 0) {
          r.out.append(buf, n);
          if (r.out.size() > max_output) {
            r.too_long = true;
            kill_it = true;
          }
        } else if (r.err.size() < 1024) {
          r.err.append(buf, std::min<size_t>(n, 1024 - r.err.size()));
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        open = false;
      }
    }
  }
  if (!exited) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  close(outp[0]);
  close(errp[0]);
  r.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace agent
}  // namespace canopy
