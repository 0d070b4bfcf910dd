// include/canopy/action.h: the action name table, ParseAction, ActionName.
#include "canopy/action.h"

#include <string>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(ActionTest, EveryNameParsesAnyCase) {
  for (const ActionNameEntry& e : kActionNames) {
    EXPECT_EQ(*ParseAction(e.name), e.action) << e.name;
    EXPECT_EQ(*ParseAction(absl::AsciiStrToUpper(e.name)), e.action) << e.name;
  }
  EXPECT_EQ(*ParseAction("Sum"), Action::kAdd);
  EXPECT_EQ(*ParseAction("AVERAGE"), Action::kAvg);
}

TEST(ActionTest, CanonicalNamesRoundTrip) {
  int canonical = 0;
  for (const ActionNameEntry& e : kActionNames) {
    if (!e.canonical) {
      EXPECT_NE(ActionName(e.action), e.name);
      continue;
    }
    ++canonical;
    EXPECT_EQ(ActionName(e.action), e.name);
  }
  // One canonical name for each action but kInherit.
  EXPECT_EQ(canonical, static_cast<int>(Action::kSet));
  EXPECT_EQ(ActionName(Action::kInherit), "inherit");
  EXPECT_EQ(ActionName(Action::kAdd), "add");
  EXPECT_EQ(ActionName(Action::kAvg), "avg");
}

TEST(ActionTest, UnknownNames) {
  absl::StatusOr<Action> a = ParseAction("median");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(),
            "unknown action \"median\" (expected add, sum, avg, average, max, "
            "min, last, timer or set)");
  EXPECT_FALSE(ParseAction("").ok());
  EXPECT_FALSE(ParseAction("inherit").ok());
  EXPECT_FALSE(ParseAction("add ").ok());
  EXPECT_FALSE(ParseAction(std::string(100, 'a')).ok());
}

}  // namespace
}  // namespace canopy
