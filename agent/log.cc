// The agent's log lines. See agent/log.h. Any thread.
#include "agent/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace canopy {
namespace agent {

namespace {

void Write(absl::string_view level, absl::string_view message) {
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   " ", level, " canopy-agent: ", message, "\n");
  std::fputs(line.c_str(), stderr);
}

}  // namespace

void ErrorLog::Info(absl::string_view message) { Write("INFO", message); }

void ErrorLog::Report(absl::string_view kind, absl::string_view message) {
  std::string line;
  {
    MutexLock lock(&mu_);
    ++errors_;
    Kind& k = kinds_[kind];
    absl::Time now = absl::Now();
    if (now - k.last_logged < every_) {
      ++k.suppressed;
      return;
    }
    line = std::string(message);
    if (k.suppressed > 0) {
      absl::StrAppend(&line, " (", k.suppressed,
                      " more like it not logged in the last minute)");
    }
    k.last_logged = now;
    k.suppressed = 0;
  }
  Write("WARN", line);
}

int64_t ErrorLog::errors() const {
  MutexLock lock(&mu_);
  return errors_;
}

}  // namespace agent
}  // namespace canopy
