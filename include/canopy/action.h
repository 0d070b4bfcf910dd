// Actions: how a node aggregates the samples pushed to it.
//
// Every node has an action, its own or inherited from its nearest ancestor
// that has one; the root's default is kLast. API.md lists what each action
// means for a leaf's live value and for an interior node's aggregate.
//
//   absl::StatusOr<Action> a = ParseAction("average");  // Action::kAvg
//   ActionName(*a);                                      // "avg"
//   for (const ActionNameEntry& e : kActionNames) { ... }  // every name
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

// One name of an action.
struct ActionNameEntry {
  absl::string_view name;
  Action action;
  bool canonical;  // the name ActionName gives; else an alias
};

// The one table of action names, for every program that reads or writes
// them: each action's canonical name, followed by its aliases (the seed
// spellings "sum" for add and "average" for avg). kInherit has no name
// here: it is the absence of an action, not one a push may name.
inline constexpr ActionNameEntry kActionNames[] = {
    {"add", Action::kAdd, true},   {"sum", Action::kAdd, false},
    {"avg", Action::kAvg, true},   {"average", Action::kAvg, false},
    {"max", Action::kMax, true},   {"min", Action::kMin, true},
    {"last", Action::kLast, true}, {"timer", Action::kTimer, true},
    {"set", Action::kSet, true},
};

// Parses an action name: any name of kActionNames, case-insensitively.
absl::StatusOr<Action> ParseAction(absl::string_view name);

// The canonical name ("add", "avg", ...); "inherit" for kInherit.
absl::string_view ActionName(Action action);

}  // namespace canopy

#endif  // CANOPY_ACTION_H_
