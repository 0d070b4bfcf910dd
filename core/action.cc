// Action names, read and written through the one table, kActionNames
// (include/canopy/action.h).
//
// Threads: functions of their arguments only; safe from any thread.
#include "canopy/action.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace canopy {

absl::StatusOr<Action> ParseAction(absl::string_view name) {
  for (const ActionNameEntry& e : kActionNames) {
    if (absl::EqualsIgnoreCase(name, e.name)) return e.action;
  }
  // "add, sum, ..., timer or set"
  std::string expected;
  constexpr size_t kCount = sizeof kActionNames / sizeof kActionNames[0];
  for (size_t i = 0; i < kCount; ++i) {
    absl::StrAppend(&expected,
                    i == 0            ? ""
                    : i + 1 == kCount ? " or "
                                      : ", ",
                    kActionNames[i].name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown action \"", name.substr(0, 40), "\" (expected ", expected, ")"));
}

absl::string_view ActionName(Action action) {
  if (action == Action::kInherit) return "inherit";
  for (const ActionNameEntry& e : kActionNames) {
    if (e.canonical && e.action == action) return e.name;
  }
  return "last";
}

}  // namespace canopy
