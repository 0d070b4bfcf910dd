// Units: what a figure measures, and how a person reads it. One place for
// the rules the CLI, /graph and /api/units share (web/assets/units.js
// formats the same way in the pages).
//
// A leaf's unit is the one a writer stated with the reserved "unit" key of a
// JSON push, on the leaf or on its nearest node above that has one (see
// Tree::StatedUnit); else the one its key implies by canopy-agent's
// conventions (docs/AGENT.md): InferUnit; else, for a timer, ms (StatsD's
// convention). LeafUnit puts these together.
//
//   canopy::InferUnit("host,h1,mem,used");              // "bytes"
//   canopy::LeafUnit("", "web,latency", Action::kTimer); // "ms"
//   canopy::FormatWithUnit(3456789012, "bytes");        // "3.22 GiB"
//   canopy::FormatWithUnit(0.25, "s");                  // "250 ms"
//   canopy::ValidateUnit("req/s");                      // OK
//
// Known units: bytes, bytes/s, percent, ns, us, ms, s, /s (a rate), count.
// Any other valid unit is shown after the figure as it is written.
//
// Pure; any thread.
#ifndef CANOPY_UNIT_H_
#define CANOPY_UNIT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/action.h"

namespace canopy {

inline constexpr size_t kMaxUnitBytes = 32;

// OK if `unit` may be stated: 1 to kMaxUnitBytes bytes of UTF-8, no control
// character (tab included), no space at either end. Else InvalidArgument
// saying why.
absl::Status ValidateUnit(absl::string_view unit);

// The unit canopy-agent's key conventions imply for leaf `key` (a comma
// key): "bytes", "bytes/s", "percent", "ms", "s", "/s", or "" (none).
//   ...,*bytes, ...,rss, mem|swap|disk|cgroup,{total,used,free,...}  bytes
//     (bytes/s under diskio and net, and a process's read/write_bytes)
//   ...,percent, ...,*_percent, cpu,[core,<n>,]{user,idle,...}      percent
//   ...,*_ms                                                        ms
//   ...,uptime, ...,*_seconds                                       s
//   other leaves under diskio and net                               /s
absl::string_view InferUnit(absl::string_view key);

// The unit a leaf is shown with: `stated` if not empty, else ms for a
// timer, else InferUnit(key).
absl::string_view LeafUnit(absl::string_view stated, absl::string_view key,
                           Action action);

// The unit of a trend of a leaf in `unit` under function `fn` (GET /trend's
// fn=): count counts samples ("count"), rate is per second ("bytes" ->
// "bytes/s", none -> "/s", "jobs" -> "jobs/s"); the others keep the unit.
std::string TrendUnit(absl::string_view unit, absl::string_view fn);

// `v` with its unit, as text: at most three significant digits past the
// unit's scale; bytes in binary multiples (KiB, MiB, ...), "/s" after a
// rate; times scaled to ns, µs, ms, s, min, h, d; "%" after a percent;
// without a unit (or "count"), whole numbers in full with thousands
// separators ("1,234,567"). Any other unit follows the figure as it is.
// The same text as web/assets/units.js formatWithUnit.
std::string FormatWithUnit(double v, absl::string_view unit);

// `x` with at most three significant digits (whole when 100 or more;
// exponent form past 1e15 and under 1e-3): the figure FormatWithUnit
// writes.
std::string ThreeDigits(double x);

}  // namespace canopy

#endif  // CANOPY_UNIT_H_
