// Graphite series and the functions of /render over them: plain data in,
// plain data out, each a pure function tested against hand-computed
// figures (tests/server/graphite/functions_test.cc). The evaluator
// (evaluate.h) calls them with the arguments of a target.
//
//   graphite::Series a{"a.b", "a.*", 0, 10, {1, 2, kNull}};
//   graphite::Series s = graphite::Combine({a, a}, Agg::kSum,
//   "sumSeries(a.*)");
//   // s.values == {2, 4, null}
//
// A null point is a NaN (IsNull). A series' points are at start, start +
// step, ...; functions over several series read each at the times of the
// first (a series with another step or start is read at the point that
// holds each time).
//
// Names follow graphite-web's, so that Grafana's legends read the same:
// "scale(a.b,2)", "sumSeries(a.*)", ...
//
// Pure; any thread.
#ifndef CANOPY_SERVER_GRAPHITE_SERIES_H_
#define CANOPY_SERVER_GRAPHITE_SERIES_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {
namespace graphite {

inline constexpr double kNull = std::numeric_limits<double>::quiet_NaN();
inline bool IsNull(double v) { return std::isnan(v); }

struct Series {
  std::string name;             // the legend
  std::string path_expression;  // the path (or expression) it came from
  int64_t start = 0;            // the time of values[0]
  int64_t step = 1;
  std::vector<double> values;
  // Set for a timer's percentile: its points are quantiles of merged
  // sketches, which averaging would falsify (see Consolidate).
  bool quantile = false;

  int64_t end() const {
    return start + step * static_cast<int64_t>(values.size());
  }
  // The value at time t (null outside the series).
  double At(int64_t t) const;
};
using SeriesList = std::vector<Series>;

// Graphite's aggregation functions (aggFunc): average (avg), median, sum
// (total), min, max, diff, stddev, count, range, multiply, last (current).
enum class Agg {
  kAverage,
  kMedian,
  kSum,
  kMin,
  kMax,
  kDiff,
  kStddev,
  kCount,
  kRange,
  kMultiply,
  kLast
};
absl::StatusOr<Agg> ParseAgg(absl::string_view name);
// The aggregate of the non-null `values` (null if there are none).
double Aggregate(Agg agg, std::vector<double>& values);

// sumSeries, averageSeries, maxSeries, minSeries, and groupByNode's
// groups: one series, pointwise over `in` at the times of in[0]; null where
// every input is null. An empty `in` gives an empty list.
SeriesList Combine(const SeriesList& in, Agg agg, const std::string& name);

// The comma-joined, sorted, distinct path expressions (graphite-web's
// formatPathExpressions): how combined series are named.
std::string PathExpressions(const SeriesList& in);

SeriesList Alias(SeriesList in, const std::string& name);
// Names each series by the dot-separated nodes of its path (negative counts
// from the end); the path is the name with any function calls removed.
SeriesList AliasByNode(SeriesList in, const std::vector<int>& nodes);
// Regular-expression replacement in the names (RE2; \1 in `replace` is the
// first group). An invalid expression is an InvalidArgument.
absl::StatusOr<SeriesList> AliasSub(SeriesList in, const std::string& search,
                                    const std::string& replace);

SeriesList Scale(SeriesList in, double factor);
SeriesList Offset(SeriesList in, double amount);
SeriesList Absolute(SeriesList in);
// The change from the previous point (null when either is null).
SeriesList Derivative(SeriesList in);
// As Derivative, but a drop (a counter's wrap or reset) is null, or, with
// max_value, (max_value - prev) + value + 1.
SeriesList NonNegativeDerivative(SeriesList in,
                                 std::optional<double> max_value);
// NonNegativeDerivative divided by the step in seconds.
SeriesList PerSecond(SeriesList in, std::optional<double> max_value);
// The running sum (nulls stay null and add nothing).
SeriesList Integral(SeriesList in);
// The average of the `points` non-null values before each point, reading
// back into the series' first `bootstrap` points, which are then dropped
// (the evaluator fetches them from before the asked range). `label` is
// the window as written in the target ("5" or "'5min'").
SeriesList MovingAverage(SeriesList in, size_t points, size_t bootstrap,
                         const std::string& label);
// One point per `interval` seconds, the aggregate of the points within it;
// buckets start at multiples of the interval, or at the series' start with
// align_to_from.
SeriesList Summarize(SeriesList in, int64_t interval,
                     const std::string& interval_text, Agg agg,
                     const std::string& agg_name, bool align_to_from);
// Each point as a percentage of `total` at that time: the sum of `in` when
// total is empty, the one series of `total`, or each in turn when both have
// as many series.
absl::StatusOr<SeriesList> AsPercent(SeriesList in, const SeriesList& total);
SeriesList AsPercentOf(SeriesList in, double total);
// Each dividend over the one divisor (null where it is 0 or null).
absl::StatusOr<SeriesList> DivideSeries(SeriesList dividends,
                                        const SeriesList& divisor);
// The n series with the highest last non-null value, by that value.
SeriesList HighestCurrent(SeriesList in, size_t n);
// The n series with the highest maximum, by it.
SeriesList HighestMax(SeriesList in, size_t n);
SeriesList Limit(SeriesList in, size_t n);
// By maximum, highest first.
SeriesList SortByMaxima(SeriesList in);
// Groups by the node `node` of each path, one series per group (sorted by
// the node's value), aggregated with `agg`.
SeriesList GroupByNode(const SeriesList& in, int node, Agg agg);
// Nulls replaced by the last value before them, for runs of at most
// `limit` nulls (a longer gap stays null).
SeriesList KeepLastValue(SeriesList in, size_t limit);
SeriesList TransformNull(SeriesList in, double value);
// A series of `value` from `start` to `end` at `step`.
Series ConstantLine(double value, int64_t start, int64_t end, int64_t step);

// graphite-web's render-time consolidation: a series of more than
// `max_points` points is cut into runs of ceil(n / max_points) and each
// run averaged (nulls ignored). A quantile series is left as it is (the
// evaluator fetched it at a step that fits, merging sketches).
SeriesList Consolidate(SeriesList in, size_t max_points);
// Drops the null points' series entirely (noNullPoints leaves a series with
// no values out).
SeriesList DropAllNull(SeriesList in);

// The node `i` of a series name's path (the name without function calls,
// split on '.'); negative counts from the end. "" when out of range.
std::string NodeOf(const std::string& name, int i);

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_SERIES_H_
