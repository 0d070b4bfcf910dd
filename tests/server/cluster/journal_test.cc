#include "server/cluster/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

using Records = std::vector<std::pair<char, std::string>>;

Records ReplayFrom(const std::string& dir, uint64_t seq) {
  WriteJournal j(dir);
  Records got;
  EXPECT_TRUE(j.Replay(seq, [&](char kind, absl::string_view body) {
                 got.emplace_back(kind, std::string(body));
               }).ok());
  return got;
}

// A new journal's directory, made as a first start makes it (an empty
// replay).
std::string JournalDir() {
  const std::string dir = absl::StrCat(testing::MakeTempDir(), "/cluster");
  EXPECT_TRUE(ReplayFrom(dir, 0).empty());
  return dir;
}

TEST(WriteJournalTest, ARestartReplaysWhatCameAfterItsSnapshotInOrder) {
  const std::string dir = JournalDir();
  {
    WriteJournal j(dir);
    ASSERT_TRUE(j.Rotate(0, "").ok());
    ASSERT_TRUE(j.Append('W', "W2 a 1 100 L\nx:1|c\n").ok());
    // A snapshot at seq 7: a new file, which starts with what was applied.
    ASSERT_TRUE(j.Rotate(7, "a 1\n").ok());
    ASSERT_TRUE(j.Append('W', "W2 a 2 101 L\ny:2|c\n").ok());
    ASSERT_TRUE(j.Append('W', std::string("binary\0\n bytes", 14)).ok());
    EXPECT_EQ(j.Files(), (std::vector<uint64_t>{0, 7}));
  }  // killed here: the snapshot of seq 7 may not have reached the disk
  // The older snapshot came back: both files, oldest first.
  const Records all = {{'S', ""},
                       {'W', "W2 a 1 100 L\nx:1|c\n"},
                       {'S', "a 1\n"},
                       {'W', "W2 a 2 101 L\ny:2|c\n"},
                       {'W', std::string("binary\0\n bytes", 14)}};
  EXPECT_EQ(ReplayFrom(dir, 0), all);
  // The snapshot of seq 7 came back: only its file; the older is deleted.
  EXPECT_EQ(ReplayFrom(dir, 7), Records(all.begin() + 2, all.end()));
  EXPECT_EQ(WriteJournal(dir).Files(), (std::vector<uint64_t>{7}));
}

TEST(WriteJournalTest, ASnapshotOnDiskForgetsTheFilesBeforeIt) {
  const std::string dir = JournalDir();
  WriteJournal j(dir);
  ASSERT_TRUE(j.Rotate(3, "").ok());
  ASSERT_TRUE(j.Append('W', "one").ok());
  ASSERT_TRUE(j.Rotate(9, "x 5\n").ok());
  ASSERT_TRUE(j.Append('W', "two").ok());
  j.Forget(9);
  EXPECT_EQ(j.Files(), (std::vector<uint64_t>{9}));
  EXPECT_EQ(ReplayFrom(dir, 9), (Records{{'S', "x 5\n"}, {'W', "two"}}));
  // A journal with no file open forgets every file before the seq.
  WriteJournal later(dir);
  later.Forget(10);
  EXPECT_TRUE(later.Files().empty());
}

TEST(WriteJournalTest, ARecordCutShortEndsItsFilesReplay) {
  const std::string dir = JournalDir();
  {
    WriteJournal j(dir);
    ASSERT_TRUE(j.Rotate(1, "").ok());
    ASSERT_TRUE(j.Append('W', "whole").ok());
  }
  // A machine's crash can leave half a record at the end.
  const std::string path = absl::StrCat(dir, "/journal-00000000000000000001");
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "W 100\nhalf", 10), 10);
  close(fd);
  EXPECT_EQ(ReplayFrom(dir, 1), (Records{{'S', ""}, {'W', "whole"}}));
}

TEST(WriteJournalTest, AppendsNeedAFile) {
  WriteJournal j(absl::StrCat(testing::MakeTempDir(), "/cluster"));
  EXPECT_FALSE(j.Append('W', "x").ok());
}

}  // namespace
}  // namespace canopy
