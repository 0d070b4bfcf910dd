// Graphite's time texts: the from= and until= of /render and /metrics/find
// ("now", "-6h", "now-5min", "1700000000", "20261206", "14:30_20261206"),
// and the intervals of summarize, timeShift and movingAverage ("5min",
// "-7d", "1w").
//
//   ParseGraphiteTime("-1h", now);         // now - 3600
//   ParseGraphiteTime("14:30_20261206", now);  // that minute, UTC
//   ParseInterval("5min");                 // 300
//
// Units, as graphite-web reads them: s, sec(s), second(s); min(s),
// minute(s) (and m); h, hour(s); d, day(s); w, week(s); mon, month(s) (30
// days); y, year(s) (365 days). Absolute times are read in UTC (graphite-web
// reads them in its own time zone). Errors are InvalidArgument naming the
// text.
//
// Pure; any thread.
#ifndef CANOPY_SERVER_GRAPHITE_TIME_TEXT_H_
#define CANOPY_SERVER_GRAPHITE_TIME_TEXT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {
namespace graphite {

// Seconds, signed: "-7d" is -604800; no sign is positive.
absl::StatusOr<int64_t> ParseInterval(absl::string_view text);
// Epoch seconds.
absl::StatusOr<int64_t> ParseGraphiteTime(absl::string_view text, int64_t now);

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_TIME_TEXT_H_
