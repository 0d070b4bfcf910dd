// Actions: how a node aggregates the samples pushed to it.
//
// Every node has an action, its own or inherited from its nearest ancestor
// that has one; the root's default is kLast. API.md lists what each action
// means for a leaf's live value and for an interior node's aggregate.
//
//   absl::StatusOr<Action> a = ParseAction("average");  // Action::kAvg
//   ActionName(*a);                                      // "avg"
#ifndef CANOPY_ACTION_H_
#define CANOPY_ACTION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

enum class Action : uint8_t {
  kInherit = 0,  // no own action: use the nearest ancestor's
  kLast,
  kAdd,
  kAvg,
  kMax,
  kMin,
  kTimer,
  kSet,
};

// Parses an action name. Accepts the canonical names and the seed spellings
// "sum" (add) and "average" (avg), case-insensitively.
absl::StatusOr<Action> ParseAction(absl::string_view name);

// The canonical name ("add", "avg", ...); "inherit" for kInherit.
absl::string_view ActionName(Action action);

}  // namespace canopy

#endif  // CANOPY_ACTION_H_
