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
  const bool rate = under("diskio") || under("net") ||
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

std::string ThreeDigits(double x) {
  if (x == 0) return "0";  // -0 too
  const double a = std::fabs(x);
  std::string s;
  if (a >= 1e15 || a < 1e-3) {
    // "1.50e+15" -> "1.5e+15", "1.23e-07" -> "1.23e-7" (as JavaScript's
    // toExponential(2) writes it, trailing zeros dropped).
    s = absl::StrFormat("%.2e", x);
    const size_t e = s.find('e');
    std::string mantissa = s.substr(0, e);
    StripZeros(&mantissa);
    const int exponent = std::atoi(s.c_str() + e + 1);
    return absl::StrCat(mantissa, "e", exponent < 0 ? "-" : "+",
                        std::abs(exponent));
  }
  // Each format a literal: StrFormat checks them at compile time.
  s = a >= 100  ? absl::StrFormat("%.0f", x)
      : a >= 10 ? absl::StrFormat("%.1f", x)
      : a >= 1  ? absl::StrFormat("%.2f", x)
                : absl::StrFormat("%.3g", x);
  StripZeros(&s);
  return s;
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
