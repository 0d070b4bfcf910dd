// --config=FILE for every canopy program: the file's `flag=value` lines (a
// leading `--` is optional, a bare `flag` is `flag=true`, `#` starts a
// comment) set those flags before the command line is parsed, so that the
// command line wins.
//
//   if (absl::Status s = canopy::ApplyConfigFile(argc, argv); !s.ok()) {
//     /* one line: s.message(), exit 1 */
//   }
//   // then absl::ParseCommandLine(argc, argv)
//
// canopy::StartProgram (canopy/program.h) does both.
//
// Threads: call from main, before starting any thread (it sets flags).
#ifndef CANOPY_CONFIG_FILE_H_
#define CANOPY_CONFIG_FILE_H_

#include "absl/status/status.h"

namespace canopy {

// Errors: the file cannot be read, or a line names no known flag or gives
// it a value it does not take (file:line in the message).
absl::Status ApplyConfigFile(int argc, char** argv);

}  // namespace canopy

#endif  // CANOPY_CONFIG_FILE_H_
