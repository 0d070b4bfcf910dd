// Writing a .tar.gz of files in a directory by running tar(1) with gzip,
// for `canopy export`.
//
//   absl::Status s = TarGz("/tmp/out", {"a.csv", "b.csv"},
//                          "/tmp/out/x.tar.gz", "x");  // unpacks into x/
//
// Threads: the CLI's one thread (it forks a child and waits for it).
#ifndef CANOPY_TOOLS_CLI_TAR_H_
#define CANOPY_TOOLS_CLI_TAR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace canopy {
namespace cli {

// Packs `files` (names inside `dir`) into `archive` with tar and gzip,
// under the directory `top` inside the archive. The archive appears whole
// or not at all.
absl::Status TarGz(const std::string& dir,
                   const std::vector<std::string>& files,
                   const std::string& archive, const std::string& top);

}  // namespace cli
}  // namespace canopy

#endif  // CANOPY_TOOLS_CLI_TAR_H_
