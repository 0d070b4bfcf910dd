// The plain data every HTTP handler works on: a Request in, an Outcome out.
// server/net/ turns evhttp's requests into Requests and Outcomes back into
// bytes; nothing here knows of libevent, so every handler can be tested
// without a socket.
//
//   canopy::Request request;
//   request.method = "GET";
//   request.path = "/get";
//   request.query = {{"key", "host,web1"}};
//   canopy::HandlerContext ctx = ...;  // the tree, the stats, the options
//   absl::StatusOr<canopy::Response> r = canopy::HandleGet(request, ctx);
//
// An Outcome is what a handler decides: a Response to send now, Deferred
// work for the trend thread (whose Response is sent when it is done), or a
// Hold (a /pull or /stream for comet to park).
//
// Errors are absl::Status values; HttpStatusOf() maps them to HTTP codes in
// one place, and a parse error carries its line and column (WithPosition).
//
// Threads: handlers run on the event-loop thread, which owns the tree; a
// Deferred's work runs on the trend thread and touches only the TrendStore
// it is given.
#ifndef CANOPY_SERVER_HANDLERS_REQUEST_H_
#define CANOPY_SERVER_HANDLERS_REQUEST_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/json_push.h"
#include "canopy/key.h"
#include "canopy/pipe.h"
#include "canopy/tree.h"
#include "server/json_out.h"
#include "server/options.h"
#include "server/stats.h"

namespace canopy {

struct Request {
  std::string method;    // "GET", "POST", ...
  std::string path;      // percent-decoded path, without the query
  std::string raw_path;  // the path as sent (for paths made of several keys)
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string content_type;
  std::string authorization;  // the Authorization header
  std::string last_event_id;  // the Last-Event-ID header (/stream)
  std::string body;
  // The client's address; AF_UNSPEC (a request made in a test) counts as
  // this machine (server/net/protection.h).
  sockaddr_storage peer = {};

  // Every value of query parameter `name`, in order.
  std::vector<std::string> Params(absl::string_view name) const;
  // The first value of `name`, or `fallback`.
  std::string Param(absl::string_view name,
                    absl::string_view fallback = "") const;
  bool HasParam(absl::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class TrendStore;
class Protection;

// Work for the trend thread (a /trend query, a /graph drawing): it runs
// there with the store, and its Response is sent from the loop when done.
struct Deferred {
  std::function<Response(TrendStore&)> work;
};

// A /pull or /stream to park with comet.
struct Hold {
  std::vector<Pattern> patterns;
  bool has_since = false;
  uint64_t since = 0;
  int timeout_seconds = 30;
  bool stream = false;
};

using Outcome = std::variant<Response, Deferred, Hold>;

class LineIngest;
class ViewStore;
class Cluster;
struct ServerFigures;

// What a handler may use. Every pointer but those marked optional is set.
struct HandlerContext {
  Tree* tree = nullptr;
  Stats* stats = nullptr;
  const ServerOptions* options = nullptr;
  int64_t now = 0;
  LineIngest* lines = nullptr;              // optional: text/plain pushes
  AccessLogRunners* access_logs = nullptr;  // optional: accesslog= pushes
  ViewStore* views = nullptr;               // optional: /api/views
  Cluster* cluster = nullptr;               // optional: a node of a cluster
  bool history = false;  // a trend thread answers Deferred work
  size_t waiters = 0;    // parked /pull and /stream requests now
  // Protected mode (server/net/protection.h); nullptr: none.
  const Protection* protection = nullptr;
  // The server's own figures for /metrics (optional).
  std::function<ServerFigures()> figures;
};

// Attaches a text position to an error status, and reads it back.
absl::Status WithPosition(absl::Status status, TextPosition where);
TextPosition PositionOf(const absl::Status& status);

// The position in a parser's message that starts "line L, column C: ".
TextPosition PositionInMessage(absl::string_view message);

// The HTTP status code for an error, and the JSON error body:
// {"error": "...", "line": L, "column": C}.
int HttpStatusOf(const absl::Status& status);
Response ErrorResponse(const absl::Status& status);

// A 200 JSON response with what `out` holds.
Response JsonResponse(JsonOut& out);

// Decodes %XX escapes (a '+' stays a '+': this is for paths). A '%' not
// followed by two hex digits stays as it is; a %00 is decoded (the caller
// decides whether a NUL byte is acceptable).
std::string PercentDecode(absl::string_view s);
// The same with '+' as a space: query strings and form bodies.
std::string FormDecode(absl::string_view s);

// Parses every `key=` parameter as a pattern (none means the whole tree).
absl::StatusOr<std::vector<Pattern>> PatternsOf(const Request& request);

// The `limit=` parameter (a positive integer), or `otherwise` without one.
absl::StatusOr<size_t> LimitOf(const Request& request, size_t otherwise);

// A tree query passed its budget: counts it and says why (413).
absl::Status QueryRefused(const QueryBudget& budget, HandlerContext& ctx);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_REQUEST_H_
