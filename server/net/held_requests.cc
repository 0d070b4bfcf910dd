#include "server/net/held_requests.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <ctime>
#include <utility>

namespace canopy {
namespace {

constexpr int kStreamKeepaliveSeconds = 15;
// A stream whose unsent output passes this waits for it to drain; it then
// gets one coalesced event with everything that changed meanwhile.
constexpr size_t kStreamHighWater = 1 << 20;
// The flush runs at the lowest of the base's priorities (see Server::Start).
constexpr int kFlushPriority = 2;

struct timeval Seconds(int s) {
  struct timeval tv;
  tv.tv_sec = s;
  tv.tv_usec = 0;
  return tv;
}

void ReplyJson(evhttp_request* req, const std::string& body) {
  evbuffer* buf = evbuffer_new();
  evbuffer_add(buf, body.data(), body.size());
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    "application/json");
  evhttp_send_reply(req, 200, "OK", buf);
  evbuffer_free(buf);
}

}  // namespace

struct HeldRequests::Held {
  HeldRequests* self;
  Hub::WaiterId id;
  evhttp_request* req;  // null once answered or freed by evhttp
  evhttp_connection* evcon;
  bool stream;
  event* timer = nullptr;
  event* closed = nullptr;
};

HeldRequests::HeldRequests(event_base* base, Tree* tree, Stats* stats)
    : base_(base),
      tree_(tree),
      stats_(stats),
      flush_event_(event_new(base, -1, 0, &HeldRequests::OnFlush, this)),
      hub_(tree, stats, this) {
  event_priority_set(flush_event_, kFlushPriority);
}

HeldRequests::~HeldRequests() {
  hub_.CloseAll();
  event_free(flush_event_);
}

HeldRequests::Held* HeldRequests::NewHeld(Hub::WaiterId id, evhttp_request* req,
                                          bool stream) {
  Held* h = new Held{this, id, req, evhttp_request_get_connection(req), stream};
  held_[id] = h;
  by_connection_[h->evcon] = h;
  // evhttp does not read a connection while its request is held, so watch
  // the socket for the peer's hang-up ourselves.
  bufferevent* bev = evhttp_connection_get_bufferevent(h->evcon);
  evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd >= 0) {
    h->closed = event_new(base_, fd, EV_CLOSED, &HeldRequests::OnClosed, h);
    event_add(h->closed, nullptr);
  }
  return h;
}

void HeldRequests::Take(evhttp_request* req, Hold hold) {
  int64_t now = time(nullptr);
  if (!hold.stream) {
    uint64_t since = tree_->seq();
    if (hold.has_since) {
      if (std::optional<std::string> body =
              hub_.PullNow(hold.patterns, hold.since, now)) {
        ReplyJson(req, *body);
        return;
      }
      since = hold.since;
    }
    Hub::WaiterId id = hub_.Park(std::move(hold.patterns), since);
    Held* h = NewHeld(id, req, /*stream=*/false);
    h->timer = evtimer_new(base_, &HeldRequests::OnTimer, h);
    struct timeval tv = Seconds(hold.timeout_seconds);
    evtimer_add(h->timer, &tv);
    return;
  }
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", "text/event-stream");
  evhttp_add_header(headers, "Cache-Control", "no-cache");
  evhttp_add_header(headers, "X-Accel-Buffering", "no");
  evhttp_send_reply_start(req, 200, "OK");
  std::string first;
  uint64_t seq = 0;
  Hub::WaiterId id = hub_.OpenStream(std::move(hold.patterns), hold.has_since,
                                     hold.since, now, &first, &seq);
  Held* h = NewHeld(id, req, /*stream=*/true);
  Deliver(id, first, seq, /*stream=*/true);
  h->timer = event_new(base_, -1, EV_PERSIST, &HeldRequests::OnTimer, h);
  struct timeval tv = Seconds(kStreamKeepaliveSeconds);
  evtimer_add(h->timer, &tv);
}

bool HeldRequests::Deliver(Hub::WaiterId id, const std::string& body,
                           uint64_t seq, bool stream) {
  auto it = held_.find(id);
  if (it == held_.end() || it->second->req == nullptr) return true;
  Held* h = it->second;
  if (!stream) {
    ReplyJson(h->req, body);
    h->req = nullptr;  // evhttp owns and frees it from here
    // Write it now rather than when the loop next sees the socket writable:
    // in a fan-out the first client hears at once, not after every reply
    // has been queued. evhttp still finishes the request on its write event.
    bufferevent* bev = evhttp_connection_get_bufferevent(h->evcon);
    evbuffer* out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) > 0) {
      evbuffer_write(out, bufferevent_getfd(bev));
    }
    return true;
  }
  bufferevent* bev = evhttp_connection_get_bufferevent(h->evcon);
  if (evbuffer_get_length(bufferevent_get_output(bev)) > kStreamHighWater) {
    return false;
  }
  evbuffer* buf = evbuffer_new();
  evbuffer_add_printf(buf,
                      "id: %llu\ndata: ", static_cast<unsigned long long>(seq));
  evbuffer_add(buf, body.data(), body.size());
  evbuffer_add(buf, "\n\n", 2);
  evhttp_send_reply_chunk_with_cb(h->req, buf, &HeldRequests::OnDrained, h);
  evbuffer_free(buf);
  return true;
}

void HeldRequests::Release(Hub::WaiterId id, bool close) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  Held* h = it->second;
  held_.erase(it);
  if (h->evcon != nullptr) {
    auto c = by_connection_.find(h->evcon);
    if (c != by_connection_.end() && c->second == h) by_connection_.erase(c);
  }
  if (h->timer) event_free(h->timer);
  if (h->closed) event_free(h->closed);
  // Closing the connection frees the held request with it.
  if (close && h->req != nullptr && h->evcon != nullptr) {
    evhttp_connection_free(h->evcon);
  }
  delete h;
}

void HeldRequests::ScheduleFlush() { event_active(flush_event_, 0, 0); }

void HeldRequests::OnFlush(int, short, void* arg) {
  static_cast<HeldRequests*>(arg)->hub_.Flush(time(nullptr));
}

void HeldRequests::OnDrained(evhttp_connection*, void* arg) {
  Held* h = static_cast<Held*>(arg);
  h->self->hub_.Drained(h->id);
}

void HeldRequests::OnTimer(int, short, void* arg) {
  Held* h = static_cast<Held*>(arg);
  if (h->stream) {
    // A comment line keeps proxies from closing an idle stream.
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, ": keepalive\n\n", 13);
    evhttp_send_reply_chunk(h->req, buf);
    evbuffer_free(buf);
    return;
  }
  h->self->hub_.Expire(h->id);
}

void HeldRequests::OnClosed(int, short, void* arg) {
  Held* h = static_cast<Held*>(arg);
  ++h->self->stats_->waiters_gone;
  h->self->Gone(h);
}

void HeldRequests::ConnectionClosed(evhttp_connection* evcon) {
  auto it = by_connection_.find(evcon);
  if (it == by_connection_.end()) return;
  Held* h = it->second;
  // evhttp frees the request itself; forget it.
  h->req = nullptr;
  h->evcon = nullptr;
  by_connection_.erase(it);
  Gone(h);
}

void HeldRequests::Gone(Held* h) {
  if (h->timer) event_del(h->timer);
  if (h->closed) event_del(h->closed);
  hub_.Gone(h->id);
}

}  // namespace canopy
