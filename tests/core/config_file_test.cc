#include "canopy/config_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy {
namespace {

std::string WriteTemp(const std::string& text) {
  char name[] = "/tmp/canopy-config-XXXXXX";
  int fd = mkstemp(name);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

std::vector<std::string> Expand(std::vector<std::string> argv_strings) {
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  auto r = ArgsWithConfigFile(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<std::string>();
}

TEST(ConfigFileTest, FileFlagsComeBeforeTheCommandLine) {
  std::string path =
      WriteTemp("# a comment\nhttp=127.0.0.1:1\n\n  --max_nodes=5  \n");
  EXPECT_EQ(Expand({"canopyd", "--config=" + path, "--max_nodes=7"}),
            (std::vector<std::string>{"canopyd", "--http=127.0.0.1:1",
                                      "--max_nodes=5", "--config=" + path,
                                      "--max_nodes=7"}));
  EXPECT_EQ(Expand({"canopyd", "--config", path}).size(), 5u);
  EXPECT_EQ(Expand({"canopyd", "--x=1"}),
            (std::vector<std::string>{"canopyd", "--x=1"}));
  std::remove(path.c_str());
}

TEST(ConfigFileTest, ErrorsNameTheFileAndLine) {
  std::string path = WriteTemp("http=1\nnot a flag\n");
  std::string arg = "--config=" + path;
  char* argv[] = {const_cast<char*>("canopyd"), arg.data()};
  auto r = ArgsWithConfigFile(2, argv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path + ":2"), std::string::npos);
  std::remove(path.c_str());
  std::string missing = "--config=/nonexistent/canopy.conf";
  char* argv2[] = {const_cast<char*>("canopyd"), missing.data()};
  EXPECT_FALSE(ArgsWithConfigFile(2, argv2).ok());
}

}  // namespace
}  // namespace canopy
