// Graphite plaintext lines: a pure parser from bytes to records, for the TCP
// port (2003 by default), POST /push text/plain and the fuzzers.
//
//   ParseGraphite("web.hits 3 1700000000\nweb.load 0.5\n",
//       [&](const GraphiteRecord& r) { /* r.key == "web,hits", ... */ },
//       [&](const GraphiteError& e) { /* e.line, e.reason, e.status */ });
//
// Grammar of one line (Carbon's plaintext protocol):
//
//   path WS value [ WS timestamp ]
//
// - WS is one or more spaces or tabs; leading and trailing ones, and a
//   trailing "\r", are ignored; empty lines are skipped.
// - path: a dotted name; "." becomes ",", so "web.hits" is the key
//   "web,hits" (DottedToKey in key.h), and every segment must follow the key
//   rules. Graphite 1.1 tags ("cpu.load;host=web1;dc=eu") become extra
//   segments "name:value" after the path, in order of tag name, exactly as
//   StatsD's DogStatsD tags do (statsd.h), so a series tagged in either
//   protocol lands on the same key: "cpu,load,dc:eu,host:web1".
// - value: a decimal number ("3", "-5", ".5", "1e3"); NaN, infinities and
//   numbers too large for a double are rejected (kNotFinite).
// - timestamp: epoch seconds, a whole number, optionally with a fraction
//   that is dropped ("1700000000.75" is 1700000000), from 0 to 253402300799
//   (year 9999). Missing or "-1" means now (timestamp is nullopt).
//
// Lines are separated by "\n"; the last needs no newline. A bad line is
// reported and the good lines around it are still delivered.
//
// Everything here is a pure function of its arguments and thread-compatible.
#ifndef CANOPY_GRAPHITE_H_
#define CANOPY_GRAPHITE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/lines.h"

namespace canopy {

inline constexpr int64_t kMaxGraphiteTimestamp = 253402300799;

struct GraphiteRecord {
  std::string key;  // the comma key, tag segments included
  double value = 0;
  std::optional<int64_t> timestamp;  // epoch seconds; nullopt means now
};

// Why a line was rejected. The names (GraphiteReasonName) are stable: the
// server's own metrics count rejects by them.
enum class GraphiteReason {
  kNoValue,       // a path and nothing else
  kBadValue,      // not a decimal number
  kNotFinite,     // NaN, an infinity or out of double range
  kBadName,       // a path that breaks the key rules
  kBadTags,       // a ";tag=value" that is malformed or not a valid segment
  kBadTimestamp,  // not epoch seconds in [0, kMaxGraphiteTimestamp] or -1
  kExtraField,    // more than three fields
  kTooLong,       // longer than GraphiteOptions::max_line_bytes
};

// "no_value", "bad_value", "not_finite", "bad_name", "bad_tags",
// "bad_timestamp", "extra_field", "too_long".
absl::string_view GraphiteReasonName(GraphiteReason reason);

// A bad line (include/canopy/lines.h): its reason, line, column and an
// InvalidArgument "line L, column C: <what>".
using GraphiteError = LineError<GraphiteReason>;
// Longer lines than max_line_bytes are rejected whole (kTooLong).
using GraphiteOptions = LineOptions;
using GraphiteCounts = LineCounts;

// Parses every line of `buffer`, calling `on_record` once per good line and
// `on_error` once per bad one, in input order. The record passed to
// `on_record` is only valid during the call.
GraphiteCounts ParseGraphite(
    absl::string_view buffer,
    absl::FunctionRef<void(const GraphiteRecord&)> on_record,
    absl::FunctionRef<void(const GraphiteError&)> on_error,
    const GraphiteOptions& options = GraphiteOptions());

// The fast path for the common line at the start of `buffer`: a plain
// dotted path (ASCII letters, digits, '_', '-'), one space, a plain
// decimal, and optionally one space and epoch seconds as digits
// ("web.hits 12.5 1700000000\n"). Fills `r` exactly as ParseGraphite would
// and returns the bytes used, the newline included; 0 when the line is
// anything else, for ParseGraphite to handle.
size_t ParseSimpleGraphiteLine(absl::string_view buffer, GraphiteRecord* r);

// The same line with its path as sent (dots, not checked): everything up
// to the first space. As with ScanSimpleStatsdLine, only a name that
// proves plain (ScanPlainName, canopy/line_name.h) may be trusted.
struct SimpleGraphiteLine {
  absl::string_view name;
  double value = 0;
  int64_t timestamp = 0;  // 0: none given
  bool has_timestamp = false;
};
size_t ScanSimpleGraphiteLine(absl::string_view buffer,
                              SimpleGraphiteLine* line);

}  // namespace canopy

#endif  // CANOPY_GRAPHITE_H_
