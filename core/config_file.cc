#include "canopy/config_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace canopy {

absl::Status ApplyConfigFile(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view rest = arg;
    if (!absl::ConsumePrefix(&rest, "--")) absl::ConsumePrefix(&rest, "-");
    if (absl::ConsumePrefix(&rest, "config=")) {
      path = std::string(rest);
    } else if (rest == "config" && i + 1 < argc) {
      path = argv[i + 1];
    }
  }
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read --config=", path, ": ",
                                            std::strerror(errno)));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = line;
    text = text.substr(0, text.find('#'));
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) continue;
    if (!absl::ConsumePrefix(&text, "--")) absl::ConsumePrefix(&text, "-");
    size_t eq = text.find('=');
    absl::string_view name = text.substr(0, eq);
    absl::string_view value =
        eq == absl::string_view::npos ? "true" : text.substr(eq + 1);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || name == "config") {
      error = absl::StrCat("unknown flag '", name, "'");
    } else if (!flag->ParseFrom(value, &error)) {
      error = absl::StrCat("--", name, ": ", error);
    }
    if (!error.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace canopy
