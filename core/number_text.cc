// NumberText: the shortest digits that read back come from std::to_chars
// (Ryu in libstdc++, about 50 ns a number where trying printf precisions
// one by one took 3 us), then are laid out as %g lays out that many
// significant digits.
#include "canopy/number_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace canopy {

char* NumberTextTo(char* buf, double d) {
  char* out = buf;
  if (!std::isfinite(d)) {
    const char* t = std::isnan(d) ? (std::signbit(d) ? "-nan" : "nan")
                    : d > 0       ? "inf"
                                  : "-inf";
    const size_t n = std::strlen(t);
    std::memcpy(out, t, n);
    return out + n;
  }
  if (d == std::trunc(d) && std::fabs(d) <= 9007199254740992.0) {
    if (d == 0) {
      if (std::signbit(d)) *out++ = '-';
      *out++ = '0';
      return out;
    }
    return std::to_chars(out, buf + kNumberTextMax, static_cast<int64_t>(d))
        .ptr;
  }
  // "-d.ddde-XX": the shortest digits and the exponent.
  char sci[kNumberTextMax];
  char* const e =
      std::to_chars(sci, sci + sizeof sci, d, std::chars_format::scientific)
          .ptr;
  const char* p = sci;
  if (*p == '-') {
    *out++ = '-';
    ++p;
  }
  char digits[kNumberTextMax];
  int nd = 0;
  const char* q = p;
  for (; q < e && *q != 'e'; ++q) {
    if (*q != '.') digits[nd++] = *q;
  }
  int exp = 0;
  std::from_chars(q + 1 < e && q[1] == '+' ? q + 2 : q + 1, e, exp);
  if (exp < -4 || exp >= nd) {
    // %g's scientific form is to_chars' own.
    std::memcpy(out, p, static_cast<size_t>(e - p));
    return out + (e - p);
  }
  if (exp >= 0) {
    for (int i = 0; i < nd; ++i) {
      if (i == exp + 1) *out++ = '.';
      *out++ = digits[i];
    }
  } else {
    *out++ = '0';
    *out++ = '.';
    for (int i = -1; i > exp; --i) *out++ = '0';
    for (int i = 0; i < nd; ++i) *out++ = digits[i];
  }
  return out;
}

std::string NumberText(double d) {
  char buf[kNumberTextMax];
  return std::string(buf, NumberTextTo(buf, d));
}

}  // namespace canopy
