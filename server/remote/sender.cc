// remote_write's threads: the intake into the outbox and one sender per
// target (sender.h).
//
// Threads: Enqueue and Targets on any thread; IntakeMain on the intake
// thread; TargetMain on each target's thread.
#include "server/remote/sender.h"

#include <curl/curl.h>
#include <pthread.h>
#include <snappy.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "proto/prometheus_remote.pb.h"
#include "server/log.h"
#include "server/remote/prom_names.h"

namespace canopy {
namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The WriteRequest of some windows, snappy-compressed, its samples counted.
// `req` is reused from one request to the next (its messages are kept for
// the next to fill).
std::string BuildRequest(absl::Span<const OutboxWindow> windows, int64_t step,
                         prometheus::WriteRequest* req, size_t* samples) {
  req->Clear();
  *samples = 0;
  for (const OutboxWindow& ow : windows) {
    PromFigures f = FiguresOfWindow(ow.w, ow.action, ow.total, step);
    std::vector<PromLabel> key_labels = KeyLabels(ow.key);
    ForEachPromSample(f, [&](const PromSample& s) {
      prometheus::TimeSeries* ts = req->add_timeseries();
      ForEachSampleLabel(key_labels, s,
                         [&](absl::string_view name, absl::string_view value) {
                           prometheus::Label* pl = ts->add_labels();
                           pl->set_name(name.data(), name.size());
                           pl->set_value(value.data(), value.size());
                         });
      prometheus::Sample* sample = ts->add_samples();
      sample->set_value(s.value);
      sample->set_timestamp(ow.w.start * 1000);
      ++*samples;
    });
  }
  for (const PromFamily& fam : kPromFamilies) {
    prometheus::MetricMetadata* md = req->add_metadata();
    md->set_metric_family_name(std::string(fam.name));
    md->set_help(std::string(fam.help));
    md->set_type(
        fam.type == PromType::kCounter   ? prometheus::MetricMetadata::COUNTER
        : fam.type == PromType::kSummary ? prometheus::MetricMetadata::SUMMARY
                                         : prometheus::MetricMetadata::GAUGE);
  }
  std::string raw = req->SerializeAsString();
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }

// Aborts a transfer when the writer stops.
int Progress(void* stopping, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(stopping)->load() ? 1 : 0;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseRemoteWrite(
    absl::string_view spec) {
  std::vector<std::string> urls;
  for (absl::string_view u : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    u = absl::StripAsciiWhitespace(u);
    if (!absl::StartsWith(u, "http://") && !absl::StartsWith(u, "https://")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--remote_write: \"", u, "\" is not an http:// or https:// URL"));
    }
    if (std::find(urls.begin(), urls.end(), u) != urls.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--remote_write: \"", u, "\" is given twice"));
    }
    urls.emplace_back(u);
  }
  return urls;
}

RemoteWriter::RemoteWriter(std::unique_ptr<Outbox> outbox,
                           std::vector<std::string> urls, Options options)
    : outbox_(std::move(outbox)), options_(options) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (std::string& url : urls) {
    auto t = std::make_unique<Target>();
    t->url = std::move(url);
    t->position_seq = outbox_->Position(t->url).seq;
    targets_.push_back(std::move(t));
  }
  intake_ = std::thread([this] { IntakeMain(); });
  for (auto& t : targets_) {
    Target* raw = t.get();
    t->thread = std::thread([this, raw] { TargetMain(raw); });
  }
}

RemoteWriter::~RemoteWriter() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  intake_.join();  // appends what was queued
  for (auto& t : targets_) t->thread.join();
}

void RemoteWriter::Enqueue(std::vector<ClosedWindow>* windows) {
  if (windows->empty()) return;
  MutexLock lock(&mu_);
  if (queued_windows_ + windows->size() > options_.max_queued_windows) {
    intake_dropped_ += windows->size();
    windows->clear();
    return;
  }
  queued_windows_ += windows->size();
  queue_.emplace_back(std::move(*windows));
  windows->clear();
}

std::vector<RemoteTargetFigures> RemoteWriter::Targets() const {
  std::vector<RemoteTargetFigures> out;
  for (const auto& t : targets_) {
    RemoteTargetFigures f;
    f.url = t->url;
    f.sent = t->sent.load();
    f.requests = t->requests.load();
    f.retried = t->retried.load();
    f.dropped = t->dropped.load();
    int64_t oldest = t->oldest_unsent_ms.load();
    f.lag = oldest == 0
                ? 0
                : static_cast<double>(std::max<int64_t>(0, WallMs() - oldest)) /
                      1000.0;
    out.push_back(std::move(f));
  }
  return out;
}

void RemoteWriter::IntakeMain() {
  // Named so that top -H and the benchmark (tools/bench/remote_write.sh)
  // can tell remote_write's threads apart.
  pthread_setname_np(pthread_self(), "rw-intake");
  RateLimit log_limit(6);
  while (true) {
    std::vector<ClosedWindow> batch;
    bool stop = false;
    {
      MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return !queue_.empty() || stopping_.load();
          },
          absl::Seconds(1));
      if (!queue_.empty()) {
        batch = std::move(queue_.front());
        queue_.pop_front();
      } else {
        stop = stopping_.load();
      }
    }
    if (stop) return;
    if (!batch.empty()) {
      absl::Status s = outbox_->Append(batch, WallMs());
      while (!s.ok() && !stopping()) {
        if (log_limit.Allow()) {
          CANOPY_LOG("remote_write outbox append failed, will retry: %s",
                     std::string(s.message()));
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        s = outbox_->Append(batch, WallMs());
      }
      MutexLock lock(&mu_);
      queued_windows_ -= batch.size();
      ++appended_seq_;
    }
    // What every target has sent is no longer needed.
    uint64_t low = std::numeric_limits<uint64_t>::max();
    for (const auto& t : targets_) low = std::min(low, t->position_seq.load());
    if (!targets_.empty()) outbox_->Trim(low);
  }
}

bool RemoteWriter::Wait(double seconds, uint64_t seen_seq) {
  MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_.load() || appended_seq_ != seen_seq;
      },
      absl::Milliseconds(static_cast<int64_t>(seconds * 1000)));
  return stopping_.load();
}

void RemoteWriter::TargetMain(Target* t) {
  pthread_setname_np(pthread_self(), "rw-send");
  RateLimit log_limit(6);
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/x-protobuf");
  headers = curl_slist_append(headers, "Content-Encoding: snappy");
  headers =
      curl_slist_append(headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "canopyd");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(options_.timeout * 1000));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(options_.timeout, 5.0) * 1000));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBody);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stopping_);

  OutboxPosition pos = outbox_->Position(t->url);
  prometheus::WriteRequest req;
  // Windows read ahead from the outbox (one read serves many requests: a
  // batch is decoded once, not once per request), and the next to send.
  std::vector<OutboxWindow> ahead;
  size_t at = 0;
  OutboxPosition ahead_end = pos;
  // Windows make 2 to 8 samples (4 for a gauge): a request of gauges has
  // about max_samples.
  const size_t per_request = std::max<size_t>(1, options_.max_samples / 4);
  double backoff = 0;
  while (!stopping()) {
    uint64_t seen;
    {
      MutexLock lock(&mu_);
      seen = appended_seq_;
    }
    if (at == ahead.size()) {
      ahead.clear();
      at = 0;
      ahead_end = outbox_->Read(pos, per_request * 20, &ahead);
      if (ahead.empty()) {
        if (!(ahead_end == pos)) {
          pos = ahead_end;  // skipped an unreadable batch
          continue;
        }
        t->oldest_unsent_ms = 0;
        if (Wait(1, seen)) break;
        continue;
      }
    }
    absl::Span<const OutboxWindow> windows =
        absl::MakeConstSpan(ahead).subspan(at, per_request);
    OutboxPosition next =
        at + windows.size() == ahead.size() ? ahead_end : windows.back().after;
    t->oldest_unsent_ms = std::max<int64_t>(1, windows.front().queued_ms);
    size_t samples = 0;
    std::string body = BuildRequest(windows, options_.step, &req, &samples);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (stopping()) break;
    bool advance = false;
    if (rc == CURLE_OK && code >= 200 && code < 300) {
      t->sent += samples;
      ++t->requests;
      advance = true;
    } else if (rc == CURLE_OK && code >= 400 && code < 500) {
      t->dropped += samples;
      advance = true;
      if (log_limit.Allow()) {
        CANOPY_LOG("remote_write to %s: HTTP %d, %d samples dropped", t->url,
                   static_cast<int>(code), static_cast<int>(samples));
      }
    } else {
      ++t->retried;
      if (log_limit.Allow()) {
        CANOPY_LOG("remote_write to %s failed, will retry: %s", t->url,
                   rc == CURLE_OK ? absl::StrCat("HTTP ", code)
                                  : std::string(curl_easy_strerror(rc)));
      }
      backoff =
          backoff == 0 ? 0.25 : std::min(options_.max_backoff, backoff * 2);
      // Sleep the backoff, waking only to stop.
      MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          [this]()
              ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_.load(); },
          absl::Milliseconds(static_cast<int64_t>(backoff * 1000)));
      continue;
    }
    if (advance) {
      backoff = 0;
      pos = next;
      at += windows.size();
      if (absl::Status s = outbox_->SetPosition(t->url, pos);
          !s.ok() && log_limit.Allow()) {
        CANOPY_LOG("remote_write position for %s: %s", t->url,
                   std::string(s.message()));
      }
      t->position_seq = pos.seq;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
}

}  // namespace canopy
