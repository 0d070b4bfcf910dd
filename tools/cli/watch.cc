// canopy watch KEY...: the leaves under the keys as they change, by
// long-poll (GET /pull from the seq of now, or --since); a removed leaf,
// or one gone when the server resets the watch, prints as "(removed)".
// Outlives a server restart: retries with backoff (client.h's Backoff).
//
// Threads: the CLI's one thread.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

ABSL_FLAG(int, count, 0, "watch: stop after this many replies with changes");
ABSL_FLAG(int64_t, since, -1,
          "watch: start after this seq (-1: from now; 0: every leaf first)");

namespace canopy {
namespace cli {
namespace {

// How long a watch asks the server to hold each /pull.
constexpr int kPollSeconds = 30;

// A reply of the watch with its "seq".
struct SeqReply {
  HttpReply reply;
  rapidjson::Document doc;
  int64_t seq = 0;
};

// GETs `target` (`timeout`: 0 for --timeout) until the server answers,
// backing off while it is away; the error that ends the watch otherwise.
absl::StatusOr<SeqReply> GetWithSeq(const Server& server,
                                    const std::string& target, double timeout,
                                    Backoff* backoff) {
  while (true) {
    absl::StatusOr<HttpReply> reply =
        server.Call("GET", target, "", "", timeout);
    if (!reply.ok()) {
      if (!Transient(reply.status())) return reply.status();
      backoff->Wait(reply.status());
      continue;
    }
    backoff->Succeeded();
    absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
    if (!doc.ok()) return doc.status();
    auto seq = doc->FindMember("seq");
    if (seq == doc->MemberEnd() || !seq->value.IsInt64()) {
      return absl::DataLossError(
          absl::StrCat("the server's ", target.substr(0, target.find('?')),
                       " reply has no seq"));
    }
    SeqReply out;
    out.seq = seq->value.GetInt64();
    out.reply = *std::move(reply);
    out.doc = *std::move(doc);
    return out;
  }
}

}  // namespace

const char kWatchHelp[] = R"help(Usage: canopy [flags] watch KEY...

Prints the leaves under the keys each time they change (long-poll on
GET /pull), as "key value" lines; a removed leaf prints as "key (removed)".
Starts from now unless --since says otherwise; while the server is away it
retries with backoff and says so on stderr. Ctrl-C stops it.

  --count=N   stop after N replies with changes (0: never)
  --since=S   start after seq S (0: every leaf first, then the changes)
  --json      print each reply of the server on one line

Example:
  canopy watch host,web1,cpu --count=1
)help";

int WatchCommand(const Server& server, const Args& keys) {
  if (keys.empty()) return UsageError("watch needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  const std::string query = KeyQuery(keys);
  const bool json = absl::GetFlag(FLAGS_json);
  const int count = absl::GetFlag(FLAGS_count);
  Backoff backoff;
  // The units of leaves that exist now; later ones get their name's.
  if (!json) LoadUnits(server, keys);

  // Without --since, start from the seq of now so that no change between
  // this request and the first /pull is lost.
  int64_t since = absl::GetFlag(FLAGS_since);
  if (since < 0) {
    absl::StatusOr<SeqReply> now = GetWithSeq(
        server, absl::StrCat("/get?", query, "&limit=1"), 0, &backoff);
    if (!now.ok()) return Fail(now.status().message());
    since = now->seq;
  }

  // The leaves seen so far, to report those gone when the server resets us.
  absl::flat_hash_set<std::string> known;
  int replies = 0;
  while (count <= 0 || replies < count) {
    absl::StatusOr<SeqReply> pulled =
        GetWithSeq(server,
                   absl::StrCat("/pull?", query, "&since=", since,
                                "&timeout=", kPollSeconds),
                   kPollSeconds + absl::GetFlag(FLAGS_timeout), &backoff);
    if (!pulled.ok()) return Fail(pulled.status().message());
    since = pulled->seq;
    const rapidjson::Document* doc = &pulled->doc;
    const HttpReply* reply = &pulled->reply;
    auto reset_member = doc->FindMember("reset");
    bool reset =
        reset_member != doc->MemberEnd() && reset_member->value.IsTrue();
    std::vector<std::pair<std::string, const rapidjson::Value*>> items =
        Items(*doc);
    if (items.empty() && !reset) continue;  // the poll timed out

    if (json) {
      std::string line = reply->body;
      line.erase(std::remove(line.begin(), line.end(), '\n'), line.end());
      std::cout << line << std::endl;
    } else {
      std::vector<std::vector<std::string>> rows;
      if (reset) {
        // Every leaf under the keys follows; those we knew that are not
        // among them are gone.
        absl::flat_hash_set<std::string> now;
        for (const auto& item : items) now.insert(item.first);
        std::vector<std::string> gone;
        for (const std::string& k : known) {
          if (!now.contains(k)) gone.push_back(k);
        }
        std::sort(gone.begin(), gone.end());
        for (std::string& k : gone) rows.push_back({std::move(k), "(removed)"});
        known.clear();
      }
      for (const auto& [key, value] : items) {
        rows.push_back({key, DisplayValue(key, *value)});
      }
      PrintTable(rows, {Colour::kKey, Colour::kValue});
      std::cout.flush();
    }
    for (const auto& [key, value] : items) {
      if (value->IsNull()) {
        known.erase(key);
      } else {
        known.insert(key);
      }
    }
    ++replies;
  }
  return kOk;
}

}  // namespace cli
}  // namespace canopy
