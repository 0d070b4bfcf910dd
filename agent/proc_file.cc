#include "agent/proc_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace canopy {
namespace agent {

ProcFile::~ProcFile() { Close(); }

ProcFile::ProcFile(ProcFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      buf_(std::move(other.buf_)) {
  other.fd_ = -1;
}

void ProcFile::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool ProcFile::Open() {
  if (fd_ >= 0) return true;
  fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

absl::StatusOr<absl::string_view> ProcFile::Read() {
  if (!Open()) {
    int e = errno;
    std::string msg = absl::StrCat("cannot open ", path_, ": ", strerror(e));
    if (e == ENOENT || e == ESRCH) return absl::NotFoundError(msg);
    return absl::UnavailableError(msg);
  }
  if (buf_.size() < 4096) buf_.resize(4096);
  size_t len = 0;
  while (true) {
    ssize_t n = pread(fd_, &buf_[len], buf_.size() - len, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      Close();
      std::string msg = absl::StrCat("cannot read ", path_, ": ", strerror(e));
      if (e == ESRCH || e == ENOENT) return absl::NotFoundError(msg);
      return absl::UnavailableError(msg);
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
    if (len == buf_.size()) buf_.resize(buf_.size() * 2);
  }
  return absl::string_view(buf_.data(), len);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  ProcFile f(path);
  absl::StatusOr<absl::string_view> text = f.Read();
  if (!text.ok()) return text.status();
  return std::string(*text);
}

}  // namespace agent
}  // namespace canopy
