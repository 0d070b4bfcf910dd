// A comet worker's held requests (server/net/worker.h): the tree's mail
// (replies, holds, deliveries), a pull's waiter kept between polls and
// re-parked here (Repoll), a stream's events and back-pressure. Runs on the
// worker's own thread, like worker.cc.
#include <event2/event.h>
#include <sys/uio.h>

#include <charconv>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/net/response_write.h"
#include "server/net/worker.h"
#include "server/net/worker_conn.h"

namespace canopy {

using worker_internal::FormatJsonReplyHead;
using worker_internal::kReplyHeadBytes;
using worker_internal::kStreamHardLimit;
using worker_internal::kStreamHighWater;
using worker_internal::kStreamKeepaliveSeconds;
using worker_internal::Put;
using worker_internal::Seconds;
using worker_internal::SplitPullTarget;

bool Worker::Repoll(Conn* c) {
  if (!c->kept || c->pull_target.empty() || !c->parser.get() ||
      c->parser.has_body() ||
      c->parser.authorization() != c->pull_authorization) {
    return false;
  }
  uint64_t since = 0;
  bool has_since = false;
  size_t at = 0;
  bool same = true;
  const absl::string_view want = c->pull_target;
  if (!SplitPullTarget(c->parser.target(), &since, &has_since,
                       [&](absl::string_view p) {
                         if (same && absl::StartsWith(want.substr(at), p)) {
                           at += p.size();
                         } else {
                           same = false;
                         }
                       }) ||
      !has_since || !same || at != want.size() || since != c->written_seq) {
    return false;
  }
  c->parser.Reset();
  if (c->pending != nullptr) {
    // A change came between the polls: its reply, at once.
    std::shared_ptr<const std::string> body = std::move(c->pending);
    c->pending = nullptr;
    c->written_seq = c->pending_seq;
    ++deliveries_;
    WriteJsonReply(c, *body);
    return true;
  }
  c->state = Conn::State::kHeld;
  ++held_count_;
  ArmTimer(c, c->hold_timeout);
  ToTree m;
  m.kind = ToTree::Kind::kResumed;
  m.worker = index_;
  m.id = c->waiter;
  m.seq = since;
  // Quiet: the hub needs it only before the next message it reads (the
  // waiter count, a timeout, a new pull against --max_waiters).
  to_tree_->PostQuiet(std::move(m));
  return true;
}

void Worker::Release(Conn* c) {
  by_waiter_.erase(c->waiter);
  // Quiet: its client is still there, and what it asks next wakes the
  // tree, which reads this first (deliveries to the waiter meanwhile are
  // dropped here: it is no longer in by_waiter_).
  ToTree m;
  m.kind = ToTree::Kind::kRelease;
  m.worker = index_;
  m.id = c->waiter;
  to_tree_->PostQuiet(std::move(m));
  c->waiter = 0;
  c->kept = false;
  c->pending = nullptr;
}

void Worker::WriteJsonReply(Conn* c, const std::string& body) {
  char head[kReplyHeadBytes];
  int len = FormatJsonReplyHead(body.size(), c->keep_alive, head);
  iovec parts[2] = {{head, static_cast<size_t>(len)},
                    {const_cast<char*>(body.data()), body.size()}};
  c->state = Conn::State::kWriting;
  if (!Write(c, parts, c->head_only ? 1 : 2)) return;
  if (c->out.empty()) Written(c);
}

void Worker::OnMail(int, short, void* arg) {
  static_cast<Worker*>(arg)->Mail();
}

void Worker::Mail() {
  for (ToWorker& m : mailbox_.TakeAll()) {
    switch (m.kind) {
      case ToWorker::Kind::kStop:
        event_base_loopbreak(base_);
        return;
      case ToWorker::Kind::kDeliver:
        Deliver(m);
        break;
      case ToWorker::Kind::kReply: {
        auto it = conns_.find(m.id);
        if (it != conns_.end() && it->second->state == Conn::State::kCalling) {
          Reply(it->second, *m.response);
        }
        break;
      }
      case ToWorker::Kind::kHold: {
        auto it = conns_.find(m.id);
        if (it == conns_.end() || it->second->state != Conn::State::kCalling) {
          // Its client left while the tree parked it (or answered it).
          Tell(m.body != nullptr && !m.stream ? ToTree::Kind::kRelease
                                              : ToTree::Kind::kGone,
               m.waiter);
          break;
        }
        Hold(it->second, m);
        break;
      }
    }
  }
}

void Worker::Hold(Conn* c, ToWorker& m) {
  if (!m.stream && m.body != nullptr) {
    // A pull answered at once, its waiter kept for the client's next poll
    // (unless the request was not one the worker can recognise again).
    if (c->pull_target.empty()) {
      Tell(ToTree::Kind::kRelease, m.waiter);
    } else {
      c->waiter = m.waiter;
      by_waiter_[m.waiter] = c;
      c->kept = true;
      c->hold_timeout = m.timeout_seconds;
      c->written_seq = m.seq;
      c->pending = nullptr;
    }
    WriteJsonReply(c, *m.body);
    return;
  }
  c->waiter = m.waiter;
  by_waiter_[m.waiter] = c;
  ++held_count_;
  if (!m.stream) {
    c->state = Conn::State::kHeld;
    c->kept = !c->pull_target.empty();
    c->hold_timeout = m.timeout_seconds;
    c->written_seq = m.seq;
    c->pending = nullptr;
    ArmTimer(c, m.timeout_seconds);
    return;
  }
  c->state = Conn::State::kStreaming;
  c->keep_alive = false;  // a stream ends with its connection
  std::string head;
  AppendStreamHead(&head);
  std::string id = absl::StrCat("id: ", m.seq, "\ndata: ");
  iovec parts[4] = {{head.data(), head.size()},
                    {id.data(), id.size()},
                    {const_cast<char*>(m.body->data()), m.body->size()},
                    {const_cast<char*>("\n\n"), 2}};
  if (!Write(c, parts, 4)) return;
  timeval tv = Seconds(kStreamKeepaliveSeconds);
  event_assign(c->timer, base_, -1, EV_PERSIST, &Worker::OnTimer, c);
  evtimer_add(c->timer, &tv);
}

void Worker::Deliver(ToWorker& m) {
  auto it = by_waiter_.find(m.id);
  if (it == by_waiter_.end()) return;  // its client left
  Conn* c = it->second;
  if (c->state == Conn::State::kHeld) {
    ++deliveries_;
    --held_count_;
    if (c->kept) {
      c->written_seq = m.seq;  // the waiter stays, between polls
    } else {
      by_waiter_.erase(it);
      c->waiter = 0;
    }
    evtimer_del(c->timer);
    WriteJsonReply(c, *m.body);
    return;
  }
  if (c->state != Conn::State::kStreaming) {
    // Between polls: held for the client's next poll. A second one means
    // a client that does not poll again soon: let the waiter go, and its
    // next poll is answered by the tree from its cursor.
    if (!c->kept) return;
    if (c->pending == nullptr) {
      c->pending = m.body;
      c->pending_seq = m.seq;
    } else {
      Release(c);
    }
    return;
  }
  ++deliveries_;
  char id[48];
  char* at = Put(id, "id: ");
  at = std::to_chars(at, id + sizeof id, m.seq).ptr;
  at = Put(at, "\ndata: ");
  int len = static_cast<int>(at - id);
  iovec parts[3] = {{id, static_cast<size_t>(len)},
                    {const_cast<char*>(m.body->data()), m.body->size()},
                    {const_cast<char*>("\n\n"), 2}};
  if (!Write(c, parts, 3)) return;
  if (c->out.size() > kStreamHardLimit) {
    Close(c);  // a client that does not read its stream
  } else if (c->out.size() > kStreamHighWater && !c->backlogged) {
    c->backlogged = true;
    Tell(ToTree::Kind::kBacklogged, c->waiter);
  }
}

void Worker::Tell(ToTree::Kind kind, uint64_t waiter) {
  ToTree m;
  m.kind = kind;
  m.worker = index_;
  m.id = waiter;
  to_tree_->Post(std::move(m));
}

}  // namespace canopy
