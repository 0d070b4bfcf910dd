#include "server/comet/changes.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/json_out.h"
#include "server/live_json.h"

namespace canopy {

std::string ChangesJson(const Tree& tree, const std::vector<Pattern>& patterns,
                        uint64_t since, bool reset, int64_t now, size_t* count,
                        QueryBudget* budget) {
  JsonOut out;
  out.w.StartObject();
  out.Key("seq");
  out.w.Uint64(tree.seq());
  if (reset) {
    out.Key("reset");
    out.w.Bool(true);
  }
  out.Key("items");
  out.w.StartArray();
  size_t n = 0;
  absl::flat_hash_set<std::string> seen;
  bool dedupe = patterns.size() > 1;
  if (!reset) {
    for (const Pattern& p : patterns) {
      tree.CollectRemoved(
          p, since,
          [&](absl::string_view key) {
            // A key removed and written again since shows its new value below.
            absl::StatusOr<KeySegments> segs = SplitKey(key);
            if (segs.ok()) {
              const Node* again = tree.Find(*segs);
              if (again != nullptr && again->has_value() &&
                  again->seq() > since) {
                return;
              }
            }
            if (dedupe && !seen.insert(absl::StrCat("-", key)).second) return;
            out.w.StartObject();
            out.Key(key);
            out.w.Null();
            out.w.EndObject();
            ++n;
          },
          budget);
    }
  }
  for (const Pattern& p : patterns) {
    tree.Collect(
        p, reset ? 0 : since,
        [&](const LeafView& leaf) {
          if (dedupe && !seen.insert(std::string(leaf.key)).second) {
            return true;
          }
          out.w.StartObject();
          out.Key(leaf.key);
          WriteLive(out,
                    leaf.node->Live(leaf.action, now, tree.step_seconds()));
          out.w.EndObject();
          ++n;
          return true;
        },
        budget);
  }
  out.w.EndArray();
  out.w.EndObject();
  if (count != nullptr) *count = n;
  return out.Take();
}

}  // namespace canopy
