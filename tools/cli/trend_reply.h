// GET /trend's JSON reply read into plain data, for `canopy trend` and
// `canopy export` (docs/API.md, "History").
//
//   absl::StatusOr<TrendReply> trend = ParseTrend(*reply);
//   for (const Series& s : trend->series) ... s.points: (time, value)
//
// Threads: the CLI's one thread.
#ifndef CANOPY_TOOLS_CLI_TREND_REPLY_H_
#define CANOPY_TOOLS_CLI_TREND_REPLY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "canopy/http_client.h"

namespace canopy {
namespace cli {

struct Series {
  std::string key;
  std::vector<std::pair<int64_t, double>> points;
};

struct TrendReply {
  int64_t step = 0;
  bool truncated = false;
  std::vector<Series> series;
};

// The reply's step, truncation and series; a point whose value is not a
// number (the server writes NaN as null) is left out.
absl::StatusOr<TrendReply> ParseTrend(const HttpReply& reply);

}  // namespace cli
}  // namespace canopy

#endif  // CANOPY_TOOLS_CLI_TREND_REPLY_H_
