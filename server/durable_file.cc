#include "server/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace canopy {

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& bytes) {
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  bool ok = fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());  // no debris on a full disk
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, ": ", why));
  }
  // The rename itself is durable once the directory is.
  std::string dir = path.substr(0, path.rfind('/') + 1);
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
