// StatsD lines: a pure parser from bytes to records, for every write path
// (POST /push text/plain, UDP datagrams, TCP lines) and the fuzzers.
//
//   ParseStatsd("web.hits:1|c|@0.5\nweb.time:12.5|ms\nbad line\n",
//       [&](const StatsdRecord& r) { /* r.key == "web,hits", ... */ },
//       [&](const StatsdError& e) { /* e.line == 3, kNoValue */ });
//
// Grammar of one line (Etsy StatsD, plus DogStatsD tags):
//
//   name ":" value "|" type [ "|@" rate ] [ "|#" tags ] [ "|c:" container ]
//
// - name: a dotted name; "." becomes ",", so "web.hits" is the key
//   "web,hits" (see DottedToKey in key.h), and every segment must follow the
//   key rules. The name ends at the first ':'.
// - value: a decimal number ("5", "-5", "+5", ".5", "1e3"); NaN, infinities
//   and numbers too large for a double are rejected (kNotFinite).
// - type: "c" counter (action add), "g" gauge (last), "ms" timer and "h"
//   histogram (timer), "s" set (set).
//   For "g" a leading '+' or '-' makes the value a delta to the current gauge
//   (relative = true); to set a gauge below zero, send 0 first, as in Etsy
//   StatsD. For "s" the value is any text up to the '|' (set_member) and
//   `value` is 0.
// - rate: a sample rate in (0, 1]. It is only recorded: consumers scale
//   counters by 1 / rate and weight timer samples by 1 / rate, and ignore it
//   for gauges and sets, as Etsy StatsD does.
// - tags (DogStatsD): "#name:value,name2:value2". Each tag becomes one more
//   key segment "name:value", appended after the metric name, in order of tag
//   name (then value), so the order the client sends does not matter and the
//   untagged name is an interior node that aggregates every tag combination:
//     "http.requests:1|c|#region:eu,env:prod"
//       -> key "http,requests,env:prod,region:eu"
//   A tag without a value ("#canary") is the segment "canary". Tag text is
//   kept as sent ('.' stays '.'); empty tags (from ",,") are skipped. Graphite
//   tags (graphite.h) map to the same segments. Do not send one name both with
//   and without tags: the untagged push would make a leaf of the node the
//   tagged ones hang under.
// - container (DogStatsD 1.2 "|c:<id>") is accepted and ignored.
//
// Lines are separated by "\n"; a trailing "\r" and leading and trailing
// spaces and tabs are removed; empty lines are skipped. The last line needs no
// newline. Each line stands alone: a bad line is reported and the good lines
// around it are still delivered. Several values on one line
// ("a:1|c:2|c") are not supported (reported as kBadType), like Etsy StatsD.
//
// Everything here is a pure function of its arguments and thread-compatible.
#ifndef CANOPY_STATSD_H_
#define CANOPY_STATSD_H_

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/lines.h"

namespace canopy {

enum class StatsdType { kCounter, kGauge, kTimer, kHistogram, kSet };

// The type letter as sent: "c", "g", "ms", "h", "s".
absl::string_view StatsdTypeName(StatsdType type);

struct StatsdRecord {
  std::string key;  // the comma key, tag segments included
  double value = 0;
  StatsdType type = StatsdType::kCounter;
  bool relative = false;   // a gauge delta ("+3" or "-3" with |g)
  double sample_rate = 1;  // in (0, 1]
  std::string set_member;  // for kSet: the raw value text
};

// Why a line was rejected. The names (StatsdReasonName) are stable: the
// server's own metrics count rejects by them.
enum class StatsdReason {
  kNoValue,    // no ':' or nothing between ':' and '|'
  kBadValue,   // not a decimal number
  kNotFinite,  // NaN, an infinity or out of double range
  kBadType,    // missing or unknown type
  kBadRate,    // "@rate" not a number in (0, 1]
  kBadName,    // empty name or a key that breaks the key rules
  kBadTags,    // a tag that is not a valid segment, or too many segments
  kBadField,   // an unknown or repeated "|..." field
  kTooLong,    // the line is longer than StatsdOptions::max_line_bytes
};

// "no_value", "bad_value", "not_finite", "bad_type", "bad_rate", "bad_name",
// "bad_tags", "bad_field", "too_long".
absl::string_view StatsdReasonName(StatsdReason reason);

// A bad line (include/canopy/lines.h): its reason, line, column and an
// InvalidArgument "line L, column C: <what>".
using StatsdError = LineError<StatsdReason>;
// Longer lines than max_line_bytes are rejected whole (kTooLong).
using StatsdOptions = LineOptions;
using StatsdCounts = LineCounts;

// Parses every line of `buffer`, calling `on_record` once per good line and
// `on_error` once per bad one, in input order. The record passed to
// `on_record` is only valid during the call.
StatsdCounts ParseStatsd(absl::string_view buffer,
                         absl::FunctionRef<void(const StatsdRecord&)> on_record,
                         absl::FunctionRef<void(const StatsdError&)> on_error,
                         const StatsdOptions& options = StatsdOptions());

// A cheap guess for ingest paths that see both protocols on one port: true if
// the first field of `line` (up to a space or tab) contains ':' and then
// '|'. Graphite lines ("path value ts") never do.
bool LooksLikeStatsd(absl::string_view line);

// The fast path for the common line at the start of `buffer`: a plain
// dotted name (ASCII letters, digits, '_', '-'), a plain decimal, type c,
// g, ms or h, and optionally "|@" and a plain decimal rate in (0, 1], with
// no tags or blanks ("api.hits:1|c\n", "api.ms:12|ms|@0.1\n"). Fills `r`
// exactly as ParseStatsd would and returns the bytes used, the newline
// included; 0 when the line is anything else, for ParseStatsd to handle.
size_t ParseSimpleStatsdLine(absl::string_view buffer, StatsdRecord* r);

// The same line with its name as sent (dots, not checked): everything up
// to the first ':'. For a caller that looks names up as they come and
// checks a name only when it is new; ParseSimpleStatsdLine is this and
// ScanPlainName (canopy/line_name.h) on `name`. The name may be anything,
// even span lines, when the line is not simple: only a name that proves
// plain may be trusted.
struct SimpleStatsdLine {
  absl::string_view name;
  double value = 0;
  StatsdType type = StatsdType::kCounter;
  bool relative = false;  // a gauge "+3" / "-3"
  double sample_rate = 1;
};
size_t ScanSimpleStatsdLine(absl::string_view buffer, SimpleStatsdLine* line);

}  // namespace canopy

#endif  // CANOPY_STATSD_H_
