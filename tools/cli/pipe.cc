// canopy pipe FILE...: access logs (or stdin, '-') to the server's log pipes
// (POST /push accesslog=, --batch_lines lines at a time); --follow keeps
// reading like tail -F until SIGINT or SIGTERM. Prints the lines sent and
// what the server counted.
//
// Threads: the CLI's one thread; SIGINT and SIGTERM only set a flag.
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "canopy/http_client.h"
#include "canopy/log_follow.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

ABSL_FLAG(std::string, format, "combined",
          "pipe: the log format: combined (or nginx), common, squid, or an "
          "nginx log_format string");
ABSL_FLAG(std::string, prefix, "web", "pipe: the key prefix of the counts");
ABSL_FLAG(bool, follow, false,
          "pipe: keep reading like tail -F (new lines, rotation, truncation) "
          "until SIGINT or SIGTERM");
ABSL_FLAG(int, batch_lines, 5000, "pipe: lines per POST /push");

namespace canopy {
namespace cli {
namespace {

// Set by SIGINT and SIGTERM: the one state a signal handler may write.
volatile sig_atomic_t g_pipe_stop = 0;
void OnPipeSignal(int) { g_pipe_stop = 1; }

// A line longer than this is dropped here, never sent (the server refuses
// lines past 16 KiB anyway): memory stays bounded whatever the input.
constexpr size_t kPipeMaxLine = 64 * 1024;
// A batch is sent at --batch_lines lines or this many bytes of log.
constexpr size_t kPipeMaxBatchBytes = 2 << 20;
// How often --follow looks for new data, rotation and truncation.
constexpr int kPipePollMs = 250;

struct PipeTotals {
  size_t read = 0;     // non-empty lines read
  size_t counted = 0;  // lines the server parsed
  size_t skipped = 0;  // lines the server refused
  size_t samples = 0;  // the server's "accepted"
  size_t batches = 0;
  std::string first_skip;  // why the first wholly refused batch was refused
};

// Lines gathered until a batch is full, then POSTed as accesslog=. Reads
// stop when a batch failed.
class PipeBatcher : public LogFollower::Sink {
 public:
  PipeBatcher(const Server& server, std::string format, std::string prefix,
              size_t max_lines, bool retry, PipeTotals* totals)
      : server_(server),
        head_(absl::StrCat("format=", UrlEncode(format),
                           "&prefix=", UrlEncode(prefix), "&accesslog=")),
        max_lines_(max_lines),
        retry_(retry),
        totals_(totals) {}

  const absl::Status& status() const { return status_; }

  void Line(absl::string_view line) override {
    if (!status_.ok()) return;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;
    ++totals_->read;
    lines_.append(line.data(), line.size());
    lines_.push_back('\n');
    if (++count_ >= max_lines_ || lines_.size() >= kPipeMaxBatchBytes) Send();
  }

  bool Stopped() const override { return !status_.ok(); }

  // Sends what is gathered (nothing if nothing is).
  void Send() {
    if (count_ == 0 || !status_.ok()) return;
    status_ = Post(lines_, count_);
    lines_.clear();
    count_ = 0;
  }

  // An empty batch: checks the format, the prefix and the server up front.
  absl::Status Probe() { return Post("", 0); }

 private:
  absl::Status Post(absl::string_view lines, size_t count) {
    const std::string body = head_ + UrlEncode(lines);
    Backoff backoff;
    while (true) {
      absl::StatusOr<HttpReply> reply = server_.CallAny(
          "POST", "/push", body, "application/x-www-form-urlencoded");
      if (!reply.ok()) {
        if (retry_ && Transient(reply.status()) && !g_pipe_stop) {
          backoff.Wait(reply.status());
          continue;
        }
        return reply.status();
      }
      if (reply->status >= 200 && reply->status <= 299) {
        absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
        if (!doc.ok()) return doc.status();
        auto number = [&](const char* name) -> size_t {
          auto it = doc->FindMember(name);
          return it != doc->MemberEnd() && it->value.IsUint64()
                     ? static_cast<size_t>(it->value.GetUint64())
                     : 0;
        };
        totals_->samples += number("accepted");
        totals_->counted += number("lines");
        totals_->skipped += number("skipped");
        if (count > 0) ++totals_->batches;
        return absl::OkStatus();
      }
      absl::Status error = Server::ReplyError(*reply);
      if (reply->status == 503 && retry_ && !g_pipe_stop) {
        backoff.Wait(error);
        continue;
      }
      // A batch none of whose lines parsed is refused whole with the
      // position of its first line: skipped lines, not a failure.
      if (reply->status == 400 && count > 0 &&
          absl::StrContains(error.message(), "(line ")) {
        totals_->skipped += count;
        ++totals_->batches;
        if (totals_->first_skip.empty()) {
          totals_->first_skip = std::string(error.message());
        }
        return absl::OkStatus();
      }
      return error;
    }
  }

  const Server& server_;
  const std::string head_;
  const size_t max_lines_;
  const bool retry_;
  PipeTotals* totals_;
  std::string lines_;
  size_t count_ = 0;
  absl::Status status_;
};

}  // namespace

const char kPipeHelp[] = R"help(Usage: canopy [flags] pipe FILE...

Sends access logs ('-' for stdin) to the server's log pipes (POST /push
accesslog=), which count hits, bytes, status, browsers, OS, URLs, times
and traffic per domain under --prefix. Prints the lines sent and what the
server counted. Lines over 64 KiB are not sent.

  --format=F       combined (default; also nginx), common, squid, or an
                   nginx log_format string ('$remote_addr - ... $host')
  --prefix=P       the key prefix of the counts (default web; web,eu)
  --follow         keep reading like tail -F (every 250 ms; a file renamed
                   away is drained and the new one read from its start; a
                   truncated one is read again) until Ctrl-C or SIGTERM
  --batch_lines=N  lines per request (default 5000; at most 2 MiB)

Examples:
  canopy pipe --format=nginx /var/log/nginx/access.log.1
  canopy pipe --follow --prefix=web,eu /var/log/nginx/access.log
  zcat access.log.*.gz | canopy pipe -
)help";

int PipeCommand(const Server& server, const Args& files) {
  if (files.empty()) return UsageError("pipe needs FILE... ('-' for stdin)");
  const bool follow = absl::GetFlag(FLAGS_follow);
  const int batch_lines = absl::GetFlag(FLAGS_batch_lines);
  if (batch_lines < 1) return UsageError("--batch_lines must be at least 1");
  std::string format = absl::GetFlag(FLAGS_format);
  if (format.empty()) return UsageError("--format must not be empty");
  PipeTotals totals;
  PipeBatcher batch(server, format, absl::GetFlag(FLAGS_prefix),
                    static_cast<size_t>(batch_lines), follow, &totals);

  LogFollower::Options options;
  options.max_line = kPipeMaxLine;
  std::vector<std::unique_ptr<LogFollower>> sources;
  for (const std::string& f : files) {
    if (f == "-" && std::count(files.begin(), files.end(), "-") > 1) {
      return UsageError("'-' (stdin) may be given once");
    }
    sources.push_back(std::make_unique<LogFollower>(f, options));
    // tail -F waits for a file that is not there yet; a replay cannot.
    if (absl::Status s = sources.back()->Open(); !s.ok() && !follow) {
      return Fail(s.message());
    }
  }
  if (absl::Status s = batch.Probe(); !s.ok()) return Fail(s.message());

  struct sigaction stop = {}, old_int = {}, old_term = {};
  stop.sa_handler = OnPipeSignal;
  sigemptyset(&stop.sa_mask);  // no SA_RESTART: a signal ends a wait
  sigaction(SIGINT, &stop, &old_int);
  sigaction(SIGTERM, &stop, &old_term);

  absl::Status status;
  for (auto& src : sources) {
    status = src->Read(&batch, src->is_stdin() && follow ? kPipePollMs : -1);
    if (!status.ok() || !batch.status().ok() || g_pipe_stop) break;
    if (!follow) src->Flush(&batch);
  }
  while (follow && status.ok() && !g_pipe_stop) {
    batch.Send();
    if (!batch.status().ok()) break;
    bool any_file = false;
    for (auto& src : sources) {
      if (src->is_stdin()) {
        if (src->at_eof()) continue;
        status = src->Read(&batch, kPipePollMs);
      } else {
        any_file = true;
        status = src->Read(&batch);
        if (status.ok()) status = src->CheckRotation(&batch);
      }
      if (!status.ok()) break;
    }
    const bool stdin_open = std::any_of(
        sources.begin(), sources.end(),
        [](const auto& s) { return s->is_stdin() && !s->at_eof(); });
    if (!any_file && !stdin_open) break;  // stdin ended: nothing to follow
    if (any_file && !stdin_open && !g_pipe_stop) {
      struct timespec ts = {0, kPipePollMs * 1000000L};
      nanosleep(&ts, nullptr);  // a signal cuts it short
    }
  }
  if (follow) {
    // Stopping: what was read goes out, a last unended line too.
    for (auto& src : sources) {
      if (status.ok() && batch.status().ok()) status = src->Read(&batch);
      src->Flush(&batch);
    }
  }
  batch.Send();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (status.ok()) status = batch.status();
  size_t too_long = 0;  // lines not sent
  for (const auto& src : sources) too_long += src->counts().too_long;
  if (!status.ok()) {
    std::cout << "sent " << totals.read << " lines before the error"
              << std::endl;
    return Fail(status.message());
  }
  std::cout << "sent " << totals.read << (totals.read == 1 ? " line" : " lines")
            << " in " << totals.batches
            << (totals.batches == 1 ? " batch" : " batches") << ": "
            << totals.counted << " counted, " << totals.skipped
            << " skipped by the server, " << totals.samples
            << " samples accepted";
  if (too_long > 0) {
    std::cout << "; " << too_long << " lines over " << kPipeMaxLine / 1024
              << " KiB not sent";
  }
  std::cout << std::endl;
  if (totals.counted == 0 && totals.skipped > 0) {
    return Fail(absl::StrCat("no line matched --format=", format, ": ",
                             totals.first_skip));
  }
  return kOk;
}

}  // namespace cli
}  // namespace canopy
