// The libevent adapter: evhttp requests to plain Requests and Responses back.
#ifndef CANOPY_SERVER_HTTP_H_
#define CANOPY_SERVER_HTTP_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/handlers.h"

struct evhttp_request;

namespace canopy {

// Reads method, decoded path, query (and, for a form body, its fields
// appended to the query), content type and body. Fails on a malformed URI.
absl::StatusOr<Request> ToRequest(evhttp_request* req);

// The value of request header `name`, or "".
std::string RequestHeader(evhttp_request* req, const char* name);

// Writes a response (evhttp then owns and frees the request).
void SendResponse(evhttp_request* req, const Response& response);

}  // namespace canopy

#endif  // CANOPY_SERVER_HTTP_H_
