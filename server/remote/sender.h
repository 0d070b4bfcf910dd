// remote_write: every closed window goes out as Prometheus remote_write
// (protobuf + snappy) to each --remote_write URL, from the outbox
// (outbox.h), so that a receiver that is down, slow or answering garbage
// delays only its own thread and loses nothing.
//
//   RemoteWriter remote(std::move(outbox),
//   {"http://127.0.0.1:8428/api/v1/write"},
//                       RemoteWriter::Options{.step = 10});
//   remote.Enqueue(&windows);   // from the trend thread, after each write
//   remote.Targets();           // the figures, for /metrics
//
// Threads: Enqueue only moves the batch into a queue (no disk, no network),
// so the trend thread never waits here. An intake thread appends the
// queued batches to the outbox and trims what every target has sent; each
// target has its own thread that reads from its persisted position, sends
// with libcurl, and moves the position on when the receiver took the
// request (2xx) or refused it for good (4xx: dropped and counted). A 5xx or
// a network error (a timeout, a refused connection, a reply that is not
// HTTP) is retried with exponential backoff, the position kept. The
// destructor stops every thread (a transfer in progress is aborted).
#ifndef CANOPY_SERVER_REMOTE_SENDER_H_
#define CANOPY_SERVER_REMOTE_SENDER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/mutex.h"
#include "canopy/tree.h"
#include "server/remote/outbox.h"

namespace canopy {

// The figures of one target, for /metrics.
struct RemoteTargetFigures {
  std::string url;
  uint64_t sent = 0;      // samples the receiver took
  uint64_t requests = 0;  // requests the receiver took
  uint64_t retried = 0;   // requests that failed and will be sent again
  uint64_t dropped = 0;   // samples in requests refused with a 4xx
  double lag = 0;         // seconds since the oldest unsent batch came
};

// --remote_write=URL[,URL...]: the URLs, each http:// or https://.
absl::StatusOr<std::vector<std::string>> ParseRemoteWrite(
    absl::string_view spec);

class RemoteWriter {
 public:
  struct Options {
    int64_t step = 10;                    // seconds: the windows' step (rate)
    size_t max_samples = 10000;           // per request
    double timeout = 10;                  // seconds a request may take
    double max_backoff = 30;              // seconds between retries at most
    size_t max_queued_windows = 8 << 20;  // beyond this Enqueue drops
  };
  RemoteWriter(std::unique_ptr<Outbox> outbox, std::vector<std::string> urls,
               Options options);
  ~RemoteWriter();
  RemoteWriter(const RemoteWriter&) = delete;
  RemoteWriter& operator=(const RemoteWriter&) = delete;

  // Takes the windows (leaves `windows` empty). Any thread.
  void Enqueue(std::vector<ClosedWindow>* windows);

  // Any thread.
  std::vector<RemoteTargetFigures> Targets() const;
  // Windows the intake refused because its queue was full (the outbox's
  // disk failing for a long time).
  uint64_t intake_dropped() const { return intake_dropped_.load(); }

 private:
  struct Target {
    std::string url;
    std::atomic<uint64_t> sent{0}, requests{0}, retried{0}, dropped{0};
    // When the oldest window not yet sent entered the outbox (0: none).
    std::atomic<int64_t> oldest_unsent_ms{0};
    std::atomic<uint64_t> position_seq{0};  // for Trim
    std::thread thread;
  };
  void IntakeMain();
  void TargetMain(Target* t);
  // Waits up to `seconds` or until stopping / new data; true if stopping.
  bool Wait(double seconds, uint64_t seen_seq);
  bool stopping() const { return stopping_.load(); }

  std::unique_ptr<Outbox> outbox_;
  Options options_;
  mutable Mutex mu_;
  std::deque<std::vector<ClosedWindow>> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_windows_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t appended_seq_ ABSL_GUARDED_BY(mu_) = 0;  // bumps wake targets
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> intake_dropped_{0};
  std::vector<std::unique_ptr<Target>> targets_;
  std::thread intake_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_REMOTE_SENDER_H_
