// --config=FILE for every canopy program: the file's `flag=value` lines (a
// leading `--` is optional, `#` starts a comment) are put before the command
// line's arguments, so that the command line wins.
//
//   absl::StatusOr<std::vector<std::string>> args = ArgsWithConfigFile(argc,
//   argv); if (!args.ok()) { /* one line: args.status().message(), exit 1 */ }
//   // then absl::ParseCommandLine over `args`
#ifndef CANOPY_CONFIG_FILE_H_
#define CANOPY_CONFIG_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace canopy {

// argv with the config file's flags inserted after argv[0]. Errors: the file
// cannot be read, or a line is not flag=value (file:line in the message).
absl::StatusOr<std::vector<std::string>> ArgsWithConfigFile(int argc,
                                                            char** argv);

}  // namespace canopy

#endif  // CANOPY_CONFIG_FILE_H_
