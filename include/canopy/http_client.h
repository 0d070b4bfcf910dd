// A small blocking HTTP/1.1 client for the CLI, the agent and the tests:
// one request per connection, Content-Length or chunked replies.
//
//   canopy::HttpClient client("127.0.0.1", 7575);
//   absl::StatusOr<canopy::HttpReply> r = client.Request("GET", "/get?key=br");
//   if (r.ok() && r->status == 200) { /* r->body */ }
//
// For streams (SSE), Stream() calls back with each chunk of the body as it
// arrives until the callback returns false or the server closes.
//
// Thread-compatible: one client per thread.
#ifndef CANOPY_HTTP_CLIENT_H_
#define CANOPY_HTTP_CLIENT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

struct HttpReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;

  // The first header named `name` (lower case), or "".
  std::string Header(absl::string_view name) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  HttpClient(std::string host, int port, double timeout_seconds = 60)
      : host_(std::move(host)), port_(port), timeout_(timeout_seconds) {}

  // Parses "http://host:port" or "host:port" (default port 7575).
  static absl::StatusOr<HttpClient> FromUrl(absl::string_view url);

  absl::StatusOr<HttpReply> Request(absl::string_view method,
                                    absl::string_view target,
                                    absl::string_view body = "",
                                    const HttpHeaders& headers = {}) const;

  // Sends a GET and hands each piece of the body to `on_data` as it comes.
  // Returns the status line's code once the stream ends.
  absl::StatusOr<int> Stream(
      absl::string_view target, const HttpHeaders& headers,
      const std::function<bool(absl::string_view)>& on_data) const;

  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  std::string host_;
  int port_;
  double timeout_;
};

// Percent-encodes a query or path component.
std::string UrlEncode(absl::string_view s);

}  // namespace canopy

#endif  // CANOPY_HTTP_CLIENT_H_
