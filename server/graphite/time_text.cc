// Graphite's time texts (time_text.h). Pure; any thread.
#include "server/graphite/time_text.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace canopy {
namespace graphite {
namespace {

absl::Status BadInterval(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "bad interval \"", text.substr(0, 40),
      "\" (expected a number and a unit: 30s, 5min, 1h, 7d, 1w, 1mon, 1y)"));
}

constexpr int64_t kMaxSeconds = int64_t{400} * 366 * 86400;

}  // namespace

absl::StatusOr<int64_t> ParseInterval(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  int sign = 1;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    sign = t[0] == '-' ? -1 : 1;
    t.remove_prefix(1);
  }
  size_t digits = 0;
  while (digits < t.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(t[digits]))) {
    ++digits;
  }
  int64_t n;
  if (digits == 0 || digits > 12 ||
      !absl::SimpleAtoi(t.substr(0, digits), &n)) {
    return BadInterval(text);
  }
  std::string unit = absl::AsciiStrToLower(t.substr(digits));
  int64_t mult;
  auto is = [&](absl::string_view a, absl::string_view b = "",
                absl::string_view c = "") {
    return unit == a || (!b.empty() && unit == b) || (!c.empty() && unit == c);
  };
  if (is("s", "sec", "secs") || is("second", "seconds")) {
    mult = 1;
  } else if (is("m", "min", "mins") || is("minute", "minutes")) {
    mult = 60;
  } else if (is("h", "hour", "hours")) {
    mult = 3600;
  } else if (is("d", "day", "days")) {
    mult = 86400;
  } else if (is("w", "week", "weeks")) {
    mult = 7 * 86400;
  } else if (is("mon", "month", "months")) {
    mult = 30 * 86400;
  } else if (is("y", "year", "years")) {
    mult = 365 * 86400;
  } else {
    return BadInterval(text);
  }
  if (n > kMaxSeconds / mult) return BadInterval(text);
  return sign * n * mult;
}

absl::StatusOr<int64_t> ParseGraphiteTime(absl::string_view text, int64_t now) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad time \"", text.substr(0, 40),
        "\" (expected now, -6h, now-5min, epoch seconds, YYYYMMDD or "
        "HH:MM_YYYYMMDD)"));
  };
  if (t.empty()) return bad();
  std::string lower = absl::AsciiStrToLower(t);
  absl::string_view l = lower;
  if (absl::ConsumePrefix(&l, "now")) {
    if (l.empty()) return now;
    absl::StatusOr<int64_t> d = ParseInterval(l);
    if (!d.ok() || (l[0] != '-' && l[0] != '+')) return bad();
    return now + *d;
  }
  if (t[0] == '-' || t[0] == '+') {
    absl::StatusOr<int64_t> d = ParseInterval(t);
    if (!d.ok()) return bad();
    return now + *d;
  }
  int64_t v;
  bool all_digits = true;
  for (char c : t) all_digits = all_digits && absl::ascii_isdigit(c);
  if (all_digits && t.size() != 8) {
    if (!absl::SimpleAtoi(t, &v) || v > 253402300799) return bad();
    return v;
  }
  // YYYYMMDD, or HH:MM_YYYYMMDD.
  int hour = 0, minute = 0;
  absl::string_view date = t;
  if (t.size() == 14 && t[2] == ':' && t[5] == '_') {
    if (!absl::SimpleAtoi(t.substr(0, 2), &hour) ||
        !absl::SimpleAtoi(t.substr(3, 2), &minute) || hour > 23 ||
        minute > 59) {
      return bad();
    }
    date = t.substr(6);
  }
  int year, month, day;
  bool digits = date.size() == 8;
  for (char c : date) digits = digits && absl::ascii_isdigit(c);
  if (digits && absl::SimpleAtoi(date.substr(0, 4), &year) &&
      absl::SimpleAtoi(date.substr(4, 2), &month) &&
      absl::SimpleAtoi(date.substr(6, 2), &day) && month >= 1 && month <= 12 &&
      day >= 1 && day <= 31) {
    absl::CivilMinute cm(year, month, day, hour, minute);
    if (cm.day() != day) return bad();  // no 31st of February
    return absl::ToUnixSeconds(absl::FromCivil(cm, absl::UTCTimeZone()));
  }
  return bad();
}

}  // namespace graphite
}  // namespace canopy
