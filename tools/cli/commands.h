// The CLI's commands, one file each in tools/cli/ (get.cc, watch.cc, ...),
// and the flags more than one file reads. main.cc parses the command line
// and calls the command with the server to talk to and the arguments after
// the command's name; the command returns the process's exit code (kOk,
// kFailed, kUsageError of tools/cli/output.h). Each file also holds the
// command's help, for `canopy help COMMAND`.
//
// Threads: the CLI is single-threaded.
#ifndef CANOPY_TOOLS_CLI_COMMANDS_H_
#define CANOPY_TOOLS_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "tools/cli/client.h"

// Defined in main.cc.
ABSL_DECLARE_FLAG(double, timeout);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, step);
ABSL_DECLARE_FLAG(std::string, fn);

namespace canopy {
namespace cli {

using Args = std::vector<std::string>;

int GetCommand(const Server& server, const Args& keys);     // get.cc
int WatchCommand(const Server& server, const Args& keys);   // watch.cc
int PushCommand(const Server& server, const Args& args);    // push.cc
int TreeCommand(const Server& server, const Args& args);    // tree.cc
int DiffCommand(const Server& server, const Args& args);    // diff.cc
int RmCommand(const Server& server, const Args& args);      // rm.cc
int TrendCommand(const Server& server, const Args& keys);   // trend.cc
int ExportCommand(const Server& server, const Args& args);  // export.cc
int PipeCommand(const Server& server, const Args& files);   // pipe.cc

// Each command's help: usage, what it does, its flags, an example.
extern const char kGetHelp[];
extern const char kWatchHelp[];
extern const char kPushHelp[];
extern const char kTreeHelp[];
extern const char kDiffHelp[];
extern const char kRmHelp[];
extern const char kTrendHelp[];
extern const char kExportHelp[];
extern const char kPipeHelp[];

}  // namespace cli
}  // namespace canopy

#endif  // CANOPY_TOOLS_CLI_COMMANDS_H_
