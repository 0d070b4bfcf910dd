// The values inside access-log fields, for every format: numbers, seconds,
// times, request lines and targets, upstream time lists.
//
//   int64_t t;
//   log_internal::ParseTimeLocal("10/Oct/2000:13:55:36 -0700", &t);
//   // t == 971211336
//
// Internal to pipes/. Threads: pure functions, callable from any thread.
#ifndef CANOPY_PIPES_LOG_VALUES_H_
#define CANOPY_PIPES_LOG_VALUES_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/pipe.h"

namespace canopy {
namespace log_internal {

// Epoch seconds past this (the year 5138) are refused as times.
constexpr double kMaxEpoch = 1e11;

// InvalidArgument "column C: <what>[ near '<up to 40 bytes, escaped>']".
absl::Status ColumnError(size_t column, absl::string_view what,
                         absl::string_view near = {});

// "" or "-": the field is absent.
bool IsDash(absl::string_view s);

// Non-negative integer; false on anything else (or more than 18 digits).
bool ParseUint(absl::string_view s, int64_t* out);

// "12", "0.123", ".5": non-negative decimal without exponent.
bool ParseSeconds(absl::string_view s, double* out);

// "10/Oct/2000:13:55:36 -0700" (nginx $time_local) into epoch seconds.
bool ParseTimeLocal(absl::string_view s, int64_t* out);

// "2000-10-10T13:55:36-07:00" (nginx $time_iso8601; fractional seconds and
// "Z" too) into epoch seconds.
bool ParseIso8601(absl::string_view s, int64_t* out);

// The path of a request target: without query and fragment; for an
// absolute URI ("http://h/p") the part from the first '/' after the host.
absl::string_view PathOf(absl::string_view target);

// "METHOD TARGET PROTOCOL" into r's method, target, path and protocol.
// Anything else (scanners send binary) leaves what it can.
void SplitRequest(absl::string_view request, LogRecord* r);

// "0.012", "0.010, 0.002 : 0.001", "-": summed; false if none is a number.
bool ParseUpstream(absl::string_view s, double* out);

}  // namespace log_internal
}  // namespace canopy

#endif  // CANOPY_PIPES_LOG_VALUES_H_
