// Segments, the tree sink, PipeRunner and AccessLogRunners. See
// canopy/pipe.h.
//
// Threads: PipeRunner and TreeSink run on their caller's thread, one at a
// time (canopyd's loop thread, an agent follower's thread). AccessLogRunners
// may be called from any thread: its mutex guards the runners, held for the
// whole of a run.
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "canopy/install_dirs.h"
#include "canopy/key.h"
#include "canopy/mutex.h"
#include "canopy/pipe.h"

namespace canopy {
namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The length of the UTF-8 sequence starting at s[i], or 0 if it is not a
// well-formed one (overlong forms and surrogates included).
size_t Utf8Length(absl::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  return IsValidUtf8(s.substr(i, n)) ? n : 0;
}

}  // namespace

void AppendSegment(absl::string_view s, std::string* key) {
  // Fast path: printable ASCII without a comma, short enough.
  bool clean = !s.empty() && s.size() <= kMaxSegmentBytes;
  for (size_t i = 0; clean && i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    clean = c >= 0x20 && c < 0x7f && c != ',';
  }
  if (clean) {
    key->append(s.data(), s.size());
    return;
  }
  const size_t start = key->size();
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 1;
    if (c < 0x80) {
      if (key->size() - start + 1 > kMaxSegmentBytes) break;
      key->push_back(c < 0x20 || c == 0x7f || c == ',' ? '_' : s[i]);
    } else if ((n = Utf8Length(s, i)) != 0) {
      if (key->size() - start + n > kMaxSegmentBytes) break;
      key->append(s.data() + i, n);
    } else {
      n = 1;
      if (key->size() - start + 1 > kMaxSegmentBytes) break;
      key->push_back('_');
    }
    i += n;
  }
  if (key->size() == start) key->append("other");
}

std::string SanitizeSegment(absl::string_view s) {
  std::string out;
  AppendSegment(s, &out);
  return out;
}

std::string DefaultRegexesPath() { return SharedPath("regexes.yaml"); }

void TreeSink::BeginRecord(const LogRecord& record) {
  record_time_ = max_age_ > 0 && record.time > 0 && record.time <= now_ &&
                         record.time >= now_ - max_age_
                     ? record.time
                     : 0;
}

void TreeSink::Update(absl::string_view key, const LineSample& sample) {
  absl::Status s;
  if (record_time_ != 0 && sample.time == 0) {
    LineSample dated = sample;
    dated.time = record_time_;
    s = tree_->AddSampleByKey(key, dated, now_);
  } else {
    s = tree_->AddSampleByKey(key, sample, now_);
  }
  if (s.ok()) {
    ++applied_;
    return;
  }
  ++refused_;
  if (first_error_.ok()) first_error_ = std::move(s);
}

void TreeSink::Remove(absl::string_view key) {
  absl::StatusOr<KeySegments> segments = SplitKey(key);
  if (segments.ok()) tree_->Remove(*segments).IgnoreError();
}

absl::StatusOr<std::unique_ptr<PipeRunner>> PipeRunner::Create(
    absl::string_view format, const PipeOptions& options) {
  if (absl::StatusOr<KeySegments> p = SplitKey(options.prefix);
      !p.ok() || p->empty() || p->size() > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad pipe prefix '", options.prefix,
                     "': one to eight key segments, such as web or web,eu"));
  }
  absl::StatusOr<std::unique_ptr<LogParser>> parser = LogParser::Create(format);
  if (!parser.ok()) return parser.status();
  std::unique_ptr<PipeRunner> runner(new PipeRunner());
  runner->options_ = options;
  runner->parser_ = *std::move(parser);

  std::vector<std::unique_ptr<Pipe>> plugins;
  if (!options.plugin_dir.empty()) {
    absl::StatusOr<std::vector<std::unique_ptr<Pipe>>> loaded =
        LoadPipePlugins(options.plugin_dir);
    if (!loaded.ok()) return loaded.status();
    plugins = *std::move(loaded);
  }
  std::vector<std::unique_ptr<Pipe>> pipes;
  if (options.pipes.empty()) {
    for (const std::string& name : BuiltinPipeNames()) {
      pipes.push_back(NewBuiltinPipe(name));
    }
    for (auto& p : plugins) pipes.push_back(std::move(p));
  } else {
    for (const std::string& name : options.pipes) {
      std::unique_ptr<Pipe> pipe = NewBuiltinPipe(name);
      for (auto& p : plugins) {
        if (pipe == nullptr && p != nullptr && p->name() == name) {
          pipe = std::move(p);
        }
      }
      if (pipe == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown pipe '", name,
            "' (built in: ", absl::StrJoin(BuiltinPipeNames(), ", "), ")"));
      }
      pipes.push_back(std::move(pipe));
    }
  }
  for (auto& pipe : pipes) {
    if (absl::Status s = runner->AddPipe(std::move(pipe)); !s.ok()) return s;
  }
  return runner;
}

absl::Status PipeRunner::AddPipe(std::unique_ptr<Pipe> pipe) {
  if (absl::Status s = pipe->Init(options_); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("pipe '", pipe->name(), "': ", s.message()));
  }
  pipes_.push_back(std::move(pipe));
  return absl::OkStatus();
}

PipeRunner::~PipeRunner() {
  for (auto& pipe : pipes_) pipe->Cleanup();
}

void PipeRunner::Process(const LogRecord& record, UpdateSink* sink) {
  sink->BeginRecord(record);
  for (auto& pipe : pipes_) pipe->Process(record, sink);
}

LogCounts PipeRunner::Run(absl::string_view buffer, UpdateSink* sink,
                          absl::FunctionRef<void(const LogError&)> on_error) {
  return parser_->Parse(
      buffer, [&](const LogRecord& r) { Process(r, sink); }, on_error);
}

AccessLogRunners::AccessLogRunners() = default;
AccessLogRunners::~AccessLogRunners() = default;

absl::StatusOr<PipeRunner*> AccessLogRunners::RunnerFor(
    const std::string& format, const std::string& prefix,
    const std::string& plugin_dir) {
  constexpr size_t kMaxRunners = 64;
  for (Cached& c : runners_) {
    if (c.format == format && c.prefix == prefix &&
        c.plugin_dir == plugin_dir) {
      return c.runner.get();
    }
  }
  PipeOptions options;
  options.prefix = prefix;
  options.plugin_dir = plugin_dir;
  const std::string regexes = DefaultRegexesPath();
  if (FileExists(regexes)) {
    if (ua_parser_ == nullptr) {
      absl::StatusOr<std::shared_ptr<const UaParser>> ua =
          LoadUaParser(regexes);
      if (!ua.ok()) return ua.status();
      ua_parser_ = *std::move(ua);
    }
    options.ua_parser = ua_parser_;
  } else {
    if (!warned_) {
      fprintf(stderr,
              "canopy pipes: %s is missing (npm package uap-core: run "
              "scripts/deps.sh); browser and OS families are off\n",
              regexes.c_str());
      warned_ = true;
    }
    for (const std::string& name : BuiltinPipeNames()) {
      if (name != "ua") options.pipes.push_back(name);
    }
    if (!plugin_dir.empty()) {
      // The plug-ins too, by name (a non-empty list names every pipe).
      absl::StatusOr<std::vector<std::unique_ptr<Pipe>>> loaded =
          LoadPipePlugins(plugin_dir);
      if (!loaded.ok()) return loaded.status();
      for (const auto& pipe : *loaded) {
        options.pipes.push_back(std::string(pipe->name()));
      }
    }
  }
  absl::StatusOr<std::unique_ptr<PipeRunner>> created =
      PipeRunner::Create(format, options);
  if (!created.ok()) return created.status();
  if (runners_.size() >= kMaxRunners) runners_.erase(runners_.begin());
  runners_.push_back(Cached{format, prefix, plugin_dir, *std::move(created)});
  return runners_.back().runner.get();
}

absl::StatusOr<AccessLogResult> AccessLogRunners::Apply(
    absl::string_view lines, const AccessLogOptions& options, Tree* tree,
    int64_t now) {
  const std::string format =
      options.format.empty() ? std::string("combined") : options.format;
  const std::string prefix =
      options.prefix.empty() ? std::string("web") : options.prefix;
  MutexLock lock(&mu_);
  absl::StatusOr<PipeRunner*> runner =
      RunnerFor(format, prefix, options.plugin_dir);
  if (!runner.ok()) return runner.status();
  TreeSink sink(tree, now);
  sink.set_max_age(options.max_age);
  absl::Status first_error;
  const LogCounts counts = (*runner)->Run(lines, &sink, [&](const LogError& e) {
    if (first_error.ok()) first_error = e.status;
  });
  if (counts.records == 0 && counts.errors > 0) return first_error;
  if (sink.applied() == 0 && sink.refused() > 0) return sink.first_error();
  AccessLogResult result;
  result.leaves = sink.applied();
  result.records = counts.records;
  result.errors = counts.errors;
  result.refused = sink.refused();
  return result;
}

}  // namespace canopy
