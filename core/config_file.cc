#include "canopy/config_file.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace canopy {

absl::StatusOr<std::vector<std::string>> ArgsWithConfigFile(int argc,
                                                            char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::string path;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--") break;
    if (absl::ConsumePrefix(&a, "--config=")) path = std::string(a);
    if (a == "--config" && i + 1 < argc) path = argv[i + 1];
  }
  if (path.empty()) return args;
  std::ifstream f(path);
  if (!f)
    return absl::NotFoundError(absl::StrCat("cannot read --config=", path));
  std::vector<std::string> from_file;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    absl::ConsumePrefix(&l, "--");
    if (l.find('=') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", n, ": expected flag=value"));
    }
    from_file.push_back(absl::StrCat("--", l));
  }
  args.insert(args.begin() + 1, from_file.begin(), from_file.end());
  return args;
}

}  // namespace canopy
