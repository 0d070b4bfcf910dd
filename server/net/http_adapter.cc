#include "server/net/http_adapter.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes and '+' as space, as evhttp_parse_query_str decodes, but
// binary-safe: a %00 stays in the value (an access log of binary garbage
// must not cut the lines after it).
std::string FormDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Appends the fields of a query string ("a=1&b=2", '+' as space). A field
// without '=' or with an empty name is malformed.
absl::Status ParseQuery(absl::string_view text,
                        std::vector<std::pair<std::string, std::string>>* out) {
  if (text.empty()) return absl::OkStatus();
  for (absl::string_view field : absl::StrSplit(text, '&')) {
    if (field.empty()) continue;  // "a=1&"
    const size_t eq = field.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError("malformed query string");
    }
    std::string key = FormDecode(field.substr(0, eq));
    if (key.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("NUL byte in a field name");
    }
    out->emplace_back(std::move(key), FormDecode(field.substr(eq + 1)));
  }
  return absl::OkStatus();
}

std::string RequestHeader(evhttp_request* req, const char* name) {
  const char* v =
      evhttp_find_header(evhttp_request_get_input_headers(req), name);
  return v ? v : "";
}

}  // namespace

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
  r.authorization = RequestHeader(req, "Authorization");
  r.last_event_id = RequestHeader(req, "Last-Event-ID");
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
    if (r.body.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("NUL byte in form body");
    }
    if (absl::Status s = ParseQuery(r.body, &r.query); !s.ok()) return s;
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
