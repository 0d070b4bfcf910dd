// The HTTP handlers of canopyd as plain functions: a Request in, a Response
// or an error status out. They know nothing of libevent (server/http.cc turns
// sockets into Requests) and can be tested without a socket.
//
//   canopy::HandlerContext ctx{&tree, &stats, &options, /*now=*/time(nullptr)};
//   absl::StatusOr<canopy::Response> r = canopy::HandleGet(request, ctx);
//
// Errors map to HTTP status codes in one place, HttpStatusOf(); a parse error
// carries its line and column as a payload (WithPosition).
//
// Threads: every handler runs on the event-loop thread, which owns the tree.
#ifndef CANOPY_SERVER_HANDLERS_H_
#define CANOPY_SERVER_HANDLERS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/json_push.h"
#include "canopy/key.h"
#include "canopy/pipe.h"
#include "canopy/tree.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/trend.h"

namespace canopy {

struct Request {
  std::string method;    // "GET", "POST", ...
  std::string path;      // percent-decoded path, without the query
  std::string raw_path;  // the path as sent (for paths made of several keys)
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string content_type;
  std::string body;

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

class LineIngest;

struct HandlerContext {
  Tree* tree;
  Stats* stats;
  const ServerOptions* options;
  int64_t now;
  LineIngest* lines = nullptr;              // for text/plain pushes
  AccessLogRunners* access_logs = nullptr;  // for accesslog= pushes
};

// Attaches a text position to an error status, and reads it back.
absl::Status WithPosition(absl::Status status, TextPosition where);
TextPosition PositionOf(const absl::Status& status);

// The HTTP status code for an error, and the JSON error body:
// {"error": "...", "line": L, "column": C}.
int HttpStatusOf(const absl::Status& status);
Response ErrorResponse(const absl::Status& status);

// The position in a parser's message that starts "line L, column C: ".
TextPosition PositionInMessage(absl::string_view message);

// Decodes %XX escapes (a '+' stays a '+': this is for paths).
std::string PercentDecode(absl::string_view s);

// Parses every `key=` parameter as a pattern (none means the whole tree).
absl::StatusOr<std::vector<Pattern>> PatternsOf(const Request& request);

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

// GET /trend: the query from the request (`now` for relative times).
absl::StatusOr<TrendQuery> ParseTrendRequest(const Request& request,
                                             int64_t now);
// The answer: JSON, or CSV with a header row and one column per key.
Response TrendResponse(const TrendResult& result, bool csv);
// GET /api/markers
absl::StatusOr<Response> HandleMarkers(const Request& request,
                                       HandlerContext& ctx);
// Parses a time: epoch seconds, "now", or relative to now ("-1h", "-7d").
absl::StatusOr<int64_t> ParseTime(absl::string_view text, int64_t now);

// The leaves under `patterns` changed after `since`, removed leaves as null,
// as {"seq": S, "items": [...]} (plus "reset": true when `reset`). Returns
// the number of items written in `*count`.
std::string ChangesJson(const Tree& tree, const std::vector<Pattern>& patterns,
                        uint64_t since, bool reset, int64_t now, size_t* count);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_H_
