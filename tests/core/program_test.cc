// Every program's --help, --version and one-line errors (canopy/program.h),
// run as a user runs them.
#include "canopy/program.h"

#include <string>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"
#include "tests/server/harness.h"

ABSL_FLAG(int32_t, program_test_flag, 42, "A flag of this test.");

namespace canopy {
namespace {

TEST(ProgramTest, HelpListsTheProgramsFlagsWithDefaults) {
  ProgramInfo info = {"t", "t: a test program.", "tests/core/program_test"};
  std::string help = HelpText(info);
  EXPECT_EQ(help.rfind("t: a test program.", 0), 0u);
  EXPECT_NE(help.find("--program_test_flag=42\n      A flag of this test."),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("--version"), std::string::npos);
  // Flags of other sources (gtest's, Abseil's) are not listed.
  EXPECT_EQ(help.find("--flagfile"), std::string::npos);
}

TEST(ProgramTest, VersionNamesTheVersionAndTheCommit) {
  std::string v = VersionString();
  EXPECT_EQ(v.rfind("canopy ", 0), 0u);
  EXPECT_NE(v.find("(commit "), std::string::npos);
  EXPECT_EQ(v.find("unknown (commit unknown)"), std::string::npos) << v;
}

TEST(ProgramTest, EveryProgramAnswersHelpAndVersion) {
  for (const char* name : {"canopyd", "canopy-agent", "canopy"}) {
    testing::ProgramResult help = testing::RunProgram(name, {"--help"});
    EXPECT_EQ(help.exit_code, 0) << name << help.err;
    EXPECT_NE(help.out.find("Usage:"), std::string::npos) << name;
    EXPECT_NE(help.out.find("--"), std::string::npos) << name;
    testing::ProgramResult version = testing::RunProgram(name, {"--version"});
    EXPECT_EQ(version.exit_code, 0) << name;
    EXPECT_EQ(version.out.rfind(std::string(name) + " ", 0), 0u) << version.out;
    EXPECT_NE(version.out.find("commit"), std::string::npos);
  }
  testing::ProgramResult d = testing::RunProgram("canopyd", {"--help"});
  EXPECT_NE(d.out.find("--http=127.0.0.1:7575"), std::string::npos);
  EXPECT_NE(d.out.find("--data_dir=./var/canopy"), std::string::npos);
}

TEST(ProgramTest, BadFlagsAndArgumentsAreOneLine) {
  testing::ProgramResult r = testing::RunProgram("canopyd", {"stray"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "canopyd: unexpected argument \"stray\" (flags are "
            "--name=value)\n");
  r = testing::RunProgram("canopyd", {"--max_body=-1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "canopyd: --max_body must be positive\n");
  r = testing::RunProgram("canopy-agent", {"--config=/nonexistent/agent.conf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("canopy-agent: cannot read --config=", 0), 0u) << r.err;
}

}  // namespace
}  // namespace canopy
