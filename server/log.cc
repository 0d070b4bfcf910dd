// Log lines to stderr and the rate limit. See server/log.h. Any thread.
#include "server/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <ctime>

namespace canopy {

void LogLine(LogLevel level, const std::string& line) {
  const char* name = level == LogLevel::kError     ? "ERROR"
                     : level == LogLevel::kWarning ? "WARN"
                                                   : "INFO";
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  std::string out = absl::StrFormat(
      "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s\n", tm.tm_year + 1900,
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
      static_cast<int>(tv.tv_usec / 1000), name, line);
  ssize_t ignored = write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

bool RateLimit::Allow(uint64_t* suppressed) {
  int64_t minute = static_cast<int64_t>(time(nullptr)) / 60;
  if (minute != minute_) {
    minute_ = minute;
    used_ = 0;
  }
  if (used_ >= per_minute_) {
    ++dropped_;
    return false;
  }
  ++used_;
  if (suppressed != nullptr) *suppressed = dropped_;
  dropped_ = 0;
  return true;
}

}  // namespace canopy
