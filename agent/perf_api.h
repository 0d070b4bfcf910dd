// The agent's on-demand collection API (API.md, "The agent"), on
// --listen=HOST:PORT with libevent's evhttp on a thread of its own:
//
//   GET /performance/start_collecting?hash=H&duration=D&interval=I&server=N
//   GET /performance/stop_collecting?hash=H
//   GET /performance/real_time
//
// Each answers {"result": "succeeded", ...} or {"result": "failed",
// "reason": "..."} (HTTP 200 either way; 404 for other paths). A collection
// samples every I seconds until D seconds passed or it is stopped; stop
// answers the series and forgets the collection. Bounds: at most
// kMaxCollections at once (finished ones not fetched within an hour are
// dropped), D up to a day, I from 0.1 s, at most 86400 samples.
//
//   absl::StatusOr<std::unique_ptr<PerfApi>> api =
//       PerfApi::Start("127.0.0.1:7576", &log);
//   ...
//   api->reset();  // stops the thread, drops collections
#ifndef CANOPY_AGENT_PERF_API_H_
#define CANOPY_AGENT_PERF_API_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/log.h"

struct event_base;
struct evhttp;
struct evhttp_request;

namespace canopy {
namespace agent {

inline constexpr int kMaxCollections = 16;

// "HOST:PORT" with a port from 1 to 65535; the error names --listen.
absl::Status ValidateListen(absl::string_view listen);

class PerfApi {
 public:
  // Binds `listen` (errors come back here) and starts the thread.
  static absl::StatusOr<std::unique_ptr<PerfApi>> Start(
      const std::string& listen, ErrorLog* log);
  ~PerfApi();

  struct State;  // internal: the collections, owned by the API thread

 private:
  PerfApi() = default;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_PERF_API_H_
