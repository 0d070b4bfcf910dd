// Helpers shared by the line parsers (core/statsd.cc, core/graphite.cc):
// quoting untrusted input for error messages and strict decimal numbers.
// Internal to libcanopy: not part of include/canopy.
#ifndef CANOPY_CORE_TEXT_H_
#define CANOPY_CORE_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace canopy {
namespace text {

// Quotes at most 80 bytes of untrusted input for an error message, escaping
// control bytes, quotes and backslashes.
std::string Quote(absl::string_view text);

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

enum class NumberStatus { kOk, kBad, kNotFinite };

// Parses the whole of `text` as a decimal number: [+-] digits [. digits]
// [e [+-] digits], with digits on at least one side of the point. NaN and
// infinities, and values that overflow, are kNotFinite; underflow is 0.
NumberStatus ParseNumber(absl::string_view text, double* out);

}  // namespace text
}  // namespace canopy

#endif  // CANOPY_CORE_TEXT_H_
