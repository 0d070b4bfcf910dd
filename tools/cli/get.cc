// canopy get KEY...: the leaves under the keys now (GET /get), as aligned
// "key value" lines.
//
// Threads: the CLI's one thread.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

ABSL_FLAG(int, limit, 0, "get: at most this many leaves (0: server default)");

namespace canopy {
namespace cli {

const char kGetHelp[] = R"help(Usage: canopy [flags] get KEY...

Prints the leaves under each KEY as they are now (GET /get): one line per
leaf, its key and its value, the values in one column. A segment of KEY may
be * (any one segment), a glob such as web*, or ** (any depth).

  --limit=N   at most N leaves (0, the default: the server's limit); when
              more match, "truncated" is said on stderr
  --json      print the server's reply as it is

Example:
  canopy get 'host,*,load,1'
)help";

int GetCommand(const Server& server, const Args& keys) {
  if (keys.empty()) return UsageError("get needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  std::string target = absl::StrCat("/get?", KeyQuery(keys));
  if (int limit = absl::GetFlag(FLAGS_limit); limit > 0) {
    absl::StrAppend(&target, "&limit=", limit);
  }
  if (!absl::GetFlag(FLAGS_json)) LoadUnits(server, keys);
  return CallAndPrint(
      server, "GET", target, absl::GetFlag(FLAGS_json),
      [](const rapidjson::Document& doc) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& [key, value] : Items(doc)) {
          rows.push_back({key, DisplayValue(key, *value)});
        }
        PrintTable(rows, {Colour::kKey, Colour::kValue});
        auto truncated = doc.FindMember("truncated");
        if (truncated != doc.MemberEnd() && truncated->value.IsTrue()) {
          std::cout.flush();
          std::cerr << "canopy: truncated after " << rows.size()
                    << " leaves (see --limit)" << std::endl;
        }
        return kOk;
      });
}

}  // namespace cli
}  // namespace canopy
