#include "server/cluster/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "server/log.h"

namespace canopy {
namespace {

constexpr absl::string_view kPrefix = "journal-";

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Reads the whole file; false if it cannot be opened.
bool ReadAll(const std::string& path, std::string* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out->append(buf, n);
  close(fd);
  return n == 0;
}

}  // namespace

WriteJournal::~WriteJournal() {
  if (fd_ >= 0) close(fd_);
}

std::string WriteJournal::PathOf(uint64_t seq) const {
  return absl::StrFormat("%s/%s%020d", dir_, kPrefix, seq);
}

std::vector<uint64_t> WriteJournal::Files() const {
  std::vector<uint64_t> seqs;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return seqs;
  while (const dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    uint64_t seq = 0;
    if (absl::ConsumePrefix(&name, kPrefix) && name.size() == 20 &&
        absl::SimpleAtoi(name, &seq)) {
      seqs.push_back(seq);
    }
  }
  closedir(d);
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

absl::Status WriteJournal::Replay(
    uint64_t restored_seq,
    const std::function<void(char kind, absl::string_view body)>& record) {
  if (mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Errno("cannot create", dir_);
  }
  for (uint64_t seq : Files()) {
    const std::string path = PathOf(seq);
    if (seq < restored_seq) {
      unlink(path.c_str());  // the snapshot holds it
      continue;
    }
    std::string bytes;
    if (!ReadAll(path, &bytes)) return Errno("cannot read", path);
    absl::string_view rest = bytes;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      size_t len = 0;
      if (nl == absl::string_view::npos || nl < 3 || rest[1] != ' ' ||
          !absl::SimpleAtoi(rest.substr(2, nl - 2), &len) ||
          len > rest.size() - nl - 1) {
        CANOPY_LOG("%s: a record cut short at byte %d: the rest is lost", path,
                   static_cast<int>(bytes.size() - rest.size()));
        break;
      }
      record(rest[0], rest.substr(nl + 1, len));
      rest.remove_prefix(nl + 1 + len);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteJournal::OpenFile(uint64_t seq) {
  const std::string path = PathOf(seq);
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot open", path);
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  open_seq_ = seq;
  return absl::OkStatus();
}

absl::Status WriteJournal::Append(char kind, absl::string_view body) {
  if (fd_ < 0) return absl::FailedPreconditionError("no journal file is open");
  const std::string head =
      absl::StrCat(absl::string_view(&kind, 1), " ", body.size(), "\n");
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  const ssize_t want = static_cast<ssize_t>(head.size() + body.size());
  const off_t at = lseek(fd_, 0, SEEK_END);
  const ssize_t n = writev(fd_, parts, 2);
  if (n == want) return absl::OkStatus();
  const absl::Status s = n < 0 ? Errno("cannot write", PathOf(open_seq_))
                               : absl::ResourceExhaustedError(absl::StrCat(
                                     "short write to ", PathOf(open_seq_)));
  // A part of a record would end every later one's replay: taken back.
  if (n > 0 && at >= 0) (void)!ftruncate(fd_, at);
  return s;
}

absl::Status WriteJournal::Rotate(uint64_t seq, absl::string_view first) {
  if (fd_ < 0 || seq != open_seq_) {
    if (absl::Status s = OpenFile(seq); !s.ok()) return s;
  }
  return Append('S', first);
}

void WriteJournal::Forget(uint64_t seq) {
  for (uint64_t s : Files()) {
    const bool open = fd_ >= 0 && s == open_seq_;  // appends go there
    if (s < seq && !open) unlink(PathOf(s).c_str());
  }
}

}  // namespace canopy
