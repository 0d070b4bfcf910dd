// The benchmarks' schedule, baseline and subtree. See agent/bench.h.
//
// Threads: the collecting thread calls the public methods; Loop() runs on
// the runner's thread (niced), which alone runs benchmarks and owns
// baselines_ once started; job_, busy_, quit_ and latest_ are shared under
// mu_.
#include "agent/bench.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rapidjson/document.h"

namespace canopy {
namespace agent {
namespace {

constexpr const char* kKinds[] = {"cpu", "sqlite", "disk", "net"};

// nice 19 and the lowest best-effort I/O priority for the calling thread
// (Linux keeps both per thread; threads it starts inherit them).
void LowerPriority() {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 19);
  constexpr int kWhoProcess = 1, kClassBestEffort = 2, kClassShift = 13;
  syscall(SYS_ioprio_set, kWhoProcess, tid,
          (kClassBestEffort << kClassShift) | 7);
}

absl::Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("--bench_dir=", dir,
                                                 ": cannot create ", part, ": ",
                                                 std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateBenchOptions(const BenchOptions& o) {
  for (size_t i = 0; i < o.kinds.size(); ++i) {
    const std::string& k = o.kinds[i];
    if (std::find(std::begin(kKinds), std::end(kKinds), k) ==
        std::end(kKinds)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--bench=", k, ": unknown benchmark (cpu, sqlite, disk, net)"));
    }
    if (std::find(o.kinds.begin(), o.kinds.begin() + i, k) !=
        o.kinds.begin() + i) {
      return absl::InvalidArgumentError(
          absl::StrCat("--bench: ", k, " is given twice"));
    }
    if (k == "net" && o.peer.empty()) {
      return absl::InvalidArgumentError(
          "--bench=net needs --bench_peer=http://HOST:PORT (a canopyd)");
    }
  }
  if (!o.peer.empty() && o.peer.rfind("http://", 0) != 0 &&
      o.peer.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--bench_peer=", o.peer, ": must be http://HOST:PORT or https://..."));
  }
  if (o.interval < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        "--bench_interval must be at least 1m (1h, 30m, 1d)");
  }
  if (o.budget < absl::Milliseconds(100) || o.budget > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        "--bench_budget must be between 100ms and 10s");
  }
  if (!(o.fall_percent > 0 && o.fall_percent <= 100)) {
    return absl::InvalidArgumentError(
        "--bench_fall_percent must be above 0 and at most 100");
  }
  if (o.baseline_runs < Baselines::kMinRuns || o.baseline_runs > 1000) {
    return absl::InvalidArgumentError(
        "--bench_baseline_runs must be between 3 and 1000");
  }
  if (!o.kinds.empty() && o.dir.empty()) {
    return absl::InvalidArgumentError("--bench_dir must not be empty");
  }
  return absl::OkStatus();
}

absl::Status Baselines::Load() {
  runs_.clear();
  std::ifstream in(path_);
  if (!in) return absl::OkStatus();
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document d;
  d.Parse(text.str().c_str());
  auto bad = [&]() {
    runs_.clear();
    return absl::DataLossError(
        absl::StrCat(path_, ": not a baseline file; starting anew"));
  };
  if (d.HasParseError() || !d.IsObject()) return bad();
  for (auto& kind : d.GetObject()) {
    if (!kind.value.IsObject()) return bad();
    for (auto& fig : kind.value.GetObject()) {
      if (!fig.value.IsArray()) return bad();
      std::vector<double>& v =
          runs_[kind.name.GetString()][fig.name.GetString()];
      for (auto& x : fig.value.GetArray()) {
        if (!x.IsNumber()) return bad();
        v.push_back(x.GetDouble());
      }
      if (v.size() > static_cast<size_t>(keep_ + kRecentRuns)) {
        v.erase(v.begin(), v.end() - (keep_ + kRecentRuns));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Baselines::Save() const {
  rapidjson::Document d;
  d.SetObject();
  JsonAlloc& a = d.GetAllocator();
  for (const auto& [kind, figures] : runs_) {
    rapidjson::Value& k = Child(d, kind, a);
    for (const auto& [name, values] : figures) {
      rapidjson::Value list(rapidjson::kArrayType);
      for (double v : values) list.PushBack(v, a);
      k.AddMember(rapidjson::Value(name.c_str(), a), list, a);
    }
  }
  std::string json = ToJson(d);
  std::string tmp = path_ + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  bool ok = f != nullptr &&
            std::fwrite(json.data(), 1, json.size(), f) == json.size();
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path_, ": ", why));
  }
  return absl::OkStatus();
}

namespace {
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
}  // namespace

std::optional<Baselines::Judged> Baselines::Judge(
    const std::string& kind, const std::string& figure) const {
  auto k = runs_.find(kind);
  if (k == runs_.end()) return std::nullopt;
  auto f = k->second.find(figure);
  if (f == k->second.end()) return std::nullopt;
  const std::vector<double>& v = f->second;
  if (v.size() < kMinRuns + kRecentRuns) return std::nullopt;
  auto split = v.end() - kRecentRuns;
  return Judged{Median(std::vector<double>(v.begin(), split)),
                Median(std::vector<double>(split, v.end()))};
}

void Baselines::Add(const std::string& kind, const std::string& figure,
                    double value) {
  std::vector<double>& v = runs_[kind][figure];
  v.push_back(value);
  if (v.size() > static_cast<size_t>(keep_ + kRecentRuns)) v.erase(v.begin());
}

BenchRunner::BenchRunner(BenchOptions options, ErrorLog* log)
    : options_(std::move(options)),
      log_(log),
      baselines_(options_.dir + "/baseline.json", options_.baseline_runs) {}

BenchRunner::~BenchRunner() { Stop(); }

void BenchRunner::Start() {
  // A directory that cannot be made (a read-only disk) is logged, and the
  // sqlite and disk benchmarks report it as their error; the rest runs.
  if (absl::Status s = MakeDirs(options_.dir); !s.ok()) {
    log_->Report("bench", s.message());
  }
  if (int n = RemoveStaleBenchFiles(options_.dir); n > 0) {
    ErrorLog::Info(absl::StrCat(
        "removed ", n, " file(s) an earlier run left in ", options_.dir));
  }
  if (absl::Status s = baselines_.Load(); !s.ok()) {
    log_->Report("bench", s.message());
  }
  for (const std::string& k : options_.kinds) due_[k] = absl::InfinitePast();
  thread_ = std::thread([this] { Loop(); });
}

bool BenchRunner::Kick(absl::Time now) {
  for (const std::string& k : options_.kinds) {
    if (due_[k] > now) continue;
    if (!RunNow(k)) return false;
    due_[k] = now + options_.interval;
    return true;
  }
  return false;
}

bool BenchRunner::RunNow(const std::string& kind) {
  MutexLock lock(&mu_);
  if (busy_ || quit_ || !thread_.joinable()) return false;
  job_ = kind;
  busy_ = true;
  return true;
}

bool BenchRunner::WaitIdle(absl::Duration timeout) {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !busy_; }, timeout);
}

void BenchRunner::Stop() {
  stop_ = true;
  {
    MutexLock lock(&mu_);
    quit_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void BenchRunner::Loop() {
  LowerPriority();
  while (true) {
    std::string kind;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return quit_ || !job_.empty();
      });
      if (quit_) return;
      kind = std::move(job_);
      job_.clear();
    }
    Outcome out = Run(kind);
    // The benchmarks' buffers (the disk's 1 MiB, SQLite's cache, the cpu
    // threads' arenas) go back to the system: the agent stays small for
    // the hour until the next run.
    malloc_trim(0);
    MutexLock lock(&mu_);
    if (!stop_) latest_[kind] = std::move(out);
    busy_ = false;
  }
}

BenchRunner::Outcome BenchRunner::Run(const std::string& kind) {
  BenchContext ctx;
  ctx.budget = options_.budget;
  ctx.stop = &stop_;
  ctx.dir = options_.dir;
  ctx.peer = options_.peer;
  Outcome out;
  absl::Time t0 = absl::Now();
  absl::StatusOr<BenchFigures> figures;
  if (kind == "cpu") {
    figures = RunCpuBench(ctx);
  } else if (kind == "sqlite") {
    figures = RunSqliteBench(ctx);
  } else if (kind == "disk") {
    figures = RunDiskBench(ctx);
  } else {
    figures = RunNetBench(ctx);
  }
  out.when = absl::Now();
  out.seconds = absl::ToDoubleSeconds(out.when - t0);
  if (!figures.ok()) {
    out.error = std::string(figures.status().message());
    if (!stop_) log_->Report(absl::StrCat("bench ", kind), out.error);
    return out;
  }
  out.figures = *std::move(figures);
  for (const BenchFigure& f : out.figures) {
    if (!f.compared) continue;
    baselines_.Add(kind, f.name, f.value);
    std::optional<Baselines::Judged> j = baselines_.Judge(kind, f.name);
    if (j && j->baseline > 0) {
      const double b = j->baseline;
      out.baseline[f.name] = b;
      out.recent[f.name] = j->recent;
      double fall = f.better == kHigherIsBetter ? (b - j->recent) / b
                                                : (j->recent - b) / b;
      out.fall_percent = std::max(out.fall_percent, fall * 100);
    }
  }
  if (absl::Status s = baselines_.Save(); !s.ok()) {
    log_->Report("bench baseline", s.message());
  }
  return out;
}

void BenchRunner::AddTo(rapidjson::Value* host_body, JsonAlloc& a) {
  MutexLock lock(&mu_);
  if (latest_.empty()) return;
  rapidjson::Value& bench = Child(*host_body, "bench", a);
  SetText(bench, "defaultaction", "last", a);
  bool degraded = false;
  for (const auto& [kind, out] : latest_) {
    rapidjson::Value& k = Child(bench, kind, a);
    SetNumber(k, "time", absl::ToDoubleSeconds(out.when - absl::UnixEpoch()),
              a);
    SetNumber(k, "seconds", out.seconds, a);
    SetInt(k, "ok", out.error.empty() ? 1 : 0, a);
    if (!out.error.empty()) {
      SetText(k, "error", out.error, a);
      continue;
    }
    for (const BenchFigure& f : out.figures) SetNumber(k, f.name, f.value, a);
    if (!out.baseline.empty()) {
      rapidjson::Value& b = Child(k, "baseline", a);
      for (const auto& [name, v] : out.baseline) SetNumber(b, name, v, a);
      rapidjson::Value& r = Child(k, "recent", a);
      for (const auto& [name, v] : out.recent) SetNumber(r, name, v, a);
    }
    SetNumber(k, "fall_percent", out.fall_percent, a);
    if (out.fall_percent > options_.fall_percent) degraded = true;
  }
  SetInt(bench, "degraded", degraded ? 1 : 0, a);
  SetNumber(bench, "fall_threshold_percent", options_.fall_percent, a);
}

}  // namespace agent
}  // namespace canopy
