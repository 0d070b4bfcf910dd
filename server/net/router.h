// The one route table of canopyd's HTTP API: which handler serves which path
// and method, and which token it needs. Dispatch() checks the token, finds
// the route and calls the handler; it knows nothing of sockets, so a whole
// request can be followed, and tested, as plain data.
//
//   canopy::HandlerContext ctx = ...;
//   absl::StatusOr<canopy::Outcome> out = canopy::Dispatch(request, ctx);
//   // a Response to send, Deferred work for the trend thread, or a Hold
//
// Reads need --read_token when it is set (but /healthz), writes (POST, PUT,
// DELETE) need --write_token; a refused token is counted as an "auth"
// reject of "http".
//
// Threads: the event-loop thread.
#ifndef CANOPY_SERVER_NET_ROUTER_H_
#define CANOPY_SERVER_NET_ROUTER_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/handlers/request.h"
#include "server/options.h"

namespace canopy {

absl::StatusOr<Outcome> Dispatch(const Request& request, HandlerContext& ctx);

// OK when `request` carries the token its kind needs (or none is set).
absl::Status Authorize(const Request& request, const ServerOptions& options,
                       bool write);

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_ROUTER_H_
