#include "server/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace canopy {

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& bytes) {
  AtomicFile f(path);
  f.Append(bytes);
  return f.Commit();
}

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), tmp_(path_ + ".tmp") {
  f_ = fopen(tmp_.c_str(), "wb");
  if (f_ == nullptr) {
    ok_ = false;
    error_ = errno;
  }
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (f_ != nullptr) fclose(f_);
  std::remove(tmp_.c_str());  // no debris
}

void AtomicFile::Append(const std::string& bytes) {
  if (!ok_ || bytes.empty()) return;
  if (fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    ok_ = false;
    error_ = errno;
  }
}

absl::Status AtomicFile::Commit() {
  if (f_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", tmp_, ": ", std::strerror(error_)));
  }
  bool ok = ok_;
  ok = fflush(f_) == 0 && ok;
  ok = fsync(fileno(f_)) == 0 && ok;
  if (ok_ == false && error_ != 0) errno = error_;
  ok = fclose(f_) == 0 && ok;
  f_ = nullptr;
  if (!ok || rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp_.c_str());  // no debris on a full disk
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path_, ": ", why));
  }
  committed_ = true;
  // The rename itself is durable once the directory is.
  std::string dir = path_.substr(0, path_.rfind('/') + 1);
  int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SeqReservation::Load() const {
  std::ifstream f(path_);
  if (!f) return uint64_t{0};
  std::stringstream text;
  text << f.rdbuf();
  uint64_t v;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.str()), &v)) {
    return absl::DataLossError(
        absl::StrCat(path_,
                     " is damaged (move it away to start anew; "
                     "clients holding a seq then resynchronise)"));
  }
  return v;
}

absl::Status SeqReservation::Reserve(uint64_t upto) {
  if (absl::Status s = WriteFileAtomically(path_, absl::StrCat(upto, "\n"));
      !s.ok()) {
    return s;
  }
  reserved_ = upto;
  return absl::OkStatus();
}

}  // namespace canopy
