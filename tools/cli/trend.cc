// canopy trend KEY...: history (GET /trend) per series as a table of local
// time and value, as sparklines (--spark), or the server's CSV or JSON as it
// is. Times on the command line may be local dates and times; they are sent
// as epoch seconds.
//
// Threads: the CLI's one thread.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "canopy/duration.h"
#include "canopy/unit.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/trend_reply.h"

ABSL_FLAG(std::string, from, "-1h",
          "trend: start: epoch seconds, -1h, -7d, now, or a local time "
          "(2026-11-20T10:00, 2026-11-20)");
ABSL_FLAG(std::string, to, "now", "trend: end (inclusive), as --from");
ABSL_FLAG(bool, csv, false, "trend: print the server's CSV as it is");
ABSL_FLAG(bool, spark, false,
          "trend: one line per series: sparkline, min, max, last");
ABSL_FLAG(int, width, 60, "trend --spark: most characters per sparkline");

namespace canopy {
namespace cli {
namespace {

// A time flag as the server takes it: epoch seconds, now and -1h pass as they
// are; a local date or date and time (or RFC 3339 with an offset) becomes
// epoch seconds.
absl::StatusOr<std::string> TimeArg(const std::string& text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.empty() || t == "now" || t[0] == '-' || t[0] == '+' ||
      std::all_of(t.begin(), t.end(), absl::ascii_isdigit)) {
    return std::string(t);
  }
  absl::Time parsed;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, t, &parsed, &error)) {
    return absl::StrCat(absl::ToUnixSeconds(parsed));
  }
  for (const char* format :
       {"%Y-%m-%d%ET%H:%M:%E*S", "%Y-%m-%d %H:%M:%E*S", "%Y-%m-%d%ET%H:%M",
        "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, t, absl::LocalTimeZone(), &parsed, &error)) {
      return absl::StrCat(absl::ToUnixSeconds(parsed));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bad time \"", t, "\" (expected epoch seconds, now, -1h, -7d, ",
      "2026-11-20T10:00 or 2026-11-20)"));
}

// Epoch seconds of a time as the server reads it (TimeArg's output): now,
// -1h, +2d, or epoch seconds; nullopt-like false if it is none of these.
bool EpochOf(absl::string_view t, int64_t now, int64_t* out) {
  if (t.empty() || t == "now") {
    *out = now;
    return true;
  }
  if (t[0] == '-' || t[0] == '+') {
    int64_t d;
    if (!ParseDuration(t.substr(1), &d)) return false;
    *out = t[0] == '-' ? now - d : now + d;
    return true;
  }
  return absl::SimpleAtoi(t, out);
}

// "10s", "1m", "1h", "1d" or "90s".
// A point of series `key`: six significant digits, or with its unit for a
// person (tools/cli/output.h).
std::string Figure(const std::string& key, absl::string_view fn, double v) {
  return ForPerson() ? ReadableFigure(v, TrendUnit(UnitOf(key), fn))
                     : ShortNumber(v);
}

std::string StepText(int64_t seconds) {
  if (seconds > 0 && seconds % 86400 == 0)
    return absl::StrCat(seconds / 86400, "d");
  if (seconds > 0 && seconds % 3600 == 0)
    return absl::StrCat(seconds / 3600, "h");
  if (seconds > 0 && seconds % 60 == 0) return absl::StrCat(seconds / 60, "m");
  return absl::StrCat(seconds, "s");
}

// Local time in ISO 8601 with its offset: 2026-11-20T10:00:00+01:00.
std::string LocalTimeText(int64_t t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixSeconds(t),
                          absl::LocalTimeZone());
}

// The sparkline of `points` (sorted by time, `step` apart at the closest):
// one character per step, or per group of steps when there are more than
// `width`; a gap is a space.
std::string Sparkline(const std::vector<std::pair<int64_t, double>>& points,
                      int64_t step, int width) {
  static const char* const kBars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                      "\u2585", "\u2586", "\u2587", "\u2588"};
  if (points.empty()) return "";
  if (step <= 0) step = 1;
  width = std::max(width, 1);
  const int64_t first = points.front().first;
  const int64_t slots = (points.back().first - first) / step + 1;
  const int64_t per_column = (slots + width - 1) / width;
  const int64_t columns = (slots + per_column - 1) / per_column;
  std::vector<double> sum(columns, 0);
  std::vector<int> n(columns, 0);
  double lo = points.front().second, hi = lo;
  for (const auto& [t, v] : points) {
    int64_t c =
        std::clamp<int64_t>((t - first) / step / per_column, 0, columns - 1);
    sum[c] += v;
    ++n[c];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string out;
  for (int64_t c = 0; c < columns; ++c) {
    if (n[c] == 0) {
      out += ' ';
      continue;
    }
    double v = sum[c] / n[c];
    int level = 3;  // a flat series sits in the middle
    if (hi > lo) {
      level = static_cast<int>(std::lround((v - lo) / (hi - lo) * 7));
    }
    out += kBars[std::clamp(level, 0, 7)];
  }
  return out;
}

}  // namespace

const char kTrendHelp[] = R"help(Usage: canopy [flags] trend KEY...

Prints the history of each series under the keys (GET /trend): per series
a table of local time and value (six significant digits), or with --spark
one line per series: a sparkline, its min, max and last value. --csv and
--json print the server's reply as it is (times in epoch seconds).

  --from=T    start (default -1h): epoch seconds, -1h, -7d, now, or a
              local time 2026-11-20T10:00[:00] or 2026-11-20
  --to=T      end, inclusive (default now)
  --step=S    seconds per point: 60, 10s, 1m, 1h (default: the server's
              choice, about 600 points)
  --fn=F      avg (default), sum, min, max, last, count, rate, p50, p90,
              p99
  --spark     sparklines, at most --width=N characters (60)
  --csv       the server's CSV: time,<key>,... a column per key
  --json      the server's JSON

Examples:
  canopy trend 'host,web1,load,1' --from=-6h --step=5m
  canopy trend 'host,*,cpu,idle' --from=-1d --spark
)help";

int TrendCommand(const Server& server, const Args& keys) {
  if (keys.empty()) return UsageError("trend needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  const bool csv = absl::GetFlag(FLAGS_csv);
  const bool spark = absl::GetFlag(FLAGS_spark);
  if (csv && spark) return UsageError("give either --csv or --spark");
  absl::StatusOr<std::string> from = TimeArg(absl::GetFlag(FLAGS_from));
  if (!from.ok()) return Fail(from.status().message());
  absl::StatusOr<std::string> to = TimeArg(absl::GetFlag(FLAGS_to));
  if (!to.ok()) return Fail(to.status().message());
  const std::string fn = absl::GetFlag(FLAGS_fn);
  std::string target =
      absl::StrCat("/trend?", KeyQuery(keys), "&from=", UrlEncode(*from),
                   "&to=", UrlEncode(*to), "&fn=", UrlEncode(fn));
  std::string step = absl::GetFlag(FLAGS_step);
  int64_t from_s, to_s;
  const int64_t now = time(nullptr);
  if (spark && step.empty() && EpochOf(*from, now, &from_s) &&
      EpochOf(*to, now, &to_s) && to_s >= from_s) {
    // About one point per character: the server aggregates with --fn.
    int64_t width = std::max(1, absl::GetFlag(FLAGS_width));
    step = absl::StrCat(std::max<int64_t>(1, (to_s - from_s + width) / width));
  }
  if (!step.empty()) absl::StrAppend(&target, "&step=", UrlEncode(step));
  if (csv) absl::StrAppend(&target, "&format=csv");
  absl::StatusOr<HttpReply> reply = server.Call("GET", target);
  if (!reply.ok()) return Fail(reply.status().message());
  if (csv || absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  LoadUnits(server, keys);
  absl::StatusOr<TrendReply> trend = ParseTrend(*reply);
  if (!trend.ok()) return Fail(trend.status().message());

  if (trend->series.empty()) {
    std::cout.flush();
    std::cerr << "canopy: no history under " << absl::StrJoin(keys, " ")
              << std::endl;
    return kOk;
  }
  const std::string every =
      absl::StrCat("every ", StepText(trend->step), ", ", fn);
  if (spark) {
    std::vector<std::vector<std::string>> rows;
    for (const Series& s : trend->series) {
      if (s.points.empty()) {
        rows.push_back({s.key, "(no points)"});
        continue;
      }
      double lo = s.points.front().second, hi = lo;
      for (const auto& p : s.points) {
        lo = std::min(lo, p.second);
        hi = std::max(hi, p.second);
      }
      rows.push_back(
          {s.key, Sparkline(s.points, trend->step, absl::GetFlag(FLAGS_width)),
           absl::StrCat("min ", Figure(s.key, fn, lo)),
           absl::StrCat("max ", Figure(s.key, fn, hi)),
           absl::StrCat("last ", Figure(s.key, fn, s.points.back().second))});
    }
    PrintTable(rows, {Colour::kKey});
  } else {
    bool first = true;
    for (const Series& s : trend->series) {
      if (!first) std::cout << '\n';
      first = false;
      std::cout << Coloured(Colour::kKey, s.key) << "  (" << every
                << (s.points.empty() ? "; no points)" : ")") << '\n';
      std::vector<std::vector<std::string>> rows;
      for (const auto& [t, v] : s.points) {
        rows.push_back({LocalTimeText(t), Figure(s.key, fn, v)});
      }
      PrintTable(rows, {Colour::kDim, Colour::kValue});
    }
  }
  if (trend->truncated) {
    std::cout.flush();
    std::cerr << "canopy: truncated after " << trend->series.size()
              << " series (narrow the KEY)" << std::endl;
  }
  return kOk;
}

}  // namespace cli
}  // namespace canopy
