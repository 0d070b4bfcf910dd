// canopy-agent: collects this machine's figures and pushes them to canopyd.
// See docs/AGENT.md for the flags and the keys.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "canopy/program.h"

ABSL_FLAG(std::string, config, "",
          "Read flags from this file: one flag=value per line, # comments; "
          "flags on the command line win.");
ABSL_FLAG(std::string, server, "udp://127.0.0.1:8125",
          "Where to push: udp://HOST:PORT, tcp://HOST:PORT or "
          "http://HOST:PORT.");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(1),
          "How often to collect and push (1s, 500ms, 10s).");
ABSL_FLAG(std::string, host, "",
          "The name under host,<NAME>,... (default: this machine's hostname).");
ABSL_FLAG(std::string, conf_dir, "",
          "Directory of module files: *.conf and *.on are loaded, *.off "
          "ignored; re-read when it changes. A module is `type = port|url|"
          "nginx|exec|so` with options (docs/AGENT.md, agent/examples/).");
ABSL_FLAG(std::string, spool_dir, "./var/canopy-agent/spool",
          "Where pushes the server did not take wait (TCP and HTTP).");
ABSL_FLAG(int64_t, spool_max_bytes, 64 << 20,
          "Most bytes kept in the spool; the oldest records go first.");
ABSL_FLAG(int32_t, top_n, 10,
          "Processes reported: the top N by cpu and the top N by memory.");
ABSL_FLAG(std::vector<std::string>, watch, {},
          "Process names always reported (name1,name2).");
ABSL_FLAG(bool, anonymize, false,
          "Key processes by pid and start time, with no command or user "
          "names.");
ABSL_FLAG(std::vector<std::string>, check_port, {},
          "TCP ports to check every interval: PORT or HOST:PORT (default "
          "host 127.0.0.1), comma-separated; host,<NAME>,port,<PORT>,"
          "{state,reason,service}.");
ABSL_FLAG(std::vector<std::string>, check_url, {},
          "HTTP URLs to check every interval: NAME=URL, comma-separated; "
          "host,<NAME>,url,<name>,{status,ttfb_ms,total_ms,bytes}.");
ABSL_FLAG(std::string, nginx_status, "",
          "URL of an nginx stub_status page; host,<NAME>,nginx,{active,"
          "accepts,handled,requests,reading,writing,waiting}.");
ABSL_FLAG(absl::Duration, check_timeout, absl::Seconds(2),
          "Timeout of each check given by flags (modules set their own).");
ABSL_FLAG(std::string, access_log, "",
          "Access logs to follow and count (docs/AGENT.md): "
          "PATH[,format=combined|common|squid|<nginx log_format>]"
          "[,prefix=web][,from=end|start], several separated by ';'.");
ABSL_FLAG(std::string, listen, "",
          "HOST:PORT of the on-demand collection API "
          "(/performance/start_collecting, stop_collecting, real_time); "
          "off when empty.");
ABSL_FLAG(std::vector<std::string>, bench, {},
          "Machine benchmarks to run, one at a time, niced, each bounded: "
          "cpu,sqlite,disk,net; host,<NAME>,bench,... (docs/AGENT.md). Off "
          "when empty.");
ABSL_FLAG(absl::Duration, bench_interval, absl::Hours(1),
          "How often each benchmark runs (at least 1m).");
ABSL_FLAG(std::string, bench_peer, "",
          "The canopyd the net benchmark measures against: "
          "http://HOST:PORT[?token=T] (its /api/bench/ endpoints).");
ABSL_FLAG(std::string, bench_dir, "./var/canopy-agent/bench",
          "Where the baseline file and the benchmarks' temporary files go "
          "(on the data disk: the sqlite and disk benchmarks measure it).");
ABSL_FLAG(double, bench_fall_percent, 25,
          "bench,degraded is 1 while a benchmark's figure is more than this "
          "many percent worse than its baseline.");
ABSL_FLAG(absl::Duration, bench_budget, absl::Seconds(2),
          "The most time each benchmark takes (100ms to 10s; at most half "
          "of --interval).");
ABSL_FLAG(int32_t, bench_baseline_runs, 10,
          "A figure's baseline is the median of its last N runs.");
ABSL_FLAG(bool, once, false,
          "Collect one interval, print the JSON tree to stdout and exit.");

namespace {

constexpr canopy::ProgramInfo kProgram = {
    "canopy-agent",
    "canopy-agent: canopy's host agent. Reads this machine's cpu, memory, "
    "disks, network and processes from /proc and /sys, checks TCP ports, "
    "HTTP URLs and nginx stub_status, runs the modules of --conf_dir, and "
    "pushes it all to canopyd under host,<NAME>,...; --listen answers the "
    "on-demand collection API.\n\nUsage: canopy-agent "
    "[--server=udp://127.0.0.1:8125] [--interval=1s] [--host=NAME] "
    "[--once] [--config=FILE] [--conf_dir=DIR] [--check_port=22,80] "
    "[--check_url=NAME=URL] [--nginx_status=URL] "
    "[--listen=127.0.0.1:7576] [--bench=cpu,sqlite,disk,net] ...\nSee "
    "docs/AGENT.md.",
    "agent/main.cc"};

[[noreturn]] void Die(const std::string& message) {
  canopy::Die(kProgram.name, message);
}

}  // namespace

int main(int argc, char** argv) {
  canopy::StartProgram(argc, argv, kProgram);
  canopy::agent::AgentOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  o.interval = absl::GetFlag(FLAGS_interval);
  o.host = absl::GetFlag(FLAGS_host);
  if (o.host.empty()) o.host = canopy::agent::DefaultHost();
  o.conf_dir = absl::GetFlag(FLAGS_conf_dir);
  o.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  int64_t max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  if (max_bytes <= 0) Die("--spool_max_bytes must be positive");
  o.spool_max_bytes = static_cast<uint64_t>(max_bytes);
  o.top_n = absl::GetFlag(FLAGS_top_n);
  o.watch = absl::GetFlag(FLAGS_watch);
  o.anonymize = absl::GetFlag(FLAGS_anonymize);
  o.once = absl::GetFlag(FLAGS_once);
  o.check_ports = absl::GetFlag(FLAGS_check_port);
  o.check_urls = absl::GetFlag(FLAGS_check_url);
  o.nginx_status = absl::GetFlag(FLAGS_nginx_status);
  o.check_timeout = absl::GetFlag(FLAGS_check_timeout);
  o.listen = absl::GetFlag(FLAGS_listen);
  o.access_log = absl::GetFlag(FLAGS_access_log);
  o.bench.kinds = absl::GetFlag(FLAGS_bench);
  o.bench.interval = absl::GetFlag(FLAGS_bench_interval);
  o.bench.peer = absl::GetFlag(FLAGS_bench_peer);
  o.bench.dir = absl::GetFlag(FLAGS_bench_dir);
  o.bench.fall_percent = absl::GetFlag(FLAGS_bench_fall_percent);
  o.bench.budget = absl::GetFlag(FLAGS_bench_budget);
  o.bench.baseline_runs = absl::GetFlag(FLAGS_bench_baseline_runs);
  if (absl::Status s = canopy::agent::ValidateOptions(o); !s.ok()) {
    Die(std::string(s.message()));
  }
  return canopy::agent::RunAgent(o);
}
