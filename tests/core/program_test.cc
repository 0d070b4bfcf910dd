// Every program's --help, --version and one-line errors (canopy/program.h),
// run as a user runs them.
#include "canopy/program.h"

#include <unistd.h>

#include <cstdio>
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
  // canopy-agent's per-process keys expire by default.
  EXPECT_NE(d.out.find("--expire=host,*,proc=5m"), std::string::npos);
  EXPECT_NE(d.out.find("--protected_mode=true"), std::string::npos);
}

// --config_example: a config file of every flag, commented out, that
// --config reads back (the packages install it as /etc/canopy/*.conf).
TEST(ProgramTest, ConfigExampleListsEveryFlagAndReadsBack) {
  for (const char* name : {"canopyd", "canopy-agent"}) {
    testing::ProgramResult example =
        testing::RunProgram(name, {"--config_example"});
    EXPECT_EQ(example.exit_code, 0) << name << example.err;
    testing::ProgramResult help = testing::RunProgram(name, {"--help"});
    // Every flag of --help but --config and the built-in ones.
    size_t at = 0, flags = 0;
    while ((at = help.out.find("\n  --", at)) != std::string::npos) {
      at += 5;
      std::string flag =
          help.out.substr(at, help.out.find_first_of("=\n", at) - at);
      if (flag == "config" || flag == "config_example" || flag == "help" ||
          flag == "version") {
        continue;
      }
      ++flags;
      EXPECT_NE(example.out.find("\n#" + flag + "="), std::string::npos)
          << name << " --" << flag;
    }
    EXPECT_GT(flags, 5u) << name;
    // Read back as it is: every line a comment, so every default holds.
    std::string dir = testing::MakeTempDir();
    std::string conf = dir + "/example.conf";
    FILE* f = fopen(conf.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(example.out.c_str(), f);
    fclose(f);
    // The file is read before the flags are checked: canopyd stops at its
    // first check, the agent collects once.
    testing::ProgramResult read =
        std::string(name) == "canopyd"
            ? testing::RunProgram(name, {"--config=" + conf, "--max_body=-1"})
            : testing::RunProgram(
                  name, {"--config=" + conf, "--once", "--interval=100ms"});
    if (std::string(name) == "canopyd") {
      EXPECT_EQ(read.err, "canopyd: --max_body must be positive\n");
    } else {
      EXPECT_EQ(read.exit_code, 0) << read.err;
      EXPECT_EQ(read.out.rfind("{", 0), 0u) << read.out;
    }
    std::remove(conf.c_str());
    rmdir(dir.c_str());
  }
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
