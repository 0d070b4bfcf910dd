#include "agent/modules.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "agent/proc_file.h"
#include "agent/proc_parse.h"
#include "canopy/agent_module.h"
#include "canopy/graphite.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

extern char** environ;

namespace canopy {
namespace agent {
namespace {

constexpr size_t kMaxOutput = CANOPY_MODULE_MAX_OUTPUT;

bool ParseDurationValue(absl::string_view v, absl::Duration* out) {
  double seconds;
  if (absl::SimpleAtod(v, &seconds)) {
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(std::string(v), out);
}

bool IsModuleFile(absl::string_view name) {
  return !name.empty() && name[0] != '.' &&
         (absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".on"));
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
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(conf_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".on")) {
      files.push_back(name);
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
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
    specs.push_back(std::move(spec));
    ErrorLog::Info(absl::StrCat("module ", file, ": following ", spec.path));
  }
  (void)log;
  return specs;
}

absl::StatusOr<std::string> ParseModuleOutput(absl::string_view out) {
  absl::string_view t = absl::StripAsciiWhitespace(out);
  if (t.empty()) return std::string();
  rapidjson::Document d;
  if (t[0] == '{' || t[0] == '[') {
    std::string copy(t);
    d.Parse(copy.c_str());
    if (d.HasParseError()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "not JSON: ", rapidjson::GetParseError_En(d.GetParseError()),
          " at offset ", d.GetErrorOffset()));
    }
    if (!d.IsObject()) {
      return absl::InvalidArgumentError("expected a JSON object");
    }
    return ToJson(d);
  }
  d.SetObject();
  JsonAlloc& a = d.GetAllocator();
  std::string first_error;
  GraphiteCounts counts = ParseGraphite(
      t,
      [&](const GraphiteRecord& r) {
        std::vector<absl::string_view> segs = absl::StrSplit(r.key, ',');
        rapidjson::Value* node = &d;
        for (size_t i = 0; i + 1 < segs.size(); ++i) {
          node = &Child(*node, segs[i], a);
        }
        SetNumber(*node, segs.back(), r.value, a);
      },
      [&](const GraphiteError& e) {
        if (first_error.empty()) first_error = std::string(e.status.message());
      });
  if (counts.errors > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("neither JSON nor Graphite lines (", counts.errors,
                     " bad lines; first: ", first_error, ")"));
  }
  return ToJson(d);
}

CommandResult RunCommand(const std::string& command, const std::string& dir,
                         absl::Duration timeout, size_t max_output,
                         const std::atomic<bool>* stop) {
  CommandResult r;
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) != 0) {
    r.err = strerror(errno);
    return r;
  }
  if (pipe2(errp, O_CLOEXEC) != 0) {
    r.err = strerror(errno);
    close(outp[0]);
    close(outp[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  if (!dir.empty()) posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    sigaddset(&defaults, s);
  }
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(outp[1]);
  close(errp[1]);
  if (rc != 0) {
    r.err = absl::StrCat("cannot start /bin/sh: ", strerror(rc));
    close(outp[0]);
    close(errp[0]);
    return r;
  }
  fcntl(outp[0], F_SETFL, O_NONBLOCK);
  fcntl(errp[0], F_SETFL, O_NONBLOCK);
  const absl::Time deadline = absl::Now() + timeout;
  bool out_open = true, err_open = true, exited = false, kill_it = false;
  int status = 0;
  char buf[16384];
  while (true) {
    if (stop && stop->load()) kill_it = true;
    if (absl::Now() >= deadline) {
      r.timed_out = true;
      kill_it = true;
    }
    if (kill_it) break;
    if (!out_open && !err_open) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        break;
      }
      usleep(5000);
      continue;
    }
    pollfd fds[2] = {{out_open ? outp[0] : -1, POLLIN, 0},
                     {err_open ? errp[0] : -1, POLLIN, 0}};
    int ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(deadline - absl::Now()) + 1, 1, 100));
    if (poll(fds, 2, ms) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? out_open : err_open;
      if (!open || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        if (i == 0) {
          r.out.append(buf, n);
          if (r.out.size() > max_output) {
            r.too_long = true;
            kill_it = true;
          }
        } else if (r.err.size() < 1024) {
          r.err.append(buf, std::min<size_t>(n, 1024 - r.err.size()));
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        open = false;
      }
    }
  }
  if (!exited) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  close(outp[0]);
  close(errp[0]);
  r.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// A running exec or so module. Its thread holds a reference and ends on
// its own once stopped, so that unloading never waits on the module.
struct ModuleSet::Running {
  ModuleConf conf;
  std::string conf_dir;
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::string pending ABSL_GUARDED_BY(mu);  // a JSON object, "" for none

  void Stop() {
    stop = true;
    absl::MutexLock lock(&mu);
    stopping = true;
  }
};

// The set's module threads still running. Shared by the set and each
// thread: a thread may outlive the set (its destructor waits 3 s at most).
struct ModuleSet::Threads {
  absl::Mutex mu;
  int alive ABSL_GUARDED_BY(mu) = 0;
};

namespace {

void ModuleLoop(std::shared_ptr<ModuleSet::Running> r, ErrorLog* log,
                std::shared_ptr<ModuleSet::Threads> threads);

}  // namespace

ModuleSet::ModuleSet(ErrorLog* log, CheckRunner* checks,
                     ModuleSetOptions options)
    : log_(log),
      checks_(checks),
      options_(std::move(options)),
      threads_(std::make_shared<Threads>()) {
  checks_->SetChecks(options_.flag_checks);
}

ModuleSet::~ModuleSet() {
  for (auto& [key, r] : running_) r->Stop();
  running_.clear();
  absl::MutexLock lock(&threads_->mu);
  threads_->mu.AwaitWithTimeout(
      absl::Condition(
          +[](Threads* t)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->mu) { return t->alive == 0; },
          threads_.get()),
      absl::Seconds(3));
}

std::string ModuleSet::Signature() const {
  std::vector<std::string> lines;
  DIR* d = opendir(options_.conf_dir.c_str());
  if (d == nullptr) return "";
  while (dirent* e = readdir(d)) {
    if (!IsModuleFile(e->d_name)) continue;
    struct stat st;
    std::string path = options_.conf_dir + "/" + e->d_name;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    lines.push_back(absl::StrCat(e->d_name, ":", st.st_mtim.tv_sec, ".",
                                 st.st_mtim.tv_nsec, ":", st.st_size));
  }
  closedir(d);
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

void ModuleSet::Tick() {
  if (options_.conf_dir.empty()) return;
  bool look = !loaded_ || ticks_++ % 10 == 0;
  struct stat st;
  int64_t mtime = -1;
  if (stat(options_.conf_dir.c_str(), &st) == 0) {
    mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
            st.st_mtim.tv_nsec;
  } else if (!loaded_ || dir_mtime_ns_ != -1) {
    log_->Report("conf_dir",
                 absl::StrCat("cannot read --conf_dir=", options_.conf_dir,
                              ": ", strerror(errno)));
  }
  if (mtime != dir_mtime_ns_) look = true;
  dir_mtime_ns_ = mtime;
  if (!look) return;
  std::string sig = Signature();
  if (loaded_ && sig == signature_) return;
  signature_ = std::move(sig);
  loaded_ = true;
  Reload();
}

void ModuleSet::Reload() {
  std::vector<std::string> files;
  if (DIR* d = opendir(options_.conf_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (IsModuleFile(e->d_name)) files.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  std::vector<Check> checks = options_.flag_checks;
  std::map<std::string, std::shared_ptr<Running>> next;
  std::vector<std::string> names;
  for (const std::string& file : files) {
    std::string path = options_.conf_dir + "/" + file;
    absl::StatusOr<std::string> text = ReadSmallFile(path);
    if (!text.ok()) {
      log_->Report("module " + file, absl::StrCat("module ", path, ": ",
                                                  text.status().message()));
      continue;
    }
    absl::StatusOr<ModuleConf> conf =
        ParseModuleConf(file, *text, options_.conf_dir, options_.interval);
    if (!conf.ok()) {
      log_->Report(
          "module " + file,
          absl::StrCat("module ", conf.status().message(), " (file skipped)"));
      continue;
    }
    names.push_back(file);
    if (conf->type == "accesslog") continue;  // followed by AccessLogSet
    if (!conf->checks.empty()) {
      checks.insert(checks.end(), conf->checks.begin(), conf->checks.end());
      continue;
    }
    std::string key = absl::StrCat(file, "\n", *text);
    auto it = running_.find(key);
    if (it != running_.end()) {
      next[key] = it->second;
      running_.erase(it);
      continue;
    }
    auto r = std::make_shared<Running>();
    r->conf = *std::move(conf);
    r->conf_dir = options_.conf_dir;
    {
      absl::MutexLock lock(&threads_->mu);
      ++threads_->alive;
    }
    std::thread(ModuleLoop, r, log_, threads_).detach();
    next[key] = std::move(r);
  }
  for (auto& [key, r] : running_) r->Stop();
  running_ = std::move(next);
  checks_->SetChecks(std::move(checks));
  ErrorLog::Info(
      absl::StrCat("modules from ", options_.conf_dir, ": ",
                   names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

void ModuleSet::Collect(rapidjson::Document* doc) {
  JsonAlloc& a = doc->GetAllocator();
  for (auto& [key, r] : running_) {
    std::string pending;
    {
      absl::MutexLock lock(&r->mu);
      pending.swap(r->pending);
    }
    if (pending.empty()) continue;
    rapidjson::Document out;
    out.Parse(pending.c_str());
    if (out.HasParseError() || !out.IsObject()) continue;
    rapidjson::Value* dst;
    if (r->conf.prefix.empty()) {
      dst = &Child(Child(*doc, "host", a), options_.host, a);
    } else {
      dst = doc;
      for (const std::string& seg : r->conf.prefix) dst = &Child(*dst, seg, a);
    }
    MergeInto(*dst, out, a);
  }
}

namespace {

void ModuleLoop(std::shared_ptr<ModuleSet::Running> r, ErrorLog* log,
                std::shared_ptr<ModuleSet::Threads> threads) {
  const ModuleConf& c = r->conf;
  const std::string kind = "module " + c.file;
  auto report = [&](absl::string_view message) {
    if (!r->stop)
      log->Report(kind, absl::StrCat("module ", c.file, ": ", message));
  };
  void* handle = nullptr;
  void* state = nullptr;
  canopy_module_collect_fn collect = nullptr;
  canopy_module_cleanup_fn cleanup = nullptr;
  bool ok = true;
  if (c.type == "so") {
    handle = dlopen(c.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      report(absl::StrCat("cannot load: ", dlerror(), " (skipped)"));
      ok = false;
    } else {
      auto init = reinterpret_cast<canopy_module_init_fn>(
          dlsym(handle, "canopy_module_init"));
      collect = reinterpret_cast<canopy_module_collect_fn>(
          dlsym(handle, "canopy_module_collect"));
      cleanup = reinterpret_cast<canopy_module_cleanup_fn>(
          dlsym(handle, "canopy_module_cleanup"));
      if (init == nullptr || collect == nullptr || cleanup == nullptr) {
        report(absl::StrCat(c.path,
                            " lacks canopy_module_init, canopy_module_collect "
                            "or canopy_module_cleanup (skipped)"));
        ok = false;
      } else if (int rc = init(c.options.c_str(), &state); rc != 0) {
        report(absl::StrCat("canopy_module_init returned ", rc, " (skipped)"));
        ok = false;
        cleanup = nullptr;
      }
    }
  }
  while (ok && !r->stop) {
    const absl::Time t0 = absl::Now();
    std::string out;
    bool good = true;
    if (c.type == "exec") {
      CommandResult cr =
          RunCommand(c.command, r->conf_dir, c.timeout, kMaxOutput, &r->stop);
      if (r->stop) break;
      std::string err(absl::StripAsciiWhitespace(cr.err));
      if (cr.timed_out) {
        report(absl::StrCat("killed at its timeout (",
                            absl::FormatDuration(c.timeout), "): ", c.command));
        good = false;
      } else if (cr.too_long) {
        report(absl::StrCat("printed over ", kMaxOutput, " bytes (killed)"));
        good = false;
      } else if (cr.exit_code != 0) {
        report(absl::StrCat("exited with ", cr.exit_code,
                            err.empty() ? "" : ": ", err));
        good = false;
      }
      out = std::move(cr.out);
    } else {
      std::string buf(64 * 1024, '\0');
      int n = collect(state, buf.data(), buf.size());
      if (n >= 0 && static_cast<size_t>(n) >= buf.size() &&
          static_cast<size_t>(n) < kMaxOutput) {
        buf.assign(static_cast<size_t>(n) + 1, '\0');
        n = collect(state, buf.data(), buf.size());
      }
      if (n < 0) {
        report(absl::StrCat("canopy_module_collect returned ", n));
        good = false;
      } else if (static_cast<size_t>(n) >= buf.size()) {
        report(absl::StrCat("output of ", n, " bytes is too large"));
        good = false;
      } else {
        out.assign(buf.data(), static_cast<size_t>(n));
      }
    }
    if (good) {
      absl::StatusOr<std::string> json = ParseModuleOutput(out);
      if (!json.ok()) {
        report(absl::StrCat("output ignored: ", json.status().message()));
      } else if (!json->empty()) {
        absl::MutexLock lock(&r->mu);
        r->pending = *std::move(json);
      }
    }
    absl::MutexLock lock(&r->mu);
    r->mu.AwaitWithDeadline(absl::Condition(&r->stopping), t0 + c.interval);
  }
  if (cleanup != nullptr) cleanup(state);
  if (handle != nullptr) dlclose(handle);
  absl::MutexLock lock(&threads->mu);
  --threads->alive;
}

}  // namespace

}  // namespace agent
}  // namespace canopy
