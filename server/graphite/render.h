// /render's plain parts, apart from the handler so that they can be tested
// without a server: the request read into a RenderRequest, the series read
// from the trend store (RenderOn, the Deferred work), and the answer written
// as graphite-web writes it.
//
//   absl::StatusOr<RenderRequest> rr = ParseRenderRequest(request, now);
//   Response r = RenderOn(store, *rr);  // on the trend thread
//
// Points: a render fetches every path at one step, the finest the
// retention holds for `from` or, with maxDataPoints, the coarsest that
// still gives at least that many points, so that the store merges windows
// (sums, counts, and timers' sketches: a percentile over a long range is
// the percentile of the merged sketch, not an average of percentiles).
// What is still over maxDataPoints after the functions is averaged as
// graphite-web does. A render that would read more than kMaxRenderPoints
// points is refused (400) before reading anything.
//
// Statistics: the path of a series gives its own figure (the window's
// average, as /trend's fn=avg); a last segment naming a /trend fn (avg,
// sum, min, max, last, count, rate, p50, p90, p99) that is not itself a
// stored series selects that figure of its parent: "api.latency.p99".
//
// In a cluster each path's series come from every shard, each from its
// owner (a ShardScope, server/cluster/gather.h): this store's own, and the
// other shards' /render answers read back (ReadRender) at this step.
//
// Threads: ParseRenderRequest, ReadRender and WriteRender are pure
// (WriteRender writes a large answer on a second thread, joined before it
// returns); RenderOn runs on the trend thread.
#ifndef CANOPY_SERVER_GRAPHITE_RENDER_H_
#define CANOPY_SERVER_GRAPHITE_RENDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/cluster/gather.h"
#include "server/graphite/series.h"
#include "server/graphite/target.h"
#include "server/handlers/request.h"

namespace canopy {

class TrendStore;

namespace graphite {

inline constexpr size_t kMaxRenderPoints = 5000000;
inline constexpr size_t kMaxRenderSeries = 10000;
// WriteRender writes JSON on a second thread from 2 x this many series.
inline constexpr size_t kSeriesPerWriter = 64;

struct RenderRequest {
  std::vector<Expr> targets;
  int64_t from = 0;            // epoch seconds, inclusive
  int64_t until = 0;           // epoch seconds, inclusive
  size_t max_data_points = 0;  // 0: none asked
  bool csv = false;
  bool no_null_points = false;
  // Asked by another node of a cluster (forwarded=1): the step it chose,
  // so that every shard's points fall on the same times. 0: choose here.
  int64_t step = 0;
};

// Reads target (repeated), from (default -24h), until (default now),
// format (json or csv), maxDataPoints and noNullPoints, from the query or
// a form body. Every target is parsed and checked (CheckTarget) here.
absl::StatusOr<RenderRequest> ParseRenderRequest(const Request& request,
                                                 int64_t now);

// Evaluates every target over the store (and, in a cluster, the other
// shards' series: gather.h) and writes the answer (an error Response if
// one fails).
Response RenderOn(const TrendStore& store, const RenderRequest& request,
                  const ShardScope& scope = ShardScope());

// The series of one path over [from, until] at `step` whose keys `scope`
// owns, counting the points read against `*budget` (an InvalidArgument
// when it runs out).
absl::StatusOr<SeriesList> FetchPath(const TrendStore& store,
                                     const std::string& path, int64_t from,
                                     int64_t until, int64_t step,
                                     size_t* budget,
                                     const ShardScope& scope = ShardScope());

// The series of a JSON answer WriteRender wrote (another shard's, for
// `path` at `step`), counting their points against `*budget`.
absl::StatusOr<SeriesList> ReadRender(absl::string_view body,
                                      const std::string& path, int64_t step,
                                      size_t* budget);

// graphite-web's JSON ([{"target", "datapoints": [[v, t]...], "tags"}])
// or CSV (name,YYYY-MM-DD HH:MM:SS,value per point, UTC).
Response WriteRender(const SeriesList& series, bool csv, bool no_null_points);

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_RENDER_H_
