// Module files (docs/AGENT.md): `key = value` lines in --conf_dir, one
// module each, and the list of those the agent loads.
//
//   for (const std::string& file : ModuleFiles("/etc/canopy-agent/conf.d")) {
//     absl::StatusOr<ModuleConf> conf = ParseModuleConf(
//         file, text_of_the_file, "/etc/canopy-agent/conf.d",
//         absl::Seconds(1));
//     ...
//   }
//
// `*.conf` and `*.on` files are modules, everything else (`*.off`, hidden
// files) is not. Pure functions but for the directory and file reads;
// thread-safe.
#ifndef CANOPY_AGENT_MODULE_CONF_H_
#define CANOPY_AGENT_MODULE_CONF_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/accesslog.h"
#include "agent/checks.h"
#include "agent/log.h"

namespace canopy {
namespace agent {

struct ModuleConf {
  std::string file;                 // the file name ("redis.conf")
  std::string type;                 // port, url, nginx, exec, so
  std::vector<Check> checks;        // port, url, nginx
  std::string command;              // exec: run by /bin/sh -c
  std::string path;                 // so
  std::string options;              // so: handed to init
  std::vector<std::string> prefix;  // where output goes; empty: the host
  absl::Duration interval;          // exec, so
  absl::Duration timeout = absl::Seconds(5);  // exec; checks' own timeout
  std::string log_format = "combined";        // accesslog: as --format
  bool from_start = false;                    // accesslog: read from 0
};

// The `type = accesslog` modules in `conf_dir` (path, format, prefix,
// from = start|end), as access-log specs. They are read when the agent
// starts; the ModuleSet leaves them alone.
std::vector<AccessLogSpec> AccessLogModules(const std::string& conf_dir,
                                            ErrorLog* log);

// Parses a module file: `key = value` lines, `#` comments, blank lines.
// Relative paths (so) are taken from `dir`. Errors name the line.
absl::StatusOr<ModuleConf> ParseModuleConf(absl::string_view file,
                                           absl::string_view text,
                                           const std::string& dir,
                                           absl::Duration default_interval);

// True for a module file's name: *.conf or *.on, not hidden.
bool IsModuleFile(absl::string_view name);
// The module files in `conf_dir`, sorted by name; none if it cannot be read.
std::vector<std::string> ModuleFiles(const std::string& conf_dir);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_MODULE_CONF_H_
