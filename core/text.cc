#include "core/text.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace canopy {
namespace text {

// Quotes at most 80 bytes of untrusted input for an error message.
std::string Quote(absl::string_view text) {
  constexpr size_t kShown = 80;
  std::string out = "\"";
  for (char c : text.substr(0, kShown)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  if (text.size() > kShown) out += "...";
  out.push_back('"');
  return out;
}

// Parses the whole of `text` as a decimal number: [+-] digits [. digits]
// [e [+-] digits], with digits on at least one side of the point.
NumberStatus ParseNumber(absl::string_view text, double* out) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (absl::EqualsIgnoreCase(text, "nan") ||
      absl::EqualsIgnoreCase(text, "inf") ||
      absl::EqualsIgnoreCase(text, "infinity")) {
    return NumberStatus::kNotFinite;
  }
  size_t i = 0;
  const size_t n = text.size();
  auto digit = [&](size_t k) { return k < n && absl::ascii_isdigit(text[k]); };
  // Decimal order of the leading significant digit: tells an overflow from
  // an underflow when the conversion reports a range error.
  int64_t order = 0;
  bool seen_nonzero = false;
  size_t digits = 0;
  for (; digit(i); ++i, ++digits) {
    if (text[i] != '0') seen_nonzero = true;
    if (seen_nonzero) ++order;
  }
  if (i < n && text[i] == '.') {
    ++i;
    for (; digit(i); ++i, ++digits) {
      if (text[i] != '0') seen_nonzero = true;
      if (!seen_nonzero) --order;
    }
  }
  if (digits == 0) return NumberStatus::kBad;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    if (!digit(i)) return NumberStatus::kBad;
    int64_t exponent = 0;
    for (; digit(i); ++i) {
      exponent = std::min<int64_t>(exponent * 10 + (text[i] - '0'), 1000000);
    }
    order += exp_negative ? -exponent : exponent;
  }
  if (i != n) return NumberStatus::kBad;
  double v = 0;
  const absl::from_chars_result r =
      absl::from_chars(text.data(), text.data() + n, v);
  if (r.ec == std::errc::result_out_of_range) {
    if (order > 0) return NumberStatus::kNotFinite;
    v = 0;  // underflow
  } else if (r.ec != std::errc() || r.ptr != text.data() + n) {
    return NumberStatus::kBad;
  }
  if (!std::isfinite(v)) return NumberStatus::kNotFinite;
  *out = negative ? -v : v;
  return NumberStatus::kOk;
}

}  // namespace text
}  // namespace canopy
