// A /proc or /sys file kept open and re-read from offset 0 with pread, so
// that each interval costs one system call per file instead of three.
//
//   ProcFile stat("/proc/stat");
//   absl::StatusOr<absl::string_view> text = stat.Read();
//
// The view stays valid until the next Read(). A read that fails closes the
// file and the next Read() opens it again (a file that comes back, such as
// a hot-plugged device's, is picked up). Thread-compatible.
#ifndef CANOPY_AGENT_PROC_FILE_H_
#define CANOPY_AGENT_PROC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {
namespace agent {

class ProcFile {
 public:
  explicit ProcFile(std::string path) : path_(std::move(path)) {}
  ~ProcFile();
  ProcFile(ProcFile&& other) noexcept;
  ProcFile& operator=(ProcFile&&) = delete;
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;

  // The whole file now. NotFound if it does not exist (a process that
  // exited), other errors as they come.
  absl::StatusOr<absl::string_view> Read();

  // Opens the file if needed; false if it cannot be opened.
  bool Open();
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  void Close();
  std::string path_;
  int fd_ = -1;
  std::string buf_;
};

// Reads a whole (small) file once: for files read once or rarely.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_PROC_FILE_H_
