// SharedPath: canopy's shared data beside the binary. See
// canopy/install_dirs.h. Any thread.
#include "canopy/install_dirs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace canopy {

std::string ProgramDir() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "";
  std::string path(exe, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string SharedPath(absl::string_view name) {
  const std::string dir = ProgramDir();
  const std::string prefix = dir.empty() ? "." : dir + "/..";
  struct stat st;
  std::string beside = absl::StrCat(prefix, "/", name);
  if (stat(beside.c_str(), &st) == 0) return beside;
  return absl::StrCat(prefix, "/share/canopy/", name);
}

}  // namespace canopy
