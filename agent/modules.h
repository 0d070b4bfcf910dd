// The agent's modules: configuration files in --conf_dir (docs/AGENT.md has
// the format; agent/module_conf.h parses it), each naming a built-in check
// (type = port, url, nginx), an external command (type = exec, run by
// agent/command.h) or a shared object (type = so, the C ABI of
// include/canopy/agent_module.h).
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
// after it completed, and never by the Collect right after the Tick that
// started the module (however quick it was: the result does not depend on
// which thread won). A bad file, a command that fails or prints garbage, a
// .so that does not load or whose init fails is logged (rate-limited) and
// skipped; the rest goes on.
//
// Threads: one thread calls Tick and Collect (the agent's collecting
// thread); each exec and so module runs on a detached thread of its own,
// which shares the module's state (Running) and the set's thread count
// with the set, so that it may outlive the set.
#ifndef CANOPY_AGENT_MODULES_H_
#define CANOPY_AGENT_MODULES_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/checks.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/module_conf.h"

namespace canopy {
namespace agent {

// A module's output: a JSON object, or Graphite plaintext lines
// ("path value [timestamp]", timestamps ignored), as one JSON object. Any
// line that does not parse makes the whole output an error.
absl::StatusOr<std::string> ParseModuleOutput(absl::string_view out);

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
  // (under host,<host> or each module's prefix); a module started by the
  // Tick just before is left for the next call.
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
