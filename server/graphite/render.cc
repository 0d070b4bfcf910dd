// /render (render.h, handlers.h): the request parsed on the loop thread,
// the series read and evaluated on the trend thread.
#include "server/graphite/render.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "canopy/number_text.h"
#include "server/graphite/evaluate.h"
#include "server/graphite/handlers.h"
#include "server/graphite/path_glob.h"
#include "server/graphite/time_text.h"
#include "server/json_out.h"
#include "server/trend/store.h"

namespace canopy {
namespace graphite {

absl::StatusOr<RenderRequest> ParseRenderRequest(const Request& request,
                                                 int64_t now) {
  RenderRequest rr;
  for (const std::string& t : request.Params("target")) {
    if (absl::StripAsciiWhitespace(t).empty()) continue;
    absl::StatusOr<Expr> e = ParseTarget(t);
    if (!e.ok()) return e.status();
    if (absl::Status s = CheckTarget(*e); !s.ok()) return s;
    rr.targets.push_back(std::move(*e));
  }
  absl::StatusOr<int64_t> from =
      ParseGraphiteTime(request.Param("from", "-24h"), now);
  if (!from.ok()) return from.status();
  absl::StatusOr<int64_t> until =
      ParseGraphiteTime(request.Param("until", "now"), now);
  if (!until.ok()) return until.status();
  if (*until <= *from) {
    return absl::InvalidArgumentError("from must be before until");
  }
  rr.from = *from;
  rr.until = *until;
  std::string format = request.Param("format", "json");
  if (format != "json" && format != "csv") {
    return absl::InvalidArgumentError(
        absl::StrCat("format \"", format.substr(0, 20),
                     "\" is not served here (use json or csv)"));
  }
  rr.csv = format == "csv";
  if (request.HasParam("maxDataPoints")) {
    std::string m = request.Param("maxDataPoints");
    double d;
    if (!absl::SimpleAtod(m, &d) || !(d >= 1) || d > 1e7) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad maxDataPoints \"", m.substr(0, 20), "\" (1 to 10000000)"));
    }
    rr.max_data_points = static_cast<size_t>(d);
  }
  std::string nn = absl::AsciiStrToLower(request.Param("noNullPoints"));
  rr.no_null_points = nn == "true" || nn == "1";
  return rr;
}

absl::StatusOr<SeriesList> FetchPath(const TrendStore& store,
                                     const std::string& path, int64_t from,
                                     int64_t until, int64_t step,
                                     size_t* budget) {
  absl::StatusOr<PathGlob> glob = PathGlob::Parse(path);
  if (!glob.ok()) return glob.status();
  SeriesList out;
  int64_t start = AlignDown(from, step);
  int64_t n = (until + 1 - start + step - 1) / step;
  if (n <= 0) return out;
  absl::flat_hash_set<std::string> found;
  // One read: the series `g` selects, their figure `fn`; a key in `skip`
  // (with `suffix`) is already there.
  auto read = [&](const PathGlob& g, TrendFn fn,
                  const std::string& suffix) -> absl::Status {
    TrendQuery q;
    q.patterns = {g.Coarse()};
    q.from = from;
    q.to = until + 1;
    q.step = step;
    q.fn = fn;
    q.max_series = kMaxRenderSeries;
    q.max_points = *budget;
    q.accept = [&g](absl::Span<const absl::string_view> segs) {
      return g.Matches(segs);
    };
    absl::StatusOr<TrendResult> r = store.Query(q);
    if (!r.ok()) {
      if (absl::IsOutOfRange(r.status())) {
        return absl::InvalidArgumentError(
            absl::StrCat(r.status().message(), " (or set maxDataPoints)"));
      }
      return r.status();
    }
    if (r->truncated) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", path.substr(0, 80), "\" matches more than ",
                       kMaxRenderSeries, " series"));
    }
    bool quantile =
        fn == TrendFn::kP50 || fn == TrendFn::kP90 || fn == TrendFn::kP99;
    for (const TrendSeries& ts : r->series) {
      std::string key = ts.key + suffix;
      if (!suffix.empty() && found.contains(key)) continue;
      found.insert(key);
      if (static_cast<size_t>(n) > *budget) {
        return absl::InvalidArgumentError(
            absl::StrCat("this render would read more than ", kMaxRenderPoints,
                         " points; narrow the range or set maxDataPoints"));
      }
      *budget -= static_cast<size_t>(n);
      Series s;
      s.name = KeyToDotted(key);
      s.path_expression = path;
      s.start = start;
      s.step = r->step;
      s.quantile = quantile;
      s.values.assign(static_cast<size_t>(n), kNull);
      for (const auto& [t, v] : ts.points) {
        int64_t i = (t - start) / r->step;
        if (i >= 0 && i < n) s.values[static_cast<size_t>(i)] = v;
      }
      out.push_back(std::move(s));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = read(*glob, TrendFn::kAvg, ""); !s.ok()) return s;
  absl::string_view last = glob->LiteralLast();
  if (glob->depth() >= 2 && !last.empty()) {
    absl::StatusOr<TrendFn> fn = ParseTrendFn(last);
    if (fn.ok()) {
      size_t before = out.size();
      if (absl::Status s = read(glob->Parent(), *fn, absl::StrCat(",", last));
          !s.ok()) {
        return s;
      }
      std::sort(
          out.begin() + static_cast<std::ptrdiff_t>(before), out.end(),
          [](const Series& a, const Series& b) { return a.name < b.name; });
    }
  }
  return out;
}

Response RenderOn(const TrendStore& store, const RenderRequest& rr) {
  int64_t range = rr.until + 1 - rr.from;
  int64_t want = 1;
  if (rr.max_data_points > 0) {
    want = (range + static_cast<int64_t>(rr.max_data_points) - 1) /
           static_cast<int64_t>(rr.max_data_points);
  }
  int64_t step = store.StepFor(rr.from, rr.until + 1, want);
  // The first bucket starts at `from` rounded down to the step, which may
  // add one: then the next step the store offers.
  for (int i = 0; i < 4 && rr.max_data_points > 0; ++i) {
    int64_t n = (rr.until + 1 - AlignDown(rr.from, step) + step - 1) / step;
    if (n <= static_cast<int64_t>(rr.max_data_points)) break;
    step = store.StepFor(rr.from, rr.until + 1, step + 1);
  }
  if (range / step > static_cast<int64_t>(kMaxRenderPoints)) {
    return ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
        "from ", rr.from, " to ", rr.until, " at the stored step of ", step,
        "s is ", range / step, " points a series, past the limit of ",
        kMaxRenderPoints, "; narrow the range or set maxDataPoints")));
  }
  size_t budget = kMaxRenderPoints;
  Fetcher fetch = [&](const std::string& path, int64_t from, int64_t until) {
    return FetchPath(store, path, from, until, step, &budget);
  };
  EvalRange range_at{rr.from, rr.until, step};
  SeriesList all;
  for (const Expr& t : rr.targets) {
    absl::StatusOr<SeriesList> s = Evaluate(t, range_at, fetch);
    if (!s.ok()) return ErrorResponse(s.status());
    for (Series& one : *s) all.push_back(std::move(one));
  }
  all = Consolidate(std::move(all), rr.max_data_points);
  return WriteRender(all, rr.csv, rr.no_null_points);
}

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Response WriteRender(const SeriesList& series, bool csv, bool no_null_points) {
  Response r;
  if (csv) {
    r.content_type = "text/csv; charset=utf-8";
    for (const Series& s : series) {
      std::string name = CsvField(s.name);
      for (size_t i = 0; i < s.values.size(); ++i) {
        double v = s.values[i];
        if (no_null_points && IsNull(v)) continue;
        int64_t t = s.start + s.step * static_cast<int64_t>(i);
        absl::StrAppend(
            &r.body, name, ",",
            absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(t),
                             absl::UTCTimeZone()),
            ",", IsNull(v) ? "" : NumberText(v), "\r\n");
      }
    }
    return r;
  }
  // Each series is one JSON value of its own; a large answer is written
  // by two threads, each a run of series, and joined.
  auto write_run = [&](size_t begin, size_t end, std::string* text) {
    JsonOut out;
    for (size_t k = begin; k < end; ++k) {
      const Series& s = series[k];
      if (no_null_points &&
          std::all_of(s.values.begin(), s.values.end(), IsNull)) {
        continue;
      }
      if (out.buffer.GetSize() > 0) out.buffer.Put(',');
      out.w.Reset(out.buffer);
      out.w.StartObject();
      out.Key("target");
      out.String(s.name);
      out.Key("tags");
      out.w.StartObject();
      out.Key("name");
      out.String(s.name);
      out.w.EndObject();
      out.Key("datapoints");
      out.w.StartArray();
      for (size_t i = 0; i < s.values.size(); ++i) {
        double v = s.values[i];
        if (no_null_points && IsNull(v)) continue;
        out.w.StartArray();
        out.Number(v);  // null for a NaN
        out.w.Int64(s.start + s.step * static_cast<int64_t>(i));
        out.w.EndArray();
      }
      out.w.EndArray();
      out.w.EndObject();
    }
    *text = out.Take();
  };
  std::string first, second;
  const size_t half =
      series.size() >= kSeriesPerWriter * 2 ? series.size() / 2 : series.size();
  if (half < series.size()) {
    std::thread helper(write_run, half, series.size(), &second);
    write_run(0, half, &first);
    helper.join();
  } else {
    write_run(0, series.size(), &first);
  }
  r.body.reserve(first.size() + second.size() + 3);
  r.body = "[";
  r.body += first;
  if (!first.empty() && !second.empty()) r.body += ',';
  r.body += second;
  r.body += ']';
  return r;
}

}  // namespace graphite

absl::StatusOr<Deferred> HandleRender(const Request& request,
                                      HandlerContext& ctx) {
  absl::StatusOr<graphite::RenderRequest> rr =
      graphite::ParseRenderRequest(request, ctx.now);
  if (!rr.ok()) return rr.status();
  if (!ctx.history) {
    return absl::FailedPreconditionError("this canopyd keeps no history");
  }
  ++ctx.stats->trend_queries;
  return Deferred{[rr = std::move(*rr)](TrendStore& store) {
    return graphite::RenderOn(store, rr);
  }};
}

}  // namespace canopy
