// The agent's checks: TCP ports, HTTP URLs (libcurl, loaded with dlopen
// when the first URL or nginx check is configured) and nginx stub_status.
//
//   CheckRunner checks(&log);
//   checks.SetChecks(list);               // from flags and modules
//   checks.Collect(&host_object, alloc);  // the latest completed results
//
// Checks run on the runner's worker thread, never on the collecting thread:
// Collect() writes the results of the last round that completed and starts
// a new round unless one is still under way, so a slow or hanging target
// costs at most its own timeout on the worker, never the agent's interval.
// All ports of a round are connected at once (non-blocking connect + poll)
// and all URLs fetched at once (a curl multi handle), each with its own
// timeout.
//
// Keys (docs/AGENT.md): port,<port>,{state,reason,service} (text leaves),
// url,<name>,{status,ttfb_ms,total_ms,bytes}, nginx,{active,accepts,
// handled,requests,reading,writing,waiting}.
//
// Thread-safe: SetChecks and Collect may be called from any thread.
#ifndef CANOPY_AGENT_CHECKS_H_
#define CANOPY_AGENT_CHECKS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/url_fetch.h"
#include "canopy/mutex.h"

namespace canopy {
namespace agent {

struct Check {
  enum class Type { kPort, kUrl, kNginx };
  Type type = Type::kPort;
  std::string host = "127.0.0.1";  // kPort: the address to connect to
  int port = 0;                    // kPort
  std::string name;                // kUrl: the key segment
  std::string url;                 // kUrl, kNginx
  absl::Duration timeout = absl::Seconds(2);
  bool operator==(const Check& o) const {
    return type == o.type && host == o.host && port == o.port &&
           name == o.name && url == o.url && timeout == o.timeout;
  }
};

// --check_port=PORT,... (or HOST:PORT), --check_url=NAME=URL,...,
// --nginx_status=URL: the checks they name, or an error naming the flag.
absl::StatusOr<std::vector<Check>> ChecksFromFlags(
    const std::vector<std::string>& ports, const std::vector<std::string>& urls,
    const std::string& nginx_status, absl::Duration timeout);

struct PortResult {
  std::string state;   // open, closed, filtered
  std::string reason;  // syn-ack, conn-refused, timeout, host-unreach, ...
};
// Connects to every port check (host, port) at once and waits for each at
// most its timeout; one result per check, in order. Gives up (filtered,
// "aborted") soon after *stop becomes true.
std::vector<PortResult> CheckPorts(const std::vector<Check>& ports,
                                   const std::atomic<bool>* stop = nullptr);
// getservbyport's name for a TCP port, or "unknown".
std::string ServiceName(int port);

struct NginxStatus {
  int64_t active = 0, accepts = 0, handled = 0, requests = 0, reading = 0,
          writing = 0, waiting = 0;
};
// nginx's stub_status text:
//   Active connections: 291
//   server accepts handled requests
//    16630948 16630948 31070465
//   Reading: 6 Writing: 179 Waiting: 106
bool ParseNginxStatus(absl::string_view text, NginxStatus* out);

class CheckRunner {
 public:
  explicit CheckRunner(ErrorLog* log);
  ~CheckRunner();

  // Replaces the checks (results of checks no longer listed are dropped).
  void SetChecks(std::vector<Check> checks) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the latest completed results under `host` and starts a round.
  void Collect(rapidjson::Value* host, JsonAlloc& a) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // One round: the subtrees port, url and nginx as a JSON object.
  std::string RunRound(const std::vector<Check>& checks);

  ErrorLog* log_;
  Mutex mu_;
  std::vector<Check> checks_ ABSL_GUARDED_BY(mu_);
  bool wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> abort_{false};  // stop_, seen by a round under way
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by SetChecks
  std::string latest_ ABSL_GUARDED_BY(mu_);       // JSON of the last round
  std::thread thread_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_CHECKS_H_
