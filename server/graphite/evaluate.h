// Evaluating a parsed target (target.h) into series (series.h): the table
// of the functions /render knows, binding a call's arguments to their
// parameters, and calling the series functions. Paths are read through a
// Fetcher, so that the evaluator is a pure function of the target, the
// range and what the fetcher returns (render.cc's fetcher reads the trend
// store on the trend thread; the tests give plain data).
//
//   graphite::Fetcher fetch = [&](const std::string& path, int64_t from,
//                                 int64_t until) -> absl::StatusOr<SeriesList>
//       { ... };
//   graphite::EvalRange range{from, until, step};
//   absl::StatusOr<SeriesList> out =
//       graphite::Evaluate(*ParseTarget("sumSeries(a.*)"), range, fetch);
//
// The function table is also what GET /functions describes, in
// graphite-web's shape (FunctionsJson), so that Grafana's function editor
// offers exactly what works.
//
// Pure given the fetcher; any thread.
#ifndef CANOPY_SERVER_GRAPHITE_EVALUATE_H_
#define CANOPY_SERVER_GRAPHITE_EVALUATE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/graphite/series.h"
#include "server/graphite/target.h"

namespace canopy {
namespace graphite {

// The series a path names over [from, until] (epoch seconds, inclusive),
// one point per step from AlignDown(from, step).
using Fetcher = std::function<absl::StatusOr<SeriesList>(
    const std::string& path, int64_t from, int64_t until)>;

struct EvalRange {
  int64_t from = 0;
  int64_t until = 0;
  int64_t step = 1;
};

// OK if every call in `target` names a known function with arguments its
// parameters accept (by kind; values are checked when evaluated), and the
// target is a series expression. Cheap: no fetching.
absl::Status CheckTarget(const Expr& target);

absl::StatusOr<SeriesList> Evaluate(const Expr& target, const EvalRange& range,
                                    const Fetcher& fetch);

// GET /functions: {"sumSeries": {"name": ..., "function": ...,
// "description": ..., "module": ..., "group": ..., "params": [...]}, ...}.
std::string FunctionsJson();

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_EVALUATE_H_
