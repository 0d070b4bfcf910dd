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
#include "canopy/unit.h"
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

absl::flat_hash_map<std::string, std::string>& ServerUnits() {
  static auto* units = new absl::flat_hash_map<std::string, std::string>();
  return *units;
}

// A timer's figures (server/live_json.cc writes count, mean, min, max,
// p50, p90, p99) as a person reads them; "" if `v` is not one.
std::string TimerText(absl::string_view key, const rapidjson::Value& v) {
  auto number = [&](const char* name, double* out) {
    auto it = v.FindMember(name);
    if (it == v.MemberEnd() || !it->value.IsNumber()) return false;
    *out = it->value.GetDouble();
    return true;
  };
  double p50, p99, count;
  if (!number("p50", &p50) || !number("p99", &p99) ||
      !number("count", &count)) {
    return "";
  }
  absl::string_view unit = UnitOf(key);
  if (unit.empty()) unit = "ms";  // StatsD's timers are in ms
  return absl::StrCat("p50 ", FormatWithUnit(p50, unit), ", p99 ",
                      FormatWithUnit(p99, unit), ", n ", NumberText(count));
}

}  // namespace

bool ForPerson() { return for_person; }

void SetForPerson(bool person, bool use_colour) {
  for_person = person;
  colour = person && use_colour;
}

void SetServerUnits(
    const absl::flat_hash_map<std::string, std::string>& units) {
  ServerUnits().clear();
  for (const auto& [key, unit] : units) {
    if (ValidateUnit(unit).ok()) ServerUnits()[key] = unit;
  }
}

absl::string_view UnitOf(absl::string_view key) {
  auto it = ServerUnits().find(key);
  if (it != ServerUnits().end()) return it->second;
  return InferUnit(key);
}

std::string ReadableNumber(absl::string_view key, double d) {
  return ReadableFigure(d, UnitOf(key));
}

std::string ReadableFigure(double d, absl::string_view unit) {
  if (!std::isfinite(d)) return NumberText(d);
  // Whole numbers without a unit in full, as a script would copy them.
  if ((unit.empty() || unit == "count") && d == std::trunc(d) &&
      std::fabs(d) < 1e15) {
    return NumberText(d);
  }
  return FormatWithUnit(d, unit);
}

std::string DisplayValue(absl::string_view key, const rapidjson::Value& v) {
  if (for_person && v.IsNumber()) return ReadableNumber(key, v.GetDouble());
  if (for_person && v.IsObject()) {
    if (std::string t = TimerText(key, v); !t.empty()) return t;
  }
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
