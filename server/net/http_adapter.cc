#include "server/net/http_adapter.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "server/net/request_parse.h"
#include "server/net/response_write.h"

namespace canopy {
namespace {

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    default:
      return "OTHER";
  }
}

absl::string_view HeaderOr(const evkeyvalq* headers, const char* name) {
  const char* v = evhttp_find_header(headers, name);
  return v ? v : "";
}

}  // namespace

absl::StatusOr<Request> ToRequest(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  evkeyvalq* in_headers = evhttp_request_get_input_headers(req);
  RequestHeaders headers;
  headers.content_type = HeaderOr(in_headers, "Content-Type");
  headers.authorization = HeaderOr(in_headers, "Authorization");
  headers.last_event_id = HeaderOr(in_headers, "Last-Event-ID");
  std::string body;
  evbuffer* in = evhttp_request_get_input_buffer(req);
  if (size_t n = evbuffer_get_length(in); n > 0) {
    body.resize(n);
    evbuffer_copyout(in, &body[0], n);
  }
  return MakeRequest(MethodName(evhttp_request_get_command(req)),
                     path ? path : "", query ? query : "", headers,
                     std::move(body));
}

void SendResponse(evhttp_request* req, const Response& response) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", response.content_type.c_str());
  for (const auto& [name, value] : response.headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  evbuffer* buf = evbuffer_new();
  evbuffer_add(buf, response.body.data(), response.body.size());
  evhttp_send_reply(req, response.status, ReasonPhrase(response.status), buf);
  evbuffer_free(buf);
}

}  // namespace canopy
