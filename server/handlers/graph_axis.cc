// The axes of the server-drawn charts: round steps, unit labels, clock
// ticks. See server/handlers/graph_axis.h. Pure; any thread.
#include "server/handlers/graph_axis.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "canopy/unit.h"

namespace canopy {
namespace {

bool IsBytes(absl::string_view unit) {
  return unit == "bytes" || unit == "bytes/s";
}

// Seconds per unit of a time unit; 0 for other units.
double SecondsPer(absl::string_view unit) {
  if (unit == "ns") return 1e-9;
  if (unit == "us") return 1e-6;
  if (unit == "ms") return 1e-3;
  if (unit == "s") return 1;
  return 0;
}

// 1, 2 or 5 times a power of ten, the smallest at least `raw`.
double DecimalStep(double raw) {
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  }
  return 10 * mag;
}

// Labels with `decimals` places at one scale for the whole axis, for when
// FormatWithUnit's three digits would give two ticks the same label.
std::string FixedLabel(double v, double scale, absl::string_view suffix,
                       int decimals) {
  return absl::StrCat(absl::StrFormat("%.*f", decimals, v / scale), suffix);
}

}  // namespace

double NiceStep(double span, int max_ticks, absl::string_view unit) {
  const double raw = span / std::max(1, max_ticks - 1);
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  if (IsBytes(unit) && raw >= 64) {
    return std::exp2(std::ceil(std::log2(raw) - 1e-9));
  }
  if (const double per = SecondsPer(unit); per > 0 && raw * per >= 30) {
    static constexpr double kClock[] = {60,    120,   300,    600,   900,
                                        1800,  3600,  7200,   10800, 21600,
                                        43200, 86400, 172800, 604800};
    for (double s : kClock) {
      if (s >= raw * per * (1 - 1e-9)) return s / per;
    }
    return DecimalStep(raw * per / 86400) * 86400 / per;  // days
  }
  return DecimalStep(raw);
}

ValueAxis MakeValueAxis(double lo, double hi, int max_ticks,
                        absl::string_view unit) {
  max_ticks = std::max(2, max_ticks);
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo <= std::max(std::fabs(hi), std::fabs(lo)) * 1e-12) {
    // One value: a range around it (from 0 when it is positive and small).
    const double half = lo == 0 ? 0.5 : std::fabs(lo) * 0.1;
    lo -= half;
    hi += half;
  }
  ValueAxis axis;
  double step = NiceStep(hi - lo, max_ticks, unit);
  double a = 0, b = 0;
  for (int tries = 0; tries < 64; ++tries) {
    a = std::floor(lo / step * (1 + 1e-12));
    b = std::ceil(hi / step * (1 - 1e-12));
    if (b - a + 1 <= max_ticks) break;
    step = NiceStep(step * 1.01, 2, unit);  // the next round step
  }
  if (b <= a) b = a + 1;
  axis.step = step;
  axis.lo = a * step;
  axis.hi = b * step;
  for (double i = a; i <= b; ++i) {
    double v = i * step;
    if (std::fabs(v) < step * 1e-9) v = 0;
    axis.ticks.push_back(v);
  }
  bool distinct = true;
  for (double v : axis.ticks) axis.labels.push_back(FormatWithUnit(v, unit));
  for (size_t i = 1; i < axis.labels.size(); ++i) {
    distinct = distinct && axis.labels[i] != axis.labels[i - 1];
  }
  if (distinct) return axis;
  // Too close for three digits: one scale, as many places as the step needs.
  const double top = std::max(std::fabs(axis.lo), std::fabs(axis.hi));
  double scale = 1;
  std::string suffix;
  if (IsBytes(unit)) {
    static const char* const kBinary[] = {"B",   "KiB", "MiB", "GiB",
                                          "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (top / scale >= 1024 && u + 1 < std::size(kBinary)) {
      scale *= 1024;
      ++u;
    }
    suffix = absl::StrCat(" ", kBinary[u], unit == "bytes/s" ? "/s" : "");
  } else if (const double per = SecondsPer(unit); per > 0) {
    const double s = top * per;
    const auto pick = [&](double seconds, const char* name) {
      scale = seconds / per;
      suffix = absl::StrCat(" ", name);
    };
    if (s >= 86400) {
      pick(86400, "d");
    } else if (s >= 3600) {
      pick(3600, "h");
    } else if (s >= 60) {
      pick(60, "min");
    } else if (s >= 1) {
      pick(1, "s");
    } else if (s >= 1e-3) {
      pick(1e-3, "ms");
    } else if (s >= 1e-6) {
      pick(1e-6, "\u00b5s");
    } else {
      pick(1e-9, "ns");
    }
  } else if (unit == "percent") {
    suffix = " %";
  } else if (unit == "/s") {
    suffix = "/s";
  } else if (!unit.empty() && unit != "count") {
    suffix = absl::StrCat(" ", unit);
  }
  const int decimals = std::clamp(
      static_cast<int>(std::ceil(-std::log10(step / scale) - 1e-9)), 0, 12);
  for (size_t i = 0; i < axis.ticks.size(); ++i) {
    axis.labels[i] = FixedLabel(axis.ticks[i], scale, suffix, decimals);
  }
  return axis;
}

TimeAxis MakeTimeAxis(int64_t from, int64_t to, int max_ticks) {
  max_ticks = std::max(2, max_ticks);
  TimeAxis axis;
  const int64_t span = std::max<int64_t>(1, to - from);
  auto tm_of = [](int64_t t) {
    time_t tt = static_cast<time_t>(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    return tm;
  };
  auto format = [](const struct tm& tm, const char* f) {
    char buf[32];
    strftime(buf, sizeof buf, f, &tm);
    return std::string(buf);
  };
  const double raw = static_cast<double>(span) / max_ticks;
  if (span > 90 * 86400 || raw > 7 * 86400) {
    // Months: the first of every 1, 2, 3, 6 or 12 months.
    int months = 12;
    for (int m : {1, 2, 3, 6}) {
      if (m * 30.4 * 86400 >= raw) {
        months = m;
        break;
      }
    }
    struct tm tm = tm_of(from);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mon -= tm.tm_mon % months;
    axis.step = static_cast<int64_t>(months * 30.4 * 86400);
    for (int guard = 0; guard < 1000; ++guard) {
      const int64_t t = static_cast<int64_t>(timegm(&tm));
      if (t > to) break;
      if (t >= from) {
        axis.ticks.push_back(t);
        axis.labels.push_back(format(tm_of(t), "%Y-%m"));
      }
      tm.tm_mon += months;
    }
    return axis;
  }
  static constexpr int64_t kSteps[] = {
      1,   2,    5,    10,   15,    30,    60,    120,   300,    600,
      900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800};
  // The finest step with at most max_ticks ticks in the range (counted:
  // a range a little longer than 3 h still gets ticks every hour).
  int64_t step = 604800;
  for (int64_t s : kSteps) {
    // Past two days, whole days: every tick a date.
    if (span > 2 * 86400 && s < 86400) continue;
    const int64_t first = (from + s - 1) / s * s;
    const int64_t count = first > to ? 0 : (to - first) / s + 1;
    if (count <= max_ticks) {
      step = s;
      break;
    }
  }
  axis.step = step;
  const int64_t first = (from + step - 1) / step * step;
  for (int64_t t = first; t <= to; t += step) {
    const struct tm tm = tm_of(t);
    axis.ticks.push_back(t);
    if (span > 2 * 86400 || (t % 86400 == 0 && step < 86400)) {
      axis.labels.push_back(format(tm, "%m-%d"));
    } else {
      axis.labels.push_back(format(tm, step < 60 ? "%H:%M:%S" : "%H:%M"));
    }
  }
  return axis;
}

}  // namespace canopy
