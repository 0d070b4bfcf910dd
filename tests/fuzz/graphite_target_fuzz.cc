// Fuzzes the Graphite render API's pure parts (server/graphite/): the target
// parser, path globs, time texts, the evaluator over a small fixed data
// set, and the reading of another shard's /render answer. No input may
// crash them or run away; a parsed target written back (ExprText) must
// parse to the same text, and an answer read, written and read again must
// give the same series.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "canopy/key.h"
#include "server/graphite/evaluate.h"
#include "server/graphite/path_glob.h"
#include "server/graphite/render.h"
#include "server/graphite/target.h"
#include "server/graphite/time_text.h"

namespace {

using canopy::graphite::Series;
using canopy::graphite::SeriesList;

SeriesList Data(const std::string& path, int64_t from, int64_t until) {
  SeriesList out;
  for (int k = 0; k < 2; ++k) {
    Series s;
    s.name = k == 0 ? "host.web1.cpu" : "host.web2.cpu";
    s.path_expression = path;
    s.step = 10;
    s.start = from - ((from % 10) + 10) % 10;
    int64_t n = (until + 1 - s.start + 9) / 10;
    if (n > 1000) n = 1000;
    for (int64_t i = 0; i < n; ++i) {
      s.values.push_back(i % 7 == 3 ? canopy::graphite::kNull
                                    : static_cast<double>((i * (k + 3)) % 11));
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<canopy::graphite::Expr> e =
      canopy::graphite::ParseTarget(text);
  if (e.ok()) {
    std::string written = canopy::graphite::ExprText(*e);
    absl::StatusOr<canopy::graphite::Expr> again =
        canopy::graphite::ParseTarget(written);
    if (!again.ok() || canopy::graphite::ExprText(*again) != written) abort();
    canopy::graphite::Fetcher fetch =
        [](const std::string& path, int64_t from,
           int64_t until) -> absl::StatusOr<SeriesList> {
      if (!canopy::graphite::PathGlob::Parse(path).ok()) {
        return absl::InvalidArgumentError("bad path");
      }
      return Data(path, from, until);
    };
    (void)canopy::graphite::Evaluate(*e, {1700000000, 1700000999, 10}, fetch);
  }
  absl::StatusOr<canopy::graphite::PathGlob> g =
      canopy::graphite::PathGlob::Parse(text);
  if (g.ok()) {
    (void)g->Matches(*canopy::SplitKey("host,web1,cpu"));
    (void)g->Coarse();
  }
  size_t budget = 100000;
  absl::StatusOr<SeriesList> read =
      canopy::graphite::ReadRender(text, "a.*.p99", 10, &budget);
  if (read.ok()) {
    canopy::Response written =
        canopy::graphite::WriteRender(*read, false, false);
    size_t again_budget = 100000;
    absl::StatusOr<SeriesList> again = canopy::graphite::ReadRender(
        written.body, "a.*.p99", 10, &again_budget);
    if (!again.ok() || again->size() != read->size()) abort();
    for (size_t i = 0; i < read->size(); ++i) {
      const Series& x = (*read)[i];
      const Series& y = (*again)[i];
      // (A name that is not UTF-8 is written repaired.)
      if ((canopy::IsValidUtf8(x.name) && x.name != y.name) ||
          x.values.size() != y.values.size() ||
          (!x.values.empty() && x.start != y.start) || !y.quantile) {
        abort();
      }
    }
  }
  (void)canopy::graphite::ParseGraphiteTime(text, 1700000000);
  (void)canopy::graphite::ParseInterval(text);
  return 0;
}
