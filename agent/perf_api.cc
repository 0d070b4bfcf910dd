#include "agent/perf_api.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <sys/queue.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "agent/disks.h"
#include "agent/json.h"
#include "agent/proc_file.h"
#include "agent/proc_parse.h"
#include "agent/processes.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {
namespace agent {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr absl::Duration kMaxDuration = absl::Hours(24);
constexpr absl::Duration kMinInterval = absl::Milliseconds(100);
constexpr int64_t kMaxSamples = 86400;
constexpr absl::Duration kKeepFinished = absl::Hours(1);

std::string ReadOrEmpty(const std::string& path) {
  absl::StatusOr<std::string> s = ReadSmallFile(path);
  return s.ok() ? *std::move(s) : std::string();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return out;
}

// One sample of a series. Process samples leave `cores` empty.
struct Sample {
  double cpu = 0;
  std::vector<double> cores;
  double mem_percent = 0;
  uint64_t mem_used = 0;
  double read_size = 0, write_size = 0, read_count = 0, write_count = 0;
};

// The system's figures; rates and percents against the previous reading.
class SystemSampler {
 public:
  // False for the first reading (it only primes the counters).
  bool Sample(absl::Time now, struct Sample* out) {
    std::vector<CpuTimes> cpus = ParseProcStat(ReadOrEmpty("/proc/stat"));
    if (whole_disks_.empty()) whole_disks_ = ListDir("/sys/block");
    std::array<uint64_t, 4> io{};
    for (const DiskCounters& d :
         ParseDiskstats(ReadOrEmpty("/proc/diskstats"))) {
      if (!IsReportedDisk(d.device, whole_disks_)) continue;
      for (int i = 0; i < 4; ++i) io[i] += d.v[i];
    }
    bool primed = last_ != absl::InfinitePast();
    double seconds = primed ? absl::ToDoubleSeconds(now - last_) : 0;
    if (primed && seconds > 0) {
      out->cores.clear();
      for (const CpuTimes& c : cpus) {
        auto prev = cpu_prev_.find(c.core);
        std::array<double, 9> p{};
        double busy = 0;
        if (prev != cpu_prev_.end() && CpuPercents(prev->second, c, &p)) {
          busy = p[8];
        }
        if (c.core < 0) {
          out->cpu = busy;
        } else {
          out->cores.push_back(busy);
        }
      }
      MemFigures m = ComputeMem(ParseMeminfo(ReadOrEmpty("/proc/meminfo")));
      out->mem_percent = m.percent;
      out->mem_used = m.used;
      out->read_size = CounterDelta(io_prev_[0], io[0]) / seconds;
      out->write_size = CounterDelta(io_prev_[1], io[1]) / seconds;
      out->read_count = CounterDelta(io_prev_[2], io[2]) / seconds;
      out->write_count = CounterDelta(io_prev_[3], io[3]) / seconds;
    }
    cpu_prev_.clear();
    for (CpuTimes& c : cpus) cpu_prev_[c.core] = c;
    io_prev_ = io;
    last_ = now;
    return primed && seconds > 0;
  }

 private:
  absl::Time last_ = absl::InfinitePast();
  std::map<int, CpuTimes> cpu_prev_;
  std::array<uint64_t, 4> io_prev_{};
  std::vector<std::string> whole_disks_;
};

struct ProcCounters {
  uint64_t ticks = 0, rb = 0, wb = 0, rc = 0, wc = 0;
};

// The processes named `name` (the kernel's comm, as --watch matches),
// summed: cpu percent of one core, rss, storage IO and read/write calls.
class ProcessSampler {
 public:
  explicit ProcessSampler(std::string name) : name_(std::move(name)) {
    long tps = sysconf(_SC_CLK_TCK);
    tps_ = tps > 0 ? tps : 100;
    long ps = sysconf(_SC_PAGESIZE);
    page_ = ps > 0 ? ps : 4096;
  }

  bool Sample(absl::Time now, uint64_t mem_total, struct Sample* out) {
    using Counters = ProcCounters;
    std::map<std::pair<int, uint64_t>, Counters> next;
    uint64_t rss = 0;
    for (const std::string& entry : ListDir("/proc")) {
      int pid;
      if (!absl::SimpleAtoi(entry, &pid)) continue;
      PidStat st;
      std::string dir = absl::StrCat("/proc/", pid);
      if (!ParsePidStat(ReadOrEmpty(dir + "/stat"), &st)) continue;
      if (!WatchMatches(name_, st.comm)) continue;
      Counters c;
      c.ticks = st.utime + st.stime;
      rss += static_cast<uint64_t>(std::max<int64_t>(0, st.rss_pages)) * page_;
      for (absl::string_view line :
           absl::StrSplit(ReadOrEmpty(dir + "/io"), '\n')) {
        uint64_t* dst = nullptr;
        if (absl::ConsumePrefix(&line, "read_bytes:")) dst = &c.rb;
        if (absl::ConsumePrefix(&line, "write_bytes:")) dst = &c.wb;
        if (absl::ConsumePrefix(&line, "syscr:")) dst = &c.rc;
        if (absl::ConsumePrefix(&line, "syscw:")) dst = &c.wc;
        if (dst) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line), dst);
      }
      next[{pid, st.start_time}] = c;
    }
    bool primed = last_ != absl::InfinitePast();
    double seconds = primed ? absl::ToDoubleSeconds(now - last_) : 0;
    if (primed && seconds > 0) {
      Counters d;
      for (auto& [id, c] : next) {
        auto p = prev_.find(id);
        if (p == prev_.end()) continue;
        d.ticks += CounterDelta(p->second.ticks, c.ticks);
        d.rb += CounterDelta(p->second.rb, c.rb);
        d.wb += CounterDelta(p->second.wb, c.wb);
        d.rc += CounterDelta(p->second.rc, c.rc);
        d.wc += CounterDelta(p->second.wc, c.wc);
      }
      out->cores.clear();
      out->cpu = 100.0 * d.ticks / tps_ / seconds;
      out->mem_used = rss;
      out->mem_percent = mem_total ? 100.0 * rss / mem_total : 0;
      out->read_size = d.rb / seconds;
      out->write_size = d.wb / seconds;
      out->read_count = d.rc / seconds;
      out->write_count = d.wc / seconds;
    }
    prev_ = std::move(next);
    last_ = now;
    return primed && seconds > 0;
  }

 private:
  std::string name_;
  double tps_;
  int64_t page_;
  absl::Time last_ = absl::InfinitePast();
  std::map<std::pair<int, uint64_t>, ProcCounters> prev_;
};

// What does not change between samples, read when answering.
struct StaticInfo {
  int cores = 0;
  std::string arch, model, version, hostname, system, release, distribution;
  double mhz = 0;
  uint64_t mem_total = 0;
};

StaticInfo ReadStatic() {
  StaticInfo s;
  for (const CpuTimes& c : ParseProcStat(ReadOrEmpty("/proc/stat"))) {
    s.cores += c.core >= 0;
  }
  ParseCpuinfo(ReadOrEmpty("/proc/cpuinfo"), &s.model, &s.mhz);
  if (s.mhz == 0) {
    double khz;
    if (absl::SimpleAtod(
            absl::StripAsciiWhitespace(ReadOrEmpty(
                "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")),
            &khz)) {
      s.mhz = khz / 1000;
    }
  }
  utsname u;
  if (uname(&u) == 0) {
    s.arch = u.machine;
    s.version = u.version;
    s.system = u.sysname;
    s.release = u.release;
  }
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) s.hostname = name;
  std::string os = ReadOrEmpty("/etc/os-release");
  if (os.empty()) os = ReadOrEmpty("/usr/lib/os-release");
  s.distribution = ParseOsRelease(os);
  s.mem_total = ComputeMem(ParseMeminfo(ReadOrEmpty("/proc/meminfo"))).total;
  return s;
}

struct DiskInfo {
  std::string mount, device;
  uint64_t total = 0, used = 0;
};

// Disks as the agent reports them (real file systems, each mount once),
// through the DiskCollector so that a hanging statvfs costs at most 1 s.
std::vector<DiskInfo> ReadDisks(DiskCollector* disks) {
  rapidjson::Document d;
  d.SetObject();
  disks->Collect(&d, d.GetAllocator());
  std::vector<DiskInfo> out;
  if (!d.HasMember("disk")) return out;
  const rapidjson::Value& tree = d["disk"];
  std::vector<std::string> seen;
  for (const Mount& m : ParseMounts(ReadOrEmpty("/proc/self/mounts"))) {
    if (IsSkippedFs(m.fs_type)) continue;
    std::string key = SafeSegment(m.mount_point);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    auto it = tree.FindMember(key.c_str());
    if (it == tree.MemberEnd() || !it->value.IsObject()) continue;
    seen.push_back(key);
    DiskInfo di{m.mount_point, m.device, 0, 0};
    if (it->value.HasMember("total") && it->value["total"].IsNumber()) {
      di.total = it->value["total"].GetUint64();
    }
    if (it->value.HasMember("used") && it->value["used"].IsNumber()) {
      di.used = it->value["used"].GetUint64();
    }
    out.push_back(std::move(di));
  }
  return out;
}

template <typename F>
void Series(Writer& w, const char* name, const std::vector<Sample>& samples,
            F field) {
  w.Key(name);
  w.StartArray();
  for (const Sample& s : samples) w.Double(field(s));
  w.EndArray();
}

// One PerformanceInfo (API.md).
void WriteInfo(Writer& w, const std::vector<Sample>& samples,
               const StaticInfo& info, const std::vector<DiskInfo>& disks) {
  w.StartObject();
  w.Key("cpu");
  w.StartObject();
  Series(w, "percent", samples, [](const Sample& s) { return s.cpu; });
  w.Key("coreNum");
  w.Int(info.cores);
  w.Key("corePercent");
  w.StartArray();
  for (const Sample& s : samples) {
    if (s.cores.empty()) continue;  // processes: not known per core
    w.StartArray();
    for (double c : s.cores) w.Double(c);
    w.EndArray();
  }
  w.EndArray();
  w.Key("architecture");
  w.String(info.arch.c_str());
  w.Key("model");
  w.String(info.model.c_str());
  w.Key("MHz");
  w.Double(info.mhz);
  w.EndObject();
  w.Key("memory");
  w.StartObject();
  Series(w, "percent", samples, [](const Sample& s) { return s.mem_percent; });
  w.Key("used");
  w.StartArray();
  for (const Sample& s : samples) w.Uint64(s.mem_used);
  w.EndArray();
  w.Key("total");
  w.Uint64(info.mem_total);
  w.EndObject();
  w.Key("io");
  w.StartObject();
  Series(w, "readSize", samples, [](const Sample& s) { return s.read_size; });
  Series(w, "writeSize", samples, [](const Sample& s) { return s.write_size; });
  Series(w, "readCount", samples, [](const Sample& s) { return s.read_count; });
  Series(w, "writeCount", samples,
         [](const Sample& s) { return s.write_count; });
  w.EndObject();
  w.Key("disk");
  w.StartArray();
  for (const DiskInfo& d : disks) {
    w.StartObject();
    w.Key("mountPoint");
    w.String(d.mount.c_str());
    w.Key("device");
    w.String(d.device.c_str());
    w.Key("total");
    w.Uint64(d.total);
    w.Key("used");
    w.Uint64(d.used);
    w.EndObject();
  }
  w.EndArray();
  w.Key("platform");
  w.StartObject();
  w.Key("version");
  w.String(info.version.c_str());
  w.Key("hostname");
  w.String(info.hostname.c_str());
  w.Key("system");
  w.String(info.system.c_str());
  w.Key("release");
  w.String(info.release.c_str());
  w.Key("distribution");
  w.String(info.distribution.c_str());
  w.EndObject();
  w.EndObject();
}

// A seconds figure: "2", "0.5" or a duration ("2s", "500ms").
bool ParseSeconds(const char* v, absl::Duration* out) {
  if (v == nullptr) return false;
  double s;
  if (absl::SimpleAtod(v, &s)) {
    if (!std::isfinite(s)) return false;
    *out = absl::Seconds(s);
    return true;
  }
  return absl::ParseDuration(v, out);
}

void Reply(evhttp_request* req, int code, const std::string& json) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "application/json");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer* b = evbuffer_new();
  evbuffer_add(b, json.data(), json.size());
  evbuffer_add(b, "\n", 1);
  evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", b);
  evbuffer_free(b);
}

std::string Failed(absl::string_view reason) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("result");
  w.String("failed");
  w.Key("reason");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  w.EndObject();
  return sb.GetString();
}

}  // namespace

struct Collection;

struct PerfApi::State {
  explicit State(ErrorLog* log) : log(log), disks(log, absl::Seconds(1)) {}
  ~State();
  event_base* base = nullptr;
  ErrorLog* log;
  DiskCollector disks;
  std::map<std::string, std::unique_ptr<Collection>> collections;
};

struct Collection {
  std::string hash, server;
  absl::Time started;
  absl::Time finished = absl::InfiniteFuture();
  int64_t want = 0;  // samples
  SystemSampler sys;
  std::unique_ptr<ProcessSampler> proc;
  std::vector<Sample> sys_samples, proc_samples;
  event* timer = nullptr;
  ~Collection() {
    if (timer) event_free(timer);
  }
};

PerfApi::State::~State() { collections.clear(); }

namespace {

void OnTick(evutil_socket_t, short, void* arg) {
  Collection* c = static_cast<Collection*>(arg);
  absl::Time now = absl::Now();
  Sample s;
  if (c->sys.Sample(now, &s)) c->sys_samples.push_back(s);
  if (c->proc) {
    Sample p;
    uint64_t total =
        ComputeMem(ParseMeminfo(ReadOrEmpty("/proc/meminfo"))).total;
    if (c->proc->Sample(now, total, &p)) c->proc_samples.push_back(p);
  }
  if (static_cast<int64_t>(c->sys_samples.size()) >= c->want) {
    event_del(c->timer);
    c->finished = now;
  }
}

std::string StartCollecting(PerfApi::State* st, const evkeyvalq* q) {
  const char* hash = evhttp_find_header(q, "hash");
  const char* duration = evhttp_find_header(q, "duration");
  const char* interval = evhttp_find_header(q, "interval");
  const char* server = evhttp_find_header(q, "server");
  for (auto [name, v] : {std::pair<const char*, const char*>{"hash", hash},
                         {"duration", duration},
                         {"interval", interval}}) {
    if (v == nullptr || *v == 0) return Failed(absl::StrCat("missing ", name));
  }
  if (std::strlen(hash) > 256) return Failed("hash longer than 256 bytes");
  absl::Duration d, i;
  if (!ParseSeconds(duration, &d) || d <= absl::ZeroDuration() ||
      d > kMaxDuration) {
    return Failed("duration must be seconds, above 0 and at most 86400");
  }
  if (!ParseSeconds(interval, &i) || i < kMinInterval || i > d) {
    return Failed(
        "interval must be seconds, at least 0.1 and at most the "
        "duration");
  }
  int64_t want =
      static_cast<int64_t>(std::floor(absl::FDivDuration(d, i) + 1e-9));
  if (want > kMaxSamples) {
    return Failed(
        absl::StrCat("duration / interval is over ", kMaxSamples, " samples"));
  }
  absl::Time now = absl::Now();
  for (auto it = st->collections.begin(); it != st->collections.end();) {
    if (now - it->second->finished > kKeepFinished) {
      it = st->collections.erase(it);
    } else {
      ++it;
    }
  }
  if (st->collections.count(hash)) {
    return Failed(absl::StrCat("hash ", hash, " is already collecting"));
  }
  if (st->collections.size() >= static_cast<size_t>(kMaxCollections)) {
    return Failed(absl::StrCat("too many collections (at most ",
                               kMaxCollections, "): stop one first"));
  }
  auto c = std::make_unique<Collection>();
  c->hash = hash;
  c->started = now;
  c->want = want;
  if (server != nullptr && *server != 0) {
    c->server = server;
    c->proc = std::make_unique<ProcessSampler>(c->server);
    c->proc->Sample(now, 0, nullptr);
  }
  c->sys.Sample(now, nullptr);  // primes the counters
  c->timer = event_new(st->base, -1, EV_PERSIST, OnTick, c.get());
  timeval tv = absl::ToTimeval(i);
  event_add(c->timer, &tv);
  st->collections[hash] = std::move(c);
  return R"({"result":"succeeded"})";
}

std::string Answer(PerfApi::State* st, const std::vector<Sample>& sys,
                   const std::vector<Sample>* proc) {
  StaticInfo info = ReadStatic();
  std::vector<DiskInfo> disks = ReadDisks(&st->disks);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.SetMaxDecimalPlaces(3);
  w.StartObject();
  w.Key("result");
  w.String("succeeded");
  w.Key("system");
  WriteInfo(w, sys, info, disks);
  if (proc) {
    w.Key("process");
    WriteInfo(w, *proc, info, disks);
  }
  w.EndObject();
  return sb.GetString();
}

std::string StopCollecting(PerfApi::State* st, const evkeyvalq* q) {
  const char* hash = evhttp_find_header(q, "hash");
  if (hash == nullptr || *hash == 0) return Failed("missing hash");
  auto it = st->collections.find(hash);
  if (it == st->collections.end()) {
    return Failed(absl::StrCat("unknown hash ", hash));
  }
  std::unique_ptr<Collection> c = std::move(it->second);
  st->collections.erase(it);
  return Answer(st, c->sys_samples, c->proc ? &c->proc_samples : nullptr);
}

std::string RealTime(PerfApi::State* st) {
  SystemSampler s;
  s.Sample(absl::Now(), nullptr);
  usleep(100 * 1000);  // cpu and IO over 100 ms
  Sample one;
  std::vector<Sample> samples;
  if (s.Sample(absl::Now(), &one)) samples.push_back(one);
  return Answer(st, samples, nullptr);
}

void Handle(evhttp_request* req, void* arg) {
  PerfApi::State* st = static_cast<PerfApi::State*>(arg);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  std::string p = path ? path : "";
  evkeyvalq q;
  TAILQ_INIT(&q);
  if (query != nullptr && evhttp_parse_query_str(query, &q) != 0) {
    evhttp_clear_headers(&q);
    Reply(req, 200, Failed("malformed query"));
    return;
  }
  std::string body;
  int code = 200;
  if (p == "/performance/start_collecting") {
    body = StartCollecting(st, &q);
  } else if (p == "/performance/stop_collecting") {
    body = StopCollecting(st, &q);
  } else if (p == "/performance/real_time") {
    body = RealTime(st);
  } else {
    code = 404;
    body = Failed(absl::StrCat("no such path: ", p));
  }
  evhttp_clear_headers(&q);
  Reply(req, code, body);
}

bool SplitListen(absl::string_view listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  *host = std::string(h);
  return absl::SimpleAtoi(listen.substr(colon + 1), port) && *port > 0 &&
         *port < 65536;
}

}  // namespace

absl::Status ValidateListen(absl::string_view listen) {
  std::string host;
  int port;
  if (!SplitListen(listen, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen=", listen, ": expected HOST:PORT (127.0.0.1:7576)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PerfApi>> PerfApi::Start(
    const std::string& listen, ErrorLog* log) {
  std::string host;
  int port;
  if (!SplitListen(listen, &host, &port)) return ValidateListen(listen);
  static const int threads = evthread_use_pthreads();
  (void)threads;
  std::unique_ptr<PerfApi> api(new PerfApi);
  api->base_ = event_base_new();
  api->http_ = evhttp_new(api->base_);
  if (api->base_ == nullptr || api->http_ == nullptr) {
    return absl::InternalError("--listen: cannot create the event loop");
  }
  if (evhttp_bind_socket_with_handle(api->http_, host.c_str(),
                                     static_cast<uint16_t>(port)) == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "--listen=", listen, ": cannot listen: ", strerror(errno)));
  }
  api->state_ = std::make_unique<State>(log);
  api->state_->base = api->base_;
  evhttp_set_allowed_methods(api->http_, EVHTTP_REQ_GET);
  evhttp_set_timeout(api->http_, 30);
  evhttp_set_gencb(api->http_, Handle, api->state_.get());
  event_base* base = api->base_;
  api->thread_ = std::thread([base] { event_base_dispatch(base); });
  return api;
}

PerfApi::~PerfApi() {
  if (thread_.joinable()) {
    event_base_loopbreak(base_);
    thread_.join();
  }
  state_.reset();
  if (http_) evhttp_free(http_);
  if (base_) event_base_free(base_);
}

}  // namespace agent
}  // namespace canopy
