// canopy-pipes-bench: access-log lines per CPU second through every
// built-in pipe into a canopy::Tree (docs/BENCHMARKS.md, "Log pipes").
//
// Generates --lines lines of a combined log (or, with --format=extended, the
// nginx format with $request_time $upstream_response_time $host) in memory:
// Zipf-distributed paths over --paths, user agents drawn from a dozen real
// ones plus --agents variants, --visitors client addresses. Then times, in
// CPU seconds of this process, (a) parsing alone and (b) parsing plus
// every pipe (status, ua, url, time, traffic) applying updates to a tree,
// in chunks of --chunk bytes as POST /push bodies would be. Optionally
// writes the log to --write_log for a side-by-side run of another tool:
//
//   canopy-pipes-bench --write_log=/tmp/access.log
//   /usr/bin/time -f '%U %S' goaccess /tmp/access.log
//       --log-format=COMBINED -o /tmp/report.json    (one line)
//
// Single-threaded; prints a Markdown table.
#include <time.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "canopy/pipe.h"
#include "canopy/tree.h"

ABSL_FLAG(int, lines, 1000000, "lines to generate");
ABSL_FLAG(std::string, format, "combined", "combined or extended");
ABSL_FLAG(int, paths, 20000, "distinct paths (Zipf, s = 1.1)");
ABSL_FLAG(int, agents, 2000, "distinct user-agent strings");
ABSL_FLAG(int, visitors, 50000, "distinct client addresses");
ABSL_FLAG(int, chunk, 1 << 20,
          "bytes per batch (as POST /push accesslog= brings them)");
ABSL_FLAG(std::string, write_log, "", "also write the generated log here");
ABSL_FLAG(std::string, regexes, "",
          "uap-core regexes.yaml (default: built in)");

namespace {

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char* kAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/%d.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:%d.0) Gecko/20100101 "
    "Firefox/%d.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%d.1 Mobile/15E148 "
    "Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/%d.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.2210.91",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    " r%d",
    "curl/7.%d.1",
    "Mozilla/4.0 (compatible; MSIE %d.0; Windows NT 6.0)",
};

std::string Generate(int lines, bool extended) {
  std::mt19937_64 rng(1);
  // Zipf over paths by inverse CDF on a table.
  const int paths = absl::GetFlag(FLAGS_paths);
  std::vector<double> cdf(paths);
  double sum = 0;
  for (int i = 0; i < paths; ++i) cdf[i] = (sum += 1.0 / std::pow(i + 1, 1.1));
  for (double& c : cdf) c /= sum;
  std::vector<std::string> agents;
  for (int i = 0; i < absl::GetFlag(FLAGS_agents); ++i) {
    char buf[512];
    const int n = sizeof(kAgents) / sizeof(kAgents[0]);
    snprintf(buf, sizeof buf, kAgents[i % n], 60 + i / n % 70, 60 + i / n % 70);
    agents.push_back(buf);
  }
  const int statuses[] = {200, 200, 200, 200, 200, 200, 304, 301, 404, 500};
  const char* methods[] = {"GET", "GET", "GET", "POST", "HEAD"};
  std::uniform_real_distribution<double> u(0, 1);
  std::string log;
  log.reserve(static_cast<size_t>(lines) * 240);
  for (int i = 0; i < lines; ++i) {
    const int p =
        std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin();
    const uint64_t r = rng();
    const int v = r % absl::GetFlag(FLAGS_visitors);
    absl::StrAppend(&log, "10.", v >> 16 & 255, ".", v >> 8 & 255, ".", v & 255,
                    " - - [14/Nov/2023:22:", 10 + i / 60000 % 50, ":",
                    10 + i / 1000 % 50, " +0000] \"", methods[r % 5],
                    " /section/", p % 50, "/page", p, ".html?utm=", r % 7,
                    " HTTP/1.1\" ", statuses[(r >> 8) % 10], " ",
                    (r >> 12) % 60000, " \"https://www.example.com/\" \"",
                    agents[std::min<size_t>((r >> 24) % agents.size(),
                                            (r >> 40) % agents.size())],
                    "\"");
    if (extended) {
      absl::StrAppend(&log, " 0.", (r >> 20) % 900 + 100, " 0.0",
                      (r >> 30) % 90 + 10, " www", (r >> 50) % 8,
                      ".example.com");
    }
    log.push_back('\n');
  }
  return log;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int lines = absl::GetFlag(FLAGS_lines);
  const bool extended = absl::GetFlag(FLAGS_format) == "extended";
  const std::string format =
      extended ? "$remote_addr - $remote_user [$time_local] \"$request\" "
                 "$status $body_bytes_sent \"$http_referer\" "
                 "\"$http_user_agent\" $request_time $upstream_response_time "
                 "$host"
               : "combined";
  const std::string log = Generate(lines, extended);
  if (!absl::GetFlag(FLAGS_write_log).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_write_log), std::ios::binary) << log;
  }

  // (a) parsing alone.
  auto parser = canopy::LogParser::Create(format);
  if (!parser.ok()) {
    fprintf(stderr, "%s\n", parser.status().ToString().c_str());
    return 1;
  }
  double t0 = CpuSeconds();
  size_t sink_bytes = 0;
  canopy::LogCounts parsed = (*parser)->Parse(
      log, [&](const canopy::LogRecord& r) { sink_bytes += r.bytes; },
      [](const canopy::LogError&) {});
  const double parse_cpu = CpuSeconds() - t0;

  // (b) every pipe into a tree, in chunks cut at line ends.
  canopy::PipeOptions options;
  options.regexes_path = absl::GetFlag(FLAGS_regexes);
  options.default_domain = "www.example.com";  // combined has no $host
  t0 = CpuSeconds();
  auto runner = canopy::PipeRunner::Create(format, options);
  if (!runner.ok()) {
    fprintf(stderr, "%s\n", runner.status().ToString().c_str());
    return 1;
  }
  const double init_cpu = CpuSeconds() - t0;
  canopy::Tree tree(canopy::Tree::Options{});
  const size_t chunk = absl::GetFlag(FLAGS_chunk);
  canopy::LogCounts total;
  size_t updates = 0;
  t0 = CpuSeconds();
  int64_t now = 1700000000;
  for (size_t pos = 0; pos < log.size();) {
    size_t end = std::min(log.size(), pos + chunk);
    const size_t nl = log.find('\n', end - 1 > pos ? end - 1 : pos);
    end = nl == std::string::npos ? log.size() : nl + 1;
    canopy::TreeSink sink(&tree, now++);
    canopy::LogCounts c =
        (*runner)->Run(absl::string_view(log).substr(pos, end - pos), &sink);
    total.records += c.records;
    total.errors += c.errors;
    updates += sink.applied();
    pos = end;
  }
  const double pipes_cpu = CpuSeconds() - t0;

  printf("| what | figure |\n| --- | --- |\n");
  printf("| log | %d lines, %s, %.1f MB |\n", lines,
         extended ? "extended" : "combined", log.size() / 1e6);
  printf("| parse only | %.0f k lines per CPU second (%.3f s, %zu records) |\n",
         parsed.records / parse_cpu / 1e3, parse_cpu, parsed.records);
  printf(
      "| all pipes into the tree | %.0f k lines per CPU second (%.3f s, %zu "
      "records, %zu errors, %.1f updates a line) |\n",
      total.records / pipes_cpu / 1e3, pipes_cpu, total.records, total.errors,
      static_cast<double>(updates) / total.records);
  printf("| runner start (loads regexes.yaml) | %.3f CPU s |\n", init_cpu);
  printf("| tree | %zu nodes, %zu leaves |\n", tree.node_count(),
         tree.leaf_count());
  return sink_bytes == 0;
}
