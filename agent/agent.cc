// canopy-agent's core. See agent/agent.h.
//
// Threads: RunAgent() runs on the caller's thread, the collecting thread:
// it collects every interval (system, disks, processes, checks' and
// modules' latest results) and hands the pieces to the Sender's thread.
// The on-demand API, the check runner, the modules, the access logs, the
// disk workers and the benchmarks (agent/bench.h: started right after a
// collection, waited for before the next) run threads of their own (see their
// files); all are stopped before RunAgent() returns, but for the detached
// threads their files describe (a hung statvfs, a module past its stop
// timeout).
#include "agent/agent.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "agent/accesslog.h"
#include "agent/bench.h"
#include "agent/checks.h"
#include "agent/disks.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/module_conf.h"
#include "agent/modules.h"
#include "agent/perf_api.h"
#include "agent/proc_parse.h"
#include "agent/processes.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "agent/system.h"

namespace canopy {
namespace agent {
namespace {

// Waits until `deadline` or a stop signal; true if a signal came.
bool WaitForStop(const sigset_t& stop, absl::Time deadline) {
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    timespec ts = absl::ToTimespec(left);
    int sig = sigtimedwait(&stop, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) return true;
    // EAGAIN: timed out (loop checks); EINTR: another signal.
  }
}

// True if a stop signal is pending (taken without waiting).
bool StopPending(const sigset_t& stop) {
  timespec zero = {0, 0};
  int sig = sigtimedwait(&stop, nullptr, &zero);
  return sig == SIGTERM || sig == SIGINT;
}

// Waits until no benchmark runs (collection never overlaps one); on a stop
// signal meanwhile, stops the benchmark and returns true.
bool WaitForBench(BenchRunner* bench, const sigset_t& stop) {
  if (bench == nullptr) return false;
  while (!bench->WaitIdle(absl::Milliseconds(100))) {
    if (StopPending(stop)) {
      bench->Stop();
      return true;
    }
  }
  return false;
}

class Collectors {
 public:
  Collectors(const AgentOptions& o, ErrorLog* log,
             std::vector<Check> flag_checks)
      : system_(log),
        disks_(log, std::min(absl::Seconds(1), o.interval / 2)),
        procs_(log, ProcessOptions{o.top_n, o.watch, o.anonymize}),
        checks_(log),
        modules_(log, &checks_,
                 ModuleSetOptions{o.conf_dir, o.interval,
                                  std::move(flag_checks), o.host}) {}

  // One interval's tree: {"host": {H: {...}}, "time": T}. `body` is the
  // host's object, where the agent's own figures go.
  void Collect(absl::Time now, const std::string& host, rapidjson::Document* d,
               rapidjson::Value** body) {
    // The document is reused every interval: its pool must be emptied too,
    // or it grows by one tree per interval (SetObject alone frees nothing).
    d->SetObject();
    d->GetAllocator().Clear();
    JsonAlloc& a = d->GetAllocator();
    rapidjson::Value& b = Child(Child(*d, "host", a), host, a);
    system_.Collect(now, &b, a);
    disks_.Collect(&b, a);
    procs_.Collect(now, system_.mem_total(), &b, a);
    modules_.Tick();
    checks_.Collect(&b, a);
    modules_.Collect(d);
    SetNumber(*d, "time", absl::ToDoubleSeconds(now - absl::UnixEpoch()), a);
    *body = &b;
  }

 private:
  SystemCollector system_;
  DiskCollector disks_;
  ProcessCollector procs_;
  CheckRunner checks_;
  ModuleSet modules_;
};

// The agent's own resident memory (/proc/self/statm), or -1.
int64_t OwnRssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : -1;
}

rapidjson::Value CopyOf(const rapidjson::Value& v, JsonAlloc& a) {
  return rapidjson::Value(v, a);
}

// Adds a copy of `m` (name and value) to the object `to`.
void CopyMember(const rapidjson::Value::Member& m, rapidjson::Value* to,
                JsonAlloc& a) {
  to->AddMember(rapidjson::Value(m.name, a), CopyOf(m.value, a), a);
}

// Starts a piece: {"host": {H: {}}, "time": T}; returns the host object.
rapidjson::Value& NewPiece(rapidjson::Document* piece, absl::string_view host,
                           const rapidjson::Value* time) {
  piece->SetObject();
  JsonAlloc& a = piece->GetAllocator();
  rapidjson::Value& b = Child(Child(*piece, "host", a), host, a);
  if (time) piece->AddMember("time", CopyOf(*time, a), a);
  return b;
}

// Members of the tree other than "host" and "time" (modules with a
// `prefix`): each its own piece, with the time.
void AppendOtherTopLevel(const rapidjson::Value& tree,
                         const rapidjson::Value* time, size_t max_bytes,
                         std::vector<std::string>* out, int* oversized) {
  for (auto& m : tree.GetObject()) {
    absl::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name == "host" || name == "time") continue;
    rapidjson::Document piece;
    piece.SetObject();
    JsonAlloc& a = piece.GetAllocator();
    CopyMember(m, &piece, a);
    if (time) piece.AddMember("time", CopyOf(*time, a), a);
    std::string json = ToJson(piece);
    if (json.size() > max_bytes) {
      ++*oversized;
      continue;
    }
    out->push_back(std::move(json));
  }
}

}  // namespace

std::string DefaultHost() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == 0) {
    return "localhost";
  }
  return SafeSegment(name);
}

absl::Status ValidateOptions(const AgentOptions& o) {
  if (absl::StatusOr<ServerAddress> a = ParseServerAddress(o.server); !a.ok()) {
    return a.status();
  }
  if (o.interval < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError(
        "--interval must be at least 100ms (1s, 500ms, 10s)");
  }
  if (o.host.empty() || SafeSegment(o.host) != o.host) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--host=", o.host,
        ": must be one key segment (no comma, no control character)"));
  }
  if (o.top_n < 0) return absl::InvalidArgumentError("--top_n must be >= 0");
  if (o.spool_max_bytes == 0) {
    return absl::InvalidArgumentError("--spool_max_bytes must be positive");
  }
  if (o.check_timeout <= absl::ZeroDuration() ||
      o.check_timeout > absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        "--check_timeout must be above 0 and at most 1m");
  }
  if (absl::StatusOr<std::vector<Check>> c = ChecksFromFlags(
          o.check_ports, o.check_urls, o.nginx_status, o.check_timeout);
      !c.ok()) {
    return c.status();
  }
  if (!o.listen.empty()) {
    if (absl::Status s = ValidateListen(o.listen); !s.ok()) return s;
  }
  if (absl::StatusOr<std::vector<AccessLogSpec>> specs =
          ParseAccessLogSpecs(o.access_log);
      !specs.ok()) {
    return specs.status();
  }
  return ValidateBenchOptions(o.bench);
}

std::vector<std::string> SplitTree(const rapidjson::Value& tree,
                                   size_t max_bytes, int* oversized) {
  std::vector<std::string> out;
  std::string whole = ToJson(tree);
  if (whole.size() <= max_bytes) {
    out.push_back(std::move(whole));
    return out;
  }
  auto host_it = tree.FindMember("host");
  if (host_it == tree.MemberEnd() || !host_it->value.IsObject() ||
      host_it->value.MemberCount() != 1) {
    ++*oversized;
    return out;
  }
  const rapidjson::Value::ConstMemberIterator h = host_it->value.MemberBegin();
  absl::string_view host(h->name.GetString(), h->name.GetStringLength());
  auto t = tree.FindMember("time");
  const rapidjson::Value* time = t == tree.MemberEnd() ? nullptr : &t->value;
  rapidjson::Document piece;
  rapidjson::Value* body = &NewPiece(&piece, host, time);
  const size_t overhead = ToJson(piece).size();
  size_t size = overhead;
  auto flush = [&]() {
    if (body->MemberCount() > 0) out.push_back(ToJson(piece));
    body = &NewPiece(&piece, host, time);
    size = overhead;
  };
  for (auto& sub : h->value.GetObject()) {
    absl::string_view name(sub.name.GetString(), sub.name.GetStringLength());
    size_t bytes = name.size() + 4 + ToJson(sub.value).size();
    if (size + bytes > max_bytes) flush();  // a piece of its own, then
    if (size + bytes <= max_bytes) {
      CopyMember(sub, body, piece.GetAllocator());
      size += bytes;
      continue;
    }
    if (!sub.value.IsObject()) {
      ++*oversized;
      continue;
    }
    // Too large alone: its children, in as many pieces as it takes, each
    // with the subtree's own leaves that are not objects (its action).
    rapidjson::Value leaves(rapidjson::kObjectType);
    rapidjson::Document scratch;
    for (auto& c : sub.value.GetObject()) {
      if (!c.value.IsObject()) CopyMember(c, &leaves, scratch.GetAllocator());
    }
    const size_t sub_overhead = name.size() + 4 + ToJson(leaves).size();
    rapidjson::Value* dst = nullptr;
    auto start_sub = [&]() {
      dst = &Child(*body, name, piece.GetAllocator());
      dst->CopyFrom(leaves, piece.GetAllocator());
      size += sub_overhead;
    };
    start_sub();
    for (auto& c : sub.value.GetObject()) {
      if (!c.value.IsObject()) continue;
      size_t cb = c.name.GetStringLength() + 4 + ToJson(c.value).size();
      if (size + cb > max_bytes) {
        flush();
        start_sub();
        if (size + cb > max_bytes) {
          ++*oversized;
          continue;
        }
      }
      CopyMember(c, dst, piece.GetAllocator());
      size += cb;
    }
    flush();
  }
  flush();
  AppendOtherTopLevel(tree, time, max_bytes, &out, oversized);
  return out;
}

int RunAgent(const AgentOptions& o) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ErrorLog log;
  Collectors collectors(o, &log,
                        *ChecksFromFlags(o.check_ports, o.check_urls,
                                         o.nginx_status, o.check_timeout));
  std::unique_ptr<PerfApi> api;
  if (!o.listen.empty() && !o.once) {
    absl::StatusOr<std::unique_ptr<PerfApi>> started =
        PerfApi::Start(o.listen, &log);
    if (!started.ok()) {
      std::fprintf(stderr, "canopy-agent: %s\n",
                   std::string(started.status().message()).c_str());
      return 1;
    }
    api = *std::move(started);
    ErrorLog::Info(
        absl::StrCat("collection API on http://", o.listen, "/performance/"));
  }
  // The benchmarks' budget is at most half the interval, so that one
  // started right after a collection is done before the next (--once has
  // no next collection).
  std::unique_ptr<BenchRunner> bench;
  if (!o.bench.kinds.empty()) {
    BenchOptions b = o.bench;
    if (!o.once) b.budget = std::min(b.budget, o.interval / 2);
    bench = std::make_unique<BenchRunner>(std::move(b), &log);
    bench->Start();
  }
  rapidjson::Document doc;
  rapidjson::Value* body;

  if (o.once) {
    collectors.Collect(absl::Now(), o.host, &doc, &body);  // primes rates
    if (WaitForStop(stop, absl::Now() + o.interval)) return 0;
    absl::Time t0 = absl::Now();
    collectors.Collect(t0, o.host, &doc, &body);
    JsonAlloc& a = doc.GetAllocator();
    if (bench != nullptr) {
      for (const std::string& kind : o.bench.kinds) {
        bench->RunNow(kind);
        if (WaitForBench(bench.get(), stop)) return 0;
      }
      bench->AddTo(body, a);
    }
    rapidjson::Value& ag = Child(*body, "agent", a);
    SetText(ag, "defaultaction", "last", a);
    SetInt(ag, "interval_ms", absl::ToInt64Milliseconds(o.interval), a);
    SetNumber(ag, "collect_ms", absl::ToDoubleMilliseconds(absl::Now() - t0),
              a);
    SetInt(ag, "errors", log.errors(), a);
    std::string json = ToPrettyJson(doc);
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  ServerAddress to = *ParseServerAddress(o.server);
  std::unique_ptr<Spool> spool;
  if (to.scheme != ServerAddress::Scheme::kUdp) {
    spool = std::make_unique<Spool>(o.spool_dir, o.spool_max_bytes);
    if (absl::Status s = spool->Open(); !s.ok()) {
      std::fprintf(stderr, "canopy-agent: %s\n",
                   std::string(s.message()).c_str());
      return 1;
    }
  }
  Sender sender(to, spool.get(), &log, o.interval);
  std::unique_ptr<AccessLogSet> access_logs;
  std::vector<AccessLogSpec> log_specs;
  if (!o.access_log.empty()) log_specs = *ParseAccessLogSpecs(o.access_log);
  for (AccessLogSpec& spec : AccessLogModules(o.conf_dir, &log)) {
    log_specs.push_back(std::move(spec));
  }
  if (!log_specs.empty()) {
    absl::StatusOr<std::unique_ptr<AccessLogSet>> created =
        AccessLogSet::Create(log_specs, &log);
    if (!created.ok()) {
      std::fprintf(stderr, "canopy-agent: %s\n",
                   std::string(created.status().message()).c_str());
      return 1;
    }
    access_logs = *std::move(created);
  }
  // The access logs' updates since the last interval: objects of their own
  // (each names its action), beside the tree's pieces; over HTTP, where an
  // interval is one push, all of them as one list body.
  auto add_access_logs = [&](std::vector<std::string>* pieces) {
    if (access_logs == nullptr) return;
    const bool http = to.scheme == ServerAddress::Scheme::kHttp;
    std::vector<std::string> mine = access_logs->TakePieces(
        absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()),
        http ? size_t{1} << 20 : kMaxPiece);
    if (mine.empty()) return;
    if (!http) {
      for (std::string& p : mine) pieces->push_back(std::move(p));
      return;
    }
    std::string list = "[";
    for (const std::vector<std::string>* v : {pieces, &mine}) {
      for (const std::string& p : *v) {
        if (list.size() > 1) list += ',';
        list += p;
      }
    }
    list += ']';
    pieces->assign(1, std::move(list));
  };
  sender.Start();
  ErrorLog::Info(
      absl::StrCat("pushing host,", o.host, " to ", o.server, " every ",
                   absl::FormatDuration(o.interval),
                   spool ? absl::StrCat(" (spool ", o.spool_dir, ")") : ""));

  collectors.Collect(absl::Now(), o.host, &doc, &body);  // primes rates
  if (bench != nullptr) bench->Kick(absl::Now());        // the first one now
  absl::Time next = absl::Now() + o.interval;
  uint64_t seq = 0;
  int oversized = 0;
  while (!WaitForStop(stop, next)) {
    if (WaitForBench(bench.get(), stop)) break;
    absl::Time t0 = absl::Now();
    collectors.Collect(t0, o.host, &doc, &body);
    JsonAlloc& a = doc.GetAllocator();
    if (bench != nullptr) bench->AddTo(body, a);
    rapidjson::Value& ag = Child(*body, "agent", a);
    SetText(ag, "defaultaction", "last", a);
    SetInt(ag, "seq", static_cast<int64_t>(++seq), a);
    SetInt(ag, "interval_ms", absl::ToInt64Milliseconds(o.interval), a);
    SetNumber(ag, "collect_ms", absl::ToDoubleMilliseconds(absl::Now() - t0),
              a);
    SetInt(ag, "spooled_bytes", static_cast<int64_t>(sender.spooled_bytes()),
           a);
    SetInt(ag, "dropped", static_cast<int64_t>(sender.dropped()) + oversized,
           a);
    SetInt(ag, "errors", log.errors(), a);
    SetInt(ag, "rss_bytes", OwnRssBytes(), a);
    std::vector<std::string> pieces;
    if (to.scheme == ServerAddress::Scheme::kHttp) {
      pieces.push_back(ToJson(doc));
    } else {
      pieces = SplitTree(doc, kMaxPiece, &oversized);
    }
    add_access_logs(&pieces);
    sender.Enqueue(std::move(pieces));
    if (bench != nullptr) bench->Kick(absl::Now());
    // The next tick on the grid; after a stall, the next one from now
    // (never a burst of catch-up collections).
    next += o.interval;
    absl::Time now = absl::Now();
    if (next <= now) next = now + o.interval;
  }
  ErrorLog::Info("stopping: sending what is queued");
  if (bench != nullptr) bench->Stop();  // a benchmark under way gives up
  if (access_logs != nullptr) {
    access_logs->Stop();  // a last read of every file
    std::vector<std::string> last;
    add_access_logs(&last);
    if (!last.empty()) sender.Enqueue(std::move(last));
  }
  sender.Stop(std::min(absl::Seconds(5), o.interval * 3));
  if (spool && spool->bytes() > 0) {
    ErrorLog::Info(absl::StrCat(spool->size(), " records (", spool->bytes(),
                                " bytes) stay spooled for the next run"));
  }
  return 0;
}

}  // namespace agent
}  // namespace canopy
