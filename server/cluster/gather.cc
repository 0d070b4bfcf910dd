#include "server/cluster/gather.h"

#include <string>
#include <thread>
#include <utility>
#include <vector>

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
  // Every other shard is asked at once, a thread each (joined here): the
  // read takes the slowest shard's time, not the sum of theirs.
  struct Ask {
    size_t shard = 0;
    std::string host;
    int port = 0;
    absl::StatusOr<HttpReply> reply = absl::UnknownError("not asked");
  };
  std::vector<Ask> asks;
  for (size_t i = 0; i < shards->ring.shards().size(); ++i) {
    if (shards->Owns(i)) continue;
    const std::string& address = shards->http[i];
    const size_t colon = address.rfind(':');
    Ask ask;
    ask.shard = i;
    if (address.empty() || colon == std::string::npos ||
        !absl::SimpleAtoi(address.substr(colon + 1), &ask.port)) {
      return absl::UnavailableError(
          absl::StrCat("shard ", shards->ring.shards()[i],
                       " is not heard from: its series cannot be read"));
    }
    ask.host = address.substr(0, colon);
    asks.push_back(std::move(ask));
  }
  std::vector<std::thread> threads;
  threads.reserve(asks.size());
  for (Ask& ask : asks) {
    threads.emplace_back([&ask, &forwarded, &headers] {
      ask.reply = HttpClient(ask.host, ask.port, kAskSeconds)
                      .Request("GET", forwarded, "", headers);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Ask& ask : asks) {
    const std::string& name = shards->ring.shards()[ask.shard];
    const std::string& address = shards->http[ask.shard];
    if (!ask.reply.ok()) {
      return absl::UnavailableError(
          absl::StrCat("shard ", name, " (", address,
                       ") did not answer: ", ask.reply.status().message()));
    }
    if (ask.reply->status != 200) {
      return absl::UnavailableError(absl::StrCat(
          "shard ", name, " (", address, ") answered ", ask.reply->status, ": ",
          ask.reply->body.substr(0, 200)));
    }
    if (absl::Status s = on_body(ask.reply->body); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("shard ", name, " (", address,
                                                 ") answered: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace canopy
