#include "server/comet.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <algorithm>
#include <ctime>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/handlers.h"

namespace canopy {
namespace {

constexpr int kStreamKeepaliveSeconds = 15;
// A stream whose unsent output passes this waits for it to drain; it then
// gets one coalesced event with everything that changed meanwhile.
constexpr size_t kStreamHighWater = 1 << 20;
// Flush() runs at the lowest of the base's priorities.
constexpr int kFlushPriority = 2;

struct timeval Seconds(int s) {
  struct timeval tv;
  tv.tv_sec = s;
  tv.tv_usec = 0;
  return tv;
}

}  // namespace

struct Hub::WatchList {
  std::string key;
  Node* node = nullptr;
  std::vector<Waiter*> waiters;
};

struct Hub::Waiter {
  Hub* hub;
  evhttp_request* req;
  evhttp_connection* evcon;
  std::vector<Pattern> patterns;
  std::string cache_key;  // patterns joined: waiters alike share a reply
  uint64_t since;
  bool stream;
  bool marked = false;
  bool dead = false;
  bool backed_up = false;  // stream: waiting for its output to drain
  event* timer = nullptr;
  event* closed = nullptr;
  // The lists this waiter is in, with its index in each.
  std::vector<std::pair<WatchList*, size_t>> lists;
};

Hub::Hub(event_base* base, Tree* tree, Stats* stats,
         const ServerOptions* options)
    : base_(base), tree_(tree), stats_(stats), options_(options) {
  flush_event_ = event_new(base_, -1, 0, &Hub::OnFlush, this);
  event_priority_set(flush_event_, kFlushPriority);
  tree_->SetObserver(this);
}

Hub::~Hub() {
  CloseAll();
  tree_->SetObserver(nullptr);
  event_free(flush_event_);
}

Hub::Waiter* Hub::NewWaiter(evhttp_request* req, std::vector<Pattern> patterns,
                            uint64_t since, bool stream) {
  Waiter* w = new Waiter;
  w->hub = this;
  w->req = req;
  w->evcon = evhttp_request_get_connection(req);
  w->patterns = std::move(patterns);
  for (const Pattern& p : w->patterns) {
    absl::StrAppend(&w->cache_key, p.text(), "\n");
  }
  w->since = since;
  w->stream = stream;
  ++waiter_count_;
  if (stream) ++stream_count_;
  by_connection_[w->evcon] = w;
  // evhttp does not read a connection while its request is held, so watch
  // the socket for the peer's hang-up ourselves.
  bufferevent* bev = evhttp_connection_get_bufferevent(w->evcon);
  evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd >= 0) {
    w->closed = event_new(base_, fd, EV_CLOSED, &Hub::OnClosed, w);
    event_add(w->closed, nullptr);
  }
  return w;
}

void Hub::Register(Waiter* w) {
  absl::flat_hash_set<std::string> keys;
  for (const Pattern& p : w->patterns) {
    std::vector<absl::string_view> prefix = p.FixedPrefix();
    std::string key = JoinKey(prefix);
    if (!keys.insert(key).second) continue;
    std::unique_ptr<WatchList>& slot = lists_[key];
    if (!slot) {
      slot = std::make_unique<WatchList>();
      slot->key = key;
      Node* node = const_cast<Node*>(tree_->Find(prefix));
      if (node != nullptr) {
        slot->node = node;
        tree_->SetWatch(node, slot.get());
      } else {
        ++unbound_;
      }
    }
    w->lists.emplace_back(slot.get(), slot->waiters.size());
    slot->waiters.push_back(w);
  }
}

void Hub::Pull(evhttp_request* req, std::vector<Pattern> patterns,
               bool has_since, uint64_t since, int timeout_s) {
  int64_t now = time(nullptr);
  if (has_since) {
    bool reset = !tree_->CanAnswerSince(since);
    size_t count = 0;
    std::string body = ChangesJson(*tree_, patterns, since, reset, now, &count);
    if (count > 0 || reset) {
      evbuffer* buf = evbuffer_new();
      evbuffer_add(buf, body.data(), body.size());
      evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                        "application/json");
      evhttp_send_reply(req, 200, "OK", buf);
      evbuffer_free(buf);
      ++stats_->pull_replies;
      return;
    }
  } else {
    since = tree_->seq();
  }
  Waiter* w = NewWaiter(req, std::move(patterns), since, /*stream=*/false);
  w->timer = evtimer_new(base_, &Hub::OnTimer, w);
  struct timeval tv = Seconds(timeout_s);
  evtimer_add(w->timer, &tv);
  Register(w);
}

void Hub::Stream(evhttp_request* req, std::vector<Pattern> patterns,
                 bool has_since, uint64_t since) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", "text/event-stream");
  evhttp_add_header(headers, "Cache-Control", "no-cache");
  evhttp_add_header(headers, "X-Accel-Buffering", "no");
  evhttp_send_reply_start(req, 200, "OK");
  bool reset = has_since && !tree_->CanAnswerSince(since);
  if (!has_since || reset) since = 0;
  Waiter* w = NewWaiter(req, std::move(patterns), since, /*stream=*/true);
  // The first event is always sent: it carries the seq to resume from.
  size_t count = 0;
  std::string body =
      ChangesJson(*tree_, w->patterns, since, reset, time(nullptr), &count);
  Deliver(w, body, tree_->seq());
  w->timer = event_new(base_, -1, EV_PERSIST, &Hub::OnTimer, w);
  struct timeval tv = Seconds(kStreamKeepaliveSeconds);
  evtimer_add(w->timer, &tv);
  Register(w);
}

void Hub::OnChange(void* watch) {
  WatchList* list = static_cast<WatchList*>(watch);
  for (Waiter* w : list->waiters) Mark(w);
}

void Hub::OnWatchRemoved(void* watch) {
  WatchList* list = static_cast<WatchList*>(watch);
  list->node = nullptr;
  ++unbound_;
  for (Waiter* w : list->waiters) Mark(w);
}

void Hub::OnNodeCreated(Node* node) {
  auto it = lists_.find(tree_->KeyOf(node));
  if (it == lists_.end() || it->second->node != nullptr) return;
  it->second->node = node;
  tree_->SetWatch(node, it->second.get());
  --unbound_;
}

void Hub::Mark(Waiter* w) {
  if (w->marked || w->dead) return;
  w->marked = true;
  marked_.push_back(w);
  ScheduleFlush();
}

void Hub::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  event_active(flush_event_, 0, 0);
}

void Hub::OnFlush(int, short, void* arg) { static_cast<Hub*>(arg)->Flush(); }

void Hub::Flush() {
  flush_scheduled_ = false;
  std::vector<Waiter*> marked;
  marked.swap(marked_);
  int64_t now = time(nullptr);
  struct Reply {
    std::string body;
    size_t count;
  };
  // Waiters with the same patterns and seq get the same reply.
  absl::flat_hash_map<std::string, Reply> replies;
  uint64_t seq = tree_->seq();
  for (Waiter* w : marked) {
    w->marked = false;
    if (w->dead) continue;
    std::string cache_key = absl::StrCat(w->since, " ", w->cache_key);
    auto it = replies.find(cache_key);
    if (it == replies.end()) {
      Reply r;
      r.body = ChangesJson(*tree_, w->patterns, w->since, false, now, &r.count);
      it = replies.emplace(std::move(cache_key), std::move(r)).first;
    }
    if (it->second.count == 0) continue;  // a change beside its patterns
    if (Deliver(w, it->second.body, seq) && !w->stream) Finish(w);
  }
  std::vector<Waiter*> dead;
  dead.swap(dead_);
  for (Waiter* w : dead) {
    evhttp_connection* evcon = w->evcon;
    bool still_open = w->req != nullptr;
    Finish(w);
    // Closing the connection frees the held request with it.
    if (still_open && evcon != nullptr) evhttp_connection_free(evcon);
  }
}

bool Hub::Deliver(Waiter* w, const std::string& body, uint64_t seq) {
  if (!w->stream) {
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, body.data(), body.size());
    evhttp_add_header(evhttp_request_get_output_headers(w->req), "Content-Type",
                      "application/json");
    evhttp_send_reply(w->req, 200, "OK", buf);
    evbuffer_free(buf);
    w->req = nullptr;  // evhttp owns and frees it from here
    // Write it now rather than when the loop next sees the socket writable:
    // in a fan-out the first client hears at once, not after every reply
    // has been queued. evhttp still finishes the request on its write event.
    bufferevent* bev = evhttp_connection_get_bufferevent(w->evcon);
    evbuffer* out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) > 0)
      evbuffer_write(out, bufferevent_getfd(bev));
    ++stats_->pull_replies;
    return true;
  }
  bufferevent* bev = evhttp_connection_get_bufferevent(w->evcon);
  if (evbuffer_get_length(bufferevent_get_output(bev)) > kStreamHighWater) {
    w->backed_up = true;
    return false;
  }
  evbuffer* buf = evbuffer_new();
  evbuffer_add_printf(buf,
                      "id: %llu\ndata: ", static_cast<unsigned long long>(seq));
  evbuffer_add(buf, body.data(), body.size());
  evbuffer_add(buf, "\n\n", 2);
  evhttp_send_reply_chunk_with_cb(w->req, buf, &Hub::OnDrained, w);
  evbuffer_free(buf);
  w->since = seq;
  ++stats_->stream_events;
  return true;
}

void Hub::OnDrained(evhttp_connection*, void* arg) {
  Waiter* w = static_cast<Waiter*>(arg);
  if (w->backed_up) {
    w->backed_up = false;
    w->hub->Mark(w);
  }
}

void Hub::OnTimer(int, short, void* arg) {
  Waiter* w = static_cast<Waiter*>(arg);
  Hub* hub = w->hub;
  if (w->dead) return;
  if (w->stream) {
    // A comment line keeps proxies from closing an idle stream.
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, ": keepalive\n\n", 13);
    evhttp_send_reply_chunk(w->req, buf);
    evbuffer_free(buf);
    return;
  }
  std::string body = absl::StrCat("{\"seq\":", w->since, ",\"items\":[]}");
  ++hub->stats_->pull_timeouts;
  hub->Deliver(w, body, w->since);
  hub->Finish(w);
}

void Hub::OnClosed(int, short, void* arg) {
  Waiter* w = static_cast<Waiter*>(arg);
  ++w->hub->stats_->waiters_gone;
  w->hub->Kill(w);
}

void Hub::ConnectionClosed(evhttp_connection* evcon) {
  auto it = by_connection_.find(evcon);
  if (it == by_connection_.end()) return;
  Waiter* w = it->second;
  // evhttp frees the request itself; forget it.
  w->req = nullptr;
  w->evcon = nullptr;
  by_connection_.erase(it);
  Kill(w);
}

void Hub::Kill(Waiter* w) {
  if (w->dead) return;
  w->dead = true;
  if (w->timer) event_del(w->timer);
  if (w->closed) event_del(w->closed);
  dead_.push_back(w);
  ScheduleFlush();
}

void Hub::Finish(Waiter* w) {
  for (auto& [list, index] : w->lists) {
    std::vector<Waiter*>& v = list->waiters;
    Waiter* moved = v.back();
    v[index] = moved;
    v.pop_back();
    if (moved != w) {
      for (auto& [l, i] : moved->lists) {
        if (l == list) {
          i = index;
          break;
        }
      }
    }
    if (v.empty()) {
      if (list->node != nullptr) {
        tree_->SetWatch(list->node, nullptr);
      } else {
        --unbound_;
      }
      lists_.erase(list->key);
    }
  }
  w->lists.clear();
  if (w->evcon != nullptr) {
    auto it = by_connection_.find(w->evcon);
    if (it != by_connection_.end() && it->second == w) by_connection_.erase(it);
  }
  if (w->timer) event_free(w->timer);
  if (w->closed) event_free(w->closed);
  --waiter_count_;
  if (w->stream) --stream_count_;
  if (w->marked) {
    // Answered before the flush that would have: take it off the queue.
    auto it = std::find(marked_.begin(), marked_.end(), w);
    if (it != marked_.end()) marked_.erase(it);
  }
  delete w;
}

void Hub::CloseAll() {
  std::vector<Waiter*> all;
  absl::flat_hash_set<Waiter*> seen;
  for (auto& [key, list] : lists_) {
    for (Waiter* w : list->waiters) {
      if (seen.insert(w).second) all.push_back(w);
    }
  }
  for (Waiter* w : dead_) {
    if (seen.insert(w).second) all.push_back(w);
  }
  dead_.clear();
  marked_.clear();
  for (Waiter* w : all) {
    w->marked = false;
    Finish(w);
  }
}

}  // namespace canopy
