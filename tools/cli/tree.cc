// canopy tree [KEY]: the subtree under KEY (GET /api/q/KEY.json?meta=1)
// drawn like tree(1), with values, rates, actions and the last marker.
//
// Threads: the CLI's one thread.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/unit.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

ABSL_FLAG(int, depth, -1, "tree: how many levels below the key (-1: all)");
ABSL_FLAG(bool, actions, false, "tree: show each node's action");

namespace canopy {
namespace cli {
namespace {

// Draws a node of /api/q/K.json?meta=1 and its children like tree(1).
class TreePrinter {
 public:
  explicit TreePrinter(bool actions) : actions_(actions) {}

  void Print(const rapidjson::Value& node, const std::string& label) {
    key_ = label == "." ? "" : label;
    std::cout << Line(label, node) << '\n';
    Children(node, "");
    std::cout << '\n'
              << nodes_ << (nodes_ == 1 ? " node, " : " nodes, ") << leaves_
              << (leaves_ == 1 ? " leaf" : " leaves") << '\n';
  }

 private:
  std::string Line(absl::string_view name, const rapidjson::Value& node) {
    ++nodes_;
    std::string line = Coloured(Colour::kKey, name);
    if (!node.IsObject()) {  // a bare value, should a server send one
      absl::StrAppend(&line, "  ",
                      Coloured(Colour::kValue, DisplayValue(key_, node)));
      ++leaves_;
      return line;
    }
    // A leaf has a value and no children; a node cut off by --depth has
    // no children shown either, but (unless its action aggregates) no value.
    auto children = node.FindMember("children");
    auto value = node.FindMember("value");
    if ((children == node.MemberEnd() || !children->value.IsObject() ||
         children->value.ObjectEmpty()) &&
        value != node.MemberEnd()) {
      ++leaves_;
    }
    if (value != node.MemberEnd() && !value->value.IsNull()) {
      absl::StrAppend(
          &line, "  ",
          Coloured(Colour::kValue, DisplayValue(key_, value->value)));
    }
    auto rate = node.FindMember("rate");
    if (rate != node.MemberEnd() && rate->value.IsNumber()) {
      const double r = rate->value.GetDouble();
      absl::StrAppend(&line, "  ",
                      ForPerson()
                          ? ReadableFigure(r, TrendUnit(UnitOf(key_), "rate"))
                          : absl::StrCat(NumberText(r), "/s"));
    }
    auto action = node.FindMember("action");
    if (actions_ && action != node.MemberEnd() && action->value.IsString()) {
      absl::StrAppend(&line, "  [", action->value.GetString(), "]");
    }
    auto markers = node.FindMember("markers");
    if (markers != node.MemberEnd() && markers->value.IsArray() &&
        !markers->value.Empty()) {
      const rapidjson::Value& last = markers->value[markers->value.Size() - 1];
      auto text = last.IsObject() ? last.FindMember("text") : last.MemberEnd();
      if (last.IsObject() && text != last.MemberEnd() &&
          text->value.IsString()) {
        absl::StrAppend(&line, "  \u2691 ", text->value.GetString());
        if (markers->value.Size() > 1) {
          absl::StrAppend(&line, " (+", markers->value.Size() - 1, ")");
        }
      }
    }
    return line;
  }

  void Children(const rapidjson::Value& node, const std::string& indent) {
    if (!node.IsObject()) return;
    auto children = node.FindMember("children");
    if (children == node.MemberEnd() || !children->value.IsObject()) return;
    const auto& obj = children->value;
    size_t left = obj.MemberCount();
    for (const auto& child : obj.GetObject()) {
      bool last = --left == 0;
      absl::string_view name(child.name.GetString(),
                             child.name.GetStringLength());
      const size_t at = key_.size();
      absl::StrAppend(&key_, key_.empty() ? "" : ",", name);
      std::cout << indent
                << (last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ")
                << Line(name, child.value) << '\n';
      Children(child.value, indent + (last ? "    " : "\u2502   "));
      key_.resize(at);
    }
  }

  bool actions_;
  std::string key_;  // of the node being drawn (units of its value)
  size_t nodes_ = 0;
  size_t leaves_ = 0;
};

}  // namespace

const char kTreeHelp[] = R"help(Usage: canopy [flags] tree [KEY]

Draws the subtree under KEY (the root when no KEY is given) like tree(1),
with each leaf's value, rates and the last marker, then counts its nodes
and leaves.

  --depth=N   only N levels below KEY (-1, the default: all)
  --actions   show each node's action
  --json      print the server's reply as it is

Example:
  canopy tree host,web1 --depth=2 --actions
)help";

int TreeCommand(const Server& server, const Args& args) {
  if (args.size() > 1) return UsageError("tree takes at most one KEY");
  std::string key = args.empty() ? "" : args[0];
  if (absl::StatusOr<KeySegments> s = SplitKey(key); !s.ok()) {
    return Fail(s.status().message());
  }
  std::string target = absl::StrCat("/api/q/", UrlEncode(key), ".json?meta=1");
  if (int depth = absl::GetFlag(FLAGS_depth); depth >= 0) {
    absl::StrAppend(&target, "&depth=", depth);
  }
  if (!absl::GetFlag(FLAGS_json)) {
    LoadUnits(server, {key.empty() ? std::string("**") : key});
  }
  return CallAndPrint(server, "GET", target, absl::GetFlag(FLAGS_json),
                      [&](const rapidjson::Document& doc) {
                        TreePrinter printer(absl::GetFlag(FLAGS_actions));
                        printer.Print(doc, key.empty() ? "." : key);
                        return kOk;
                      });
}

}  // namespace cli
}  // namespace canopy
