// The agent's exec and so modules. See agent/modules.h.
//
// Threads: Tick(), Collect() and the destructor run on the agent's
// collecting thread. Each exec or so module runs ModuleLoop() on a detached
// thread of its own; the thread shares its Running (the module's state and
// output, under Running::mu) and the set's Threads count with the set, and
// ends on its own once stopped.
#include "agent/modules.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/command.h"
#include "agent/proc_file.h"
#include "canopy/agent_module.h"
#include "canopy/graphite.h"
#include "canopy/mutex.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace canopy {
namespace agent {
namespace {

constexpr size_t kMaxOutput = CANOPY_MODULE_MAX_OUTPUT;

}  // namespace

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

// A running exec or so module. Its thread holds a reference and ends on
// its own once stopped, so that unloading never waits on the module.
struct ModuleSet::Running {
  ModuleConf conf;
  std::string conf_dir;
  std::atomic<bool> stop{false};
  // Set by the first Collect after the Tick that started the module (the
  // collecting thread's own): that Collect merges nothing of it.
  bool collectable = false;
  Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::string pending ABSL_GUARDED_BY(mu);  // a JSON object, "" for none

  void Stop() {
    stop = true;
    MutexLock lock(&mu);
    stopping = true;
  }
};

// The set's module threads still running. Shared by the set and each
// thread: a thread may outlive the set (its destructor waits 3 s at most).
struct ModuleSet::Threads {
  Mutex mu;
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
  MutexLock lock(&threads_->mu);
  threads_->mu.AwaitWithTimeout(
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(threads_->mu) {
        return threads_->alive == 0;
      },
      absl::Seconds(3));
}

std::string ModuleSet::Signature() const {
  std::vector<std::string> lines;
  for (const std::string& file : ModuleFiles(options_.conf_dir)) {
    struct stat st;
    std::string path = options_.conf_dir + "/" + file;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    lines.push_back(absl::StrCat(file, ":", st.st_mtim.tv_sec, ".",
                                 st.st_mtim.tv_nsec, ":", st.st_size));
  }
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
  std::vector<std::string> files = ModuleFiles(options_.conf_dir);
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
      MutexLock lock(&threads_->mu);
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
    // Started by the Tick just before: whether its first output is already
    // there is a race with its thread, so it is left for the next call.
    if (!r->collectable) {
      r->collectable = true;
      continue;
    }
    std::string pending;
    {
      MutexLock lock(&r->mu);
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
        MutexLock lock(&r->mu);
        r->pending = *std::move(json);
      }
    }
    MutexLock lock(&r->mu);
    r->mu.AwaitWithDeadline(
        [&r]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu) { return r->stopping; },
        t0 + c.interval);
  }
  if (cleanup != nullptr) cleanup(state);
  if (handle != nullptr) dlclose(handle);
  MutexLock lock(&threads->mu);
  --threads->alive;
}

}  // namespace

}  // namespace agent
}  // namespace canopy
