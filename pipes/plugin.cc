// Shared-object pipes: the C ABI of canopy/pipe_plugin.h behind the Pipe
// interface.
//
// Threads: loading runs on its caller's thread (canopyd's start, the
// agent's, or AccessLogRunners under its mutex); a loaded pipe runs on the
// thread of the PipeRunner that owns it, like any pipe.
#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/key.h"
#include "canopy/pipe.h"
#include "canopy/pipe_plugin.h"

namespace canopy {
namespace {

canopy_str Str(absl::string_view s) { return canopy_str{s.data(), s.size()}; }

class SharedObjectPipe : public Pipe {
 public:
  SharedObjectPipe(std::string name, void* handle, canopy_pipe_init_fn init,
                   canopy_pipe_process_fn process,
                   canopy_pipe_cleanup_fn cleanup)
      : name_(std::move(name)),
        handle_(handle),
        init_(init),
        process_(process),
        cleanup_(cleanup) {}
  ~SharedObjectPipe() override {
    Cleanup();
    dlclose(handle_);
  }

  absl::string_view name() const override { return name_; }

  absl::Status Init(const PipeOptions& options) override {
    canopy_pipe_config config;
    config.abi_version = CANOPY_PIPE_ABI_VERSION;
    config.name = name_.c_str();
    config.prefix = options.prefix.c_str();
    const int rc = init_(&config, &state_);
    if (rc != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("canopy_pipe_init returned ", rc));
    }
    initialized_ = true;
    return absl::OkStatus();
  }

  void Process(const LogRecord& r, UpdateSink* sink) override {
    if (!initialized_) return;
    canopy_log_record c;
    c.remote_addr = Str(r.remote_addr);
    c.remote_user = Str(r.remote_user);
    c.time = r.time;
    c.method = Str(r.method);
    c.target = Str(r.target);
    c.path = Str(r.path);
    c.protocol = Str(r.protocol);
    c.status = r.status;
    c.bytes = r.bytes;
    c.referer = Str(r.referer);
    c.user_agent = Str(r.user_agent);
    c.host = Str(r.host);
    c.has_request_time = r.has_request_time;
    c.request_time = r.request_time;
    c.has_upstream_time = r.has_upstream_time;
    c.upstream_time = r.upstream_time;
    Emitter emitter{this, sink};
    process_(state_, &c, &Emit, &emitter);
  }

  void Cleanup() override {
    if (!initialized_) return;
    initialized_ = false;
    cleanup_(state_);
  }

 private:
  struct Emitter {
    SharedObjectPipe* pipe;
    UpdateSink* sink;
  };

  // Called by the plug-in: sanitizes each segment, maps the action.
  static void Emit(void* ctx, const char* key, size_t key_len, int action,
                   double value, const char* member, size_t member_len) {
    auto* e = static_cast<Emitter*>(ctx);
    if (key == nullptr || key_len == 0) return;
    std::string& out = e->pipe->key_;
    out.clear();
    size_t depth = 0;
    for (absl::string_view seg :
         absl::StrSplit(absl::string_view(key, key_len), ',')) {
      if (++depth > kMaxSegments) break;
      if (!out.empty()) out.push_back(',');
      AppendSegment(seg, &out);
    }
    LineSample s;
    s.action = action >= CANOPY_ACTION_LAST && action <= CANOPY_ACTION_SET
                   ? static_cast<Action>(action)
                   : Action::kInherit;
    s.value = value;
    if (s.action == Action::kSet) {
      if (member == nullptr || member_len == 0) return;
      s.member = absl::string_view(member, member_len);
    }
    e->sink->Update(out, s);
  }

  std::string name_;
  void* handle_;
  canopy_pipe_init_fn init_;
  canopy_pipe_process_fn process_;
  canopy_pipe_cleanup_fn cleanup_;
  void* state_ = nullptr;
  bool initialized_ = false;
  std::string key_;
};

static_assert(static_cast<int>(Action::kLast) == CANOPY_ACTION_LAST &&
                  static_cast<int>(Action::kAdd) == CANOPY_ACTION_ADD &&
                  static_cast<int>(Action::kAvg) == CANOPY_ACTION_AVG &&
                  static_cast<int>(Action::kMax) == CANOPY_ACTION_MAX &&
                  static_cast<int>(Action::kMin) == CANOPY_ACTION_MIN &&
                  static_cast<int>(Action::kTimer) == CANOPY_ACTION_TIMER &&
                  static_cast<int>(Action::kSet) == CANOPY_ACTION_SET,
              "pipe_plugin.h actions must match canopy::Action");

}  // namespace

absl::StatusOr<std::unique_ptr<Pipe>> LoadPipePlugin(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::InvalidArgumentError(
        absl::StrCat("pipe plug-in '", path, "': ", why ? why : "cannot load"));
  }
  auto init =
      reinterpret_cast<canopy_pipe_init_fn>(dlsym(handle, "canopy_pipe_init"));
  auto process = reinterpret_cast<canopy_pipe_process_fn>(
      dlsym(handle, "canopy_pipe_process"));
  auto cleanup = reinterpret_cast<canopy_pipe_cleanup_fn>(
      dlsym(handle, "canopy_pipe_cleanup"));
  if (init == nullptr || process == nullptr || cleanup == nullptr) {
    dlclose(handle);
    return absl::InvalidArgumentError(
        absl::StrCat("pipe plug-in '", path,
                     "': needs canopy_pipe_init, canopy_pipe_process and "
                     "canopy_pipe_cleanup"));
  }
  std::string name = path.substr(path.rfind('/') + 1);
  if (absl::EndsWith(name, ".so")) name.resize(name.size() - 3);
  if (absl::StartsWith(name, "lib")) name.erase(0, 3);
  return std::unique_ptr<Pipe>(
      new SharedObjectPipe(std::move(name), handle, init, process, cleanup));
}

absl::StatusOr<std::vector<std::unique_ptr<Pipe>>> LoadPipePlugins(
    const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("pipe plug-in directory '", dir, "' cannot be read"));
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (absl::EndsWith(name, ".so")) files.push_back(name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (const std::string& f : files) {
    absl::StatusOr<std::unique_ptr<Pipe>> pipe = LoadPipePlugin(dir + "/" + f);
    if (!pipe.ok()) return pipe.status();
    pipes.push_back(*std::move(pipe));
  }
  return pipes;
}

}  // namespace canopy
