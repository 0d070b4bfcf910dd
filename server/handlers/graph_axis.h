// The axes of the server-drawn charts (server/handlers/graph_render.h):
// where the ticks go and what their labels say. Values get round steps
// (1, 2 or 5 times a power of ten; powers of two for bytes past 1 KiB;
// seconds, minutes, hours and days for times) and labels with their unit
// (canopy/unit.h FormatWithUnit); times get steps of the clock, labelled on
// a 24-hour clock in UTC.
//
//   canopy::ValueAxis y = canopy::MakeValueAxis(3.1, 94.18, 6, "bytes");
//   // y.lo == 0, y.hi == 100, y.ticks {0, 20, ..., 100}, labels "0 B", ...
//   canopy::TimeAxis x = canopy::MakeTimeAxis(from, to, 6);
//
// Pure; any thread.
#ifndef CANOPY_SERVER_HANDLERS_GRAPH_AXIS_H_
#define CANOPY_SERVER_HANDLERS_GRAPH_AXIS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace canopy {

struct ValueAxis {
  double lo = 0, hi = 1;  // the axis' ends: the first and last ticks
  double step = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;  // one per tick, all different
};

// An axis covering [lo, hi] with at most `max_ticks` ticks (at least 2) at
// round steps, labelled in `unit`.
ValueAxis MakeValueAxis(double lo, double hi, int max_ticks,
                        absl::string_view unit);

// The round step for a range of `span` cut in at most `max_ticks` - 1
// steps: 1, 2 or 5 times a power of ten; for "bytes" and "bytes/s" past
// 1 KiB a power of two; for times (ns, us, ms, s) past a minute a step of
// the clock (1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2, 7 d), in the
// unit's own terms.
double NiceStep(double span, int max_ticks, absl::string_view unit);

struct TimeAxis {
  int64_t step = 60;           // seconds between ticks
  std::vector<int64_t> ticks;  // epoch seconds, multiples of step (UTC)
  std::vector<std::string> labels;
};

// Ticks on the clock between `from` and `to` (epoch seconds), at most
// `max_ticks`: "14:30" (24-hour clock, UTC) for spans up to two days, with
// the date ("12-07") at midnight; dates past two days, "2026-12" past 90.
TimeAxis MakeTimeAxis(int64_t from, int64_t to, int max_ticks);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_GRAPH_AXIS_H_
