// POST /push: a JSON tree (application/json, or a form's json field),
// StatsD or Graphite lines (text/plain, applied whole or not at all), or
// access-log lines through the pipes (a form's accesslog field).
//
// Threads: the event-loop thread (it writes the tree).
#include <string>

#include "absl/strings/str_cat.h"
#include "canopy/pipe.h"
#include "server/cluster/cluster.h"
#include "server/handlers/handlers.h"
#include "server/ingest/json_ingest.h"
#include "server/ingest/line_ingest.h"
#include "server/trend/store.h"

namespace canopy {
namespace {

// {"accepted": N}: the answer to a push of N leaves.
Response Accepted(size_t leaves) {
  JsonOut out;
  out.w.StartObject();
  out.Key("accepted");
  out.w.Uint64(leaves);
  out.w.EndObject();
  return JsonResponse(out);
}

}  // namespace

absl::StatusOr<Response> HandlePush(const Request& request,
                                    HandlerContext& ctx) {
  absl::string_view json = request.body;
  std::string form_json;
  absl::string_view type = request.content_type;
  type = type.substr(0, type.find(';'));
  if (type == "application/x-www-form-urlencoded") {
    bool found = false;
    for (const auto& [k, v] : request.query) {
      if (k == "json") {
        form_json = v;
        found = true;
      }
    }
    if (request.HasParam("accesslog")) {
      // Log lines through the pipes (browsers, status, bytes, timing, ...),
      // dated with each line's time while it is within the first level of
      // the retention.
      if (ctx.access_logs == nullptr) {
        return absl::UnimplementedError("no access-log pipes here");
      }
      AccessLogOptions log_options;
      log_options.format = request.Param("format", "combined");
      log_options.prefix = request.Param("prefix", "web");
      log_options.plugin_dir = ctx.options->pipes_dir;
      if (absl::StatusOr<Retention> r =
              Retention::Parse(ctx.options->retention);
          r.ok() && !r->levels.empty()) {
        log_options.max_age = r->levels[0].keep;
      }
      absl::StatusOr<AccessLogResult> n = ctx.access_logs->Apply(
          request.Param("accesslog"), log_options, ctx.tree, ctx.now);
      if (!n.ok()) {
        ++ctx.stats->rejected["http"]["accesslog"];
        return WithPosition(n.status(),
                            PositionInMessage(n.status().message()));
      }
      ++ctx.stats->pushes;
      ctx.stats->accepted["http"] += n->leaves;
      JsonOut out;
      out.w.StartObject();
      out.Key("accepted");
      out.w.Uint64(n->leaves);
      out.Key("lines");
      out.w.Uint64(n->records);
      out.Key("skipped");
      out.w.Uint64(n->errors);
      out.w.EndObject();
      return JsonResponse(out);
    }
    if (!found) {
      return absl::InvalidArgumentError("form push without a json field");
    }
    json = form_json;
  } else if (type == "text/plain" && ctx.lines != nullptr) {
    // StatsD or Graphite lines (or one JSON tree per line): checked whole
    // first, so a bad line changes nothing.
    if (absl::Status s = ctx.lines->CheckLines(request.body); !s.ok()) {
      ++ctx.stats->rejected["http"]["lines"];
      return s;
    }
    LineIngest::Result r =
        ctx.lines->ApplyLines(request.body, "http", ctx.now,
                              reinterpret_cast<const sockaddr*>(&request.peer));
    if (r.rejected > 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat(r.rejected, " lines refused (the tree is full), ",
                       r.accepted, " samples written"));
    }
    ++ctx.stats->pushes;
    if (ctx.cluster != nullptr) ctx.cluster->JournalQueued();
    return Accepted(r.accepted);
  } else if (!type.empty() && type != "application/json" &&
             type != "text/json") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported Content-Type \"", type.substr(0, 60),
                     "\" (expected application/json, text/plain or a form)"));
  }
  JsonApplied applied = ApplyJsonPush(
      ctx.tree, json, ctx.now, ctx.lines ? ctx.lines->forwarder() : nullptr);
  CountJsonPush(applied, "http", ctx.stats);
  if (!applied.status.ok()) {
    return applied.where.line > 0 ? WithPosition(applied.status, applied.where)
                                  : applied.status;
  }
  ++ctx.stats->pushes;
  // What waits for other shards survives a crash before it leaves.
  if (ctx.cluster != nullptr) ctx.cluster->JournalQueued();
  return Accepted(applied.leaves);
}

}  // namespace canopy
