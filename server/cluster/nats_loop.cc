// NatsLoop (see nats_loop.h): libnats' socket on a libevent loop. The
// adapter's functions run on whichever thread libnats calls them from; the
// events' callbacks on the loop's.
#include "server/cluster/nats_loop.h"

#include <event2/thread.h>
#include <poll.h>
#include <pthread.h>
#include <sys/time.h>

#include <cerrno>
#include <utility>

namespace canopy {

// libevent's locks, as evthread_use_pthreads() makes them (its
// evthread_pthread.c), but called from canopyd's code rather than from
// libevent's: ThreadSanitizer then sees every lock and unlock of them
// (tests/tsan.supp ignores what libevent itself calls, and libevent's
// tail calls to pthread_mutex_unlock look like ours: a half-seen lock).
namespace {

void* LockAlloc(unsigned type) {
  auto* m = new pthread_mutex_t;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & EVTHREAD_LOCKTYPE_RECURSIVE) {
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  }
  if (pthread_mutex_init(m, &attr) != 0) {
    delete m;
    m = nullptr;
  }
  pthread_mutexattr_destroy(&attr);
  return m;
}

void LockFree(void* lock, unsigned) {
  auto* m = static_cast<pthread_mutex_t*>(lock);
  pthread_mutex_destroy(m);
  delete m;
}

int Lock(unsigned mode, void* lock) {
  auto* m = static_cast<pthread_mutex_t*>(lock);
  return (mode & EVTHREAD_TRY) ? pthread_mutex_trylock(m)
                               : pthread_mutex_lock(m);
}

int Unlock(unsigned, void* lock) {
  return pthread_mutex_unlock(static_cast<pthread_mutex_t*>(lock));
}

void* CondAlloc(unsigned) {
  auto* c = new pthread_cond_t;
  if (pthread_cond_init(c, nullptr) != 0) {
    delete c;
    return nullptr;
  }
  return c;
}

void CondFree(void* cond) {
  auto* c = static_cast<pthread_cond_t*>(cond);
  pthread_cond_destroy(c);
  delete c;
}

int CondSignal(void* cond, int broadcast) {
  auto* c = static_cast<pthread_cond_t*>(cond);
  return (broadcast ? pthread_cond_broadcast(c) : pthread_cond_signal(c)) == 0
             ? 0
             : -1;
}

// 0 when signalled, 1 when `tv` passed, -1 on an error.
int CondWait(void* cond, void* lock, const timeval* tv) {
  auto* c = static_cast<pthread_cond_t*>(cond);
  auto* m = static_cast<pthread_mutex_t*>(lock);
  if (tv == nullptr) return pthread_cond_wait(c, m) == 0 ? 0 : -1;
  timeval now;
  gettimeofday(&now, nullptr);
  timeval until;
  timeradd(&now, tv, &until);
  const timespec abstime = {until.tv_sec, until.tv_usec * 1000};
  const int r = pthread_cond_timedwait(c, m, &abstime);
  return r == ETIMEDOUT ? 1 : (r == 0 ? 0 : -1);
}

unsigned long ThreadId() {  // NOLINT(runtime/int): libevent's type
  return static_cast<unsigned long>(pthread_self());  // NOLINT(runtime/int)
}

int InstallLocks() {
  static const evthread_lock_callbacks locks = {EVTHREAD_LOCK_API_VERSION,
                                                EVTHREAD_LOCKTYPE_RECURSIVE,
                                                &LockAlloc,
                                                &LockFree,
                                                &Lock,
                                                &Unlock};
  static const evthread_condition_callbacks conds = {
      EVTHREAD_CONDITION_API_VERSION, &CondAlloc, &CondFree, &CondSignal,
      &CondWait};
  evthread_set_lock_callbacks(&locks);
  evthread_set_condition_callbacks(&conds);
  evthread_set_id_callback(&ThreadId);
  return 0;
}

}  // namespace

void NatsLoop::UseThreadSafeBases() {
  static const int done = InstallLocks();
  (void)done;
}

NatsLoop::NatsLoop(event_base* base, std::function<void()> on_read)
    : base_(base), on_read_(std::move(on_read)) {}

NatsLoop::~NatsLoop() {
  Collect();
  MutexLock lock(&mu_);
  for (event* e : {read_, write_}) {
    if (e != nullptr) event_free(e);
  }
  read_ = write_ = nullptr;
}

natsStatus NatsLoop::Configure(natsOptions* opts) {
  return natsOptions_SetEventLoop(opts, this, &NatsLoop::Attach,
                                  &NatsLoop::Read, &NatsLoop::Write,
                                  &NatsLoop::Detach);
}

// After a connection or a reconnection (then with the new socket).
natsStatus NatsLoop::Attach(void** user, void* loop, natsConnection* nc,
                            natsSock fd) {
  NatsLoop* self = static_cast<NatsLoop*>(loop);
  *user = self;
  self->nc_.store(nc);
  MutexLock lock(&self->mu_);
  // The old socket's events may be about to run on the loop: retired, and
  // freed there (Collect).
  for (event* e : {self->read_, self->write_}) {
    if (e == nullptr) continue;
    event_del_noblock(e);
    self->retired_.push_back(e);
  }
  self->fd_ = fd;
  self->read_ = event_new(self->base_, fd, EV_READ | EV_PERSIST,
                          &NatsLoop::OnEvent, self);
  self->write_ = event_new(self->base_, fd, EV_WRITE | EV_PERSIST,
                           &NatsLoop::OnEvent, self);
  if (self->read_ == nullptr || self->write_ == nullptr ||
      event_add(self->read_, nullptr) != 0) {
    return NATS_ERR;
  }
  self->read_fd_.store(fd);
  self->write_wanted_.store(false);
  return NATS_OK;
}

natsStatus NatsLoop::Read(void* user, bool add) {
  NatsLoop* self = static_cast<NatsLoop*>(user);
  MutexLock lock(&self->mu_);
  if (self->read_ == nullptr) return NATS_ERR;
  const int r =
      add ? event_add(self->read_, nullptr) : event_del_noblock(self->read_);
  self->read_fd_.store(add ? self->fd_ : -1);
  return r == 0 ? NATS_OK : NATS_ERR;
}

natsStatus NatsLoop::Write(void* user, bool add) {
  NatsLoop* self = static_cast<NatsLoop*>(user);
  MutexLock lock(&self->mu_);
  if (self->write_ == nullptr) return NATS_ERR;
  const int r =
      add ? event_add(self->write_, nullptr) : event_del_noblock(self->write_);
  self->write_wanted_.store(add);
  return r == 0 ? NATS_OK : NATS_ERR;
}

// The connection is closed (not merely disconnected): its events go.
// libnats calls this from the thread that closes it; canopyd closes it
// after its loop has stopped.
natsStatus NatsLoop::Detach(void* user) {
  NatsLoop* self = static_cast<NatsLoop*>(user);
  MutexLock lock(&self->mu_);
  for (event* e : {self->read_, self->write_}) {
    if (e != nullptr) event_free(e);
  }
  self->read_ = self->write_ = nullptr;
  self->fd_ = -1;
  self->read_fd_.store(-1);
  self->write_wanted_.store(false);
  return NATS_OK;
}

void NatsLoop::OnEvent(evutil_socket_t, short what, void* arg) {
  NatsLoop* self = static_cast<NatsLoop*>(arg);
  natsConnection* nc = self->nc_.load();
  if (what & EV_WRITE) natsConnection_ProcessWriteEvent(nc);
  if (what & EV_READ) {
    natsConnection_ProcessReadEvent(nc);
    self->on_read_();
  }
}

bool NatsLoop::Pump(int timeout_ms) {
  const int fd = read_fd_.load();
  natsConnection* nc = nc_.load();
  if (fd < 0 || nc == nullptr) return false;
  const bool write = write_wanted_.load();
  pollfd p = {fd, static_cast<short>(POLLIN | (write ? POLLOUT : 0)), 0};
  if (poll(&p, 1, timeout_ms) > 0) {
    if (p.revents & POLLNVAL) return false;  // closed: reconnecting
    if (p.revents & POLLOUT) natsConnection_ProcessWriteEvent(nc);
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      natsConnection_ProcessReadEvent(nc);
      on_read_();
    }
  }
  Collect();
  return true;
}

void NatsLoop::Collect() {
  std::vector<event*> retired;
  {
    MutexLock lock(&mu_);
    retired.swap(retired_);
  }
  for (event* e : retired) event_free(e);
}

}  // namespace canopy
