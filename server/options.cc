#include "server/options.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/duration.h"

namespace canopy {

absl::StatusOr<std::vector<ExpireRule>> ParseExpire(absl::string_view spec) {
  std::vector<ExpireRule> rules;
  if (spec.empty()) return rules;
  // Patterns have commas too: a rule ends at the token holding '='.
  std::string pattern;
  for (absl::string_view token : absl::StrSplit(spec, ',')) {
    size_t eq = token.find('=');
    if (eq == absl::string_view::npos) {
      absl::StrAppend(&pattern, pattern.empty() ? "" : ",", token);
      continue;
    }
    absl::StrAppend(&pattern, pattern.empty() ? "" : ",", token.substr(0, eq));
    int64_t seconds;
    if (!ParseDuration(token.substr(eq + 1), &seconds)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --expire duration \"", token.substr(eq + 1),
                       "\" (expected e.g. 90s, 30m, 1h, 7d)"));
    }
    absl::StatusOr<Pattern> p = Pattern::Parse(pattern);
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --expire pattern: ", p.status().message()));
    }
    ExpireRule rule;
    rule.pattern = std::move(*p);
    rule.seconds = seconds;
    rules.push_back(std::move(rule));
    pattern.clear();
  }
  if (!pattern.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad --expire: \"", pattern, "\" has no =DURATION"));
  }
  return rules;
}

}  // namespace canopy
