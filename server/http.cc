#include "server/http.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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

// Appends the fields of a query string ("a=1&b=2", '+' as space).
absl::Status ParseQuery(const char* text,
                        std::vector<std::pair<std::string, std::string>>* out) {
  evkeyvalq fields;
  fields.tqh_first = nullptr;
  fields.tqh_last = &fields.tqh_first;
  if (evhttp_parse_query_str(text, &fields) != 0) {
    evhttp_clear_headers(&fields);
    return absl::InvalidArgumentError("malformed query string");
  }
  for (evkeyval* kv = fields.tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    out->emplace_back(kv->key, kv->value);
  }
  evhttp_clear_headers(&fields);
  return absl::OkStatus();
}

}  // namespace

std::string RequestHeader(evhttp_request* req, const char* name) {
  const char* v =
      evhttp_find_header(evhttp_request_get_input_headers(req), name);
  return v ? v : "";
}

absl::StatusOr<Request> ToRequest(evhttp_request* req) {
  Request r;
  r.method = MethodName(evhttp_request_get_command(req));
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  if (path == nullptr || *path == '\0') path = "/";
  r.raw_path = path;
  size_t decoded_len = 0;
  char* decoded = evhttp_uridecode(path, 0, &decoded_len);
  if (decoded == nullptr) return absl::InvalidArgumentError("malformed path");
  r.path.assign(decoded, decoded_len);
  free(decoded);
  if (r.path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("NUL byte in path");
  }
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  if (query != nullptr) {
    if (absl::Status s = ParseQuery(query, &r.query); !s.ok()) return s;
  }
  r.content_type = RequestHeader(req, "Content-Type");
  evbuffer* in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  if (n > 0) {
    r.body.resize(n);
    evbuffer_copyout(in, &r.body[0], n);
  }
  // curl -d sends JSON with a form content type: a body that opens like
  // JSON is taken as JSON.
  size_t first = r.body.find_first_not_of(" \t\r\n");
  bool looks_json = first != std::string::npos &&
                    (r.body[first] == '{' || r.body[first] == '[');
  if (looks_json &&
      absl::StartsWith(r.content_type, "application/x-www-form-urlencoded")) {
    r.content_type = "application/json";
  }
  if (absl::StartsWith(r.content_type, "application/x-www-form-urlencoded")) {
    std::string body = r.body;
    if (absl::Status s = ParseQuery(body.c_str(), &r.query); !s.ok()) return s;
    if (body.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("NUL byte in form body");
    }
  }
  return r;
}

void SendResponse(evhttp_request* req, const Response& response) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", response.content_type.c_str());
  for (const auto& [name, value] : response.headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  evbuffer* buf = evbuffer_new();
  evbuffer_add(buf, response.body.data(), response.body.size());
  const char* reason = response.status < 300   ? "OK"
                       : response.status < 400 ? "Redirect"
                                               : "Error";
  evhttp_send_reply(req, response.status, reason, buf);
  evbuffer_free(buf);
}

}  // namespace canopy
