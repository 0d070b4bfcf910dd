// The agent's modules: configuration files in --conf_dir (docs/AGENT.md has
// the format), each naming a built-in check (type = port, url, nginx), an
// external command (type = exec) or a shared object (type = so, the C ABI
// of include/canopy/agent_module.h).
//
//   ModuleSet modules(&log, &checks, options);
//   modules.Tick();                        // every interval: re-read on change
//   modules.Collect(&doc, &host_object);   // merges what modules produced
//
// `*.conf` and `*.on` files are loaded, everything else (`*.off`) ignored.
// The directory is scanned again when its mtime changes and every 10 ticks
// (an edit in place does not change the directory); a module whose file is
// unchanged keeps running. Built-in checks go to the CheckRunner, together
// with the checks from flags. Every exec and so module runs on its own
// thread at its own interval, so a slow or hanging one never stalls the
// agent's interval: a command is killed (its whole process group) at its
// timeout; what a module produced is merged once, in the next interval
// after it completed. A bad file, a command that fails or prints garbage, a
// .so that does not load or whose init fails is logged (rate-limited) and
// skipped; the rest goes on.
//
// Threads: one thread calls Tick and Collect (the agent's collecting
// thread); each exec and so module runs on a detached thread of its own,
// which shares the module's state (Running) and the set's thread count
// with the set, so that it may outlive the set.
#ifndef CANOPY_AGENT_MODULES_H_
#define CANOPY_AGENT_MODULES_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/accesslog.h"
#include "agent/checks.h"
#include "agent/json.h"
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

// A module's output: a JSON object, or Graphite plaintext lines
// ("path value [timestamp]", timestamps ignored), as one JSON object. Any
// line that does not parse makes the whole output an error.
absl::StatusOr<std::string> ParseModuleOutput(absl::string_view out);

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

struct ModuleSetOptions {
  std::string conf_dir;
  absl::Duration interval = absl::Seconds(1);  // the agent's
  std::vector<Check> flag_checks;              // from --check_* flags
  std::string host;                            // host,<host> for output
};

class ModuleSet {
 public:
  ModuleSet(ErrorLog* log, CheckRunner* checks, ModuleSetOptions options);
  // Stops every module (waiting at most 3 s for them).
  ~ModuleSet();

  // Re-reads the directory if it changed (or every 10 ticks).
  void Tick();
  // Merges the output modules produced since the last call into `doc`
  // (under host,<host> or each module's prefix).
  void Collect(rapidjson::Document* doc);

  // Modules running (exec and so), for tests and the log.
  size_t running() const { return running_.size(); }

  struct Running;  // internal: an exec or so module and its thread
  struct Threads;  // internal: how many module threads are alive

 private:
  void Reload();
  std::string Signature() const;

  ErrorLog* log_;
  CheckRunner* checks_;
  ModuleSetOptions options_;
  uint64_t ticks_ = 0;
  int64_t dir_mtime_ns_ = -1;
  std::string signature_;
  bool loaded_ = false;
  // By file name + text: a module whose file did not change keeps running.
  std::map<std::string, std::shared_ptr<Running>> running_;
  std::shared_ptr<Threads> threads_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_MODULES_H_
