#include "server/net/request_parse.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy {
namespace {

constexpr absl::string_view kFormType = "application/x-www-form-urlencoded";

bool KnownMethod(absl::string_view method) {
  return method == "GET" || method == "POST" || method == "PUT" ||
         method == "DELETE" || method == "HEAD" || method == "OPTIONS";
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

}  // namespace

absl::StatusOr<Request> MakeRequest(absl::string_view method,
                                    absl::string_view path,
                                    absl::string_view query,
                                    const RequestHeaders& headers,
                                    std::string body) {
  if (!KnownMethod(method)) {
    return absl::UnimplementedError(
        absl::StrCat("method ", method, " not allowed"));
  }
  Request r;
  r.method = std::string(method);
  if (path.empty()) path = "/";
  r.raw_path = std::string(path);
  r.path = PercentDecode(path);
  if (r.path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("NUL byte in path");
  }
  if (absl::Status s = ParseQuery(query, &r.query); !s.ok()) return s;
  r.content_type = std::string(headers.content_type);
  r.authorization = std::string(headers.authorization);
  r.last_event_id = std::string(headers.last_event_id);
  r.body = std::move(body);
  // curl -d sends JSON with a form content type: a body that opens like
  // JSON is taken as JSON.
  size_t first = r.body.find_first_not_of(" \t\r\n");
  bool looks_json = first != std::string::npos &&
                    (r.body[first] == '{' || r.body[first] == '[');
  if (looks_json && absl::StartsWith(r.content_type, kFormType)) {
    r.content_type = "application/json";
  }
  if (absl::StartsWith(r.content_type, kFormType)) {
    if (r.body.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("NUL byte in form body");
    }
    if (absl::Status s = ParseQuery(r.body, &r.query); !s.ok()) return s;
  }
  return r;
}

}  // namespace canopy
