// The net benchmark's endpoints. See server/handlers/bench.h.
//
// Threads: the event-loop thread; no state.
#include "server/handlers/bench.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace canopy {

absl::StatusOr<Response> HandleBenchDownload(const Request& request,
                                             HandlerContext&) {
  int64_t bytes = 0;
  const std::string text = request.Param("bytes");
  if (!absl::SimpleAtoi(text, &bytes) || bytes < 0 ||
      bytes > kMaxBenchDownload) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bytes=", text.substr(0, 40), ": must be a number of bytes from 0 to ",
        kMaxBenchDownload));
  }
  Response r;
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body.assign(static_cast<size_t>(bytes), 'd');
  return r;
}

absl::StatusOr<Response> HandleBenchUpload(const Request& request,
                                           HandlerContext&) {
  Response r;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = absl::StrCat("{\"bytes\":", request.body.size(), "}");
  return r;
}

}  // namespace canopy
