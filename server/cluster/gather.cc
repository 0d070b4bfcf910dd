#include "server/cluster/gather.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "canopy/http_client.h"
#include "server/cluster/cluster.h"

namespace canopy {

ShardScope ShardScopeOf(const Request& request, const HandlerContext& ctx) {
  ShardScope scope;
  if (ctx.cluster == nullptr) return scope;
  scope.shards = ctx.cluster->Shards();
  scope.gather = !request.HasParam("forwarded");
  scope.authorization = request.authorization;
  return scope;
}

absl::Status ShardScope::AskOthers(
    absl::string_view target,
    const std::function<absl::Status(absl::string_view body)>& on_body) const {
  if (!shards || !gather) return absl::OkStatus();
  HttpHeaders headers;
  if (!authorization.empty()) {
    headers.emplace_back("Authorization", authorization);
  }
  const std::string forwarded = absl::StrCat(
      target, target.find('?') == absl::string_view::npos ? "?" : "&",
      "forwarded=1");
  for (size_t i = 0; i < shards->ring.shards().size(); ++i) {
    if (shards->Owns(i)) continue;
    const std::string& name = shards->ring.shards()[i];
    const std::string& address = shards->http[i];
    const size_t colon = address.rfind(':');
    int port = 0;
    if (address.empty() || colon == std::string::npos ||
        !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      return absl::UnavailableError(absl::StrCat(
          "shard ", name, " is not heard from: its series cannot be read"));
    }
    absl::StatusOr<HttpReply> reply =
        HttpClient(address.substr(0, colon), port, kAskSeconds)
            .Request("GET", forwarded, "", headers);
    if (!reply.ok()) {
      return absl::UnavailableError(
          absl::StrCat("shard ", name, " (", address,
                       ") did not answer: ", reply.status().message()));
    }
    if (reply->status != 200) {
      return absl::UnavailableError(
          absl::StrCat("shard ", name, " (", address, ") answered ",
                       reply->status, ": ", reply->body.substr(0, 200)));
    }
    if (absl::Status s = on_body(reply->body); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("shard ", name, " (", address,
                                                 ") answered: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace canopy
