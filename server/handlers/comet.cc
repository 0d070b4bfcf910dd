// GET /pull (long-poll) and GET /stream (Server-Sent Events): the request's
// patterns, cursor and timeout checked and turned into a Hold, which the
// network edge parks with comet (server/comet/hub.h). 503 when
// --max_waiters requests are parked already.
//
// Threads: the event-loop thread.
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/cluster/cluster.h"
#include "server/handlers/handlers.h"

namespace canopy {
namespace {

absl::StatusOr<Hold> ParseHold(const Request& request, HandlerContext& ctx,
                               bool stream) {
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  std::string since_text = request.Param("since");
  if (stream && since_text.empty()) since_text = request.last_event_id;
  Hold hold;
  hold.stream = stream;
  if (!since_text.empty() && !absl::SimpleAtoi(since_text, &hold.since)) {
    return absl::InvalidArgumentError(
        "since must be a seq returned by the server");
  }
  hold.has_since = !since_text.empty();
  if (request.HasParam("timeout") &&
      (!absl::SimpleAtoi(request.Param("timeout"), &hold.timeout_seconds) ||
       hold.timeout_seconds < 0 ||
       hold.timeout_seconds > ctx.options->max_pull_timeout)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout must be 0 to ", ctx.options->max_pull_timeout, " seconds"));
  }
  if (ctx.waiters >= ctx.options->max_waiters) {
    ++ctx.stats->waiters_refused;
    return absl::UnavailableError(
        absl::StrCat("too many waiters (", ctx.waiters, "); try again later"));
  }
  // In a cluster, keys other shards own come from replicas of them; a
  // waiter is woken when the replica changes.
  if (ctx.cluster != nullptr) ctx.cluster->Replicate(*patterns);
  hold.patterns = std::move(*patterns);
  return hold;
}

}  // namespace

absl::StatusOr<Hold> HandlePull(const Request& request, HandlerContext& ctx) {
  return ParseHold(request, ctx, /*stream=*/false);
}

absl::StatusOr<Hold> HandleStream(const Request& request, HandlerContext& ctx) {
  return ParseHold(request, ctx, /*stream=*/true);
}

}  // namespace canopy
