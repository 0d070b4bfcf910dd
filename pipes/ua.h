// UaParser: user-agent strings to browser and OS families, with the regexes
// of the ua-parser project (uap-core's regexes.yaml, from the npm package
// `uap-core`; see pipes/package.json).
//
//   absl::StatusOr<std::unique_ptr<UaParser>> ua =
//       UaParser::Load("pipes/node_modules/uap-core/regexes.yaml");
//   UaFamilies f = (*ua)->Parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
//                               "AppleWebKit/537.36 (KHTML, like Gecko) "
//                               "Chrome/120.0.0.0 Safari/537.36");
//   // f.browser == "Chrome", f.major == "120", f.os == "Windows"
//
// Semantics follow ua-parser's specification: the first regex of a list
// that matches wins; `family_replacement` / `os_replacement` may refer to
// capture groups as $1..$9; without a replacement the first group is the
// family. When nothing matches the family is "Other" (as in every
// ua-parser port); the pipes turn that into the segment "other".
//
// Speed: the regexes of each list are also compiled into one RE2::Set, so a
// string is scanned once to learn which regexes match, and only the first of
// them is run again to extract its groups. If the set's DFA runs out of
// memory on some input, the regexes are tried one by one instead.
//
// A UaParser is immutable after Load() and safe to share between threads
// (canopy::LoadUaParser in canopy/pipe.h loads one to share between
// runners). Callers cache results per distinct string (the "ua" pipe does,
// bounded).
#ifndef CANOPY_PIPES_UA_H_
#define CANOPY_PIPES_UA_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "re2/re2.h"
#include "re2/set.h"

namespace canopy {

struct UaFamilies {
  std::string browser = "Other";  // ua-parser's family: "Chrome", "IE", ...
  std::string major;              // "120"; empty when unknown
  std::string os = "Other";       // "Windows", "Mac OS X", ...
};

class UaParser {
 public:
  // Reads and compiles a regexes.yaml. Regexes RE2 cannot compile are skipped
  // (skipped() counts them); a file that cannot be read or has no
  // user_agent_parsers is an error naming the path.
  static absl::StatusOr<std::unique_ptr<UaParser>> Load(
      const std::string& path);
  // The same from the YAML text itself (tests).
  static absl::StatusOr<std::unique_ptr<UaParser>> FromYaml(
      absl::string_view yaml, absl::string_view name);
  ~UaParser();

  UaFamilies Parse(absl::string_view user_agent) const;

  size_t browser_rules() const { return browser_.rules.size(); }
  size_t os_rules() const { return os_.rules.size(); }
  size_t skipped() const { return skipped_; }

 private:
  struct Rule {
    std::unique_ptr<RE2> re;
    std::string family_replacement;  // may hold $1..$9
    std::string v1_replacement;
  };
  struct RuleList {
    std::vector<Rule> rules;
    std::unique_ptr<RE2::Set> set;
  };
  UaParser();
  // The index of the first rule of `list` matching `s`, or -1.
  static int FirstMatch(const RuleList& list, absl::string_view s);
  // Applies rule `i` of `list`: family and first version group.
  static void Extract(const RuleList& list, int i, absl::string_view s,
                      std::string* family, std::string* major);

  RuleList browser_;
  RuleList os_;
  size_t skipped_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_PIPES_UA_H_
