// Fuzzes the cluster's write journal (server/cluster/journal.cc), the files
// a node reads back at a start after kill -9: the input is a journal file.
// Replay must take what it can read without crashing, and the records it
// took, written again with Append, must read back the same.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "server/cluster/journal.h"

namespace {

using Records = std::vector<std::pair<char, std::string>>;

Records Replay(const std::string& dir) {
  Records got;
  canopy::WriteJournal journal(dir);
  (void)journal.Replay(0, [&](char kind, absl::string_view body) {
    got.emplace_back(kind, std::string(body));
  });
  return got;
}

// Every file of the journal in `dir` deleted.
void Clear(const std::string& dir) {
  canopy::WriteJournal journal(dir);
  journal.Forget(UINT64_MAX);
}

// A directory of this process's own, removed at its exit.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/canopy-journal-fuzz.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    path = tmpl;
  }
  ~TempDir() {
    Clear(path);
    rmdir(path.c_str());
  }
  std::string path;
};

const std::string& Dir() {
  static const TempDir dir;
  return dir.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = Dir();
  Clear(dir);
  const std::string path = dir + "/journal-00000000000000000000";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) std::abort();
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  close(fd);
  const Records first = Replay(dir);
  // Written again record by record, into a file of its own.
  Clear(dir);
  {
    canopy::WriteJournal journal(dir);
    if (!journal.Rotate(0, "").ok()) std::abort();
    for (const auto& [kind, body] : first) {
      if (!journal.Append(kind, body).ok()) std::abort();
    }
  }
  Records again = Replay(dir);
  if (again.empty() || again.front() != std::make_pair('S', std::string())) {
    std::abort();
  }
  again.erase(again.begin());
  if (again != first) std::abort();
  return 0;
}
