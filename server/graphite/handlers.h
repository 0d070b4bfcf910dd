// The Graphite render API on canopyd, for Grafana's Graphite data source
// and anything else that speaks graphite-web: /render, /metrics/find,
// /metrics/expand, /metrics/index.json, /version, /functions and
// /tags/autoComplete/{tags,values}. Routed in server/net/router.cc;
// documented in docs/PROTOCOLS.md ("Graphite render API").
//
//   canopy::Request r;  // GET /render?target=sumSeries(web.*.hits)&from=-6h
//   absl::StatusOr<canopy::Deferred> d = canopy::HandleRender(r, ctx);
//   // d->work(store) answers on the trend thread
//
// The room (server/graphite/): target.cc (the target parser), path_glob.cc
// (dotted paths and globs over comma keys), time_text.cc (from/until and
// intervals), series.cc (the series functions), function_table.cc (what
// /render knows, for the evaluator and /functions), evaluate.cc (binding
// and evaluation), render.cc (/render), find.cc (the rest).
//
// Threads: the handlers run on the event-loop thread and only parse and
// check; what reads history is Deferred work for the trend thread, as for
// /trend, touching only its TrendStore.
#ifndef CANOPY_SERVER_GRAPHITE_HANDLERS_H_
#define CANOPY_SERVER_GRAPHITE_HANDLERS_H_

#include "absl/status/statusor.h"
#include "server/handlers/request.h"

namespace canopy {

absl::StatusOr<Deferred> HandleRender(const Request& request,
                                      HandlerContext& ctx);
absl::StatusOr<Deferred> HandleMetricsFind(const Request& request,
                                           HandlerContext& ctx);
absl::StatusOr<Deferred> HandleMetricsExpand(const Request& request,
                                             HandlerContext& ctx);
absl::StatusOr<Deferred> HandleMetricsIndex(const Request& request,
                                            HandlerContext& ctx);
absl::StatusOr<Response> HandleGraphiteVersion(const Request& request,
                                               HandlerContext& ctx);
absl::StatusOr<Response> HandleGraphiteFunctions(const Request& request,
                                                 HandlerContext& ctx);
absl::StatusOr<Response> HandleGraphiteTags(const Request& request,
                                            HandlerContext& ctx);

// True for the paths above whose POST only reads (Grafana posts /render
// and /metrics/find as forms): they need the read token, not the write one.
bool IsGraphiteReadPath(absl::string_view path);

}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_HANDLERS_H_
