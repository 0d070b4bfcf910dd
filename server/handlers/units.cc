// GET /api/units?key=PATTERN (several key= allowed): the unit of each leaf
// the patterns select that has one, {"units": {"<key>": "<unit>", ...}}.
// A leaf's unit is the one a push stated ("unit", on the leaf or the nearest
// node above it), else a timer's ms, else what canopy-agent's key
// conventions imply (canopy/unit.h LeafUnit). Text leaves have none.
//
// Threads: the event-loop thread (it reads the tree).
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "canopy/unit.h"
#include "server/cluster/cluster.h"
#include "server/handlers/handlers.h"
#include "server/json_out.h"
#include "server/options.h"

namespace canopy {

std::vector<std::pair<std::string, std::string>> CollectUnits(
    const Tree& tree, const std::vector<Pattern>& patterns, size_t limit,
    QueryBudget* budget, bool* truncated) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::flat_hash_set<std::string> seen;
  *truncated = false;
  for (const Pattern& p : patterns) {
    const bool complete = tree.Collect(
        p, 0,
        [&](const LeafView& leaf) {
          if (leaf.node->is_text()) return true;
          // The walk up to the nearest stated unit.
          if (!budget->Charge(1)) return false;
          const absl::string_view unit =
              LeafUnit(leaf.node->StatedUnit(), leaf.key, leaf.action);
          if (unit.empty()) return true;
          if (patterns.size() > 1 &&
              !seen.insert(std::string(leaf.key)).second) {
            return true;
          }
          if (out.size() >= limit) {
            *truncated = true;
            return false;
          }
          out.emplace_back(std::string(leaf.key), std::string(unit));
          return true;
        },
        budget);
    if (!complete) break;
  }
  return out;
}

absl::StatusOr<Response> HandleUnits(const Request& request,
                                     HandlerContext& ctx) {
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  // In a cluster, keys other shards own come from replicas of them (which
  // carry values, not stated units: those leaves get inferred units).
  const bool stale =
      ctx.cluster != nullptr && !ctx.cluster->Replicate(*patterns);
  absl::StatusOr<size_t> limit_or = LimitOf(request, ctx.options->get_limit);
  if (!limit_or.ok()) return limit_or.status();
  const size_t limit = *limit_or;
  QueryBudget budget(ctx.options->query);
  bool truncated = false;
  std::vector<std::pair<std::string, std::string>> units =
      CollectUnits(*ctx.tree, *patterns, limit, &budget, &truncated);
  if (budget.exceeded()) return QueryRefused(budget, ctx);
  JsonOut out;
  out.w.StartObject();
  out.Key("units");
  out.w.StartObject();
  for (const auto& [key, unit] : units) {
    out.Key(key);
    out.String(unit);
  }
  out.w.EndObject();
  if (truncated) {
    out.Key("truncated");
    out.w.Bool(true);
  }
  if (stale) {
    out.Key("stale");
    out.w.Bool(true);
  }
  out.w.EndObject();
  return JsonResponse(out);
}

}  // namespace canopy
