// canopy push key=value... | - | --file=F: writes leaves (POST /push), from
// key=value arguments (numbers stay numbers, else text) or a JSON tree sent
// as it is.
//
// Threads: the CLI's one thread.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

ABSL_FLAG(std::string, action, "",
          "push: the action of the pushed keys (add, avg, max, min, last, "
          "timer, set)");
ABSL_FLAG(std::string, file, "",
          "push: send this JSON file as it is ('-' for stdin)");

namespace canopy {
namespace cli {
namespace {

// True if `s` is a number in JSON's grammar, so that it can be sent as is.
bool IsJsonNumber(absl::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    return i - start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

absl::StatusOr<std::string> ReadInput(const std::string& file) {
  std::string data;
  if (file == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
    if (std::cin.bad()) return absl::DataLossError("cannot read stdin");
    return data;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
  }
  data.assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", file));
  return data;
}

// {"key": value, ..., "defaultaction": A} from key=value arguments.
absl::StatusOr<std::string> BuildPush(const std::vector<std::string>& args,
                                      const std::string& action) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  writer.StartObject();
  for (const std::string& arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", arg, "\" is not key=value"));
    }
    absl::string_view key = absl::string_view(arg).substr(0, eq);
    absl::string_view value = absl::string_view(arg).substr(eq + 1);
    absl::StatusOr<KeySegments> segments = SplitKey(key);
    if (!segments.ok()) return segments.status();
    if (segments->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", arg, "\" has no key before '='"));
    }
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (IsJsonNumber(value)) {
      writer.RawValue(value.data(), value.size(), rapidjson::kNumberType);
    } else {
      writer.String(value.data(),
                    static_cast<rapidjson::SizeType>(value.size()));
    }
  }
  if (!action.empty()) {
    writer.Key("defaultaction");
    writer.String(action.data(),
                  static_cast<rapidjson::SizeType>(action.size()));
  }
  writer.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

const char kPushHelp[] = R"help(Usage: canopy [flags] push key=value...
       canopy [flags] push - | --file=F

Writes leaves (POST /push) and prints how many the server accepted. In
key=value form a value that reads as a JSON number is sent as a number,
anything else as text. With - or --file the JSON tree is sent as it is
(put "defaultaction" in it instead of --action).

  --action=A  the action of the pushed keys: add, avg, max, min, last,
              timer, set
  --file=F    the JSON file to send ('-' for stdin)
  --json      print the server's reply as it is

Example:
  canopy push web,hits=1 web,host=web1 --action=add
)help";

int PushCommand(const Server& server, const Args& args) {
  std::string file = absl::GetFlag(FLAGS_file);
  const std::string action = absl::GetFlag(FLAGS_action);
  if (args.size() == 1 && args[0] == "-") {
    if (!file.empty()) return UsageError("give either - or --file, not both");
    file = "-";
  }
  std::string body;
  if (!file.empty()) {
    if (file != "-" && !args.empty()) {
      return UsageError("give either --file or key=value arguments, not both");
    }
    if (!action.empty()) {
      return UsageError(
          "--action applies to key=value pushes; put \"defaultaction\" in the "
          "JSON instead");
    }
    absl::StatusOr<std::string> data = ReadInput(file);
    if (!data.ok()) return Fail(data.status().message());
    body = *std::move(data);
  } else {
    if (args.empty()) {
      return UsageError("push needs key=value arguments, - or --file");
    }
    absl::StatusOr<std::string> built = BuildPush(args, action);
    if (!built.ok()) return Fail(built.status().message());
    body = *std::move(built);
  }
  return CallAndPrint(
      server, "POST", "/push", absl::GetFlag(FLAGS_json),
      [](const rapidjson::Document& doc) {
        auto accepted = doc.FindMember("accepted");
        if (accepted == doc.MemberEnd() || !accepted->value.IsNumber()) {
          return Fail("the server's /push reply has no \"accepted\"");
        }
        std::cout << "accepted " << ValueText(accepted->value) << std::endl;
        return kOk;
      },
      body, "application/json");
}

}  // namespace cli
}  // namespace canopy
