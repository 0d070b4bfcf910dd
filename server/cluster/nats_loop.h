// The NATS client on the tree's libevent loop: NatsLoop attaches libnats'
// connection to an event base (natsOptions_SetEventLoop), so that the
// loop's thread reads and writes the connection's socket itself, and runs
// a hook after every read: the cluster takes the messages of its
// synchronous subscriptions there, where they were read, with no thread
// between the socket and the tree.
//
//   NatsLoop loop(base, [&] { TakeMessages(); });
//   natsOptions_SetSendAsap(opts, true);  // no flusher thread: the loop
//   loop.Configure(opts);                 // writes what is published
//   natsConnection_Connect(&nc, opts);
//
// It follows libnats' own libevent adapter (nats/adapters/libevent.h) but
// is ours because of the hook, and because of what follows. libnats keeps
// a few threads even so: its timers (a PING every two minutes) and, after a
// disconnection, a thread that reconnects and attaches the new socket.
// They call Attach, Read and Write, which add and remove the loop's events
// from those threads: the base must be thread-safe, so call
// UseThreadSafeBases() before it is made (bases made with
// EVENT_BASE_FLAG_NOLOCK, the comet workers', stay without locks). A
// reconnection replaces the socket's events while the loop may be about to
// run the old ones: those are retired, not freed, and freed on the loop's
// thread by Collect().
//
// Threads: Attach, Read, Write and Detach from any thread (libnats calls
// them under its connection's lock); the events' callbacks, the hook,
// Pump and Collect on the loop's thread (or, once the loop has stopped,
// on the thread that ran it).
#ifndef CANOPY_SERVER_CLUSTER_NATS_LOOP_H_
#define CANOPY_SERVER_CLUSTER_NATS_LOOP_H_

#include <event2/event.h>
#include <nats/nats.h>

#include <atomic>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "canopy/mutex.h"

namespace canopy {

class NatsLoop {
 public:
  // Makes the event bases made from now on thread-safe (as libevent's
  // evthread_use_pthreads does, process-wide, with locks ThreadSanitizer
  // sees). Call before the base is made.
  static void UseThreadSafeBases();

  // `on_read` runs on the loop's thread after every read of the socket.
  NatsLoop(event_base* base, std::function<void()> on_read);
  ~NatsLoop();  // after the connection is closed and destroyed
  NatsLoop(const NatsLoop&) = delete;
  NatsLoop& operator=(const NatsLoop&) = delete;

  // Puts the connection that `opts` will make on this loop.
  natsStatus Configure(natsOptions* opts);

  // For when the loop does not run (at stop, perhaps inside one of its
  // callbacks): waits up to `timeout_ms` for the socket, writes what waits
  // to be written, reads what came and runs the hook. False (at once) when
  // no socket is attached.
  bool Pump(int timeout_ms);

  // Whether published bytes wait for the socket.
  bool writing() const { return write_wanted_.load(); }

  // Frees the events a reconnection retired. Loop's thread, outside the
  // NATS events' callbacks (a timer's is fine).
  void Collect();

 private:
  static natsStatus Attach(void** user, void* loop, natsConnection* nc,
                           natsSock fd);
  static natsStatus Read(void* user, bool add);
  static natsStatus Write(void* user, bool add);
  static natsStatus Detach(void* user);
  static void OnEvent(evutil_socket_t, short what, void* arg);

  event_base* const base_;
  const std::function<void()> on_read_;
  // Set by the first Attach, never changed: the loop's callbacks read it.
  std::atomic<natsConnection*> nc_{nullptr};
  std::atomic<int> read_fd_{-1};  // the socket while it is read, else -1
  std::atomic<bool> write_wanted_{false};

  Mutex mu_;
  event* read_ ABSL_GUARDED_BY(mu_) = nullptr;
  event* write_ ABSL_GUARDED_BY(mu_) = nullptr;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::vector<event*> retired_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_NATS_LOOP_H_
