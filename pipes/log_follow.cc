// Following a log file like tail -F. See canopy/log_follow.h.
//
// Threads: whichever one thread owns the LogFollower (canopy pipe's only
// thread; an agent follower's own thread).
#include "canopy/log_follow.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace canopy {
namespace {

constexpr size_t kReadSize = 64 * 1024;  // bytes per read()

}  // namespace

LogFollower::LogFollower(std::string path, Options options)
    : path_(std::move(path)), options_(options) {}

LogFollower::~LogFollower() {
  if (fd_ >= 0 && !is_stdin()) close(fd_);
}

absl::Status LogFollower::Open() {
  if (is_stdin()) {
    fd_ = 0;
    return absl::OkStatus();
  }
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path_, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) ||
      (options_.regular_files_only && !S_ISREG(st.st_mode))) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path_, ": not a file"));
  }
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = 0;
  return absl::OkStatus();
}

void LogFollower::SkipToEnd() {
  if (fd_ < 0 || is_stdin()) return;
  offset_ = lseek(fd_, 0, SEEK_END);
  if (offset_ < 0) offset_ = 0;
}

absl::Status LogFollower::Read(Sink* sink, int wait_ms) {
  if (fd_ < 0) return absl::OkStatus();
  if (buffer_.empty()) buffer_.resize(kReadSize);
  while (!sink->Stopped()) {
    if (wait_ms >= 0) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, wait_ms) <= 0) return absl::OkStatus();
      wait_ms = 0;
    }
    const ssize_t n = read(fd_, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) return absl::OkStatus();
    if (n < 0) {
      return absl::DataLossError(
          absl::StrCat("cannot read ", path_, ": ", std::strerror(errno)));
    }
    if (n == 0) {
      eof_ = true;
      return absl::OkStatus();
    }
    offset_ += n;
    Split(absl::string_view(buffer_.data(), static_cast<size_t>(n)), sink);
  }
  return absl::OkStatus();
}

absl::Status LogFollower::CheckRotation(Sink* sink) {
  if (is_stdin()) return absl::OkStatus();
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return absl::OkStatus();  // not yet
  // Another file under the name; or ours was deleted (then a new file
  // may have got its inode number).
  struct stat mine;
  if (fd_ < 0 || st.st_dev != dev_ || st.st_ino != ino_ ||
      (fstat(fd_, &mine) == 0 && mine.st_nlink == 0)) {
    if (fd_ >= 0) {
      // Renamed away: what was written to it before the new file
      // appeared is still ours.
      if (absl::Status s = Read(sink); !s.ok()) return s;
      Flush(sink);
    }
    if (!Open().ok()) return absl::OkStatus();  // gone again: next time
    ++counts_.reopened;
    return Read(sink);
  }
  struct stat now;
  if (fstat(fd_, &now) == 0 && now.st_size < offset_) {
    // Copied and truncated: start again (a partial line is lost).
    lseek(fd_, 0, SEEK_SET);
    offset_ = 0;
    partial_.clear();
    skipping_ = false;
    ++counts_.truncated;
    return Read(sink);
  }
  return absl::OkStatus();
}

void LogFollower::Flush(Sink* sink) {
  if (!partial_.empty() && !skipping_) sink->Line(partial_);
  partial_.clear();
  skipping_ = false;
}

void LogFollower::Split(absl::string_view data, Sink* sink) {
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    const absl::string_view piece = data.substr(0, nl);
    if (!skipping_) {
      if (partial_.size() + piece.size() > options_.max_line) {
        skipping_ = true;
        partial_.clear();
        ++counts_.too_long;
      } else if (nl != absl::string_view::npos && partial_.empty()) {
        sink->Line(piece);  // the common case: no copy
      } else {
        partial_.append(piece.data(), piece.size());
      }
    }
    if (nl == absl::string_view::npos) return;
    if (!partial_.empty()) sink->Line(partial_);
    partial_.clear();
    skipping_ = false;
    data.remove_prefix(nl + 1);
  }
}

}  // namespace canopy
