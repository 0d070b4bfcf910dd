// The agent's access-log module. See agent/accesslog.h.
//
// Threads: each Follower's thread reads its file and runs the lines through
// the pipes (holding the follower's mu_); TakePieces(), counts() and Stop()
// run on the caller's thread (the agent's collecting thread).
#include "agent/accesslog.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "canopy/log_follow.h"
#include "canopy/mutex.h"
#include "canopy/pipe.h"

namespace canopy {
namespace agent {
namespace {

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kRunBytes = 1 << 20;  // lines run through the pipes at once

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

uint64_t Hash64(absl::string_view s) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, then a finalizer
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// A number exactly as %.17g would write it, integers without exponent.
std::string NumberText(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 9e15 &&
      v > -9e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.17g", v);
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out->push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
      continue;
    }
    out->push_back(c);
  }
  out->push_back('"');
}

// One interval's updates.
struct Aggregate {
  absl::flat_hash_map<std::string, double> adds;
  // Samples of other actions (timer, plug-ins' last/avg/max/min), by action.
  std::map<Action, absl::flat_hash_map<std::string, std::vector<double>>>
      samples;
  // Set members, already as their numbers' text.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> sets;
  bool empty() const { return adds.empty() && samples.empty() && sets.empty(); }
};

// Writes top-level objects of at most max_bytes:
// {"time":T,"defaultaction":"A","key":value,...}.
class PieceWriter {
 public:
  PieceWriter(double time, size_t max_bytes, std::vector<std::string>* out)
      : time_(NumberText(time)), max_bytes_(max_bytes), out_(out) {}

  void Begin(absl::string_view action) {
    Flush();
    head_ = absl::StrCat("{\"time\":", time_, ",\"defaultaction\":\"", action,
                         "\"");
  }
  // One member; false if it cannot fit even alone.
  bool Add(absl::string_view key, absl::string_view value) {
    std::string member = ",";
    AppendJsonString(key, &member);
    member.push_back(':');
    member.append(value.data(), value.size());
    if (head_.size() + member.size() + 1 > max_bytes_) return false;
    if (cur_.empty()) cur_ = head_;
    if (cur_.size() + member.size() + 1 > max_bytes_) {
      Flush();
      cur_ = head_;
    }
    cur_ += member;
    return true;
  }
  // An array of values for one key, split over pieces as needed. Returns
  // how many values could not fit at all.
  size_t AddArray(absl::string_view key, const std::vector<std::string>& vs) {
    size_t dropped = 0;
    std::string array;
    auto emit = [&] {
      if (array.empty()) return;
      array.push_back(']');
      Add(key, array);
      array.clear();
    };
    const size_t room =
        max_bytes_ - std::min(max_bytes_, head_.size() + key.size() + 16);
    for (const std::string& v : vs) {
      if (v.size() + 2 > room) {
        ++dropped;
        continue;
      }
      if (!array.empty() && array.size() + v.size() + 2 > room) emit();
      array.push_back(array.empty() ? '[' : ',');
      array += v;
    }
    emit();
    return dropped;
  }
  void Flush() {
    if (cur_.empty()) return;
    cur_.push_back('}');
    out_->push_back(std::move(cur_));
    cur_.clear();
  }

 private:
  std::string time_;
  size_t max_bytes_;
  std::vector<std::string>* out_;
  std::string head_, cur_;
};

}  // namespace

// One followed file: its thread, its runner, the interval's aggregate.
class AccessLogSet::Follower : public UpdateSink {
 public:
  Follower(AccessLogSpec spec, std::unique_ptr<PipeRunner> runner,
           ErrorLog* log, const AccessLogOptions& options)
      : spec_(std::move(spec)),
        runner_(std::move(runner)),
        log_(log),
        options_(options) {}

  ~Follower() override { Stop(); }

  void Stop() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  void Start() {
    // An existing file: from its end, unless from=start.
    if (file_.Open().ok() && !spec_.from_start) file_.SkipToEnd();
    thread_ = std::thread([this] { Run(); });
  }

  // UpdateSink, called by the runner on this follower's thread with mu_
  // held.
  void Update(absl::string_view key, const LineSample& sample) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Action action =
        sample.action == Action::kInherit ? Action::kLast : sample.action;
    if (action == Action::kAdd) {
      agg_.adds[key] += sample.value * sample.weight;
    } else if (action == Action::kSet) {
      auto& members = agg_.sets[key];
      std::string n = sample.member.empty() ? NumberText(sample.value)
                                            : SetMemberNumber(sample.member);
      if (members.size() >= options_.max_members && !members.contains(n)) {
        ++counts_.dropped;
        return;
      }
      members.insert(std::move(n));
    } else {
      auto& v = agg_.samples[action][key];
      if (v.size() >= options_.max_samples) {
        ++counts_.dropped;
        return;
      }
      v.push_back(sample.value);
    }
  }

  void Take(Aggregate* out, AccessLogSet::Counts* counts) {
    MutexLock lock(&mu_);
    *out = std::move(agg_);
    agg_ = Aggregate();
    counts->lines += counts_.lines;
    counts->skipped += counts_.skipped;
    counts->dropped += counts_.dropped;
    counts->reopened += counts_.reopened;
    counts->truncated += counts_.truncated;
  }

  void AddCounts(AccessLogSet::Counts* counts) const {
    MutexLock lock(&mu_);
    counts->lines += counts_.lines;
    counts->skipped += counts_.skipped;
    counts->dropped += counts_.dropped;
    counts->reopened += counts_.reopened;
    counts->truncated += counts_.truncated;
  }

 private:
  static LogFollower::Options FollowOptions() {
    LogFollower::Options options;
    options.max_line = kMaxLine;
    // The thread must stop on request: it never waits in read() on a FIFO.
    options.regular_files_only = true;
    return options;
  }

  // The lines of one pass, run through the pipes together (at most about
  // kRunBytes at a time).
  class Lines : public LogFollower::Sink {
   public:
    explicit Lines(Follower* follower) : follower_(follower) {}
    ~Lines() override { RunPending(); }
    void Line(absl::string_view line) override {
      lines_.append(line.data(), line.size());
      lines_.push_back('\n');
      if (lines_.size() >= kRunBytes) RunPending();
    }
    void RunPending() {
      follower_->RunLines(lines_);
      lines_.clear();
    }

   private:
    Follower* const follower_;
    std::string lines_;
  };

  void Run() {
    while (true) {
      Poll();
      MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(
              [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; },
              options_.poll)) {
        break;
      }
    }
    Poll();  // what was written before the stop
  }

  // One pass: new data, then rotation and truncation (canopy/log_follow.h).
  void Poll() {
    Lines lines(this);
    if (absl::Status s = file_.Read(&lines); !s.ok()) Report(s);
    if (absl::Status s = file_.CheckRotation(&lines); !s.ok()) Report(s);
  }

  void Report(const absl::Status& s) {
    log_->Report("accesslog", std::string(s.message()));
  }

  void RunLines(absl::string_view lines) {
    const LogFollower::Counts& now = file_.counts();
    MutexLock lock(&mu_);
    counts_.skipped += now.too_long - followed_.too_long;
    counts_.reopened += now.reopened - followed_.reopened;
    counts_.truncated += now.truncated - followed_.truncated;
    followed_ = now;
    if (lines.empty()) return;
    const LogCounts c = runner_->Run(lines, this, [&](const LogError& e) {
      log_->Report("accesslog",
                   absl::StrCat(spec_.path, ": ", e.status.message()));
    });
    counts_.lines += c.records;
    counts_.skipped += c.errors;
  }

  const AccessLogSpec spec_;
  std::unique_ptr<PipeRunner> runner_ ABSL_GUARDED_BY(mu_);
  ErrorLog* log_;
  const AccessLogOptions options_;
  std::thread thread_;

  // The thread's own (and Start's, before it runs).
  LogFollower file_{spec_.path, FollowOptions()};
  LogFollower::Counts followed_;  // file_'s counts as counts_ has them

  mutable Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Aggregate agg_ ABSL_GUARDED_BY(mu_);
  AccessLogSet::Counts counts_ ABSL_GUARDED_BY(mu_);
};

std::string SetMemberNumber(absl::string_view member) {
  const uint64_t h = Hash64(member);
  const uint64_t mantissa = 100000 + h % 900000;  // six digits
  const int exponent = static_cast<int>((h / 900000) % 561) - 280;
  return absl::StrCat(mantissa, "e", exponent);
}

absl::StatusOr<std::vector<AccessLogSpec>> ParseAccessLogSpecs(
    absl::string_view text) {
  std::vector<AccessLogSpec> out;
  for (absl::string_view one : absl::StrSplit(text, ';', absl::SkipEmpty())) {
    AccessLogSpec spec;
    // Options start at ",format=", ",prefix=" or ",from="; a value runs to
    // the next of them.
    struct Mark {
      size_t at;
      absl::string_view name;
    };
    std::vector<Mark> marks;
    for (absl::string_view name : {",format=", ",prefix=", ",from="}) {
      for (size_t at = one.find(name); at != absl::string_view::npos;
           at = one.find(name, at + 1)) {
        marks.push_back({at, name});
      }
    }
    std::sort(marks.begin(), marks.end(),
              [](const Mark& a, const Mark& b) { return a.at < b.at; });
    spec.path = std::string(
        one.substr(0, marks.empty() ? absl::string_view::npos : marks[0].at));
    for (size_t i = 0; i < marks.size(); ++i) {
      const size_t start = marks[i].at + marks[i].name.size();
      const size_t end = i + 1 < marks.size() ? marks[i + 1].at : one.size();
      const std::string value(one.substr(start, end - start));
      if (marks[i].name == ",format=") {
        spec.format = value;
      } else if (marks[i].name == ",prefix=") {
        spec.prefix = value;
      } else if (value == "start" || value == "end") {
        spec.from_start = value == "start";
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--access_log: from=", value, " (want start or end)"));
      }
    }
    if (spec.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--access_log: '", one, "' has no file"));
    }
    if (spec.format.empty() || spec.prefix.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--access_log: '", one, "': empty format= or prefix="));
    }
    out.push_back(std::move(spec));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AccessLogSet>> AccessLogSet::Create(
    const std::vector<AccessLogSpec>& specs, ErrorLog* log,
    AccessLogOptions options) {
  std::unique_ptr<AccessLogSet> set(new AccessLogSet());
  std::shared_ptr<const UaParser> ua;  // loaded once for every follower
  for (const AccessLogSpec& spec : specs) {
    PipeOptions po;
    po.prefix = spec.prefix;
    po.regexes_path = options.regexes_path;
    const std::string regexes =
        po.regexes_path.empty() ? DefaultRegexesPath() : po.regexes_path;
    if (FileExists(regexes)) {
      // On failure PipeRunner::Create loads it again and says why.
      if (ua == nullptr) ua = LoadUaParser(regexes).value_or(nullptr);
      po.ua_parser = ua;
    } else {
      ErrorLog::Info(absl::StrCat(
          regexes, " is missing: access logs without browser and OS families"));
      for (const std::string& name : BuiltinPipeNames()) {
        if (name != "ua") po.pipes.push_back(name);
      }
    }
    absl::StatusOr<std::unique_ptr<PipeRunner>> runner =
        PipeRunner::Create(spec.format, po);
    if (!runner.ok()) {
      return absl::Status(runner.status().code(),
                          absl::StrCat("--access_log ", spec.path, ": ",
                                       runner.status().message()));
    }
    set->followers_.push_back(
        std::make_unique<Follower>(spec, *std::move(runner), log, options));
  }
  for (auto& f : set->followers_) f->Start();
  return set;
}

AccessLogSet::~AccessLogSet() { Stop(); }

void AccessLogSet::Stop() {
  for (auto& f : followers_) f->Stop();
}

AccessLogSet::Counts AccessLogSet::counts() const {
  Counts c;
  for (const auto& f : followers_) f->AddCounts(&c);
  return c;
}

std::vector<std::string> AccessLogSet::TakePieces(double time,
                                                  size_t max_bytes) {
  std::vector<std::string> out;
  PieceWriter w(time, max_bytes, &out);
  Counts ignored;
  for (auto& f : followers_) {
    Aggregate agg;
    f->Take(&agg, &ignored);
    if (agg.empty()) continue;
    if (!agg.adds.empty()) {
      w.Begin("add");
      for (const auto& [key, v] : agg.adds) w.Add(key, NumberText(v));
    }
    for (const auto& [action, keys] : agg.samples) {
      w.Begin(ActionName(action));  // never kInherit: Update() resolved it
      for (const auto& [key, values] : keys) {
        std::vector<std::string> texts;
        texts.reserve(values.size());
        for (double v : values) texts.push_back(NumberText(v));
        w.AddArray(key, texts);
      }
    }
    if (!agg.sets.empty()) {
      w.Begin("set");
      for (const auto& [key, members] : agg.sets) {
        w.AddArray(key,
                   std::vector<std::string>(members.begin(), members.end()));
      }
    }
  }
  w.Flush();
  return out;
}

}  // namespace agent
}  // namespace canopy
