// The HTTP handlers of canopyd, a function per endpoint, over the plain data
// of server/handlers/request.h. The route table (server/net/router.h) says
// which serves which path; each file here is one family of endpoints:
//
//   push.cc       POST /push (JSON tree, StatsD/Graphite lines, access logs)
//   tree_read.cc  GET /get, /api/q/<key>.json, DELETE /api/q/<key>, /diff
//   units.cc      GET /api/units (each leaf's unit)
//   comet.cc      GET /pull and /stream: the parameters, then a Hold
//   trend.cc      GET /trend, /graph/<key>.svg|png|pdf, /api/markers
//   views.cc      /api/views (named views, server/handlers/view_store.h)
//   metrics.cc    GET /metrics (Prometheus text)
//   pages.cc      the pages and their assets, and / (a redirect)
//
//   canopy::HandlerContext ctx{&tree, &stats, &options, /*now=*/time(nullptr)};
//   absl::StatusOr<canopy::Response> r = canopy::HandleGet(request, ctx);
//
// Threads: every handler runs on the event-loop thread, which owns the tree.
#ifndef CANOPY_SERVER_HANDLERS_HANDLERS_H_
#define CANOPY_SERVER_HANDLERS_HANDLERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/handlers/request.h"
#include "server/trend/store.h"

namespace canopy {

// POST /push
absl::StatusOr<Response> HandlePush(const Request& request,
                                    HandlerContext& ctx);
// GET /get
absl::StatusOr<Response> HandleGet(const Request& request, HandlerContext& ctx);
// GET /api/q/<key>.json
absl::StatusOr<Response> HandleQuery(const Request& request,
                                     HandlerContext& ctx);
// DELETE /api/q/<key>
absl::StatusOr<Response> HandleDelete(const Request& request,
                                      HandlerContext& ctx);
// GET /diff/<a>/<b>
absl::StatusOr<Response> HandleDiff(const Request& request,
                                    HandlerContext& ctx);
// GET /api/units?key=K: the unit of each leaf under K that has one.
absl::StatusOr<Response> HandleUnits(const Request& request,
                                     HandlerContext& ctx);
// The unit of each leaf the patterns select that has one (canopy/unit.h
// LeafUnit; text leaves have none), in key order, each leaf once, at most
// `limit` (then *truncated is set). Each node visited is charged to
// `budget`: past it the list is incomplete (budget->exceeded()).
std::vector<std::pair<std::string, std::string>> CollectUnits(
    const Tree& tree, const std::vector<Pattern>& patterns, size_t limit,
    QueryBudget* budget, bool* truncated);

// GET /pull and /stream: what to park (503 when --max_waiters are parked).
absl::StatusOr<Hold> HandlePull(const Request& request, HandlerContext& ctx);
absl::StatusOr<Hold> HandleStream(const Request& request, HandlerContext& ctx);

// GET /trend: the query from the request (`now` for relative times).
absl::StatusOr<TrendQuery> ParseTrendRequest(const Request& request,
                                             int64_t now);
// The answer: JSON, or CSV with a header row and one column per key.
Response TrendResponse(const TrendResult& result, bool csv);
// GET /trend and GET /graph/<key>.svg|png|pdf: work for the trend thread.
absl::StatusOr<Deferred> HandleTrend(const Request& request,
                                     HandlerContext& ctx);
absl::StatusOr<Deferred> HandleGraph(const Request& request,
                                     HandlerContext& ctx);
// GET /api/markers
absl::StatusOr<Response> HandleMarkers(const Request& request,
                                       HandlerContext& ctx);
// Parses a time: epoch seconds, "now", or relative to now ("-1h", "-7d").
absl::StatusOr<int64_t> ParseTime(absl::string_view text, int64_t now);

// GET, PUT, DELETE /api/views[/<name>]
absl::StatusOr<Response> HandleViews(const Request& request,
                                     HandlerContext& ctx);

// GET /api/cluster[?key=K]: this node's view of its cluster (404 when
// canopyd runs alone).
absl::StatusOr<Response> HandleCluster(const Request& request,
                                       HandlerContext& ctx);

// In a cluster, a read of `key`'s history (/trend, /graph) that another
// shard owns: work for the trend thread that asks the owner over HTTP and
// answers what it answers (502 if it cannot). None when this node owns the
// key, runs alone, or the request was itself forwarded.
std::optional<Deferred> ForwardToOwner(const Request& request,
                                       HandlerContext& ctx,
                                       absl::string_view key);

// GET /metrics
// POST /api/v1/read (remote_read.cc): Prometheus remote_read.
absl::StatusOr<Deferred> HandleRemoteRead(const Request& request,
                                          HandlerContext& ctx);
absl::StatusOr<Response> HandleMetrics(const Request& request,
                                       HandlerContext& ctx);

// GET / (to /realtime/), the pages (/realtime/, /trend/view/, ...) and
// /assets/...: from --web_dir, or the live page built into the binary.
absl::StatusOr<Response> HandleRoot(const Request& request,
                                    HandlerContext& ctx);
// NotFound when `request.path` names no page or asset.
absl::StatusOr<Response> HandlePage(const Request& request,
                                    HandlerContext& ctx);
// Whether `path` is one HandlePage serves.
bool IsPagePath(absl::string_view path);

// GET /healthz
absl::StatusOr<Response> HandleHealth(const Request& request,
                                      HandlerContext& ctx);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_HANDLERS_H_
