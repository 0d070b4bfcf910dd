// What comet's workers and the tree's thread tell each other (through a
// Mailbox each way). A worker owns its connections; the tree's thread owns
// the tree, the hub and every handler.
//
//   worker -> tree: a request to answer (kCall), and what became of a
//                   waiter's client (gone, its time up, backed up, drained,
//                   polling again on its own (kResumed), or done with it
//                   (kRelease))
//   tree -> worker: a reply (kReply), a request parked as a waiter (kHold),
//                   and the bodies the hub delivers (kDeliver, shared by
//                   every waiter that gets the same bytes)
//
// Plain values, moved between threads.
#ifndef CANOPY_SERVER_NET_MESSAGES_H_
#define CANOPY_SERVER_NET_MESSAGES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "server/handlers/request.h"

namespace canopy {

struct ToTree {
  enum class Kind {
    kCall,
    kGone,
    kExpire,
    kBacklogged,
    kDrained,
    // A pull's client polled again with the cursor of its last reply and
    // the worker parked it itself (Hub::Resumed).
    kResumed,
    // The worker no longer holds the connection of a waiter between polls
    // (it asked something else, or closed): freed, not counted as gone.
    kRelease,
  };
  Kind kind = Kind::kCall;
  uint32_t worker = 0;
  uint64_t id = 0;   // kCall: the connection (in its worker); else a waiter
  uint64_t seq = 0;  // kResumed: the cursor the client polled with
  Request request;   // kCall
};

struct ToWorker {
  enum class Kind { kReply, kHold, kDeliver, kStop };
  Kind kind = Kind::kReply;
  uint64_t id = 0;  // kReply, kHold: the connection; kDeliver: the waiter
  // kReply. A pointer: a delivery (the common message) carries none.
  std::unique_ptr<Response> response;
  uint64_t waiter = 0;      // kHold
  bool stream = false;      // kHold
  int timeout_seconds = 0;  // kHold: a pull's
  // kDeliver: the body; kHold: a stream's first event.
  std::shared_ptr<const std::string> body;
  // kDeliver; kHold: a stream's first event id, a pull's cursor.
  uint64_t seq = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_MESSAGES_H_
