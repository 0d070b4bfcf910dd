#include "server/net/response_write.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace canopy {
namespace {

bool HasLineBreak(absl::string_view s) {
  return s.find_first_of("\r\n") != absl::string_view::npos;
}

}  // namespace

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 507:
      return "Insufficient Storage";
  }
  return status < 300 ? "OK" : status < 400 ? "Redirect" : "Error";
}

bool AppendResponseHead(const Response& response, bool keep_alive,
                        std::string* out) {
  for (const auto& [name, value] : response.headers) {
    if (absl::EqualsIgnoreCase(name, "Connection") &&
        absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(value), "close")) {
      keep_alive = false;
    }
  }
  absl::StrAppend(out, "HTTP/1.1 ", response.status, " ",
                  ReasonPhrase(response.status), "\r\n");
  if (!response.content_type.empty() && !HasLineBreak(response.content_type)) {
    absl::StrAppend(out, "Content-Type: ", response.content_type, "\r\n");
  }
  absl::StrAppend(out, "Content-Length: ", response.body.size(),
                  keep_alive ? "\r\nConnection: keep-alive\r\n"
                             : "\r\nConnection: close\r\n");
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value) ||
        absl::EqualsIgnoreCase(name, "Connection") ||
        absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    absl::StrAppend(out, name, ": ", value, "\r\n");
  }
  out->append("\r\n");
  return keep_alive;
}

void AppendStreamHead(std::string* out) {
  out->append(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n"
      "Connection: close\r\n"
      "\r\n");
}

}  // namespace canopy
