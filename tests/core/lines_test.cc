// include/canopy/lines.h: the line loop of the StatsD and Graphite parsers.
#include "canopy/lines.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

// Each line as "number:lead:text", each too-long line as "long:number".
std::vector<std::string> Split(absl::string_view buffer,
                               size_t max_line_bytes = 16 * 1024) {
  std::vector<std::string> out;
  ForEachLine(
      buffer, max_line_bytes,
      [&](const Line& line) {
        out.push_back(
            absl::StrCat(line.number, ":", line.lead, ":", line.text));
      },
      [&](size_t number) { out.push_back(absl::StrCat("long:", number)); });
  return out;
}

using Lines = std::vector<std::string>;

TEST(ForEachLineTest, EmptyBuffer) { EXPECT_EQ(Split(""), Lines{}); }

TEST(ForEachLineTest, LastLineWithoutNewline) {
  EXPECT_EQ(Split("a\nb"), (Lines{"1:0:a", "2:0:b"}));
  EXPECT_EQ(Split("a\nb\n"), (Lines{"1:0:a", "2:0:b"}));
  EXPECT_EQ(Split("only"), (Lines{"1:0:only"}));
}

TEST(ForEachLineTest, CrLf) {
  EXPECT_EQ(Split("a\r\nb\r\n"), (Lines{"1:0:a", "2:0:b"}));
  EXPECT_EQ(Split("a\r\nb\r"), (Lines{"1:0:a", "2:0:b"}));
  // Only the "\r" just before the newline goes.
  EXPECT_EQ(Split("a\rb\n"), (Lines{"1:0:a\rb"}));
}

TEST(ForEachLineTest, EmptyLinesAreSkippedButNumbered) {
  EXPECT_EQ(Split("\n\na\n\r\n \t \nb\n\n"), (Lines{"3:0:a", "6:0:b"}));
  EXPECT_EQ(Split("\n"), Lines{});
  EXPECT_EQ(Split("\r\n\r\n"), Lines{});
}

TEST(ForEachLineTest, BlanksAtEitherEndAreCutAndTheLeadCounted) {
  EXPECT_EQ(Split("  a b \t\n\tc\r\n"), (Lines{"1:2:a b", "2:1:c"}));
  // The blanks before a "\r" are cut too; other bytes are not blanks.
  EXPECT_EQ(Split(" x \r\n\vy\n"), (Lines{"1:1:x", "2:0:\vy"}));
}

TEST(ForEachLineTest, TooLongLinesAreCountedBeforeCutting) {
  // Three bytes fit, four do not, "\r" and blanks included.
  EXPECT_EQ(Split("abc\nabcd\nab \r\n   a\nab\r\n  a\nabc", 3),
            (Lines{"1:0:abc", "long:2", "long:3", "long:4", "5:0:ab", "6:2:a",
                   "7:0:abc"}));
  EXPECT_EQ(Split("abcd", 3), (Lines{"long:1"}));
}

TEST(LineErrorStatusTest, SaysWhere) {
  absl::Status s = LineErrorStatus(3, 7, "bad value \"x\"");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "line 3, column 7: bad value \"x\"");
}

}  // namespace
}  // namespace canopy
