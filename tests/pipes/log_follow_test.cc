// Tests of canopy::LogFollower (pipes/log_follow.cc): lines, the bound on a
// line's length, the unended last line, rotation by rename, copy-truncate,
// a file that appears late, and stopping when the sink says so.
#include "canopy/log_follow.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using ::testing::ElementsAre;

class Collect : public LogFollower::Sink {
 public:
  void Line(absl::string_view line) override { lines.emplace_back(line); }
  bool Stopped() const override {
    return stop_after > 0 && lines.size() >= stop_after;
  }
  std::vector<std::string> lines;
  size_t stop_after = 0;
};

class LogFollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    path_ = dir_ + "/access.log";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    std::remove((path_ + ".1").c_str());
    rmdir(dir_.c_str());
  }
  void Append(const std::string& text) {
    std::ofstream(path_, std::ios::app | std::ios::binary) << text;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(LogFollowTest, ReadsLinesAndFlushesTheLastOne) {
  Append("a\n\nb\r\nc");
  LogFollower log(path_);
  ASSERT_TRUE(log.Open().ok());
  Collect sink;
  ASSERT_TRUE(log.Read(&sink).ok());
  EXPECT_TRUE(log.at_eof());
  EXPECT_THAT(sink.lines, ElementsAre("a", "", "b\r"));
  Append("d\n");  // the line goes on
  ASSERT_TRUE(log.Read(&sink).ok());
  EXPECT_THAT(sink.lines, ElementsAre("a", "", "b\r", "cd"));
  Append("e");
  ASSERT_TRUE(log.Read(&sink).ok());
  log.Flush(&sink);
  EXPECT_THAT(sink.lines, ElementsAre("a", "", "b\r", "cd", "e"));
}

TEST_F(LogFollowTest, SkipsLinesOverTheBound) {
  Append("short\n" + std::string(100, 'x') + "\nafter\n");
  LogFollower::Options options;
  options.max_line = 10;
  LogFollower log(path_, options);
  ASSERT_TRUE(log.Open().ok());
  Collect sink;
  ASSERT_TRUE(log.Read(&sink).ok());
  EXPECT_THAT(sink.lines, ElementsAre("short", "after"));
  EXPECT_EQ(log.counts().too_long, 1u);
}

TEST_F(LogFollowTest, SkipToEndReadsOnlyWhatComesNext) {
  Append("old\n");
  LogFollower log(path_);
  ASSERT_TRUE(log.Open().ok());
  log.SkipToEnd();
  Append("new\n");
  Collect sink;
  ASSERT_TRUE(log.Read(&sink).ok());
  EXPECT_THAT(sink.lines, ElementsAre("new"));
}

TEST_F(LogFollowTest, FollowsRenameAndCopyTruncate) {
  LogFollower log(path_);
  EXPECT_FALSE(log.Open().ok());  // not there yet
  Collect sink;
  ASSERT_TRUE(log.CheckRotation(&sink).ok());
  EXPECT_TRUE(sink.lines.empty());
  Append("1\n");
  ASSERT_TRUE(log.CheckRotation(&sink).ok());  // appeared: from its start
  EXPECT_THAT(sink.lines, ElementsAre("1"));
  EXPECT_EQ(log.counts().reopened, 1u);

  // Renamed away after one more (unended) line; a new file under the name.
  Append("2");
  ASSERT_EQ(std::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  Append("three\n");
  ASSERT_TRUE(log.Read(&sink).ok());
  ASSERT_TRUE(log.CheckRotation(&sink).ok());
  EXPECT_THAT(sink.lines, ElementsAre("1", "2", "three"));
  EXPECT_EQ(log.counts().reopened, 2u);

  // Copied and truncated, then written again (less than was read: a
  // truncation is seen by the size falling below what was read, as tail -F
  // sees it).
  ASSERT_EQ(truncate(path_.c_str(), 0), 0);
  Append("4\n");
  ASSERT_TRUE(log.Read(&sink).ok());
  ASSERT_TRUE(log.CheckRotation(&sink).ok());
  EXPECT_THAT(sink.lines, ElementsAre("1", "2", "three", "4"));
  EXPECT_EQ(log.counts().truncated, 1u);
}

TEST_F(LogFollowTest, StopsWhenTheSinkSaysSo) {
  Append("a\nb\n");
  LogFollower log(path_);
  ASSERT_TRUE(log.Open().ok());
  Collect sink;
  sink.stop_after = 1;
  Append("c\n");  // nothing more is read once the sink stopped
  ASSERT_TRUE(log.Read(&sink).ok());
  EXPECT_THAT(sink.lines, ElementsAre("a", "b", "c"));  // one read
  ASSERT_TRUE(log.Read(&sink).ok());
  EXPECT_EQ(sink.lines.size(), 3u);
  EXPECT_FALSE(log.at_eof());
}

TEST_F(LogFollowTest, RefusesDirectoriesAndMissingFiles) {
  LogFollower dir(dir_);
  EXPECT_TRUE(absl::IsInvalidArgument(dir.Open()));
  LogFollower missing(dir_ + "/none");
  EXPECT_TRUE(absl::IsNotFound(missing.Open()));
}

}  // namespace
}  // namespace canopy
