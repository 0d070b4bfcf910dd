// Logging to stderr, one line per event with its time and level, and a rate
// limit for messages that hostile or broken clients can trigger at will.
//
//   CANOPY_LOG("listening on %s", addr);    // ...Z INFO listening on ...
//   static canopy::RateLimit bad_lines;
//   if (bad_lines.Allow()) CANOPY_WARN("bad line from %s: %s", peer, why);
//   CANOPY_ERROR("snapshot failed: %s", why);
//
// Thread-safe: each call writes one line with a single write(2).
#ifndef CANOPY_SERVER_LOG_H_
#define CANOPY_SERVER_LOG_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace canopy {

enum class LogLevel { kInfo, kWarning, kError };

// "2026-11-20T10:00:00.123Z WARN <line>".
void LogLine(LogLevel level, const std::string& line);

#define CANOPY_LOG(...) \
  ::canopy::LogLine(::canopy::LogLevel::kInfo, absl::StrFormat(__VA_ARGS__))
#define CANOPY_WARN(...) \
  ::canopy::LogLine(::canopy::LogLevel::kWarning, absl::StrFormat(__VA_ARGS__))
#define CANOPY_ERROR(...) \
  ::canopy::LogLine(::canopy::LogLevel::kError, absl::StrFormat(__VA_ARGS__))

// Allows at most `per_minute` events a minute and counts the rest, so that a
// flood of bad input cannot flood the log. Owned by one thread.
class RateLimit {
 public:
  explicit RateLimit(int per_minute = 10) : per_minute_(per_minute) {}
  // True if this event may be logged. `suppressed` gets the number of events
  // dropped since the last allowed one.
  bool Allow(uint64_t* suppressed = nullptr);

 private:
  int per_minute_;
  int64_t minute_ = 0;
  int used_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_LOG_H_
