// tar(1) with gzip over a list of files. See tools/cli/tar.h.
#include "tools/cli/tar.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace canopy {
namespace cli {

absl::Status TarGz(const std::string& dir,
                   const std::vector<std::string>& files,
                   const std::string& archive, const std::string& top) {
  std::string tmp = absl::StrCat(dir, "/.", top, ".tar.gz.tmp");
  std::vector<std::string> args = {"tar",
                                   "--create",
                                   "--gzip",
                                   "--file=" + tmp,
                                   "--directory=" + dir,
                                   "--transform=s,^," + top + "/,",
                                   "--null",
                                   "--verbatim-files-from",
                                   "--files-from=-"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::cout.flush();
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(pipefd[0], 0);
    execv("/bin/tar", argv.data());
    execvp("tar", argv.data());
    std::fprintf(stderr, "canopy: cannot run tar: %s\n", std::strerror(errno));
    _exit(127);
  }
  close(pipefd[0]);
  // tar may stop reading (and die) early: a write then fails with EPIPE
  // instead of killing us.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  std::string list;
  for (const std::string& f : files) {
    list += f;
    list += '\0';
  }
  size_t done = 0;
  while (done < list.size()) {
    ssize_t n = write(pipefd[1], list.data() + done, list.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(pipefd[1]);
  sigaction(SIGPIPE, &old, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || done < list.size()) {
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(
        "tar failed (",
        WIFEXITED(status) ? absl::StrCat("exit ", WEXITSTATUS(status))
                          : absl::StrCat("signal ", WTERMSIG(status)),
        ")"));
  }
  if (rename(tmp.c_str(), archive.c_str()) != 0) {
    int saved = errno;
    unlink(tmp.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot rename to ", archive, ": ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

}  // namespace cli
}  // namespace canopy
