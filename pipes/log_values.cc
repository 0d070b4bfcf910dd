// Field values of access-log lines: numbers, times, request lines. See
// log_values.h.
//
// Threads: pure functions, callable from any thread.
#include "pipes/log_values.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace canopy {
namespace log_internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

int MonthOf(absl::string_view m) {
  static const char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; ++i) {
    if (m == absl::string_view(kMonths + 3 * i, 3)) return i + 1;
  }
  return 0;
}

bool ValidCivil(int y, int mo, int d, int h, int mi, int s) {
  return y >= 1970 && y < 3000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 &&
         h < 24 && mi < 60 && s <= 60;
}

// "+0200" / "-0700" / "+02:00" / "Z" at `pos`; seconds east of UTC.
bool ParseZone(absl::string_view s, size_t pos, int64_t* offset) {
  if (pos < s.size() && s[pos] == 'Z' && pos + 1 == s.size()) {
    *offset = 0;
    return true;
  }
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  const int sign = s[pos] == '-' ? -1 : 1;
  int hh, mm;
  if (!Digits(s, pos + 1, 2, &hh)) return false;
  size_t m = pos + 3;
  if (m < s.size() && s[m] == ':') ++m;
  if (!Digits(s, m, 2, &mm) || m + 2 != s.size()) return false;
  *offset = sign * (hh * 3600 + mm * 60);
  return true;
}

}  // namespace

absl::Status ColumnError(size_t column, absl::string_view what,
                         absl::string_view near) {
  if (near.size() > 40) near = near.substr(0, 40);
  if (near.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": ", what));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "column ", column, ": ", what, " near '", absl::CHexEscape(near), "'"));
}

bool ParseUint(absl::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool ParseSeconds(absl::string_view s, double* out) {
  if (s.empty() || s.size() > 24) return false;
  double v = 0;
  size_t i = 0;
  bool digits = false;
  for (; i < s.size() && IsDigit(s[i]); ++i) {
    v = v * 10 + (s[i] - '0');
    digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    for (++i; i < s.size() && IsDigit(s[i]); ++i) {
      v += (s[i] - '0') * scale;
      scale *= 0.1;
      digits = true;
    }
  }
  if (i != s.size() || !digits) return false;
  *out = v;
  return true;
}

bool ParseTimeLocal(absl::string_view s, int64_t* out) {
  int d, y, h, mi, sec;
  if (s.size() != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' ||
      s[14] != ':' || s[17] != ':' || s[20] != ' ') {
    return false;
  }
  const int mo = MonthOf(s.substr(3, 3));
  int64_t zone;
  if (!Digits(s, 0, 2, &d) || !Digits(s, 7, 4, &y) || !Digits(s, 12, 2, &h) ||
      !Digits(s, 15, 2, &mi) || !Digits(s, 18, 2, &sec) || mo == 0 ||
      !ValidCivil(y, mo, d, h, mi, sec) || !ParseZone(s, 21, &zone)) {
    return false;
  }
  *out = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
  return true;
}

bool ParseIso8601(absl::string_view s, int64_t* out) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  int64_t zone;
  if (!Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &mo) || !Digits(s, 8, 2, &d) ||
      !Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) ||
      !Digits(s, 17, 2, &sec) || !ValidCivil(y, mo, d, h, mi, sec)) {
    return false;
  }
  size_t z = 19;
  if (z < s.size() && s[z] == '.') {  // fractional seconds
    for (++z; z < s.size() && IsDigit(s[z]); ++z) {
    }
  }
  if (!ParseZone(s, z, &zone)) return false;
  *out = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
  return true;
}

absl::string_view PathOf(absl::string_view target) {
  const size_t scheme = target.find("://");
  if (scheme != absl::string_view::npos && scheme < 16 &&
      target.substr(0, 1) != "/") {
    const size_t slash = target.find('/', scheme + 3);
    if (slash == absl::string_view::npos) return "/";
    target.remove_prefix(slash);
  }
  const size_t end = target.find_first_of("?#");
  return target.substr(0, end);
}

void SplitRequest(absl::string_view request, LogRecord* r) {
  const size_t a = request.find(' ');
  if (a == absl::string_view::npos) return;
  r->method = request.substr(0, a);
  absl::string_view rest = request.substr(a + 1);
  const size_t b = rest.rfind(' ');
  if (b != absl::string_view::npos &&
      absl::StartsWith(rest.substr(b + 1), "HTTP/")) {
    r->protocol = rest.substr(b + 1);
    rest = rest.substr(0, b);
  }
  r->target = rest;
  r->path = PathOf(rest);
}

bool ParseUpstream(absl::string_view s, double* out) {
  double sum = 0;
  bool any = false;
  while (!s.empty()) {
    const size_t end = s.find_first_of(",:");
    absl::string_view part = absl::StripAsciiWhitespace(s.substr(0, end));
    double v;
    if (ParseSeconds(part, &v)) {
      sum += v;
      any = true;
    }
    if (end == absl::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  *out = sum;
  return any;
}

bool IsDash(absl::string_view s) { return s.empty() || s == "-"; }

}  // namespace log_internal
}  // namespace canopy
