// canopy-line-bench: the cost of the line ingest path in one process, with
// no sockets: StatsD datagrams (10 lines each, counters, gauges and timers
// over 10 000 names, as canopy-statsd-blast sends them) or Graphite lines
// (as canopy-graphite-blast sends them) through LineIngest into a tree with
// history on, windows closed once per round. For profiling the hot path
// (perf record canopy-line-bench); the side-by-side figures come from
// tools/bench/ingest.sh.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "server/ingest/line_ingest.h"

ABSL_FLAG(std::string, format, "statsd",
          "statsd, statsd_tagged (the same lines with DogStatsD tags, which "
          "take the full parser and the tree's lookup by key) or graphite");
ABSL_FLAG(int, rounds, 20, "passes over the 200 000 prepared lines");
ABSL_FLAG(int, lines_per_call, 10,
          "lines handed to LineIngest at once (a datagram, a TCP read)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "canopy-line-bench [--format=statsd|statsd_tagged|graphite] "
      "[--rounds=20] [--lines_per_call=10]: ns per line through LineIngest");
  absl::ParseCommandLine(argc, argv);
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "statsd" && format != "statsd_tagged" && format != "graphite") {
    std::fprintf(stderr,
                 "canopy-line-bench: --format=statsd|statsd_tagged|graphite\n");
    return 2;
  }
  const absl::string_view tags =
      format == "statsd_tagged" ? "|#env:prod,region:eu" : "";
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const int per_call = std::max(1, absl::GetFlag(FLAGS_lines_per_call));
  canopy::Tree::Options o;
  o.history = true;
  canopy::Tree tree(o);
  canopy::Stats stats;
  canopy::LineIngest ingest(&tree, &stats);
  std::mt19937 rng(1);
  constexpr int kLines = 200000;
  std::vector<std::string> calls;
  std::string text;
  const int64_t now = 1700000000;
  for (int l = 0; l < kLines; ++l) {
    const int k = static_cast<int>(rng() % 10000);
    if (format == "graphite") {
      absl::StrAppend(&text, "bench.g", k / 100, ".m", k, " ", rng() % 1000,
                      ".", rng() % 100, " ", now, "\n");
    } else if (k % 3 == 0) {
      absl::StrAppend(&text, "bench.c.g", k / 100, ".m", k % 100, ":1|c", tags,
                      "\n");
    } else if (k % 3 == 1) {
      absl::StrAppend(&text, "bench.g.g", k / 100, ".m", k % 100, ":",
                      rng() % 10000, "|g", tags, "\n");
    } else {
      absl::StrAppend(&text, "bench.t.g", k / 100, ".m", k % 100, ":",
                      rng() % 1000, ".", rng() % 10, "|ms", tags, "\n");
    }
    if ((l + 1) % per_call == 0) calls.push_back(std::move(text)), text = {};
  }
  if (!text.empty()) calls.push_back(std::move(text));
  const absl::string_view protocol = format == "graphite" ? "tcp" : "udp";
  for (const std::string& c : calls) ingest.ApplyLines(c, protocol, now);
  std::vector<canopy::ClosedWindow> closed;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& c : calls) ingest.ApplyLines(c, protocol, now + r);
    tree.CloseWindows(now + r, &closed);
    closed.clear();
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf(
      "%s: %.1f ns per line (%d lines a call, %zu leaves, %.0f "
      "accepted)\n",
      format.c_str(), s * 1e9 / (static_cast<double>(rounds) * kLines),
      per_call, tree.leaf_count(),
      static_cast<double>(stats.accepted[std::string(protocol)]));
  return 0;
}
