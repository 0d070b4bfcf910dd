// The one way canopyd makes a Request out of what arrived: the method, the
// path and query as sent, the few headers canopy reads and the body. The
// comet workers' incremental parser (request_parser.h) makes every Request
// with it.
//
//   canopy::RequestHeaders headers;
//   headers.content_type = "application/x-www-form-urlencoded";
//   absl::StatusOr<canopy::Request> r = canopy::MakeRequest(
//       "POST", "/push", "key=a%2Cb", headers, "text=hello+world");
//   // r->path == "/push", r->query == {{"key", "a,b"}, {"text", "hello
//   world"}}
//
// Pure: no sockets, no state. Threads: any.
#ifndef CANOPY_SERVER_NET_REQUEST_PARSE_H_
#define CANOPY_SERVER_NET_REQUEST_PARSE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/handlers/request.h"

namespace canopy {

// The headers a Request carries (empty when absent). Views: they need to
// live only for the MakeRequest call.
struct RequestHeaders {
  absl::string_view content_type;
  absl::string_view authorization;  // Authorization
  absl::string_view last_event_id;  // Last-Event-ID (/stream)
};

// Makes the Request a handler sees:
//  - `method` must be one canopy serves (GET, POST, PUT, DELETE, HEAD,
//    OPTIONS); any other is refused with kUnimplemented (HttpStatusOf: 405);
//  - `path` is the path as sent (kept in raw_path; "" reads as "/"),
//    percent-decoded into path with '+' kept ('%' without two hex digits
//    kept too); a NUL byte in the decoded path is refused;
//  - `query` (what followed the '?', without it) is split into fields in
//    order, '+' as a space; a field without '=' or with an empty name, or a
//    NUL byte in a name, is refused (a NUL in a value is kept);
//  - a body that opens like JSON ('{' or '[' after white space) sent with a
//    form content type (curl -d) is taken as JSON;
//  - a form body's fields are appended to the query (a NUL byte anywhere in
//    a form body is refused).
// Refusals are kInvalidArgument (400) with a short message.
absl::StatusOr<Request> MakeRequest(absl::string_view method,
                                    absl::string_view path,
                                    absl::string_view query,
                                    const RequestHeaders& headers,
                                    std::string body);

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_REQUEST_PARSE_H_
