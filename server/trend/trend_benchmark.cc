// canopy-trend-bench: what trend history costs (docs/BENCHMARKS.md, "Trend
// history"). Everything runs in a fresh temporary directory, on loopback
// only, and is removed at the end. One program in one file (past the usual
// 600 lines) so that each figure in BENCHMARKS.md has its code in one place.
//
//   (a) bytes on disk per stored window: --series gauges (a two-decimal
//       random walk, one sample per window), --series StatsD hit counters
//       (a Poisson(5) number of +1 a window; none is a gap) and --series
//       counters of 3-7 random increments of 0-9 (every field random),
//       --hours (or --windows) of 10 s windows each, from a block period's
//       start, written through TrendStore::Write in one batch per 10 s as
//       canopyd's trend thread does (retention 10s:2d). The directory's
//       files are summed after closing the store, after reopening and
//       closing it (LevelDB turns its log into a table; ApproximateBytes()
//       is read then), and after a full LevelDB compaction (the directory
//       opened with LevelDB directly: TrendStore has no CompactRange);
//   (b) windows written per second, wall clock and per CPU second (the
//       process's CPU time, LevelDB's compaction thread included);
//   (c) Query latency of GET /trend's work: a day at 10 s of one series
//       (8640 windows) and a year at 1 h of one series (retention 1h:2y,
//       8760 windows written as finest-level windows); p50 and max of --runs;
//   (d) restart of canopyd with --leaves leaves: start canopyd (the one
//       beside this program, or --canopyd) on 127.0.0.1 with a temporary
//       data dir, push the leaves through POST /push in JSON trees of
//       --batch leaves and time how long after its window's end history
//       holds their first window (new series) and, after a second push,
//       their next one (from /metrics); push a third time and stop
//       it at once with SIGTERM (it flushes every open window and writes
//       its snapshot), start it again and time until /healthz answers;
//       RSS before and after.
//
//   canopy-trend-bench                    # all of it, about 2.5 minutes
//   canopy-trend-bench --skip_restart --series=100
//
// Prints a Markdown table. Single-threaded (LevelDB has its own thread).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "canopy/http_client.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "leveldb/db.h"
#include "server/trend/store.h"

ABSL_FLAG(std::string, tmp, "",
          "parent of the temporary directory (default $TMPDIR or /tmp)");
ABSL_FLAG(int, series, 1000, "(a) series of each kind");
ABSL_FLAG(int, hours, 24, "(a) hours of 10 s windows per series");
ABSL_FLAG(int, windows, 0, "(a) windows per series, instead of --hours");
ABSL_FLAG(int, runs, 20, "(c) runs of each query");
ABSL_FLAG(int64_t, leaves, 1000000, "(d) leaves pushed before the restart");
ABSL_FLAG(int, batch, 10000, "(d) leaves per POST /push");
ABSL_FLAG(std::string, canopyd, "",
          "(d) the canopyd binary (default: canopyd beside this program)");
ABSL_FLAG(bool, skip_restart, false, "skip (d)");
ABSL_FLAG(bool, keep, false, "keep the temporary directory (and say where)");

namespace canopy {
namespace bench {
namespace {

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// What to clean up if we die: the canopyd we started, the temporary dir.
volatile pid_t g_child = -1;
std::string* g_root = nullptr;

[[noreturn]] void Die(absl::string_view what) {
  std::cerr << "canopy-trend-bench: " << what << std::endl;
  if (g_child > 0) {
    kill(g_child, SIGKILL);
    waitpid(g_child, nullptr, 0);
  }
  if (g_root != nullptr) {
    std::system(absl::StrCat("tail -n 20 '", *g_root,
                             "/canopyd/canopyd.log' 2>/dev/null >&2")
                    .c_str());
  }
  if (g_root != nullptr && !absl::GetFlag(FLAGS_keep)) {
    std::system(absl::StrCat("rm -rf '", *g_root, "'").c_str());
  }
  std::exit(1);
}

// Ctrl-C: the canopyd we started goes too.
void OnSignal(int sig) {
  if (g_child > 0) kill(g_child, SIGKILL);
  _exit(128 + sig);
}

// Sum of the sizes of the regular files under `dir` (one level: LevelDB
// keeps no subdirectories).
uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> ls(
      popen(absl::StrCat("find '", dir, "' -type f -printf '%s\\n'").c_str(),
            "r"),
      pclose);
  if (!ls) return 0;
  char line[64];
  while (fgets(line, sizeof line, ls.get()) != nullptr) {
    uint64_t n = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &n)) total += n;
  }
  return total;
}

Retention MustRetention(absl::string_view spec) {
  absl::StatusOr<Retention> r = Retention::Parse(spec);
  if (!r.ok()) Die(r.status().ToString());
  return *r;
}

std::unique_ptr<TrendStore> MustOpen(const std::string& dir,
                                     absl::string_view retention) {
  absl::StatusOr<std::unique_ptr<TrendStore>> s =
      TrendStore::Open(dir, MustRetention(retention));
  if (!s.ok()) Die(s.status().ToString());
  return *std::move(s);
}

struct Row {
  std::string what;
  std::string figure;
  std::string goal;
};

// ------------------------------------------------------------- (a), (b)

struct WriteResult {
  uint64_t windows = 0;
  double wall = 0;
  double cpu = 0;
  uint64_t dir_closed = 0;     // after the first close
  uint64_t dir_reopened = 0;   // after a reopen and close
  uint64_t approximate = 0;    // ApproximateBytes() after the reopen
  uint64_t dir_compacted = 0;  // after a full LevelDB compaction
};

enum class Kind {
  kGauge,    // a two-decimal random walk, one sample per window
  kHits,     // StatsD "hits:1|c": a Poisson(5) number of +1 per window
  kCounter,  // 3..7 increments of 0..9 per window: every field random
};

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kGauge:
      return "gauge";
    case Kind::kHits:
      return "hits";
    case Kind::kCounter:
      return "counter";
  }
  return "?";
}

// Writes `series` series of `kind`, one window each per 10 s from `start`
// for `windows` windows, one Write() per 10 s.
WriteResult WriteDay(const std::string& dir, Kind kind, int series,
                     int64_t start, int64_t windows, std::mt19937_64* rng) {
  WriteResult r;
  std::unique_ptr<TrendStore> store = MustOpen(dir, "10s:2d");
  std::vector<std::string> keys;
  std::vector<double> level(series);
  std::uniform_real_distribution<double> initial(10, 90);
  for (int i = 0; i < series; ++i) {
    keys.push_back(absl::StrFormat("bench,%s,%04d", KindName(kind), i));
    level[i] = std::round(initial(*rng) * 100) / 100;
  }
  // Gauge: a random walk of -0.5 .. +0.5 in steps of 0.01, kept in 0..100.
  std::uniform_int_distribution<int> cents(-50, 50);
  // Counter: 3..7 increments of 0..9 per window (count about 5).
  std::uniform_int_distribution<int> increments(3, 7);
  std::uniform_int_distribution<int> increment(0, 9);
  // Hits: about 5 a window; a window without any is not stored (a gap).
  std::poisson_distribution<int> hits(5);
  std::vector<ClosedWindow> batch;
  batch.reserve(series);
  double wall0 = Now(), cpu0 = CpuNow();
  for (int64_t w = 0; w < windows; ++w) {
    batch.clear();
    for (int i = 0; i < series; ++i) {
      int n = kind == Kind::kHits ? hits(*rng) : 0;
      if (kind == Kind::kHits && n == 0) continue;
      ClosedWindow& cw = batch.emplace_back();
      cw.key = keys[i];
      cw.action = kind == Kind::kGauge ? Action::kLast : Action::kAdd;
      cw.start = start + 10 * w;
      if (kind == Kind::kHits) {
        cw.count = cw.sum = n;
        cw.min = cw.max = cw.last = 1;
      } else if (kind == Kind::kGauge) {
        // Integer cents, so that the value is exactly what "%.2f" prints.
        int64_t c = std::llround(level[i] * 100) + cents(*rng);
        c = std::clamp<int64_t>(c, 0, 10000);
        level[i] = static_cast<double>(c) / 100;
        cw.count = 1;
        cw.sum = cw.min = cw.max = cw.last = level[i];
      } else {
        int n = increments(*rng);
        cw.count = n;
        cw.sum = 0;
        cw.min = 1e300;
        cw.max = -1e300;
        for (int k = 0; k < n; ++k) {
          double v = increment(*rng);
          cw.sum += v;
          cw.min = std::min(cw.min, v);
          cw.max = std::max(cw.max, v);
          cw.last = v;
        }
      }
    }
    absl::Status s = store->Write(batch);
    if (!s.ok()) Die(s.ToString());
    r.windows += batch.size();
  }
  store.reset();  // closes LevelDB; its log holds the last writes
  r.wall = Now() - wall0;
  r.cpu = CpuNow() - cpu0;
  r.dir_closed = DirBytes(dir);
  store = MustOpen(dir, "10s:2d");
  r.approximate = store->ApproximateBytes();
  store.reset();
  r.dir_reopened = DirBytes(dir);
  // What LevelDB converges to: every table compacted, the windows that were
  // packed into blocks (and their deletions) gone. TrendStore does not
  // expose its DB, so the closed directory is opened here directly.
  leveldb::DB* db = nullptr;
  leveldb::Options options;
  leveldb::Status st = leveldb::DB::Open(options, dir, &db);
  if (!st.ok()) Die(st.ToString());
  db->CompactRange(nullptr, nullptr);
  delete db;
  r.dir_compacted = DirBytes(dir);
  return r;
}

// ------------------------------------------------------------------ (c)

struct Latency {
  double p50_ms = 0;
  double max_ms = 0;
  size_t points = 0;
};

Latency TimeQuery(const TrendStore& store, const std::string& key, int64_t from,
                  int64_t to, int64_t step, int runs) {
  TrendQuery q;
  absl::StatusOr<Pattern> p = Pattern::Parse(key);
  if (!p.ok()) Die(p.status().ToString());
  q.patterns.push_back(*p);
  q.from = from;
  q.to = to;
  q.step = step;
  q.fn = TrendFn::kAvg;
  std::vector<double> ms;
  Latency l;
  for (int i = 0; i < runs; ++i) {
    double t0 = Now();
    absl::StatusOr<TrendResult> r = store.Query(q);
    ms.push_back((Now() - t0) * 1000);
    if (!r.ok()) Die(r.status().ToString());
    l.points = r->series.empty() ? 0 : r->series[0].points.size();
  }
  std::sort(ms.begin(), ms.end());
  l.p50_ms = ms[ms.size() / 2];
  l.max_ms = ms.back();
  return l;
}

// ------------------------------------------------------------------ (d)

int64_t RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      int64_t kb = 0;
      v = absl::StripAsciiWhitespace(v);
      v = v.substr(0, v.find(' '));
      if (absl::SimpleAtoi(v, &kb)) return kb;
    }
  }
  return -1;
}

class Canopyd {
 public:
  Canopyd(std::string bin, std::string data_dir)
      : bin_(std::move(bin)), data_dir_(std::move(data_dir)) {}
  ~Canopyd() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      g_child = -1;
    }
  }

  // Starts canopyd and waits (at most `deadline_s`) until /healthz answers;
  // returns the seconds that took.
  double Start(double deadline_s = 120) {
    std::string ready = data_dir_ + "/ready";
    unlink(ready.c_str());
    std::vector<std::string> args = {bin_,
                                     "--http=127.0.0.1:0",
                                     "--udp=127.0.0.1:0",
                                     "--tcp=127.0.0.1:0",
                                     "--data_dir=" + data_dir_,
                                     "--ready_file=" + ready};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    double t0 = Now();
    pid_ = fork();
    if (pid_ < 0) Die("fork failed");
    if (pid_ > 0) g_child = pid_;
    if (pid_ == 0) {
      // Its log goes to a file, shown if something fails.
      int log = open((data_dir_ + "/canopyd.log").c_str(),
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (log >= 0) dup2(log, 2);
      execv(argv[0], argv.data());
      std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    while (Now() - t0 < deadline_s) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = g_child = -1;
        Die("canopyd exited during its start");
      }
      std::ifstream in(ready);
      std::string text((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      size_t at = text.find("http=");
      if (at != std::string::npos) {
        absl::string_view rest = absl::string_view(text).substr(at + 5);
        rest = rest.substr(0, rest.find_first_of(" \n"));
        if (absl::SimpleAtoi(rest, &port_) && port_ > 0) {
          absl::StatusOr<HttpReply> r = Client().Request("GET", "/healthz");
          if (r.ok() && r->status == 200) return Now() - t0;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Die("canopyd did not answer /healthz in time");
  }

  // SIGTERM; returns the seconds until it exited.
  double Stop(double deadline_s = 120) {
    double t0 = Now();
    kill(pid_, SIGTERM);
    while (Now() - t0 < deadline_s) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = g_child = -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          Die("canopyd did not stop cleanly");
        }
        return Now() - t0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Die("canopyd did not stop in time");
  }

  HttpClient Client() const { return HttpClient("127.0.0.1", port_, 60); }
  pid_t pid() const { return pid_; }

 private:
  std::string bin_;
  std::string data_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct RestartResult {
  int64_t leaves = 0;
  double push_s = 0;
  double flush_new_s = -1;    // the first window of every leaf, new series
  double flush_again_s = -1;  // the next window, series known
  int64_t rss_before_kb = 0;
  double stop_s = 0;
  uint64_t snapshot_bytes = 0;
  double start_s = 0;
  int64_t rss_after_kb = 0;
  bool restored = false;
};

std::string LeafValue(int64_t i, int round) {
  return absl::StrFormat("%d.%02d", (i + round) % 1000, (i + round) % 97);
}

// Pushes every leaf bench,restart,<i / 1000>,<i % 1000> once, `batch` leaves
// a request; returns the seconds it took.
double PushAll(const Canopyd& d, int64_t leaves, int batch, int round) {
  double t0 = Now();
  for (int64_t first = 0; first < leaves; first += batch) {
    int64_t end = std::min<int64_t>(leaves, first + batch);
    std::string body = R"({"bench": {"restart": {)";
    int64_t group = -1;
    for (int64_t i = first; i < end; ++i) {
      if (i / 1000 != group) {
        if (group >= 0) body += "}, ";
        group = i / 1000;
        absl::StrAppend(&body, "\"", group, "\": {");
      } else {
        body += ", ";
      }
      absl::StrAppend(&body, "\"", i % 1000, "\": ", LeafValue(i, round));
    }
    body += "}}}}";
    absl::StatusOr<HttpReply> reply = d.Client().Request(
        "POST", "/push", body, {{"Content-Type", "application/json"}});
    if (!reply.ok()) Die(reply.status().ToString());
    if (reply->status != 200) Die(absl::StrCat("push: ", reply->body));
  }
  return Now() - t0;
}

// canopy_trend_windows_written_total from /metrics (-1 if absent).
double WindowsWritten(const Canopyd& d) {
  absl::StatusOr<HttpReply> reply = d.Client().Request("GET", "/metrics");
  if (!reply.ok() || reply->status != 200) return -1;
  for (absl::string_view line : absl::StrSplit(reply->body, '\n')) {
    double v;
    if (absl::ConsumePrefix(&line, "canopy_trend_windows_written_total ") &&
        absl::SimpleAtod(absl::StripAsciiWhitespace(line), &v)) {
      return v;
    }
  }
  return -1;
}

double EpochNow() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits until history holds `target` windows; returns the seconds from the
// end of the 10 s window that held the last push (`pushed`, epoch seconds)
// until then (-1 on a timeout): the lag of history behind the live tree.
double AwaitFlush(const Canopyd& d, double pushed, double target) {
  const double window_end = (std::floor(pushed / 10) + 1) * 10;
  double deadline = Now() + 120;
  while (Now() < deadline) {
    if (WindowsWritten(d) >= target) return EpochNow() - window_end;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

RestartResult Restart(const std::string& bin, const std::string& dir,
                      int64_t leaves, int batch) {
  RestartResult r;
  r.leaves = leaves;
  mkdir(dir.c_str(), 0700);
  Canopyd d(bin, dir);
  d.Start();
  const double n = static_cast<double>(leaves);
  // 1: new leaves; their first windows create the series in history.
  double written = std::max(0.0, WindowsWritten(d));
  r.push_s = PushAll(d, leaves, batch, 1);
  r.flush_new_s = AwaitFlush(d, EpochNow(), written + n);
  // 2: the same leaves again: one more window each, series known.
  written = std::max(0.0, WindowsWritten(d));
  PushAll(d, leaves, batch, 2);
  r.flush_again_s = AwaitFlush(d, EpochNow(), written + n);
  r.rss_before_kb = RssKb(d.pid());
  // 3: again, and stop at once: every window is open at the stop.
  PushAll(d, leaves, batch, 3);
  r.stop_s = d.Stop();
  struct stat st;
  if (stat((dir + "/tree.snapshot").c_str(), &st) == 0) {
    r.snapshot_bytes = st.st_size;
  }
  r.start_s = d.Start();
  r.rss_after_kb = RssKb(d.pid());
  int64_t last = leaves - 1;
  std::string key =
      absl::StrCat("bench,restart,", last / 1000, ",", last % 1000);
  absl::StatusOr<HttpReply> get =
      d.Client().Request("GET", absl::StrCat("/get?key=", key));
  r.restored = get.ok() && get->status == 200 &&
               get->body.find(absl::StrCat(
                   "\"", key, "\":", LeafValue(last, 3))) != std::string::npos;
  d.Stop();
  return r;
}

// ------------------------------------------------------------------ main

std::string Mb(uint64_t bytes) {
  return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / 1e6);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "trend history benchmarks: bytes per window, write rate, query "
      "latency, canopyd restart; prints a Markdown table");
  absl::ParseCommandLine(argc, argv);
  std::string parent = absl::GetFlag(FLAGS_tmp);
  if (parent.empty()) {
    const char* env = std::getenv("TMPDIR");
    parent = env != nullptr && *env != '\0' ? env : "/tmp";
  }
  std::string tmpl = parent + "/canopy-trend-bench.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    Die(absl::StrCat("mkdtemp in ", parent, ": ", std::strerror(errno)));
  }
  const std::string root = tmpl;
  g_root = new std::string(root);
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const int series = absl::GetFlag(FLAGS_series);
  const int64_t windows =
      absl::GetFlag(FLAGS_windows) > 0
          ? absl::GetFlag(FLAGS_windows)
          : static_cast<int64_t>(absl::GetFlag(FLAGS_hours)) * 360;
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  std::mt19937_64 rng(20261120);
  std::vector<Row> rows;

  // A day that ended a little before now, in 10 s windows, starting on a
  // block period (256 windows) so that every run packs the same way: the
  // last 8640 % 256 = 192 windows of each series are in a period still
  // open, stored one record each, as in a live store.
  const int64_t now = time(nullptr);
  const int64_t period = 10 * 256;
  int64_t start = now - 10 * windows - 600;
  start -= start % period;

  struct Case {
    Kind kind;
    const char* label;
    WriteResult result;
  };
  std::vector<Case> cases = {
      {Kind::kGauge, "gauge (two-decimal random walk, count 1)", {}},
      {Kind::kHits, "counter of +1s (Poisson(5) a window, gaps when 0)", {}},
      {Kind::kCounter, "counter of 3-7 random increments of 0-9", {}},
  };
  for (Case& c : cases) {
    std::cerr << "(a, b) writing " << series << " " << KindName(c.kind)
              << " series x " << windows << " windows ..." << std::endl;
    c.result = WriteDay(absl::StrCat(root, "/", KindName(c.kind)), c.kind,
                        series, start, windows, &rng);
  }
  for (const Case& c : cases) {
    const char* name = c.label;
    const WriteResult& w = c.result;
    auto per = [&](uint64_t bytes) {
      return static_cast<double>(bytes) / static_cast<double>(w.windows);
    };
    rows.push_back(
        {absl::StrCat("bytes on disk per window, ", name),
         absl::StrFormat("**%.2f B** compacted (%s for %d windows); %.2f B "
                         "reopened (ApproximateBytes %.2f B); %.2f B as "
                         "closed",
                         per(w.dir_compacted), Mb(w.dir_compacted), w.windows,
                         per(w.dir_reopened), per(w.approximate),
                         per(w.dir_closed)),
         "<= 2 B"});
  }
  for (const Case& c : cases) {
    const char* name = KindName(c.kind);
    const WriteResult& w = c.result;
    rows.push_back(
        {absl::StrCat("windows written per second, ", name),
         absl::StrFormat("%.0f /s wall, %.0f per CPU second (%.2f s, %.2f s "
                         "CPU)",
                         w.windows / w.wall, w.windows / w.cpu, w.wall, w.cpu),
         ""});
  }

  std::cerr << "(c) queries ..." << std::endl;
  {
    std::unique_ptr<TrendStore> store = MustOpen(root + "/gauge", "10s:2d");
    Latency day =
        TimeQuery(*store, absl::StrFormat("bench,gauge,%04d", series / 2),
                  start, start + 10 * windows, 10, runs);
    rows.push_back(
        {absl::StrFormat("Query, one series, %d windows at 10 s", windows),
         absl::StrFormat("p50 %.2f ms, max %.2f ms (%d points, %d runs)",
                         day.p50_ms, day.max_ms, day.points, runs),
         ""});
  }
  {
    const std::string dir = root + "/year";
    std::unique_ptr<TrendStore> store = MustOpen(dir, "1h:2y");
    const int64_t hours = 8760;
    const int64_t year_start = (now - now % 3600) - 3600 * hours;
    std::vector<ClosedWindow> one(1);
    one[0].key = "bench,year";
    one[0].action = Action::kAvg;
    double v = 50;
    std::uniform_int_distribution<int> cents(-50, 50);
    for (int64_t h = 0; h < hours; ++h) {
      v = std::clamp(std::round(v * 100 + cents(rng)) / 100, 0.0, 100.0);
      one[0].start = year_start + 3600 * h;
      one[0].count = 360;
      one[0].sum = v * 360;
      one[0].min = v - 1;
      one[0].max = v + 1;
      one[0].last = v;
      absl::Status s = store->Write(one);
      if (!s.ok()) Die(s.ToString());
    }
    Latency year = TimeQuery(*store, "bench,year", year_start,
                             year_start + 3600 * hours, 3600, runs);
    rows.push_back(
        {"Query, one series, a year at 1 h",
         absl::StrFormat("p50 %.2f ms, max %.2f ms (%d points, %d runs)",
                         year.p50_ms, year.max_ms, year.points, runs),
         ""});
  }

  if (!absl::GetFlag(FLAGS_skip_restart)) {
    std::string bin = absl::GetFlag(FLAGS_canopyd);
    if (bin.empty()) {
      char self[4096];
      ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
      if (n <= 0) Die("cannot find this program's path; give --canopyd");
      std::string path(self, n);
      bin = path.substr(0, path.rfind('/') + 1) + "canopyd";
    }
    if (access(bin.c_str(), X_OK) != 0) {
      Die(absl::StrCat(bin,
                       " is not executable; build canopyd or give "
                       "--canopyd"));
    }
    const int64_t leaves = absl::GetFlag(FLAGS_leaves);
    std::cerr << "(d) canopyd with " << leaves << " leaves ..." << std::endl;
    RestartResult r = Restart(bin, root + "/canopyd", leaves,
                              std::max(1, absl::GetFlag(FLAGS_batch)));
    rows.push_back({absl::StrFormat("push %d leaves (POST /push, %d a request)",
                                    r.leaves, absl::GetFlag(FLAGS_batch)),
                    absl::StrFormat("%.2f s", r.push_s), ""});
    rows.push_back(
        {absl::StrFormat("history: a window of %d new leaves on disk",
                         r.leaves),
         absl::StrFormat("%.2f s after the window ended (new series)",
                         r.flush_new_s),
         "< 10 s (the next window)"});
    rows.push_back(
        {absl::StrFormat("history: a window of %d known leaves on disk",
                         r.leaves),
         absl::StrFormat("%.2f s after the window ended; RSS then %.0f MB",
                         r.flush_again_s, r.rss_before_kb / 1024.0),
         "< 10 s"});
    rows.push_back(
        {"stop (SIGTERM) with every window open: flushed, snapshot written",
         absl::StrFormat("%.2f s; snapshot %s", r.stop_s, Mb(r.snapshot_bytes)),
         ""});
    rows.push_back(
        {absl::StrFormat("restart with %d leaves, until /healthz answers",
                         r.leaves),
         absl::StrFormat("%.2f s; RSS %.0f MB; tree %s", r.start_s,
                         r.rss_after_kb / 1024.0,
                         r.restored ? "restored" : "NOT restored"),
         "<= 2 s"});
  }

  std::cout << "| measure | figure | goal |\n| --- | --- | --- |\n";
  for (const Row& row : rows) {
    std::cout << "| " << row.what << " | " << row.figure << " | " << row.goal
              << " |\n";
  }
  std::cout.flush();
  if (absl::GetFlag(FLAGS_keep)) {
    std::cerr << "kept " << root << std::endl;
  } else {
    std::system(absl::StrCat("rm -rf '", root, "'").c_str());
  }
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) { return canopy::bench::Main(argc, argv); }
