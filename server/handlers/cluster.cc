// GET /api/cluster: this node's view of its cluster, from the Cluster the
// server holds (server/cluster/cluster.h).
//
// Threads: the event-loop thread.
#include "server/cluster/cluster.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "canopy/http_client.h"
#include "canopy/key.h"
#include "server/handlers/handlers.h"

namespace canopy {

absl::StatusOr<Response> HandleCluster(const Request& request,
                                       HandlerContext& ctx) {
  if (ctx.cluster == nullptr) {
    return absl::NotFoundError(
        "canopyd runs alone: start it with --cluster to join one");
  }
  const std::string key = request.Param("key");
  if (!key.empty()) {
    if (absl::StatusOr<KeySegments> k = SplitKey(key); !k.ok()) {
      return k.status();
    }
  }
  Response r;
  r.body = ctx.cluster->StatusJson(key);
  return r;
}

std::optional<Deferred> ForwardToOwner(const Request& request,
                                       HandlerContext& ctx,
                                       absl::string_view key) {
  if (ctx.cluster == nullptr || request.HasParam("forwarded")) {
    return std::nullopt;
  }
  absl::StatusOr<KeySegments> segs = SplitKey(key);
  if (!segs.ok() || segs->empty()) return std::nullopt;
  // Only a key whose owner is known: no glob where the shard is chosen.
  for (size_t i = 0; i < segs->size() && i < ctx.cluster->ring().depth(); ++i) {
    if ((*segs)[i].find('*') != absl::string_view::npos) return std::nullopt;
  }
  std::optional<std::string> owner = ctx.cluster->OwnerHttp(*segs);
  if (!owner) return std::nullopt;
  // The request as it came, marked so that the owner answers it itself.
  std::string target =
      absl::StrCat(request.raw_path.empty() ? request.path : request.raw_path,
                   "?forwarded=1");
  for (const auto& [name, value] : request.query) {
    absl::StrAppend(&target, "&", UrlEncode(name), "=", UrlEncode(value));
  }
  HttpHeaders headers;
  if (!request.authorization.empty()) {
    headers.emplace_back("Authorization", request.authorization);
  }
  const std::string address = *owner;
  return Deferred{[address, target, headers](TrendStore&) {
    Response r;
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      return ErrorResponse(absl::InternalError(
          absl::StrCat("the owner's address ", address, " is not HOST:PORT")));
    }
    // On the trend thread: a bounded wait for the owner's answer.
    absl::StatusOr<HttpReply> reply =
        HttpClient(address.substr(0, colon), port, 10)
            .Request("GET", target, "", headers);
    if (!reply.ok()) {
      r = ErrorResponse(absl::UnavailableError(
          absl::StrCat("the shard that owns this key (", address,
                       ") did not answer: ", reply.status().message())));
      r.status = 502;
      return r;
    }
    r.status = reply->status;
    r.body = std::move(reply->body);
    const std::string type = reply->Header("content-type");
    if (!type.empty()) r.content_type = type;
    return r;
  }};
}

}  // namespace canopy
