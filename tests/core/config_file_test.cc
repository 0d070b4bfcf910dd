#include "canopy/config_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, test_address, "default", "a test flag");
ABSL_FLAG(int64_t, test_count, 1, "a test flag");
ABSL_FLAG(bool, test_switch, false, "a test flag");

namespace canopy {
namespace {

std::string WriteTemp(const std::string& text) {
  char name[] = "/tmp/canopy-config-XXXXXX";
  int fd = mkstemp(name);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

absl::Status Apply(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  return ApplyConfigFile(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigFileTest, FileFlagsAreSetAndTheCommandLineWins) {
  std::string path = WriteTemp(
      "# a comment\ntest_address=127.0.0.1:1  # trailing\n\n"
      "  --test_count=5  \ntest_switch\n");
  std::vector<std::string> args = {"canopyd", "--config=" + path,
                                   "--test_count=7"};
  ASSERT_TRUE(Apply(args).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_address), "127.0.0.1:1");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 5);
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_switch));
  std::vector<std::string> command_line = {"canopyd", "--test_count=7"};
  std::vector<char*> argv;
  for (std::string& s : command_line) argv.push_back(s.data());
  absl::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_count), 7);  // the command line wins
  EXPECT_TRUE(Apply({"canopyd", "--config", path}).ok());
  EXPECT_TRUE(Apply({"canopyd", "--x=1"}).ok());  // no --config: nothing
  std::remove(path.c_str());
}

TEST(ConfigFileTest, ErrorsNameTheFileAndLine) {
  std::string path = WriteTemp("test_count=1\nnot_a_flag=3\n");
  absl::Status s = Apply({"canopyd", "--config=" + path});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path + ":2: unknown flag 'not_a_flag'"),
            std::string::npos)
      << s;
  std::remove(path.c_str());
  std::string bad = WriteTemp("test_count=many\n");
  s = Apply({"canopyd", "--config=" + bad});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(bad + ":1: --test_count"), std::string::npos);
  std::remove(bad.c_str());
  EXPECT_FALSE(Apply({"canopyd", "--config=/nonexistent/canopy.conf"}).ok());
}

}  // namespace
}  // namespace canopy
