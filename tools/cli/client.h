// The CLI's side of the HTTP API (docs/API.md): one Server per run, which
// sends each request through canopy::HttpClient with the token, turns
// transport errors and non-2xx replies into one-line statuses that say what
// to check, and the helpers every command shares: reading a JSON reply,
// building ?key= queries, checking patterns, and backing off while the
// server is away.
//
//   Server server(*HttpClient::FromUrl(url), token, /*timeout=*/10);
//   absl::StatusOr<HttpReply> reply = server.Call("GET", "/get?key=a");
//   if (!reply.ok()) return Fail(reply.status().message());
//
// Threads: the CLI is single-threaded; a Server is used by one thread.
#ifndef CANOPY_TOOLS_CLI_CLIENT_H_
#define CANOPY_TOOLS_CLI_CLIENT_H_

#include <random>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/http_client.h"
#include "rapidjson/document.h"

namespace canopy {
namespace cli {

class Server {
 public:
  explicit Server(HttpClient client, std::string token, double timeout)
      : client_(std::move(client)),
        token_(std::move(token)),
        timeout_(timeout) {}

  // Sends a request and turns a non-2xx reply into an error carrying the
  // server's {"error": ...} message. `timeout` overrides --timeout.
  absl::StatusOr<HttpReply> Call(absl::string_view method,
                                 absl::string_view target,
                                 absl::string_view body = "",
                                 absl::string_view content_type = "",
                                 double timeout = 0) const;

  // The reply whatever its status; only transport errors fail.
  absl::StatusOr<HttpReply> CallAny(absl::string_view method,
                                    absl::string_view target,
                                    absl::string_view body,
                                    absl::string_view content_type) const;

  // The error of a non-2xx reply, as Call makes it.
  static absl::Status ReplyError(const HttpReply& reply);

  std::string address() const;

 private:
  // The request with the token; only transport errors fail (explained).
  absl::StatusOr<HttpReply> Send(absl::string_view method,
                                 absl::string_view target,
                                 absl::string_view body,
                                 absl::string_view content_type,
                                 double timeout) const;

  // Turns a transport error into a line that says what to check.
  absl::Status Explain(const absl::Status& s) const;

  HttpClient client_;
  std::string token_;
  double timeout_;
};

// The reply's body as a JSON object; DataLoss if it is not one.
absl::StatusOr<rapidjson::Document> ParseReply(const HttpReply& reply);

// What most commands do: one request (Server::Call) whose JSON reply is
// printed as it is when `raw` (--json), or else parsed and handed to
// `print`. Returns the exit code (tools/cli/output.h); errors are printed.
int CallAndPrint(const Server& server, absl::string_view method,
                 absl::string_view target, bool raw,
                 absl::FunctionRef<int(const rapidjson::Document&)> print,
                 absl::string_view body = "",
                 absl::string_view content_type = "");

// For a person (ForPerson()): asks the server the units of the leaves under
// `keys` (GET /api/units) and keeps them for ReadableNumber
// (SetServerUnits). A server without /api/units, or any failure, leaves
// the units the keys' names imply: figures still print.
void LoadUnits(const Server& server, const std::vector<std::string>& keys);

// "key=a&key=b" for the query string.
std::string KeyQuery(const std::vector<std::string>& keys);

// Whether every key is a valid pattern (the first error if not).
absl::Status CheckPatterns(const std::vector<std::string>& keys);

// Retries with exponential backoff and jitter while the server is away, and
// says so once per outage on stderr.
class Backoff {
 public:
  // Says why on the first failure of an outage, then sleeps.
  void Wait(const absl::Status& why);
  void Succeeded();

 private:
  static constexpr double kMaxSeconds = 30;
  int failures_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

// True for the errors a watch outlives: the server is down, restarting,
// overloaded, or the connection broke.
bool Transient(const absl::Status& s);

}  // namespace cli
}  // namespace canopy

#endif  // CANOPY_TOOLS_CLI_CLIENT_H_
