// Tests for pipes/plugin.cc: a shared-object pipe (tests/pipes/
// plugin_example.c, built by tests/CMakeLists.txt into test_plugins/) loaded
// through the C ABI of canopy/pipe_plugin.h.
#include <fstream>
#include <map>
#include <string>

#include "canopy/pipe.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

class MapSink : public UpdateSink {
 public:
  void Update(absl::string_view key, const LineSample& s) override {
    const std::string k(key);
    if (s.action == Action::kSet) {
      members[k] += std::string(s.member) + ";";
    } else {
      EXPECT_EQ(s.action, Action::kAdd);
      adds[k] += s.value;
    }
  }
  std::map<std::string, double> adds;
  std::map<std::string, std::string> members;
};

constexpr char kLog[] =
    R"L(10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "POST /form HTTP/1.1" 200 5 "-" "-")L"
    "\n"
    R"L(10.0.0.2 - - [14/Nov/2023:22:13:20 +0000] "GET /form HTTP/1.1" 200 5 "-" "-")L"
    "\n"
    R"L(10.0.0.3 - - [14/Nov/2023:22:13:20 +0000] "POST /x HTTP/1.1" 200 5 "-" "-")L"
    "\n";

TEST(PluginTest, LoadsAndRunsAlone) {
  auto pipe = LoadPipePlugin(CANOPY_TEST_PLUGIN_DIR "/posts.so");
  ASSERT_TRUE(pipe.ok()) << pipe.status();
  EXPECT_EQ((*pipe)->name(), "posts");
  PipeOptions options;
  options.prefix = "site";
  options.pipes = {"status"};
  auto runner = PipeRunner::Create("combined", options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->AddPipe(*std::move(pipe)).ok());
  MapSink sink;
  EXPECT_EQ((*runner)->Run(kLog, &sink).records, 3u);
  EXPECT_EQ(sink.adds["site,posts"], 2);
  EXPECT_EQ(sink.adds["site,hits"], 3);
  EXPECT_EQ(sink.members["plugin,posters"], "10.0.0.1;10.0.0.3;");
}

TEST(PluginTest, FromADirectoryByName) {
  PipeOptions options;
  options.plugin_dir = CANOPY_TEST_PLUGIN_DIR;
  options.pipes = {"posts"};
  auto runner = PipeRunner::Create("combined", options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  MapSink sink;
  (*runner)->Run(kLog, &sink);
  EXPECT_EQ(sink.adds.size(), 1u);
  EXPECT_EQ(sink.adds["web,posts"], 2);
}

TEST(PluginTest, BadPlugins) {
  EXPECT_FALSE(LoadPipePlugins("/nonexistent/dir").ok());
  EXPECT_FALSE(LoadPipePlugin("/nonexistent/x.so").ok());
  const std::string dir = ::testing::TempDir() + "/canopy_bad_plugins";
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  std::ofstream(dir + "/junk.so") << "not an ELF file";
  auto loaded = LoadPipePlugins(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("junk.so"), std::string::npos);
}

}  // namespace
}  // namespace canopy
