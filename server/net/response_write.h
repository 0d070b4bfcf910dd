// The bytes of a reply: the status line and headers of a Response, of a
// Server-Sent Events stream, and of a 100 Continue. Only the head is
// written here; the body follows it from the Response itself (one writev of
// head and body, no copy of the body).
//
//   std::string head;
//   bool keep = canopy::AppendResponseHead(response, parser.keep_alive(),
//                                          &head);
//   iovec iov[2] = {{head.data(), head.size()},
//                   {response.body.data(), response.body.size()}};
//   writev(fd, iov, parser.head() ? 1 : 2);  // a HEAD reply: the head only
//   if (!keep) ... close once written ...
//
// Pure: no sockets, no state. Threads: any.
#ifndef CANOPY_SERVER_NET_RESPONSE_WRITE_H_
#define CANOPY_SERVER_NET_RESPONSE_WRITE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "server/handlers/request.h"

namespace canopy {

// What a client waiting on "Expect: 100-continue" needs to send its body.
inline constexpr absl::string_view kContinueHead =
    "HTTP/1.1 100 Continue\r\n\r\n";

// The reason phrase of `status` ("Not Found"); for a code canopy does not
// use, its class's ("OK", "Redirect", "Error").
const char* ReasonPhrase(int status);

// Appends to `out`:
//   HTTP/1.1 <status> <reason>\r\n
//   Content-Type: <content_type>\r\n
//   Content-Length: <body size>\r\n
//   Connection: keep-alive | close\r\n
//   <the Response's headers>\r\n
//   \r\n
// The same head answers a HEAD request: the Content-Length is the body's
// that a GET would get, and the caller leaves the body out. Framing is
// this function's: a Response header named Content-Length,
// Transfer-Encoding or Connection is not copied, and "Connection: close"
// among them closes the connection. A header (or content type) holding a CR
// or LF is left out, as evhttp leaves it out: no header injection.
// Returns whether the connection stays open after this reply: `keep_alive`
// (the request's: RequestParser::keep_alive()) unless the Response closes
// it.
bool AppendResponseHead(const Response& response, bool keep_alive,
                        std::string* out);

// Appends the head of a Server-Sent Events reply (/stream): 200,
// text/event-stream, no caching or proxy buffering, no Content-Length; the
// events follow as they are written and the stream ends when the connection
// closes ("Connection: close").
void AppendStreamHead(std::string* out);

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_RESPONSE_WRITE_H_
