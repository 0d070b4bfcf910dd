// AtomicFile and WriteFileAtomically (server/durable_file.h): a file is
// replaced whole or not at all, with no temporary file left behind.
#include "server/durable_file.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace canopy {
namespace {

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/canopy-durable-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/tree.snapshot";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(DurableFileTest, PiecesBecomeTheFileOnlyAtCommit) {
  ASSERT_TRUE(WriteFileAtomically(path_, "old").ok());
  {
    AtomicFile f(path_);
    f.Append("new ");
    f.Append("bytes");
    EXPECT_EQ(Read(path_), "old");  // not yet
    ASSERT_TRUE(f.Commit().ok());
  }
  EXPECT_EQ(Read(path_), "new bytes");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(DurableFileTest, AFileNotCommittedLeavesTheOldOneAndNoDebris) {
  ASSERT_TRUE(WriteFileAtomically(path_, "old").ok());
  {
    AtomicFile f(path_);
    f.Append("half of a snapshot");
  }
  EXPECT_EQ(Read(path_), "old");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(DurableFileTest, AnUnwritableDirectoryFailsWithTheReason) {
  AtomicFile f(dir_ + "/no/such/dir/file");
  f.Append("x");
  absl::Status s = f.Commit();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace canopy
