// An incremental HTTP/1.1 request parser over libhttp-parser
// (nodejs/http-parser 2.9): a connection's bytes in, as they arrive, one
// Request out at a time, made by MakeRequest (request_parse.h) exactly as
// the evhttp adapter makes it. No sockets, no threads: the connection that
// owns it reads and writes.
//
//   canopy::RequestLimits limits;
//   limits.max_body_bytes = options.max_body;
//   canopy::RequestParser parser(limits);
//   size_t used = parser.Feed(bytes);  // bytes.substr(used) is fed later
//   switch (parser.state()) {
//     case canopy::RequestParser::State::kNeedMore:
//       // Before reading the body, curl waits for a 100 Continue.
//       if (parser.expects_continue() && !sent) Write(kContinueHead);
//       break;
//     case canopy::RequestParser::State::kComplete: {
//       absl::StatusOr<canopy::Request> r = parser.TakeRequest();
//       ... answer it (ErrorResponse(r.status()) when refused), keeping the
//       connection when parser.keep_alive(); a HEAD gets the head only
//       (parser.head()) ...
//       parser.Reset();  // then Feed what followed: pipelined requests
//       break;
//     }
//     case canopy::RequestParser::State::kError:
//       ... answer ErrorResponse(parser.error()), then close ...
//   }
//
// Feed() stops after each complete request; until Reset() it consumes
// nothing more. Errors are absl::Status values whose HttpStatusOf()
// (server/handlers/request.h) is the code to answer with:
//   - malformed HTTP (bad request line, header, chunk, version, a
//     Content-Length with Transfer-Encoding, ...): kInvalidArgument, 400;
//   - request line and headers over max_header_bytes: kInvalidArgument, 400
//     (what evhttp answers today for headers over its limit);
//   - a body over max_body_bytes: kOutOfRange, 413, decided from
//     Content-Length as soon as the headers are complete (before the body is
//     read or a 100 Continue sent), and from each chunk's size before its
//     data arrives, so that no more than the limits is ever buffered.
// A complete request that MakeRequest refuses is not a parse error: the
// connection may go on. Among those, a method canopy does not serve (PATCH,
// TRACE, CONNECT, ...) is kUnimplemented, 405 (evhttp answered 501).
// An Expect other than 100-continue is ignored (evhttp answered 417).
// Trailer fields of a chunked body are read and ignored.
//
// Memory: the request target, the body and the four header values kept
// (Content-Type, Authorization, Last-Event-ID, Expect) are strings that
// Reset() clears without freeing, so a keep-alive connection reuses them;
// TakeRequest() moves the body out (no copy), so a request with a body
// allocates its own (reserved from Content-Length, up to 1 MiB). Other
// headers are not stored.
//
// Threads: not thread-safe; the thread that owns the connection.
#ifndef CANOPY_SERVER_NET_REQUEST_PARSER_H_
#define CANOPY_SERVER_NET_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/handlers/request.h"

struct http_parser;

namespace canopy {

struct RequestLimits {
  // The request line and the headers, their CRLFs included (at least 1).
  size_t max_header_bytes = 64 * 1024;
  // The body, after any chunked encoding is removed (--max_body).
  size_t max_body_bytes = 32 << 20;
};

class RequestParser {
 public:
  enum class State {
    kNeedMore,  // feed more bytes
    kComplete,  // a whole request: TakeRequest(), then Reset()
    kError,     // error() says why; answer it and close the connection
  };

  explicit RequestParser(RequestLimits limits = RequestLimits());
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses what it can of `bytes` and returns how many it consumed: all of
  // them while kNeedMore; up to the end of the request when kComplete (the
  // rest belongs to the next request: feed it again after Reset()); up to
  // the error when kError. Consumes nothing once kComplete or kError.
  size_t Feed(absl::string_view bytes);

  State state() const { return state_; }
  // Why the parse failed (OK unless kError).
  const absl::Status& error() const { return error_; }

  // The request, when kComplete: MakeRequest's Request (or its refusal, or
  // kInvalidArgument for a request target that is not a URL). Call it once
  // per request: the body is moved out.
  absl::StatusOr<Request> TakeRequest();

  // The request line and headers are all in (kNeedMore while the body
  // arrives, or kComplete).
  bool headers_complete() const { return headers_complete_; }
  // The client waits for "HTTP/1.1 100 Continue" before sending its body
  // (an "Expect: 100-continue" header of an HTTP/1.1 request); known once
  // headers_complete().
  bool expects_continue() const { return expects_continue_; }
  // A HEAD request (its reply has no body); known once headers_complete().
  bool head() const { return head_; }
  // The connection may carry another request after this one's reply
  // (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection:
  // keep-alive"); known once kComplete, false on an error.
  bool keep_alive() const { return keep_alive_; }

  // The complete request as the parser holds it, before TakeRequest(), for
  // a connection that recognises a request it has seen (a /pull polling
  // again, worker.cc) without making a Request: the request target as
  // sent, whether the method is GET, whether a body came, and the
  // Authorization header as sent.
  absl::string_view target() const { return url_; }
  bool get() const;
  bool has_body() const { return !body_.empty(); }
  absl::string_view authorization() const { return authorization_; }

  // Readies the parser for the next request on the same connection.
  void Reset();

 private:
  static int OnUrl(http_parser* p, const char* at, size_t n);
  static int OnHeaderField(http_parser* p, const char* at, size_t n);
  static int OnHeaderValue(http_parser* p, const char* at, size_t n);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t n);
  static int OnChunkHeader(http_parser* p);
  static int OnMessageComplete(http_parser* p);

  // A header field's name is complete: chooses where its value goes.
  void ChooseValue();
  // Refuses a body that would grow past the limit by `more` bytes.
  bool BodyTooLarge(uint64_t more);

  const RequestLimits limits_;
  std::unique_ptr<http_parser> parser_;
  State state_ = State::kNeedMore;
  absl::Status error_;
  size_t header_bytes_ = 0;  // consumed before the headers were complete
  std::string url_;          // the request target as sent
  std::string body_;
  std::string field_;  // the header field's name being read
  bool in_value_ = false;
  std::string* value_ = nullptr;  // where the value being read goes, if kept
  std::string content_type_;
  std::string authorization_;
  std::string last_event_id_;
  std::string expect_;
  uint8_t seen_ = 0;  // which of the kept headers came (the first one wins)
  bool headers_complete_ = false;
  bool expects_continue_ = false;
  bool head_ = false;
  bool keep_alive_ = false;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_REQUEST_PARSER_H_
