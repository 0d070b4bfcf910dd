// The start of every canopy program (canopyd, canopy-agent, canopy): the
// usage text, --help and --version (printed, exit 0), flags read from
// --config=FILE and then the command line (Abseil flags; the command line
// wins), and one clear line for what goes wrong.
//
//   ABSL_FLAG(std::string, http, "127.0.0.1:7575", "HTTP address.");
//   int main(int argc, char** argv) {
//     std::vector<std::string> args = canopy::StartProgram(
//         argc, argv, {"canopyd", "canopy's server ...", "server/main.cc"});
//     ...
//     if (bad) canopy::Die("canopyd", "--max_body must be positive");
//   }
//
// --config_example prints ConfigExample (exit 0).
//
// --help lists the flags defined in the sources whose path contains
// `flags_source`, each with its default and help text. A flag that is not
// known, or a value that does not parse, is reported by Abseil on one line
// and the program exits 1, as does a --config file that cannot be read.
//
// Threads: call once, from main, before starting any thread.
#ifndef CANOPY_PROGRAM_H_
#define CANOPY_PROGRAM_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace canopy {

struct ProgramInfo {
  const char* name;              // "canopyd": the prefix of error lines
  const char* usage;             // what it is and how it is called
  const char* flags_source;      // --help lists the flags of these sources
  bool takes_arguments = false;  // positional arguments allowed (the CLI)
  const char* help = nullptr;    // --help prints this instead of HelpText
};

// Returns the positional arguments (without argv[0]); exits on --help,
// --version, a bad flag or an unexpected argument.
std::vector<std::string> StartProgram(int argc, char** argv,
                                      const ProgramInfo& info);

// The --help text: the usage, then every flag of `info.flags_source`.
std::string HelpText(const ProgramInfo& info);

// The --config_example text: a config file (canopy/config_file.h) naming
// every flag of `info.flags_source` but --config, each after its help, set
// to its default and commented out. The packages install it as
// /etc/canopy/<program>.conf, so that the file never drifts from the flags.
std::string ConfigExample(const ProgramInfo& info);

// "canopy 0.4.0 (commit 1a2b3c4)": the version and the commit it was built
// from.
std::string VersionString();

// Prints "<program>: <message>" to stderr and exits 1.
[[noreturn]] void Die(absl::string_view program, absl::string_view message);

}  // namespace canopy

#endif  // CANOPY_PROGRAM_H_
