// Units: validation of a stated unit, inference from canopy-agent's key
// conventions, and formatting a figure with its unit. See
// include/canopy/unit.h. Pure; any thread.
#include "canopy/unit.h"

#include <cmath>
#include <cstdlib>
#include <iterator>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "canopy/key.h"
#include "canopy/number_text.h"

namespace canopy {
namespace {

// Drops the zeros that end a decimal fraction (and its point): "1.50" ->
// "1.5", "2.00" -> "2"; text without a point is left alone.
void StripZeros(std::string* s) {
  if (s->find('.') == std::string::npos) return;
  while (s->back() == '0') s->pop_back();
  if (s->back() == '.') s->pop_back();
}

// `a` (0 <= a < 1e15) with `decimals` places, rounded half up as
// JavaScript's toFixed and toPrecision do (printf rounds half to even:
// 21.25 would be 21.2 there and 21.3 in the pages). From the exact digits:
// %.70f writes every digit of a double of at least 2^-10.
std::string HalfUp(double a, int decimals) {
  std::string s = absl::StrFormat("%.70f", a);
  const size_t point = s.find('.');
  const size_t cut = point + 1 + static_cast<size_t>(decimals);
  const bool up = s[cut] >= '5';
  s.resize(decimals == 0 ? point : cut);
  if (up) {
    int i = static_cast<int>(s.size()) - 1;
    for (; i >= 0; --i) {
      if (s[i] == '.') continue;
      if (s[i] != '9') {
        ++s[i];
        break;
      }
      s[i] = '0';
    }
    if (i < 0) s.insert(0, "1");
  }
  return s;
}

// Thousands separators: "1234567" -> "1,234,567", as en-US writes them.
std::string Grouped(double whole) {
  std::string digits = NumberText(std::fabs(whole));
  std::string out = whole < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Bytes(double v, absl::string_view per) {
  static const char* const kBinary[] = {"B",   "KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
  size_t u = 0;
  while (std::fabs(v) >= 1024 && u + 1 < std::size(kBinary)) {
    v /= 1024;
    ++u;
  }
  return absl::StrCat(ThreeDigits(v), " ", kBinary[u], per);
}

std::string Seconds(double s) {
  const double a = std::fabs(s);
  if (a >= 86400) return absl::StrCat(ThreeDigits(s / 86400), " d");
  if (a >= 3600) return absl::StrCat(ThreeDigits(s / 3600), " h");
  if (a >= 60) return absl::StrCat(ThreeDigits(s / 60), " min");
  if (a >= 1 || a == 0) return absl::StrCat(ThreeDigits(s), " s");
  if (a >= 1e-3) return absl::StrCat(ThreeDigits(s * 1e3), " ms");
  if (a >= 1e-6) return absl::StrCat(ThreeDigits(s * 1e6), " \u00b5s");
  return absl::StrCat(ThreeDigits(s * 1e9), " ns");
}

bool IsOneOf(absl::string_view s, std::initializer_list<absl::string_view> l) {
  for (absl::string_view x : l) {
    if (s == x) return true;
  }
  return false;
}

}  // namespace

absl::Status ValidateUnit(absl::string_view unit) {
  if (unit.empty() || unit.size() > kMaxUnitBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a unit is 1 to ", kMaxUnitBytes, " bytes"));
  }
  for (char c : unit) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError("control character in unit");
    }
  }
  if (!IsValidUtf8(unit)) {
    return absl::InvalidArgumentError("unit is not valid UTF-8");
  }
  // C1 control characters (U+0080 to U+009F) are two bytes, C2 80 to C2 9F.
  for (size_t i = 0; i + 1 < unit.size(); ++i) {
    if (static_cast<unsigned char>(unit[i]) == 0xC2 &&
        static_cast<unsigned char>(unit[i + 1]) <= 0x9F) {
      return absl::InvalidArgumentError("control character in unit");
    }
  }
  if (unit.front() == ' ' || unit.back() == ' ') {
    return absl::InvalidArgumentError("a unit has no space at either end");
  }
  return absl::OkStatus();
}

absl::string_view InferUnit(absl::string_view key) {
  std::vector<absl::string_view> segments = absl::StrSplit(key, ',');
  const absl::string_view leaf = segments.back();
  auto under = [&](absl::string_view name) {
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      if (segments[i] == name) return true;
    }
    return false;
  };
  // canopy-agent's rates (docs/AGENT.md): per second over its interval.
  const bool rate =
      under("diskio") || under("net") ||
      (under("proc") && IsOneOf(leaf, {"read_bytes", "write_bytes"}));
  const bool sized_leaf =
      IsOneOf(leaf, {"total", "used", "free", "available", "cached", "buffers",
                     "memory_max", "memory_current"});
  if (absl::EndsWith(leaf, "bytes") || leaf == "rss" ||
      (sized_leaf &&
       (under("mem") || under("swap") || under("disk") || under("cgroup")))) {
    return rate ? "bytes/s" : "bytes";
  }
  if (leaf == "percent" || absl::EndsWith(leaf, "_percent")) return "percent";
  // cpu,{user,...} and cpu,core,<n>,{user,...}: percents of the interval.
  if (segments.size() >= 2 &&
      (segments[segments.size() - 2] == "cpu" ||
       (segments.size() >= 4 && segments[segments.size() - 4] == "cpu" &&
        segments[segments.size() - 3] == "core")) &&
      IsOneOf(leaf, {"user", "nice", "system", "idle", "iowait", "irq",
                     "softirq", "steal", "guest", "guest_nice"})) {
    return "percent";
  }
  if (absl::EndsWith(leaf, "_ms")) return "ms";
  if (leaf == "uptime" || absl::EndsWith(leaf, "_seconds")) return "s";
  if (rate) return "/s";
  return "";
}

absl::string_view LeafUnit(absl::string_view stated, absl::string_view key,
                           Action action) {
  if (!stated.empty()) return stated;
  if (action == Action::kTimer) return "ms";
  return InferUnit(key);
}

std::string TrendUnit(absl::string_view unit, absl::string_view fn) {
  if (fn == "count") return "count";
  if (fn != "rate") return std::string(unit);
  if (unit.empty() || unit == "count") return "/s";
  if (unit == "bytes") return "bytes/s";
  if (absl::EndsWith(unit, "/s")) return std::string(unit);  // already a rate
  return absl::StrCat(unit, "/s");
}

std::string ThreeDigits(double x) {
  if (x == 0) return "0";  // -0 too
  const double a = std::fabs(x);
  const std::string sign = x < 0 ? "-" : "";
  if (a < 1e-3) {
    // "1.23e-07" -> "1.23e-7", trailing zeros dropped. No tie to break:
    // a double this small is never halfway between two such figures.
    std::string s = absl::StrFormat("%.2e", a);
    const size_t e = s.find('e');
    std::string mantissa = s.substr(0, e);
    StripZeros(&mantissa);
    const int exponent = std::atoi(s.c_str() + e + 1);
    return absl::StrCat(sign, mantissa, "e-", std::abs(exponent));
  }
  if (a >= 1e15) {
    // Three significant digits of the whole number, halves up: "1.5e+15".
    std::string digits = absl::StrFormat("%.0f", a);  // exact
    int exponent = static_cast<int>(digits.size()) - 1;
    std::string head = digits.substr(0, 3);
    if (digits[3] >= '5') {
      head = absl::StrCat(std::stoi(head) + 1);
      if (head.size() > 3) {
        head.resize(3);
        ++exponent;
      }
    }
    std::string mantissa = absl::StrCat(head.substr(0, 1), ".", head.substr(1));
    StripZeros(&mantissa);
    return absl::StrCat(sign, mantissa, "e+", exponent);
  }
  int decimals;
  if (a >= 100) {
    decimals = 0;
  } else if (a >= 10) {
    decimals = 1;
  } else if (a >= 1) {
    decimals = 2;
  } else {
    // Three significant digits: the first non-zero digit's place, read off
    // the exact digits (no log10 rounding at the powers of ten).
    const std::string s = absl::StrFormat("%.70f", a);
    const size_t first = s.find_first_not_of("0.");
    decimals = static_cast<int>(first - s.find('.')) + 2;
  }
  std::string s = HalfUp(a, decimals);
  StripZeros(&s);
  return absl::StrCat(sign, s);
}

std::string FormatWithUnit(double v, absl::string_view unit) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (unit.empty() || unit == "count") {
    return v == std::trunc(v) && std::fabs(v) < 1e15 ? Grouped(v)
                                                     : ThreeDigits(v);
  }
  if (unit == "bytes") return Bytes(v, "");
  if (unit == "bytes/s") return Bytes(v, "/s");
  if (unit == "percent") return absl::StrCat(ThreeDigits(v), " %");
  if (unit == "ns") return Seconds(v / 1e9);
  if (unit == "us") return Seconds(v / 1e6);
  if (unit == "ms") return Seconds(v / 1e3);
  if (unit == "s") return Seconds(v);
  if (unit == "/s") return absl::StrCat(ThreeDigits(v), "/s");
  return absl::StrCat(ThreeDigits(v), " ", unit);
}

}  // namespace canopy
