// The libevent adapter: evhttp requests to plain Requests, and Responses
// back to evhttp. The only place that reads or writes an evhttp request for
// the handlers (comet's held requests write their own replies:
// held_requests.h).
//
// Threads: the event-loop thread.
#ifndef CANOPY_SERVER_NET_HTTP_ADAPTER_H_
#define CANOPY_SERVER_NET_HTTP_ADAPTER_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/handlers/request.h"

struct evhttp_request;

namespace canopy {

// Reads the method, path, query, the headers a Request carries and the body,
// and makes the Request with MakeRequest (request_parse.h), which says what
// is decoded and what is refused.
absl::StatusOr<Request> ToRequest(evhttp_request* req);

// Writes a response (evhttp then owns and frees the request).
void SendResponse(evhttp_request* req, const Response& response);

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_HTTP_ADAPTER_H_
