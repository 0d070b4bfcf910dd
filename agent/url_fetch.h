// HTTP GETs (and POSTs) of many URLs at once, through libcurl loaded at run
// time: the agent's URL and nginx checks (agent/checks.h) and its net
// benchmark (agent/bench_net.cc).
//
//   std::vector<UrlResult> r = FetchUrls(
//       {{"http://127.0.0.1/healthz", absl::Seconds(2)}}, &stop);
//   if (r[0].status == 200) ...
//
// libcurl is not linked: its dependency tree (OpenSSL, nghttp2, ...) is
// most of the agent's RSS when mapped, and only URL and nginx checks need
// it. It is loaded the first time it is asked for and never unloaded.
// Thread-safe.
#ifndef CANOPY_AGENT_URL_FETCH_H_
#define CANOPY_AGENT_URL_FETCH_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace canopy {
namespace agent {

struct UrlResult {
  int status = 0;  // 0: no HTTP answer (error, timeout)
  double ttfb_ms = 0, total_ms = 0;
  int64_t bytes = 0;  // body bytes received
  std::string body;   // kept for nginx (the first 64 KiB)
  std::string error;  // why status is 0
};
struct UrlRequest {
  std::string url;
  absl::Duration timeout;
  bool keep_body = false;
  // A POST of `post_bytes` bytes (all 'u', made as they are sent, so that
  // a large upload takes no memory) instead of a GET: the net benchmark's
  // upload. Sent at once (no "Expect: 100-continue"), as
  // application/octet-stream.
  bool post = false;
  int64_t post_bytes = 0;
};
// Fetches every URL at once (GET, redirects not followed). Gives up soon
// after *stop becomes true. If libcurl cannot be loaded, every result has
// status 0 and the reason in `error`.
std::vector<UrlResult> FetchUrls(const std::vector<UrlRequest>& requests,
                                 const std::atomic<bool>* stop = nullptr);

// Loads libcurl if it is not yet; why it cannot be, as an error.
absl::Status LoadLibcurl();

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_URL_FETCH_H_
