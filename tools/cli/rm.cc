// canopy rm KEY: removes the subtree KEY (DELETE /api/q/KEY), never the
// root.
//
// Threads: the CLI's one thread.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "rapidjson/document.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

namespace canopy {
namespace cli {

const char kRmHelp[] = R"help(Usage: canopy [flags] rm KEY

Removes the subtree KEY and says how many leaves went (DELETE /api/q/KEY).
The root is never removed.

  --json      print the server's reply as it is

Example:
  canopy rm host,old
)help";

int RmCommand(const Server& server, const Args& args) {
  if (args.size() != 1) return UsageError("rm takes one KEY");
  const std::string& key = args[0];
  absl::StatusOr<KeySegments> segments = SplitKey(key);
  if (!segments.ok()) return Fail(segments.status().message());
  if (segments->empty()) return UsageError("rm will not remove the root");
  absl::StatusOr<HttpReply> reply =
      server.Call("DELETE", absl::StrCat("/api/q/", UrlEncode(key)));
  if (!reply.ok()) return Fail(reply.status().message());
  if (absl::GetFlag(FLAGS_json)) return PrintRaw(*reply);
  std::string what = absl::StrCat("removed ", key);
  rapidjson::Document doc;
  doc.Parse(reply->body.data(), reply->body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto removed = doc.FindMember("removed");
    if (removed != doc.MemberEnd() && removed->value.IsNumber()) {
      absl::StrAppend(&what, " (", ValueText(removed->value),
                      removed->value.IsInt64() && removed->value.GetInt64() == 1
                          ? " leaf)"
                          : " leaves)");
    }
  }
  std::cout << what << std::endl;
  return kOk;
}

}  // namespace cli
}  // namespace canopy
