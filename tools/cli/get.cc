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

int GetCommand(const Server& server, const Args& keys) {
  if (keys.empty()) return UsageError("get needs at least one KEY");
  if (absl::Status s = CheckPatterns(keys); !s.ok()) return Fail(s.message());
  std::string target = absl::StrCat("/get?", KeyQuery(keys));
  if (int limit = absl::GetFlag(FLAGS_limit); limit > 0) {
    absl::StrAppend(&target, "&limit=", limit);
  }
  return CallAndPrint(
      server, "GET", target, absl::GetFlag(FLAGS_json),
      [](const rapidjson::Document& doc) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& [key, value] : Items(doc)) {
          rows.push_back({key, ValueText(*value)});
        }
        PrintTable(rows);
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
