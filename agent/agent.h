// canopy-agent's core: collects this machine's figures every interval and
// pushes them to canopyd under host,<host>,... (docs/AGENT.md has the keys).
//
//   AgentOptions o;
//   o.server = "udp://127.0.0.1:8125";
//   o.host = "web1";
//   return RunAgent(o);   // until SIGTERM or SIGINT; 0 on a clean stop
//
// RunAgent blocks SIGTERM and SIGINT in the calling thread (and so in the
// threads it starts) and waits for them between intervals: on one it sends
// what it holds, spools what it cannot and returns.
#ifndef CANOPY_AGENT_AGENT_H_
#define CANOPY_AGENT_AGENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/bench.h"
#include "rapidjson/document.h"

namespace canopy {
namespace agent {

struct AgentOptions {
  std::string server = "udp://127.0.0.1:8125";
  absl::Duration interval = absl::Seconds(1);
  std::string host;      // the key segment under host,
  std::string conf_dir;  // module files (docs/AGENT.md)
  std::string spool_dir = "./var/canopy-agent/spool";
  uint64_t spool_max_bytes = 64 << 20;
  int top_n = 10;
  std::vector<std::string> watch;
  bool anonymize = false;
  bool once = false;  // one interval, the tree to stdout, no push
  // Checks (agent/checks.h): --check_port, --check_url, --nginx_status.
  std::vector<std::string> check_ports;  // PORT or HOST:PORT
  std::vector<std::string> check_urls;   // NAME=URL
  std::string nginx_status;              // URL
  absl::Duration check_timeout = absl::Seconds(2);
  // The on-demand collection API (agent/perf_api.h): HOST:PORT, "" for off.
  std::string listen;
  // Access logs to follow (agent/accesslog.h):
  // "PATH[,format=F][,prefix=P][,from=start|end]" separated by ';'.
  std::string access_log;
  // Machine benchmarks (agent/bench.h): --bench=cpu,sqlite,disk,net and
  // the --bench_* flags; off when bench.kinds is empty.
  BenchOptions bench;
};

// Checks the options; the error is one line naming the flag.
absl::Status ValidateOptions(const AgentOptions& o);

int RunAgent(const AgentOptions& o);

// Splits a tree {"host": {H: {sub: {...}, ...}}, "time": T} into JSON texts
// of at most `max_bytes` each: whole if it fits, else by subtree under the
// host (several small subtrees share a piece), and a subtree too large by
// itself by its children (each piece repeating its "defaultaction"). Every
// piece carries "time". A single child larger than `max_bytes` is dropped
// and counted in `*oversized`.
std::vector<std::string> SplitTree(const rapidjson::Value& tree,
                                   size_t max_bytes, int* oversized);

// The host name as a key segment (commas and control bytes replaced).
std::string DefaultHost();

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_AGENT_H_
