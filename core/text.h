// Helpers shared by the line parsers (core/statsd.cc, core/graphite.cc):
// quoting untrusted input for error messages, strict decimal numbers and
// the value field's errors, and the scanners of the fast paths.
// Internal to libcanopy: not part of include/canopy.
#ifndef CANOPY_CORE_TEXT_H_
#define CANOPY_CORE_TEXT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "canopy/lines.h"

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

// Parses a line's value field, at `offset` in the line, with ParseNumber.
// False, with `f` saying why (Reason::kBadValue or Reason::kNotFinite), if
// it is not a finite decimal number. `Reason` is a parser's reason enum
// (StatsdReason, GraphiteReason).
template <typename Reason>
bool ParseValue(absl::string_view text, size_t offset, double* value,
                LineFailure<Reason>* f) {
  switch (ParseNumber(text, value)) {
    case NumberStatus::kOk:
      return true;
    case NumberStatus::kBad:
      *f = {Reason::kBadValue, offset,
            absl::StrCat("bad value ", Quote(text), ": not a decimal number")};
      return false;
    case NumberStatus::kNotFinite:
      *f = {Reason::kNotFinite, offset,
            absl::StrCat("bad value ", Quote(text), ": not a finite number")};
      return false;
  }
  return false;
}

// The fast paths of the line parsers. Each recognises only the common form
// and gives exactly what the full parser gives for it; anything else
// returns 0 and the caller takes the full parser, which also explains
// what is wrong.

// Plain names (IsPlainName, ScanPlainName) are public: canopy/line_name.h.

// Where a name that ends at `stop` would end, unchecked: the bytes before
// the first `stop` if there is one within the length of the longest plain
// name; 0 if there is none or the name would be empty.
size_t FindPlainNameEnd(const char* p, const char* end, char stop);

// The length of a plain decimal at `p` ([+-] digits [. digits], 15 digits
// at most, no exponent), its value in `out` (exact: the digits as an
// integer divided by a power of ten, both exact in a double). 0 when the
// number is not that plain.
size_t ScanPlainDecimal(const char* p, const char* end, double* out);

// Where a simple line that has reached `p` ends: after its newline ("\r\n"
// too) or at `end`; nullptr when anything else follows.
inline const char* EndOfSimpleLine(const char* p, const char* end) {
  if (p < end && *p == '\r') ++p;
  if (p == end) return p;
  return *p == '\n' ? p + 1 : nullptr;
}

}  // namespace text
}  // namespace canopy

#endif  // CANOPY_CORE_TEXT_H_
