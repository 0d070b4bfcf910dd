// The agent's error log: every error is counted, and each kind of error is
// written to stderr at most once a minute, so that a server down or a file
// missing for hours does not flood the log while collection goes on. Lines
// carry the time (UTC) and a level, as canopyd's do (server/log.h):
// "2026-11-20T10:00:00.123Z WARN canopy-agent: cannot connect ...".
//
//   ErrorLog log;
//   log.Report("push", "cannot connect to 127.0.0.1:8125");
//   log.errors();  // 1
//
// Thread-safe: the collector and the sender both report.
#ifndef CANOPY_AGENT_LOG_H_
#define CANOPY_AGENT_LOG_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "canopy/mutex.h"

namespace canopy {
namespace agent {

class ErrorLog {
 public:
  explicit ErrorLog(absl::Duration every = absl::Minutes(1)) : every_(every) {}

  // Counts an error; logs it (WARN) unless an error of the same `kind` was
  // logged less than a minute ago (then the next log line says how many were
  // not).
  void Report(absl::string_view kind, absl::string_view message);
  // Logs a line as it is (start, stop), INFO.
  static void Info(absl::string_view message);

  int64_t errors() const;

 private:
  struct Kind {
    absl::Time last_logged = absl::InfinitePast();
    int64_t suppressed = 0;
  };
  const absl::Duration every_;
  mutable Mutex mu_;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Kind> kinds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_LOG_H_
