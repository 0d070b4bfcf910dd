// canopy diff A B: the subtrees A and B aligned by relative path
// (GET /diff/A/B), as a table with the difference of each pair.
//
// Threads: the CLI's one thread.
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

namespace canopy {
namespace cli {
namespace {

std::string DeltaText(const rapidjson::Value& v) {
  if (!v.IsNumber()) return "";
  double d = v.GetDouble();
  return absl::StrCat(d > 0 ? "+" : "", NumberText(d));
}

// The table of a /diff reply: PATH, A, B, DELTA.
void PrintDiff(const rapidjson::Document& doc, const std::string& a,
               const std::string& b) {
  auto field = [](const rapidjson::Value& entry, const char* name) {
    static const rapidjson::Value kNull;
    if (!entry.IsObject()) return &kNull;
    auto it = entry.FindMember(name);
    return it == entry.MemberEnd() ? &kNull : &it->value;
  };
  auto entries = [&](const char* name) {
    std::vector<const rapidjson::Value*> out;
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsArray()) return out;
    for (const auto& e : it->value.GetArray()) out.push_back(&e);
    return out;
  };
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"PATH", a, b, "DELTA"});
  for (const rapidjson::Value* e : entries("both")) {
    const std::string path = ValueText(*field(*e, "path"));
    rows.push_back({path, DisplayValue(path, *field(*e, "a")),
                    DisplayValue(path, *field(*e, "b")),
                    DeltaText(*field(*e, "delta"))});
  }
  for (const rapidjson::Value* e : entries("only_a")) {
    const std::string path = ValueText(*field(*e, "path"));
    rows.push_back(
        {path, DisplayValue(path, *field(*e, "value")), "-", "only in A"});
  }
  for (const rapidjson::Value* e : entries("only_b")) {
    const std::string path = ValueText(*field(*e, "path"));
    rows.push_back(
        {path, "-", DisplayValue(path, *field(*e, "value")), "only in B"});
  }
  PrintTable(rows, {Colour::kKey, Colour::kValue, Colour::kValue});
}

}  // namespace

const char kDiffHelp[] = R"help(Usage: canopy [flags] diff A B

Prints the subtrees A and B side by side, aligned by their path below A
and B (GET /diff/A/B): a row per path with both values and B - A, then the
paths only one of them has.

  --json      print the server's reply as it is

Example:
  canopy diff br,ie br,webkit
)help";

int DiffCommand(const Server& server, const Args& args) {
  if (args.size() != 2) return UsageError("diff takes two KEYs");
  for (const std::string& key : args) {
    if (absl::StatusOr<KeySegments> s = SplitKey(key); !s.ok()) {
      return Fail(s.status().message());
    }
  }
  std::string target =
      absl::StrCat("/diff/", UrlEncode(args[0]), "/", UrlEncode(args[1]));
  return CallAndPrint(server, "GET", target, absl::GetFlag(FLAGS_json),
                      [&](const rapidjson::Document& doc) {
                        PrintDiff(doc, args[0], args[1]);
                        return kOk;
                      });
}

}  // namespace cli
}  // namespace canopy
