// What the CLI prints. See tools/cli/output.h.
#include "tools/cli/output.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {
namespace cli {
namespace {

// Display width of UTF-8 text: one column per code point.
size_t Width(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool for_person = false;
bool colour = false;

// `x` with three significant digits at most (whole when 100 or more),
// trailing zeros dropped.
std::string Digits(double x) {
  double a = std::fabs(x);
  // Each format a literal: StrFormat checks them at compile time.
  std::string s = a >= 100  ? absl::StrFormat("%.0f", x)
                  : a >= 10 ? absl::StrFormat("%.1f", x)
                  : a >= 1  ? absl::StrFormat("%.2f", x)
                            : absl::StrFormat("%.3g", x);
  if (s.find('.') != std::string::npos && s.find('e') == std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace

bool ForPerson() { return for_person; }

void SetForPerson(bool person, bool use_colour) {
  for_person = person;
  colour = person && use_colour;
}

std::string ReadableNumber(absl::string_view key, double d) {
  if (!std::isfinite(d)) return NumberText(d);
  std::vector<absl::string_view> segments = absl::StrSplit(key, ',');
  const absl::string_view leaf = segments.back();
  auto under = [&](absl::string_view name) {
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      if (segments[i] == name) return true;
    }
    return false;
  };
  // canopy-agent's rates (docs/AGENT.md): per second.
  const char* per = under("diskio") || under("net") ? "/s" : "";
  const bool sized_leaf = leaf == "total" || leaf == "used" || leaf == "free" ||
                          leaf == "available" || leaf == "cached" ||
                          leaf == "buffers" || leaf == "memory_max" ||
                          leaf == "memory_current";
  if (absl::EndsWith(leaf, "bytes") || leaf == "rss" ||
      (sized_leaf &&
       (under("mem") || under("swap") || under("disk") || under("cgroup")))) {
    static const char* const kUnits[] = {"B",   "KiB", "MiB", "GiB",
                                         "TiB", "PiB", "EiB"};
    double v = d;
    size_t u = 0;
    while (std::fabs(v) >= 1024 && u + 1 < std::size(kUnits)) {
      v /= 1024;
      ++u;
    }
    return absl::StrCat(Digits(v), " ", kUnits[u], per);
  }
  if (leaf == "percent" || absl::EndsWith(leaf, "_percent")) {
    return absl::StrCat(Digits(d), " %");
  }
  if (absl::EndsWith(leaf, "_ms")) return absl::StrCat(Digits(d), " ms");
  if (leaf == "uptime" || absl::EndsWith(leaf, "_seconds")) {
    const double a = std::fabs(d);
    if (a >= 86400) return absl::StrCat(Digits(d / 86400), " d");
    if (a >= 3600) return absl::StrCat(Digits(d / 3600), " h");
    if (a >= 60) return absl::StrCat(Digits(d / 60), " min");
    return absl::StrCat(Digits(d), " s");
  }
  std::string figure =
      d == std::trunc(d) && std::fabs(d) < 1e15 ? NumberText(d) : Digits(d);
  return absl::StrCat(figure, per);
}

std::string DisplayValue(absl::string_view key, const rapidjson::Value& v) {
  if (for_person && v.IsNumber()) return ReadableNumber(key, v.GetDouble());
  return ValueText(v);
}

std::string Coloured(Colour c, absl::string_view text) {
  if (!colour || c == Colour::kNone || text.empty()) return std::string(text);
  const char* sgr = c == Colour::kKey     ? "\x1b[36m"  // cyan
                    : c == Colour::kValue ? "\x1b[1m"   // bold
                                          : "\x1b[2m";  // dim
  return absl::StrCat(sgr, text, "\x1b[0m");
}

int Fail(absl::string_view message) {
  std::cout.flush();
  std::cerr << "canopy: " << message << std::endl;
  return kFailed;
}

int UsageError(absl::string_view message) {
  std::cout.flush();
  std::cerr << "canopy: " << message << " (see canopy --help)" << std::endl;
  return kUsageError;
}

std::string ShortNumber(double d) {
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
    return NumberText(d);
  }
  return absl::StrFormat("%.6g", d);
}

std::string ValueText(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsNull()) return "(removed)";
  if (v.IsInt64()) return absl::StrCat(v.GetInt64());
  if (v.IsUint64()) return absl::StrCat(v.GetUint64());
  if (v.IsDouble()) return NumberText(v.GetDouble());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

void PrintTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<Colour>& colours) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const Colour c = i < colours.size() ? colours[i] : Colour::kNone;
      line += Coloured(c, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - Width(row[i]) + 2, ' ');
    }
    std::cout << absl::StripTrailingAsciiWhitespace(line) << '\n';
  }
}

std::vector<std::pair<std::string, const rapidjson::Value*>> Items(
    const rapidjson::Document& doc) {
  std::vector<std::pair<std::string, const rapidjson::Value*>> out;
  auto it = doc.FindMember("items");
  if (it == doc.MemberEnd() || !it->value.IsArray()) return out;
  for (const rapidjson::Value& item : it->value.GetArray()) {
    if (!item.IsObject()) continue;
    for (const auto& m : item.GetObject()) {
      out.emplace_back(
          std::string(m.name.GetString(), m.name.GetStringLength()), &m.value);
    }
  }
  return out;
}

int PrintRaw(const HttpReply& reply) {
  std::cout << reply.body;
  if (reply.body.empty() || reply.body.back() != '\n') std::cout << '\n';
  return kOk;
}

std::vector<std::string> CsvFields(absl::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string CsvField(absl::string_view s) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace cli
}  // namespace canopy
