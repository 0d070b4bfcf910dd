// GET /api/bench/download and POST /api/bench/upload: the peer side of
// canopy-agent's net benchmark (agent/bench_net.cc; docs/PROTOCOLS.md,
// "Machine benchmarks").
//
//   Request r;
//   r.method = "GET";
//   r.query = {{"bytes", "1048576"}};
//   absl::StatusOr<Response> d = HandleBenchDownload(r, ctx);  // 1 MiB body
//
// Both are bounded: a download is at most kMaxBenchDownload bytes (more is
// a 400), an upload at most --max_body (the request parser refuses more
// with 413 before the handler runs). The download's body is a fixed byte,
// the upload's is counted and dropped. Authorize applies as everywhere: the
// download is a read, the upload a write (write token, --protect).
//
// Threads: both run on the event-loop thread and touch no state.
#ifndef CANOPY_SERVER_HANDLERS_BENCH_H_
#define CANOPY_SERVER_HANDLERS_BENCH_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "server/handlers/request.h"

namespace canopy {

inline constexpr int64_t kMaxBenchDownload = int64_t{64} << 20;

// GET /api/bench/download?bytes=N (0 <= N <= 64 MiB): N bytes of
// application/octet-stream, never cached.
absl::StatusOr<Response> HandleBenchDownload(const Request& request,
                                             HandlerContext& ctx);
// POST /api/bench/upload: {"bytes":N}, N the body's size.
absl::StatusOr<Response> HandleBenchUpload(const Request& request,
                                           HandlerContext& ctx);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_BENCH_H_
