#include "canopy/action.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace canopy {

absl::StatusOr<Action> ParseAction(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name.substr(0, 16));
  if (name.size() <= 16) {
    if (n == "last") return Action::kLast;
    if (n == "add" || n == "sum") return Action::kAdd;
    if (n == "avg" || n == "average") return Action::kAvg;
    if (n == "max") return Action::kMax;
    if (n == "min") return Action::kMin;
    if (n == "timer") return Action::kTimer;
    if (n == "set") return Action::kSet;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown action \"", name.substr(0, 40),
      "\" (expected add, sum, avg, average, max, min, last, timer or set)"));
}

absl::string_view ActionName(Action action) {
  switch (action) {
    case Action::kInherit:
      return "inherit";
    case Action::kLast:
      return "last";
    case Action::kAdd:
      return "add";
    case Action::kAvg:
      return "avg";
    case Action::kMax:
      return "max";
    case Action::kMin:
      return "min";
    case Action::kTimer:
      return "timer";
    case Action::kSet:
      return "set";
  }
  return "last";
}

}  // namespace canopy
