// The net benchmark (see agent/bench_kinds.h): against a canopyd given by
// --bench_peer=http://HOST:PORT[?token=T], which serves GET
// /api/bench/download?bytes=N and POST /api/bench/upload
// (server/handlers/bench.h; docs/PROTOCOLS.md).
//
//   rtt_ms         median time of 5 requests of 0 bytes, each on a new
//                  connection (connect + request + answer)
//   download_mbps  a probe of 256 KiB gives the rate, then a transfer sized
//                  for about 20 % of the budget at that rate (256 KiB to
//                  16 MiB) is timed, whole request included
//   upload_mbps    the same with a POST of that many bytes
//
// The transfers are sized by the budget; the timeouts are not, since a
// far peer needs two round trips before the first byte of each new
// connection: every request may take what is left of budget +
// kTimeoutSlack (3 s) in all, so a slow or silent peer ends the benchmark
// with an error ("net: rtt: Connection timed out ...", "net: download: the
// peer is too slow") after at most that, never a stalled agent. A peer that
// answers anything but 200 with the right byte count is an error too; no
// figure is reported from a run with an error.
//
// Threads: runs on the caller's thread (libcurl's easy handles are its
// own; agent/url_fetch.h).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/bench_kinds.h"
#include "agent/url_fetch.h"

namespace canopy {
namespace agent {
namespace {

constexpr int64_t kMinTransfer = 256 << 10, kMaxTransfer = 16 << 20;
constexpr absl::Duration kTimeoutSlack = absl::Seconds(3);

class Peer {
 public:
  Peer(const BenchContext& ctx)
      : ctx_(ctx), deadline_(absl::Now() + ctx.budget + kTimeoutSlack) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(ctx.peer, absl::MaxSplits('?', 1));
    base_ = parts.first;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
    query_ = parts.second;
  }

  // One request; its result if it was a 200 carrying `expect` body bytes.
  absl::StatusOr<UrlResult> Fetch(absl::string_view what, bool upload,
                                  int64_t bytes) {
    if (ctx_.stopped()) return absl::CancelledError("net: stopped");
    absl::Duration left = deadline_ - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("net: ", what, ": the peer is too slow (", base_, ")"));
    }
    UrlRequest r;
    r.timeout = left;
    r.keep_body = upload;
    if (upload) {
      r.url = absl::StrCat(base_, "/api/bench/upload", Query(""));
      r.post = true;
      r.post_bytes = bytes;
    } else {
      r.url = absl::StrCat(base_, "/api/bench/download",
                           Query(absl::StrCat("bytes=", bytes)));
    }
    std::vector<UrlResult> out = FetchUrls({r}, ctx_.stop);
    if (ctx_.stopped()) return absl::CancelledError("net: stopped");
    UrlResult& u = out[0];
    if (u.status == 0) {
      return absl::UnavailableError(
          absl::StrCat("net: ", what, ": ", u.error, " (", base_, ")"));
    }
    if (u.status != 200) {
      return absl::UnavailableError(
          absl::StrCat("net: ", what, ": HTTP ", u.status, " from ", base_,
                       u.status == 401 || u.status == 403
                           ? " (give the token: --bench_peer=URL?token=T)"
                           : ""));
    }
    const bool right = upload
                           ? u.body == absl::StrCat("{\"bytes\":", bytes, "}")
                           : u.bytes == bytes;
    if (!right) {
      return absl::DataLossError(absl::StrCat(
          "net: ", what, ": the peer did not ", upload ? "take" : "send",
          " the ", bytes, " bytes asked (", base_, ")"));
    }
    if (u.total_ms <= 0) u.total_ms = 0.001;
    return u;
  }

  // MB/s one way: a probe, then a transfer sized from it.
  absl::StatusOr<double> Throughput(absl::string_view what, bool upload) {
    absl::StatusOr<UrlResult> probe = Fetch(what, upload, kMinTransfer);
    if (!probe.ok()) return probe.status();
    double rate = kMinTransfer / (probe->total_ms / 1000);  // bytes/s
    int64_t n =
        static_cast<int64_t>(rate * absl::ToDoubleSeconds(ctx_.budget) * 0.2);
    n = std::clamp(n, kMinTransfer, kMaxTransfer);
    absl::StatusOr<UrlResult> r = Fetch(what, upload, n);
    if (!r.ok()) return r.status();
    return n / (r->total_ms / 1000) / 1e6;
  }

 private:
  std::string Query(absl::string_view mine) const {
    if (mine.empty() && query_.empty()) return "";
    return absl::StrCat("?", mine, !mine.empty() && !query_.empty() ? "&" : "",
                        query_);
  }

  const BenchContext& ctx_;
  const absl::Time deadline_;
  std::string base_, query_;
};

}  // namespace

absl::StatusOr<BenchFigures> RunNetBench(const BenchContext& ctx) {
  if (ctx.peer.empty()) {
    return absl::FailedPreconditionError("net: no --bench_peer");
  }
  if (absl::Status s = LoadLibcurl(); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("net: ", s.message()));
  }
  Peer peer(ctx);
  std::vector<double> rtt;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<UrlResult> r = peer.Fetch("rtt", false, 0);
    if (!r.ok()) return r.status();
    rtt.push_back(r->total_ms);
  }
  std::sort(rtt.begin(), rtt.end());
  absl::StatusOr<double> down = peer.Throughput("download", false);
  if (!down.ok()) return down.status();
  absl::StatusOr<double> up = peer.Throughput("upload", true);
  if (!up.ok()) return up.status();
  return BenchFigures{
      {"rtt_ms", rtt[rtt.size() / 2], kLowerIsBetter, true},
      {"download_mbps", *down, kHigherIsBetter, true},
      {"upload_mbps", *up, kHigherIsBetter, true},
  };
}

}  // namespace agent
}  // namespace canopy
