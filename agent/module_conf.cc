// Module files: their parsing and listing. See agent/module_conf.h.
#include "agent/module_conf.h"

#include <dirent.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/proc_file.h"
#include "agent/proc_parse.h"

namespace canopy {
namespace agent {
namespace {

bool ParseDurationValue(absl::string_view v, absl::Duration* out) {
  double seconds;
  if (absl::SimpleAtod(v, &seconds)) {
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(std::string(v), out);
}

std::string Stem(absl::string_view file) {
  size_t dot = file.rfind('.');
  return std::string(dot == absl::string_view::npos ? file
                                                    : file.substr(0, dot));
}

bool IsUrl(absl::string_view u) {
  return absl::StartsWith(u, "http://") || absl::StartsWith(u, "https://");
}

}  // namespace

bool IsModuleFile(absl::string_view name) {
  return !name.empty() && name[0] != '.' &&
         (absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".on"));
}

std::vector<std::string> ModuleFiles(const std::string& conf_dir) {
  std::vector<std::string> files;
  if (DIR* d = opendir(conf_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (IsModuleFile(e->d_name)) files.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<ModuleConf> ParseModuleConf(absl::string_view file,
                                           absl::string_view text,
                                           const std::string& dir,
                                           absl::Duration default_interval) {
  ModuleConf c;
  c.file = std::string(file);
  c.interval = default_interval;
  std::map<std::string, std::pair<std::string, int>> kv;  // value, line
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", n, ": expected key = value"));
    }
    std::string key =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, eq)));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    static const char* const kKeys[] = {
        "type",    "port",    "ports",    "host",    "name",
        "url",     "timeout", "interval", "command", "path",
        "options", "prefix",  "format",   "from"};
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", n, ": unknown key \"", key, "\""));
    }
    kv[key] = {std::string(value), n};
  }
  auto get = [&](const char* k) -> std::string {
    auto it = kv.find(k);
    return it == kv.end() ? "" : it->second.first;
  };
  auto bad = [&](const char* k, absl::string_view why) {
    auto it = kv.find(k);
    return absl::InvalidArgumentError(absl::StrCat(
        file, it == kv.end() ? "" : absl::StrCat(":", it->second.second), ": ",
        k, ": ", why));
  };
  c.type = get("type");
  if (c.type.empty())
    return bad("type", "missing (port, url, nginx, exec, so)");
  bool timeout_given = kv.count("timeout") > 0;
  if (timeout_given) {
    if (!ParseDurationValue(get("timeout"), &c.timeout) ||
        c.timeout <= absl::ZeroDuration() || c.timeout > absl::Hours(1)) {
      return bad("timeout", "expected a duration (5s, 500ms) up to 1h");
    }
  }
  if (kv.count("interval")) {
    if (!ParseDurationValue(get("interval"), &c.interval) ||
        c.interval < absl::Milliseconds(100)) {
      return bad("interval", "expected a duration of at least 100ms");
    }
  }
  if (std::string p = get("prefix"); !p.empty()) {
    for (absl::string_view seg : absl::StrSplit(p, ',')) {
      if (seg.empty() || SafeSegment(seg) != seg) {
        return bad("prefix", "expected a comma key (apps,myapp)");
      }
      c.prefix.emplace_back(seg);
    }
  }
  const absl::Duration check_timeout =
      timeout_given ? c.timeout : absl::Seconds(2);
  if ((c.type == "port" || c.type == "url" || c.type == "nginx") &&
      check_timeout > absl::Minutes(1)) {
    return bad("timeout", "checks wait at most 1m");
  }
  if (c.type == "port") {
    std::string ports = get("ports");
    if (ports.empty()) ports = get("port");
    if (ports.empty()) return bad("port", "missing");
    for (absl::string_view p :
         absl::StrSplit(ports, absl::ByAnyChar(", "), absl::SkipEmpty())) {
      Check k;
      k.type = Check::Type::kPort;
      k.timeout = check_timeout;
      if (std::string h = get("host"); !h.empty()) k.host = h;
      if (!absl::SimpleAtoi(p, &k.port) || k.port <= 0 || k.port > 65535) {
        return bad(kv.count("ports") ? "ports" : "port",
                   "expected port numbers (22, 80)");
      }
      c.checks.push_back(std::move(k));
    }
  } else if (c.type == "url" || c.type == "nginx") {
    Check k;
    k.type = c.type == "url" ? Check::Type::kUrl : Check::Type::kNginx;
    k.timeout = check_timeout;
    k.url = get("url");
    if (!IsUrl(k.url)) return bad("url", "expected http://... or https://...");
    if (k.type == Check::Type::kUrl) {
      k.name = get("name");
      if (k.name.empty()) k.name = SafeSegment(Stem(file));
      if (SafeSegment(k.name) != k.name) {
        return bad("name", "must be one key segment (no comma)");
      }
    }
    c.checks.push_back(std::move(k));
  } else if (c.type == "exec") {
    c.command = get("command");
    if (c.command.empty()) return bad("command", "missing");
  } else if (c.type == "so") {
    c.path = get("path");
    if (c.path.empty()) return bad("path", "missing");
    if (c.path[0] != '/' && !dir.empty()) c.path = dir + "/" + c.path;
    c.options = get("options");
  } else if (c.type == "accesslog") {
    c.path = get("path");
    if (c.path.empty()) return bad("path", "missing");
    if (c.path[0] != '/' && !dir.empty()) c.path = dir + "/" + c.path;
    if (std::string f = get("format"); !f.empty()) c.log_format = f;
    std::string from = get("from");
    if (!from.empty() && from != "start" && from != "end") {
      return bad("from", "expected start or end");
    }
    c.from_start = from == "start";
  } else {
    return bad("type", "expected port, url, nginx, exec, so or accesslog");
  }
  return c;
}

std::vector<AccessLogSpec> AccessLogModules(const std::string& conf_dir,
                                            ErrorLog* log) {
  std::vector<AccessLogSpec> specs;
  if (conf_dir.empty()) return specs;
  for (const std::string& file : ModuleFiles(conf_dir)) {
    absl::StatusOr<std::string> text = ReadSmallFile(conf_dir + "/" + file);
    if (!text.ok()) continue;
    absl::StatusOr<ModuleConf> conf =
        ParseModuleConf(file, *text, conf_dir, absl::Seconds(1));
    if (!conf.ok() || conf->type != "accesslog") continue;
    AccessLogSpec spec;
    spec.path = conf->path;
    spec.format = conf->log_format;
    spec.prefix =
        conf->prefix.empty() ? "web" : absl::StrJoin(conf->prefix, ",");
    spec.from_start = conf->from_start;
    ErrorLog::Info(absl::StrCat("module ", file, ": following ", spec.path));
    specs.push_back(std::move(spec));
  }
  (void)log;
  return specs;
}

}  // namespace agent
}  // namespace canopy
