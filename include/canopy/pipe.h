// Pipes: access-log lines into tree updates.
//
// A log line is parsed once into a LogRecord (fields by name); each enabled
// Pipe then turns the record into updates (a comma key and a LineSample)
// handed to an UpdateSink. Pipes know nothing of the tree: a TreeSink
// applies updates to a canopy::Tree, tests collect them in a vector.
//
//   // For the server (POST /push, field "accesslog"), runners kept by an
//   // owner that lives as long as the server:
//   canopy::AccessLogRunners runners;
//   canopy::AccessLogOptions log;            // "combined" under "web"
//   absl::StatusOr<canopy::AccessLogResult> r =
//       runners.Apply(body, log, &tree, /*now=*/absl::ToUnixSeconds(...));
//
//   // Or by hand, keeping the pipes' state (top-K, caches) across calls:
//   canopy::PipeOptions options;             // prefix "web", top-K 100, ...
//   auto runner = canopy::PipeRunner::Create("combined", options);
//   canopy::TreeSink sink(&tree, now);
//   canopy::LogCounts counts = (*runner)->Run(lines, &sink);
//
// Formats (LogParser::Create): "combined" (nginx and Apache), "common"
// (Apache CLF, no referer or agent), "squid" (Squid native access.log), or
// an nginx `log_format` string such as
//   $remote_addr - $remote_user [$time_local] "$request" $status
//   $body_bytes_sent "$http_referer" "$http_user_agent" $request_time
//   $upstream_response_time $host
// with its variables in any order and any subset.
//
// Built-in pipes (names for PipeOptions::pipes) and the keys they write,
// `<p>` being PipeOptions::prefix ("web" by default):
//   status   <p>,hits  <p>,bytes  <p>,status,<code>  <p>,errors (5xx)
//            <p>,client_errors (4xx)                               add
//   ua       <p>,browser,<family>,<major>  <p>,os,<family> (top K) add
//   url      <p>,url,<path> for the top K paths, <p>,url,other    add
//   time     <p>,request_time  <p>,upstream_time (ms)              timer
//   traffic  traffic,<domain>,{hits,bytes}                         add
//            traffic,<domain>,visitors (remote addresses)          set
// Every segment goes through SanitizeSegment: a hostile log cannot write a
// malformed key, and (top-K, bounded caches) cannot grow the tree or the
// pipes' memory without bound.
//
// Shared-object pipes: a directory of `*.so` files, each exporting the C ABI
// of canopy/pipe_plugin.h (canopy_pipe_init, canopy_pipe_process,
// canopy_pipe_cleanup); see LoadPipePlugins and docs/PIPES.md.
//
// Threads: parsers are pure and thread-compatible. A Pipe or PipeRunner
// holds state (top-K counters, caches) and is not thread-safe: one thread
// uses it at a time (in canopyd, the loop thread that owns the tree).
// AccessLogRunners is thread-safe (a mutex around its runners). Nothing in
// pipes/ keeps state outside the objects that own it.
#ifndef CANOPY_PIPE_H_
#define CANOPY_PIPE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/mutex.h"
#include "canopy/tree.h"

namespace canopy {

class UaParser;  // user-agent regexes, compiled (pipes/ua.h)

// One parsed log line. The views point into the line and are valid only
// while it is; a field the format does not carry is empty (numbers: the
// has_* flag is false).
struct LogRecord {
  absl::string_view remote_addr;  // client address ("203.0.113.7")
  absl::string_view remote_user;
  int64_t time = 0;            // epoch seconds; 0 = not in the line
  absl::string_view method;    // "GET"
  absl::string_view target;    // the request target as sent ("/a?b=1")
  absl::string_view path;      // the target without query or fragment
  absl::string_view protocol;  // "HTTP/1.1"
  int status = 0;              // 0 = none
  int64_t bytes = 0;           // body bytes sent ("-" = 0)
  absl::string_view referer;
  absl::string_view user_agent;
  absl::string_view host;  // $host, or the host of a Squid URL
  absl::string_view forwarded_for;
  bool has_request_time = false;
  double request_time = 0;  // seconds
  bool has_upstream_time = false;
  double upstream_time = 0;  // seconds, summed over upstreams
};

// A line the parser refused.
struct LogError {
  size_t line = 0;    // 1-based line within the buffer
  size_t column = 0;  // 1-based byte offset in the line
  // InvalidArgument: "line L, column C: <what>".
  absl::Status status;
};

struct LogCounts {
  size_t records = 0;
  size_t errors = 0;
};

// A compiled log format. Immutable and thread-safe once created.
class LogParser {
 public:
  // Longer lines are refused whole.
  static constexpr size_t kMaxLineBytes = 16 * 1024;

  // "combined", "common", "squid", or an nginx log_format string (anything
  // holding a '$'). Fails on an empty format, a format with no variable, or
  // two variables with nothing between them.
  static absl::StatusOr<std::unique_ptr<LogParser>> Create(
      absl::string_view format);
  virtual ~LogParser() = default;

  // Parses one line (no newline). On error, `record` is unspecified and
  // the status is InvalidArgument "column C: <what>"; *column gets C.
  virtual absl::Status ParseLine(absl::string_view line, LogRecord* record,
                                 size_t* column) const = 0;

  // Every line of `buffer` ("\n" separated, "\r\n" too; empty lines
  // skipped; the last needs no newline), in order: `on_record` once per good
  // line (the record is valid during the call), `on_error` per bad one.
  LogCounts Parse(absl::string_view buffer,
                  absl::FunctionRef<void(const LogRecord&)> on_record,
                  absl::FunctionRef<void(const LogError&)> on_error) const;
};

// Where pipes send their updates.
class UpdateSink {
 public:
  virtual ~UpdateSink() = default;
  // One sample for a comma key whose segments passed SanitizeSegment.
  // `sample.member` (sets) is valid during the call only.
  virtual void Update(absl::string_view key, const LineSample& sample) = 0;
  // A key a pipe no longer writes (a path that left the top K). Optional.
  virtual void Remove(absl::string_view key) {}
  // Called by PipeRunner before the pipes see each record (the updates that
  // follow are that record's). Optional.
  virtual void BeginRecord(const LogRecord& record) {}
};

// Applies updates to a tree at time `now`, all under one seq (the
// constructor calls tree->BeginChange()). Updates the tree refuses
// (ResourceExhausted past max_nodes) are counted, not fatal.
//
// With set_max_age(A > 0), a record's samples are dated with the record's
// own time (LineSample::time) when it lies within [now - A, now]; records
// without a time, older, or from the future are dated now. The tree puts a
// dated sample in its own window: the open one if that is still open, else
// (with history) a late window the trend store merges; an add leaf's total
// counts it either way, but the live value of a timer or set leaf is not
// changed by a sample for a window that has closed.
class TreeSink : public UpdateSink {
 public:
  TreeSink(Tree* tree, int64_t now) : tree_(tree), now_(now) {
    tree_->BeginChange();
  }
  void set_max_age(int64_t seconds) { max_age_ = seconds; }
  void Update(absl::string_view key, const LineSample& sample) override;
  void Remove(absl::string_view key) override;
  void BeginRecord(const LogRecord& record) override;
  size_t applied() const { return applied_; }
  size_t refused() const { return refused_; }
  const absl::Status& first_error() const { return first_error_; }

 private:
  Tree* tree_;
  int64_t now_;
  int64_t max_age_ = 0;
  int64_t record_time_ = 0;  // the current record's date; 0 = now
  size_t applied_ = 0;
  size_t refused_ = 0;
  absl::Status first_error_;
};

struct PipeOptions {
  std::string prefix = "web";  // <p>: one or more segments ("web,eu")
  // Which pipes run: built-in names ("status", "ua", "url", "time",
  // "traffic") and shared-object pipes by file stem. Empty = every built-in
  // pipe plus every loaded plug-in.
  std::vector<std::string> pipes;
  // uap-core's regexes.yaml; empty = DefaultRegexesPath().
  std::string regexes_path;
  // Those regexes already loaded (LoadUaParser), for runners that share
  // them; null = the "ua" pipe loads regexes_path itself.
  std::shared_ptr<const UaParser> ua_parser;
  size_t ua_cache_size = 10000;  // distinct user agents remembered
  // At most this many <p>,browser,<family>,<major> keys, and as many
  // <p>,os,<family> keys (the rest: other).
  size_t ua_top_k = 500;
  size_t url_top_k = 100;  // at most this many <p>,url,<path> keys
  // A path becomes a key once seen this often (so one-off paths never do).
  size_t url_min_hits = 2;
  // At most this many traffic,<domain> subtrees (the rest: traffic,other).
  size_t traffic_top_k = 1000;
  size_t traffic_min_hits = 1;
  // The domain of records whose format has no host ($host); empty = such
  // records write no traffic keys.
  std::string default_domain;
  // Directory of shared-object pipes; empty = none.
  std::string plugin_dir;
};

// ua-parser's regexes.yaml beside the program: SharedPath("regexes.yaml")
// (canopy/install_dirs.h), build/share/canopy/ in the build tree and
// PREFIX/share/canopy/ once installed.
std::string DefaultRegexesPath();

// Loads and compiles a regexes.yaml (a fifth of a second) for the runners of
// one owner to share through PipeOptions::ua_parser. The parser is
// immutable and safe to share between threads.
absl::StatusOr<std::shared_ptr<const UaParser>> LoadUaParser(
    const std::string& path);

// Turns any bytes into a valid key segment: ',' and control characters
// become '_', bytes that are not UTF-8 become '_', it is cut to 255 bytes at
// a character boundary, and an empty result is "other".
std::string SanitizeSegment(absl::string_view s);
// Appends the sanitized segment to `key` (the hot path: no allocation when
// the segment is already clean).
void AppendSegment(absl::string_view s, std::string* key);

// A pipe: turns records into updates. Init is called once before any
// Process, Cleanup once after the last.
class Pipe {
 public:
  virtual ~Pipe() = default;
  virtual absl::string_view name() const = 0;
  virtual absl::Status Init(const PipeOptions& options) {
    return absl::OkStatus();
  }
  virtual void Process(const LogRecord& record, UpdateSink* sink) = 0;
  virtual void Cleanup() {}
};

// The built-in pipes by name, or nullptr for an unknown name.
std::unique_ptr<Pipe> NewBuiltinPipe(absl::string_view name);
// "status", "ua", "url", "time", "traffic".
std::vector<std::string> BuiltinPipeNames();

// Loads every `*.so` in `dir` (sorted by name) as a pipe named by its file
// stem. A file that cannot be loaded or lacks the three symbols is an error
// naming it; nothing is loaded then.
absl::StatusOr<std::vector<std::unique_ptr<Pipe>>> LoadPipePlugins(
    const std::string& dir);
// One shared object.
absl::StatusOr<std::unique_ptr<Pipe>> LoadPipePlugin(const std::string& path);

// Parses lines with one format and runs every enabled pipe on each record.
class PipeRunner {
 public:
  // Compiles the format, creates and Init()s the pipes. Fails on a bad
  // format, an unknown pipe name, a missing regexes.yaml (when "ua" runs)
  // or a plug-in that will not load.
  static absl::StatusOr<std::unique_ptr<PipeRunner>> Create(
      absl::string_view format, const PipeOptions& options);
  // Adds a pipe of the caller's (after Init, which this calls).
  absl::Status AddPipe(std::unique_ptr<Pipe> pipe);
  ~PipeRunner();  // Cleanup()s every pipe

  // Runs every line of `buffer` through the pipes into `sink`. `on_error`,
  // if given, hears of each refused line.
  LogCounts Run(
      absl::string_view buffer, UpdateSink* sink,
      absl::FunctionRef<void(const LogError&)> on_error = [](const LogError&) {
      });
  // One record (already parsed) through the pipes.
  void Process(const LogRecord& record, UpdateSink* sink);

  const LogParser& parser() const { return *parser_; }
  const PipeOptions& options() const { return options_; }

 private:
  PipeRunner() = default;
  PipeOptions options_;
  std::unique_ptr<LogParser> parser_;
  std::vector<std::unique_ptr<Pipe>> pipes_;
};

// What canopyd's POST /push accesslog= asks for.
struct AccessLogOptions {
  std::string format;      // "" = "combined"
  std::string prefix;      // "" = "web"
  std::string plugin_dir;  // *.so pipes run beside the built-in ones
  // TreeSink::set_max_age: date samples with the line's time when it is at
  // most this many seconds old (canopyd: the first retention level's keep);
  // 0 = every sample is dated now.
  int64_t max_age = 0;
};
struct AccessLogResult {
  size_t leaves = 0;   // samples written
  size_t records = 0;  // lines parsed and run through the pipes
  size_t errors = 0;   // lines refused (no match, too long, binary, ...)
  size_t refused = 0;  // samples the tree refused (full)
};

// The runners of a server that takes access logs: one PipeRunner per
// (format, prefix, plugin_dir), every built-in pipe plus the plug-ins, kept
// so that top-K and caches last across requests (at most 64; past that the
// least recently created is dropped). They share one user-agent parser,
// loaded from DefaultRegexesPath() on first use; when that file is missing
// the "ua" pipe is left out (logged once) rather than failing.
//
// Thread-safe: one mutex around the runners (a runner is not thread-safe);
// `tree` is the caller's to guard.
class AccessLogRunners {
 public:
  AccessLogRunners();
  ~AccessLogRunners();
  AccessLogRunners(const AccessLogRunners&) = delete;
  AccessLogRunners& operator=(const AccessLogRunners&) = delete;

  // Runs `lines` through the runner for `options` into `tree` at `now`.
  // Fails with InvalidArgument for a bad format or prefix, or for a buffer
  // none of whose lines parsed ("line L, column C: ..." of the first), and
  // with the tree's error when it refused every sample.
  absl::StatusOr<AccessLogResult> Apply(absl::string_view lines,
                                        const AccessLogOptions& options,
                                        Tree* tree, int64_t now)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Cached {
    std::string format;
    std::string prefix;
    std::string plugin_dir;
    std::unique_ptr<PipeRunner> runner;
  };
  // The runner for the key, created (and cached) when new.
  absl::StatusOr<PipeRunner*> RunnerFor(const std::string& format,
                                        const std::string& prefix,
                                        const std::string& plugin_dir)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;
  std::vector<Cached> runners_ ABSL_GUARDED_BY(mu_);  // oldest first
  std::shared_ptr<const UaParser> ua_parser_ ABSL_GUARDED_BY(mu_);
  bool warned_ ABSL_GUARDED_BY(mu_) = false;  // regexes.yaml missing
};

}  // namespace canopy

#endif  // CANOPY_PIPE_H_
