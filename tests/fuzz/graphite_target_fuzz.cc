// Fuzzes the Graphite render API's pure parts (server/graphite/): the target
// parser, path globs, time texts, and the evaluator over a small fixed
// data set. No input may crash them or run away; a parsed target written
// back (ExprText) must parse to the same text.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "canopy/key.h"
#include "server/graphite/evaluate.h"
#include "server/graphite/path_glob.h"
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
  (void)canopy::graphite::ParseGraphiteTime(text, 1700000000);
  (void)canopy::graphite::ParseInterval(text);
  return 0;
}
