// UaParser and LoadUaParser: see ua.h.
//
// Threads: Load() runs on its caller's thread; a loaded parser is immutable
// and Parse() may be called from any number of threads at once.
#include "pipes/ua.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "canopy/pipe.h"
#include "re2/re2.h"
#include "re2/set.h"
#include "yaml-cpp/yaml.h"

namespace canopy {
namespace {

// Generous: the union of ~600 unanchored regexes makes a large DFA. Past
// this the set reports out-of-memory and we fall back to one by one.
constexpr int64_t kSetMaxMem = 256 << 20;

re2::StringPiece Piece(absl::string_view s) {
  return re2::StringPiece(s.data(), s.size());
}

// Replaces $1..$9 in `pattern` with the groups (group 0 is the whole match).
std::string Substitute(const std::string& pattern, const re2::StringPiece* g,
                       int ngroups) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '$' && i + 1 < pattern.size() && pattern[i + 1] >= '1' &&
        pattern[i + 1] <= '9') {
      const int n = pattern[i + 1] - '0';
      if (n < ngroups && g[n].data() != nullptr) {
        out.append(g[n].data(), g[n].size());
      }
      ++i;
    } else {
      out.push_back(pattern[i]);
    }
  }
  // "$1 for ArcGIS" with an empty $1 would start with a space.
  const size_t b = out.find_first_not_of(' ');
  if (b == std::string::npos) return std::string();
  const size_t e = out.find_last_not_of(' ');
  return out.substr(b, e - b + 1);
}

std::string Scalar(const YAML::Node& node, const char* field) {
  const YAML::Node v = node[field];
  if (!v || !v.IsScalar()) return std::string();
  return v.as<std::string>();
}

}  // namespace

UaParser::UaParser() = default;
UaParser::~UaParser() = default;

absl::StatusOr<std::unique_ptr<UaParser>> UaParser::Load(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read ua-parser regexes '", path,
        "' (npm package uap-core: run scripts/deps.sh, or set the path)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return FromYaml(text.str(), path);
}

absl::StatusOr<std::unique_ptr<UaParser>> UaParser::FromYaml(
    absl::string_view yaml, absl::string_view name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("ua-parser regexes '", name, "': ", e.what()));
  }
  if (!root.IsMap() || !root["user_agent_parsers"] ||
      !root["user_agent_parsers"].IsSequence()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ua-parser regexes '", name, "': no user_agent_parsers list"));
  }
  auto parser = std::unique_ptr<UaParser>(new UaParser());
  auto build = [&](const YAML::Node& list, const char* family_field,
                   const char* v1_field, RuleList* out) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(kSetMaxMem);
    out->set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
    if (!list || !list.IsSequence()) return;
    for (const YAML::Node& item : list) {
      if (!item.IsMap()) continue;
      std::string regex = Scalar(item, "regex");
      if (regex.empty()) continue;
      if (Scalar(item, "regex_flag") == "i") regex = "(?i)" + regex;
      RE2::Options one;
      one.set_log_errors(false);
      auto re = std::make_unique<RE2>(regex, one);
      if (!re->ok()) {
        ++parser->skipped_;
        continue;
      }
      if (out->set->Add(Piece(regex), nullptr) < 0) {
        ++parser->skipped_;
        continue;
      }
      Rule rule;
      rule.re = std::move(re);
      rule.family_replacement = Scalar(item, family_field);
      if (v1_field != nullptr) rule.v1_replacement = Scalar(item, v1_field);
      out->rules.push_back(std::move(rule));
    }
    if (!out->set->Compile()) out->set.reset();
  };
  try {
    build(root["user_agent_parsers"], "family_replacement", "v1_replacement",
          &parser->browser_);
    build(root["os_parsers"], "os_replacement", nullptr, &parser->os_);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("ua-parser regexes '", name, "': ", e.what()));
  }
  return parser;
}

int UaParser::FirstMatch(const RuleList& list, absl::string_view s) {
  if (list.set != nullptr) {
    std::vector<int> hits;
    RE2::Set::ErrorInfo error;
    if (list.set->Match(Piece(s), &hits, &error)) {
      int first = -1;
      for (int h : hits) {
        if (first < 0 || h < first) first = h;
      }
      return first;
    }
    if (error.kind == RE2::Set::kNoError) return -1;
    // Out of memory or inconsistent: try one by one below.
  }
  for (size_t i = 0; i < list.rules.size(); ++i) {
    if (RE2::PartialMatch(Piece(s), *list.rules[i].re)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void UaParser::Extract(const RuleList& list, int i, absl::string_view s,
                       std::string* family, std::string* major) {
  const Rule& rule = list.rules[i];
  constexpr int kMaxGroups = 10;
  re2::StringPiece groups[kMaxGroups];
  const int n = std::min(kMaxGroups, rule.re->NumberOfCapturingGroups() + 1);
  if (!rule.re->Match(Piece(s), 0, s.size(), RE2::UNANCHORED, groups, n)) {
    return;
  }
  if (!rule.family_replacement.empty()) {
    *family = Substitute(rule.family_replacement, groups, n);
  } else if (n > 1 && groups[1].data() != nullptr) {
    family->assign(groups[1].data(), groups[1].size());
  }
  if (family->empty()) *family = "Other";
  if (major == nullptr) return;
  if (!rule.v1_replacement.empty()) {
    *major = Substitute(rule.v1_replacement, groups, n);
  } else if (n > 2 && groups[2].data() != nullptr) {
    major->assign(groups[2].data(), groups[2].size());
  }
}

UaFamilies UaParser::Parse(absl::string_view user_agent) const {
  UaFamilies out;
  const int b = FirstMatch(browser_, user_agent);
  if (b >= 0) Extract(browser_, b, user_agent, &out.browser, &out.major);
  const int o = FirstMatch(os_, user_agent);
  if (o >= 0) Extract(os_, o, user_agent, &out.os, nullptr);
  return out;
}

absl::StatusOr<std::shared_ptr<const UaParser>> LoadUaParser(
    const std::string& path) {
  absl::StatusOr<std::unique_ptr<UaParser>> parser = UaParser::Load(path);
  if (!parser.ok()) return parser.status();
  return std::shared_ptr<const UaParser>(*std::move(parser));
}

}  // namespace canopy
