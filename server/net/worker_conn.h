// What the two halves of a comet worker share (server/net/worker.cc: the
// connections, their reading, writing and deadlines; worker_held.cc: held
// requests, the hub's deliveries and the worker's mailbox): the limits, the
// reply head, the /pull target splitter, and a connection's state. Internal
// to server/net; everything here belongs to the worker's own thread.
#ifndef CANOPY_SERVER_NET_WORKER_CONN_H_
#define CANOPY_SERVER_NET_WORKER_CONN_H_

#include <sys/socket.h>
#include <sys/time.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "server/net/request_parser.h"
#include "server/net/worker.h"

namespace canopy {
namespace worker_internal {

inline constexpr size_t kReadBufferBytes = 64 * 1024;
// Bytes a connection may hold unparsed while its request is answered
// (pipelined requests); past it the client is not playing by the rules.
inline constexpr size_t kMaxPendingInput = 256 * 1024;
inline constexpr size_t kStreamHighWater = 1 << 20;
inline constexpr size_t kStreamHardLimit = 8 << 20;
inline constexpr int kStreamKeepaliveSeconds = 15;
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;
// Timer durations given a queue of their own (libevent's common timeouts:
// adding and removing such a timer is O(1), not a heap operation); the
// ones past this many use the heap.
inline constexpr size_t kCommonTimeouts = 32;
// The reap event runs after every other event of a loop turn.
inline constexpr int kReapPriority = 1;
// A connection past --max_connections, one of the reserve, has this long
// to ask /healthz or /metrics.
inline constexpr int kReserveSeconds = 2;

// Appends `text` at `at` (the caller's buffer is large enough).
inline char* Put(char* at, absl::string_view text) {
  std::memcpy(at, text.data(), text.size());
  return at + text.size();
}

// The head of a comet reply, formatted without allocating (nor printf): a
// pull's answer is always 200 and JSON. `out` holds kReplyHeadBytes.
inline constexpr size_t kReplyHeadBytes = 160;
inline int FormatJsonReplyHead(size_t body_bytes, bool keep_alive, char* out) {
  char* at = Put(out,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: ");
  at = std::to_chars(at, out + kReplyHeadBytes, body_bytes).ptr;
  at = Put(at, keep_alive
                   ? absl::string_view("\r\nConnection: keep-alive\r\n\r\n")
                   : absl::string_view("\r\nConnection: close\r\n\r\n"));
  return static_cast<int>(at - out);
}

// Splits a request target "/pull?..." into its since= cursor and the rest,
// given to `piece` in order: "/pull?" and each other parameter (with its
// '&' if not the first), so that the rest can be kept or compared without
// allocating. False when the target is not a /pull with a query, or has
// more than one since=, or one that is not a number; `*has_since` says
// whether it had one.
template <class F>
bool SplitPullTarget(absl::string_view target, uint64_t* since, bool* has_since,
                     F&& piece) {
  *has_since = false;
  if (!absl::ConsumePrefix(&target, "/pull?")) return false;
  piece(absl::string_view("/pull?"));
  bool first = true;
  while (true) {
    const size_t amp = target.find('&');
    const absl::string_view p = target.substr(0, amp);
    if (absl::StartsWith(p, "since=")) {
      if (*has_since || !absl::SimpleAtoi(p.substr(6), since)) return false;
      *has_since = true;
    } else {
      if (!first) piece(absl::string_view("&"));
      piece(p);
      first = false;
    }
    if (amp == absl::string_view::npos) break;
    target.remove_prefix(amp + 1);
  }
  return true;
}

inline timeval Seconds(int s) {
  timeval tv;
  tv.tv_sec = s;
  tv.tv_usec = 0;
  return tv;
}

}  // namespace worker_internal

struct Worker::Conn {
  enum class State {
    kReading,    // parsing requests
    kCalling,    // a request is with the tree's thread
    kWriting,    // a reply is being written
    kHeld,       // a /pull parked as a waiter
    kStreaming,  // a /stream
  };
  Worker* worker;
  uint64_t id;
  int fd;
  State state = State::kReading;
  bool keep_alive = true;
  bool head_only = false;      // the request was HEAD
  bool sent_continue = false;  // "100 Continue" written for this request
  bool backlogged = false;     // a stream past its high-water mark
  bool dead = false;
  bool reserve = false;  // past the cap: /healthz and /metrics only, once
  enum class Deadline { kIdle, kHeaders, kBody } deadline = Deadline::kIdle;
  uint64_t waiter = 0;
  // A pull's waiter kept between polls (worker.h): the cursor the client
  // has (the seq of the last reply written, or its hold's), a reply the
  // hub delivered before the client came back, and what a poll again must
  // be: its target without since=, and its Authorization.
  bool kept = false;
  int hold_timeout = 0;
  uint64_t written_seq = 0;
  std::shared_ptr<const std::string> pending;
  uint64_t pending_seq = 0;
  std::string pull_target;
  std::string pull_authorization;
  event* read_event = nullptr;
  event* write_event = nullptr;
  event* timer = nullptr;
  RequestParser parser;
  std::string in;              // read, not yet parsed
  std::string out;             // to write, not yet taken by the socket
  sockaddr_storage peer = {};  // the client's address

  Conn(Worker* w, uint64_t i, int f, size_t max_body)
      : worker(w),
        id(i),
        fd(f),
        parser(RequestLimits{worker_internal::kMaxHeaderBytes, max_body}) {}
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_WORKER_CONN_H_
