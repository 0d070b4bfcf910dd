#include "server/net/router.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/graphite/handlers.h"
#include "server/handlers/bench.h"
#include "server/handlers/handlers.h"
#include "server/net/protection.h"

namespace canopy {
namespace {

using Handler = absl::StatusOr<Outcome> (*)(const Request&, HandlerContext&);

// Any handler returning StatusOr<Response>, <Deferred> or <Hold> as a
// Handler.
template <auto F>
absl::StatusOr<Outcome> Call(const Request& request, HandlerContext& ctx) {
  auto result = F(request, ctx);
  if (!result.ok()) return result.status();
  return Outcome(std::move(*result));
}

enum class Match {
  kExact,         // the path, or the path and a '/'
  kPrefix,        // anything under the path (which ends with '/')
  kUnder,         // anything under the path, but not the path itself
  kPrefixOrSelf,  // the path itself or anything under path + "/"
};

struct Route {
  const char* path;
  Match match;
  const char* method;  // nullptr: the handler takes every method
  Handler handler;
};

// In order: the first route whose path and method match serves.
constexpr Route kRoutes[] = {
    {"/push", Match::kExact, "POST", Call<HandlePush>},
    {"/get", Match::kExact, "GET", Call<HandleGet>},
    {"/pull", Match::kExact, "GET", Call<HandlePull>},
    {"/stream", Match::kExact, "GET", Call<HandleStream>},
    {"/api/q/", Match::kPrefix, "DELETE", Call<HandleDelete>},
    {"/api/q/", Match::kPrefix, "GET", Call<HandleQuery>},
    {"/diff/", Match::kUnder, "GET", Call<HandleDiff>},
    {"/api/views", Match::kPrefixOrSelf, nullptr, Call<HandleViews>},
    {"/graph/", Match::kPrefix, "GET", Call<HandleGraph>},
    {"/trend", Match::kExact, "GET", Call<HandleTrend>},
    {"/api/markers", Match::kExact, "GET", Call<HandleMarkers>},
    {"/api/units", Match::kExact, "GET", Call<HandleUnits>},
    {"/metrics", Match::kExact, "GET", Call<HandleMetrics>},
    {"/api/cluster", Match::kExact, "GET", Call<HandleCluster>},
    // The Graphite render API (server/graphite/): GET, or POST as a form.
    {"/render", Match::kExact, nullptr, Call<HandleRender>},
    {"/metrics/find", Match::kExact, nullptr, Call<HandleMetricsFind>},
    {"/metrics/expand", Match::kExact, nullptr, Call<HandleMetricsExpand>},
    {"/metrics/index.json", Match::kExact, "GET", Call<HandleMetricsIndex>},
    {"/version", Match::kExact, "GET", Call<HandleGraphiteVersion>},
    {"/functions", Match::kExact, "GET", Call<HandleGraphiteFunctions>},
    {"/tags/autoComplete/", Match::kUnder, "GET", Call<HandleGraphiteTags>},
    {"/api/v1/read", Match::kExact, "POST", Call<HandleRemoteRead>},
    {"/api/bench/download", Match::kExact, "GET", Call<HandleBenchDownload>},
    {"/api/bench/upload", Match::kExact, "POST", Call<HandleBenchUpload>},
};

bool PathMatches(const Route& r, absl::string_view path) {
  absl::string_view p = r.path;
  switch (r.match) {
    case Match::kExact:
      return path == p || (path.size() == p.size() + 1 &&
                           absl::StartsWith(path, p) && path.back() == '/');
    case Match::kPrefix:
      return absl::StartsWith(path, p);
    case Match::kUnder:
      return absl::StartsWith(path, p) && path.size() > p.size();
    case Match::kPrefixOrSelf:
      return path == p || absl::StartsWith(path, absl::StrCat(p, "/"));
  }
  return false;
}

bool MethodMatches(const Route& r, absl::string_view method) {
  if (r.method == nullptr || method == r.method) return true;
  return method == "HEAD" && std::strcmp(r.method, "GET") == 0;
}

}  // namespace

absl::Status Authorize(const Request& request, const ServerOptions& options,
                       bool write) {
  const std::string& token = write ? options.write_token : options.read_token;
  if (token.empty()) return absl::OkStatus();
  std::string given = request.Param("token");
  if (absl::StartsWith(request.authorization, "Bearer ")) {
    given = request.authorization.substr(7);
  }
  if (given.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "this server needs a ", write ? "write" : "read",
        " token: send Authorization: Bearer <token> or ?token=<token>"));
  }
  // Compare in constant time so the token cannot be guessed byte by byte.
  unsigned char diff = given.size() != token.size();
  for (size_t i = 0; i < given.size() && i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  }
  if (diff != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("wrong ", write ? "write" : "read", " token"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Outcome> Dispatch(const Request& request, HandlerContext& ctx) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  if (path == "/healthz") return Call<HandleHealth>(request, ctx);
  // Graphite's POSTs and remote_read only read: the read token is theirs.
  bool write = (method == "POST" || method == "PUT" || method == "DELETE") &&
               !IsGraphiteReadPath(path) && path != "/api/v1/read";
  if (absl::Status s = Authorize(request, *ctx.options, write); !s.ok()) {
    ++ctx.stats->rejected["http"]["auth"];
    return s;
  }
  if (write && ctx.protection != nullptr &&
      !ctx.protection->AdmitsHttpWrite(
          reinterpret_cast<const sockaddr*>(&request.peer))) {
    ++ctx.stats->rejected["http"]["denied"];
    return Protection::Refusal();
  }
  const Route* by_path = nullptr;
  for (const Route& r : kRoutes) {
    if (!PathMatches(r, path)) continue;
    if (MethodMatches(r, method)) return r.handler(request, ctx);
    by_path = &r;
  }
  if (by_path != nullptr) {
    return absl::UnimplementedError(absl::StrCat(method, " is not allowed on ",
                                                 path.substr(0, 100), " (use ",
                                                 by_path->method, ")"));
  }
  if (path == "/") return Call<HandleRoot>(request, ctx);
  if (method == "GET" && IsPagePath(path)) {
    return Call<HandlePage>(request, ctx);
  }
  return absl::NotFoundError(
      absl::StrCat("no such endpoint: ", path.substr(0, 100)));
}

}  // namespace canopy
