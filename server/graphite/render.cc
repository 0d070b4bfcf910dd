// /render (render.h, handlers.h): the request parsed on the loop thread,
// the series read and evaluated on the trend thread.
#include "server/graphite/render.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "canopy/http_client.h"
#include "server/graphite/evaluate.h"
#include "server/graphite/handlers.h"
#include "server/graphite/path_glob.h"
#include "server/graphite/time_text.h"
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
  if (request.HasParam("forwarded") && request.HasParam("step")) {
    if (!absl::SimpleAtoi(request.Param("step"), &rr.step) || rr.step < 1) {
      return absl::InvalidArgumentError("a forwarded render's step is bad");
    }
  }
  return rr;
}

absl::StatusOr<SeriesList> FetchPath(const TrendStore& store,
                                     const std::string& path, int64_t from,
                                     int64_t until, int64_t step,
                                     size_t* budget, const ShardScope& scope) {
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
      if (!scope.Own(ts.key)) continue;  // another shard's (gather.h)
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

Response RenderOn(const TrendStore& store, const RenderRequest& rr,
                  const ShardScope& scope) {
  int64_t range = rr.until + 1 - rr.from;
  int64_t want = 1;
  if (rr.max_data_points > 0) {
    want = (range + static_cast<int64_t>(rr.max_data_points) - 1) /
           static_cast<int64_t>(rr.max_data_points);
  }
  int64_t step =
      rr.step > 0 ? rr.step : store.StepFor(rr.from, rr.until + 1, want);
  // The first bucket starts at `from` rounded down to the step, which may
  // add one: then the next step the store offers.
  for (int i = 0; i < 4 && rr.max_data_points > 0 && rr.step == 0; ++i) {
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
  Fetcher fetch = [&](const std::string& path, int64_t from,
                      int64_t until) -> absl::StatusOr<SeriesList> {
    absl::StatusOr<SeriesList> here =
        FetchPath(store, path, from, until, step, &budget, scope);
    if (!here.ok() || !scope.gather) return here;
    const size_t local = here->size();
    absl::Status asked = scope.AskOthers(
        absl::StrCat("/render?format=json&target=", UrlEncode(path),
                     "&from=", from, "&until=", until, "&step=", step),
        [&](absl::string_view body) {
          absl::StatusOr<SeriesList> theirs =
              ReadRender(body, path, step, &budget);
          if (!theirs.ok()) return theirs.status();
          for (Series& s : *theirs) here->push_back(std::move(s));
          return absl::OkStatus();
        });
    if (!asked.ok()) return asked;
    if (here->size() > local) {  // in name order, as one store gives them
      std::stable_sort(
          here->begin(), here->end(),
          [](const Series& a, const Series& b) { return a.name < b.name; });
    }
    return here;
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
  return Deferred{[rr = std::move(*rr),
                   scope = ShardScopeOf(request, ctx)](TrendStore& store) {
    return graphite::RenderOn(store, rr, scope);
  }};
}

}  // namespace canopy
