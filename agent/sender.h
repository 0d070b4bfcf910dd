// The agent's transport: pushes each interval's JSON tree to canopyd over
// UDP (one tree per datagram, split by subtree past ~60 KB), TCP (one tree
// per line, split the same way to stay under the server's --max_line) or
// HTTP (POST /push, application/json, the whole tree).
//
// Over TCP and HTTP what the server does not take goes to the Spool and is
// sent again, oldest first and before anything newer, once the server is
// back; reconnects back off exponentially with jitter. UDP has no way to
// know, so it never spools.
//
//   absl::StatusOr<ServerAddress> to = ParseServerAddress("tcp://h:2003");
//   Sender sender(*to, &spool, &log, absl::Seconds(1));
//   sender.Start();
//   sender.Enqueue(std::move(pieces));   // from the collecting thread
//   sender.Stop(absl::Seconds(3));       // flush, spool the rest
//
// Threads: Enqueue, Stop and the figures may be called from any thread; the
// sender thread owns the socket and the spool.
#ifndef CANOPY_AGENT_SENDER_H_
#define CANOPY_AGENT_SENDER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/log.h"
#include "agent/spool.h"
#include "canopy/mutex.h"

namespace canopy {
namespace agent {

struct ServerAddress {
  enum class Scheme { kUdp, kTcp, kHttp };
  Scheme scheme = Scheme::kUdp;
  std::string host;
  int port = 0;
};

// "udp://HOST:PORT", "tcp://HOST:PORT" or "http://HOST:PORT" (the port may
// be left out: 8125, 2003, 7575). IPv6 hosts in brackets.
absl::StatusOr<ServerAddress> ParseServerAddress(absl::string_view url);

// The largest datagram or line the agent sends; the server reads 64 KiB.
inline constexpr size_t kMaxPiece = 60000;

class Sender {
 public:
  Sender(ServerAddress to, Spool* spool, ErrorLog* log,
         absl::Duration interval);
  ~Sender();

  void Start();
  // Hands one interval's pieces (JSON trees, each at most kMaxPiece bytes
  // for UDP and TCP; one whole tree for HTTP) to the sender thread. If the
  // thread is this far behind (16 intervals), the oldest is dropped.
  void Enqueue(std::vector<std::string> pieces) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends what is queued and what is spooled for up to `grace`, spools the
  // rest, and joins the thread.
  void Stop(absl::Duration grace) ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t dropped() const;
  uint64_t spooled_bytes() const { return spool_ ? spool_->bytes() : 0; }
  uint64_t sent() const { return sent_.load(); }

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }
  // Sends one record (TCP: lines with their newlines; HTTP: a body).
  bool SendRecord(absl::string_view record);
  bool SendUdp(const std::vector<std::string>& pieces);
  bool EnsureConnected();
  void CloseSocket();
  void Failed(absl::string_view why);
  // Sends spooled records, oldest first, until empty (true), a failure or
  // `deadline` (false).
  bool Drain(absl::Time deadline);

  const ServerAddress to_;
  Spool* spool_;  // null for UDP
  ErrorLog* log_;
  const absl::Duration interval_;
  const absl::Duration io_timeout_;

  // The sender thread's own (the destructor's once it has joined).
  int fd_ = -1;
  absl::Time retry_at_ = absl::InfinitePast();
  absl::Duration backoff_ = absl::ZeroDuration();
  std::mt19937 rng_;  // the backoff's jitter

  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> queue_dropped_{0};

  mutable Mutex mu_;
  std::deque<std::vector<std::string>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_SENDER_H_
