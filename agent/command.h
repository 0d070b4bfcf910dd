// Runs an exec module's command: /bin/sh -c, its own process group, a
// timeout, bounded output.
//
//   CommandResult r = RunCommand("./redis-stats.sh", "/etc/canopy-agent",
//                                absl::Seconds(5), 1 << 20, &stop);
//   if (r.exit_code == 0 && !r.timed_out) Use(r.out);
//
// Blocks the calling thread (a module's own thread) until the command ends
// or is killed; thread-safe.
#ifndef CANOPY_AGENT_COMMAND_H_
#define CANOPY_AGENT_COMMAND_H_

#include <atomic>
#include <cstddef>
#include <string>

#include "absl/time/time.h"

namespace canopy {
namespace agent {

struct CommandResult {
  std::string out;     // stdout (at most max_output bytes)
  std::string err;     // the first KiB of stderr
  int exit_code = -1;  // or 128 + signal
  bool timed_out = false;
  bool too_long = false;  // stdout over max_output (killed)
};
// Runs `command` with /bin/sh -c in `dir` (if not empty), in a process
// group of its own, with default signal dispositions. At `timeout` (or when
// *stop becomes true) the whole group is killed.
CommandResult RunCommand(const std::string& command, const std::string& dir,
                         absl::Duration timeout, size_t max_output,
                         const std::atomic<bool>* stop);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_COMMAND_H_
