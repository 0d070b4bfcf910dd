#include "canopy/program.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/config_file.h"

#ifndef CANOPY_VERSION
#define CANOPY_VERSION "unknown"
#endif
#ifndef CANOPY_COMMIT
#define CANOPY_COMMIT "unknown"
#endif

namespace canopy {

std::string VersionString() {
  return absl::StrCat("canopy ", CANOPY_VERSION, " (commit ", CANOPY_COMMIT,
                      ")");
}

void Die(absl::string_view program, absl::string_view message) {
  std::string line = absl::StrCat(program, ": ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::exit(1);
}

namespace {

// The flags of `info.flags_source`, by name.
std::vector<const absl::CommandLineFlag*> ProgramFlags(
    const ProgramInfo& info) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::StrContains(flag->Filename(), info.flags_source)) {
      flags.push_back(flag);
    }
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  return flags;
}

// `text` folded to lines of at most `width` characters, each prefixed.
std::string Folded(absl::string_view text, absl::string_view prefix,
                   size_t width) {
  std::string out, line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, prefix, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, prefix, line, "\n");
  return out;
}

}  // namespace

std::string ConfigExample(const ProgramInfo& info) {
  std::string out = absl::StrCat(
      "# ", info.name, " --config=FILE: one flag=value per line (a leading\n",
      "# -- is optional), # starts a comment; flags given on the command "
      "line\n",
      "# win. Every flag is below with its help and its default, commented\n",
      "# out; `", info.name, " --config_example` prints this file.\n");
  for (const absl::CommandLineFlag* f : ProgramFlags(info)) {
    if (f->Name() == "config") continue;
    absl::StrAppend(&out, "\n", Folded(f->Help(), "# ", 76), "#", f->Name(),
                    "=", f->DefaultValue(), "\n");
  }
  return out;
}

std::string HelpText(const ProgramInfo& info) {
  std::vector<const absl::CommandLineFlag*> flags = ProgramFlags(info);
  std::string out = absl::StrCat(info.usage, "\n\nFlags:\n");
  for (const absl::CommandLineFlag* f : flags) {
    std::string def = f->DefaultValue();
    absl::StrAppend(&out, "  --", f->Name(), "=", def.empty() ? "\"\"" : def,
                    "\n      ", f->Help(), "\n");
  }
  absl::StrAppend(&out,
                  "  --config_example\n      Print a --config file of every "
                  "flag, commented out, and exit.\n"
                  "  --help\n      Print this and exit.\n"
                  "  --version\n      Print the version and exit.\n");
  return out;
}

std::vector<std::string> StartProgram(int argc, char** argv,
                                      const ProgramInfo& info) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--help" || a == "-h" || a == "-help" || a == "--helpfull") {
      std::cout << (info.help != nullptr ? std::string(info.help)
                                         : HelpText(info));
      std::exit(0);
    }
    if (a == "--config_example") {
      std::cout << ConfigExample(info);
      std::exit(0);
    }
    if (a == "--version" || a == "-version") {
      std::cout << info.name << " " << VersionString().substr(7) << "\n";
      std::exit(0);
    }
  }
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags =
      [source = std::string(info.flags_source)](absl::string_view file) {
        return absl::StrContains(file, source);
      };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] { return VersionString() + "\n"; };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(info.usage);

  if (absl::Status s = ApplyConfigFile(argc, argv); !s.ok()) {
    Die(info.name, s.message());
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> positional(rest.begin() + 1, rest.end());
  if (!info.takes_arguments && !positional.empty()) {
    Die(info.name, absl::StrCat("unexpected argument \"", positional[0],
                                "\" (flags are --name=value)"));
  }
  return positional;
}

}  // namespace canopy
