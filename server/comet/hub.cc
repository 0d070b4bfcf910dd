#include "server/comet/hub.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/comet/changes.h"

namespace canopy {

struct Hub::WatchList {
  std::string key;
  Node* node = nullptr;
  std::vector<Waiter*> waiters;
};

struct Hub::Waiter {
  WaiterId id;
  std::vector<Pattern> patterns;
  std::string cache_key;  // patterns joined: waiters alike share a reply
  uint64_t since;
  bool stream;
  bool marked = false;
  bool dead = false;
  bool backed_up = false;  // stream: waiting for its output to drain
  bool keep = false;       // pull: outlives its replies (Park)
  bool between = false;    // kept: replied to, its client not back yet
  // The lists this waiter is in, with its index in each.
  std::vector<std::pair<WatchList*, size_t>> lists;
};

Hub::Hub(Tree* tree, Stats* stats, Sink* sink)
    : tree_(tree), stats_(stats), sink_(sink) {
  tree_->SetObserver(this);
}

Hub::~Hub() {
  CloseAll();
  tree_->SetObserver(nullptr);
}

Hub::Waiter* Hub::NewWaiter(std::vector<Pattern> patterns, uint64_t since,
                            bool stream, uint32_t route) {
  Waiter* w = new Waiter;
  w->id = (static_cast<WaiterId>(route) << 48) | next_id_++;
  w->patterns = std::move(patterns);
  for (const Pattern& p : w->patterns) {
    absl::StrAppend(&w->cache_key, p.text(), "\n");
  }
  w->since = since;
  w->stream = stream;
  ++waiter_count_;
  if (stream) ++stream_count_;
  by_id_[w->id] = w;
  return w;
}

bool Hub::Watched(absl::string_view key) const {
  auto it = lists_.find(key);
  return it != lists_.end() && !it->second->waiters.empty();
}

Hub::Waiter* Hub::Find(WaiterId id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
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

absl::StatusOr<std::optional<std::string>> Hub::PullNow(
    const std::vector<Pattern>& patterns, uint64_t since, int64_t now) {
  bool reset = !tree_->CanAnswerSince(since);
  size_t count = 0;
  QueryBudget budget(limits_);
  std::string body =
      ChangesJson(*tree_, patterns, since, reset, now, &count, &budget);
  if (budget.exceeded()) {
    ++stats_->queries_refused;
    return budget.Refusal();
  }
  if (count == 0 && !reset) return std::nullopt;
  ++stats_->pull_replies;
  return body;
}

Hub::WaiterId Hub::Park(std::vector<Pattern> patterns, uint64_t since,
                        uint32_t route, bool keep, bool answered) {
  Waiter* w = NewWaiter(std::move(patterns), since, /*stream=*/false, route);
  w->keep = keep;
  if (keep && answered) {
    w->between = true;
    ++between_count_;
  }
  Register(w);
  return w->id;
}

void Hub::Resumed(WaiterId id, uint64_t since) {
  Waiter* w = Find(id);
  // A reply after `since` went out meanwhile: the client has not had it
  // yet, so it is still between polls.
  if (w == nullptr || w->dead || !w->between || w->since != since) return;
  w->between = false;
  --between_count_;
}

absl::StatusOr<Hub::WaiterId> Hub::OpenStream(std::vector<Pattern> patterns,
                                              bool has_since, uint64_t since,
                                              int64_t now, std::string* first,
                                              uint64_t* seq, uint32_t route) {
  bool reset = has_since && !tree_->CanAnswerSince(since);
  if (!has_since || reset) since = 0;
  // The first event is always sent: it carries the seq to resume from.
  size_t count = 0;
  QueryBudget budget(limits_);
  *first = ChangesJson(*tree_, patterns, since, reset, now, &count, &budget);
  if (budget.exceeded()) {
    ++stats_->queries_refused;
    first->clear();
    return budget.Refusal();
  }
  *seq = tree_->seq();
  Waiter* w = NewWaiter(std::move(patterns), *seq, /*stream=*/true, route);
  ++stats_->stream_events;
  Register(w);
  return w->id;
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
  // A backed-up stream is offered nothing until it drains (Drained), then
  // one event with everything that changed meanwhile.
  if (w->marked || w->dead || w->backed_up) return;
  w->marked = true;
  marked_.push_back(w);
  ScheduleFlush();
}

void Hub::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  sink_->ScheduleFlush();
}

void Hub::Flush(int64_t now) {
  flush_scheduled_ = false;
  std::vector<Waiter*> marked;
  marked.swap(marked_);
  struct Reply {
    std::shared_ptr<const std::string> body;  // null: past the limits
    size_t count;
  };
  // Waiters with the same patterns and seq get the same reply (the key's
  // view is of a waiter's cache_key, alive through the flush).
  absl::flat_hash_map<std::pair<uint64_t, absl::string_view>, Reply> replies;
  uint64_t seq = tree_->seq();
  // Answered pulls are freed after the loop: the keys above view their
  // cache_keys.
  std::vector<Waiter*> answered;
  for (Waiter* w : marked) {
    w->marked = false;
    if (w->dead) continue;
    std::pair<uint64_t, absl::string_view> cache_key(w->since, w->cache_key);
    auto it = replies.find(cache_key);
    if (it == replies.end()) {
      Reply r;
      QueryBudget budget(limits_);
      std::string body = ChangesJson(*tree_, w->patterns, w->since, false, now,
                                     &r.count, &budget);
      if (!budget.exceeded()) {
        r.body = std::make_shared<const std::string>(std::move(body));
      }
      it = replies.emplace(cache_key, std::move(r)).first;
    }
    if (it->second.body == nullptr) {
      // Never a partial reply: the client's connection is closed, and its
      // next request with the same cursor gets 413 and the reason.
      ++stats_->queries_refused;
      w->dead = true;
      dead_.push_back(w);
      continue;
    }
    if (it->second.count == 0) continue;  // a change beside its patterns
    if (!sink_->Deliver(w->id, it->second.body, seq, w->stream)) {
      w->backed_up = true;
      continue;
    }
    if (w->stream) {
      w->since = seq;
      ++stats_->stream_events;
    } else if (w->keep) {
      // Its client polls again from `seq`; what changes before it does is
      // delivered too, and held for it by the sink.
      w->since = seq;
      ++stats_->pull_replies;
      if (!w->between) {
        w->between = true;
        ++between_count_;
      }
    } else {
      ++stats_->pull_replies;
      answered.push_back(w);
    }
  }
  for (Waiter* w : answered) Finish(w, /*close=*/false);
  std::vector<Waiter*> dead;
  dead.swap(dead_);
  for (Waiter* w : dead) Finish(w, /*close=*/true);
}

void Hub::Expire(WaiterId id) {
  Waiter* w = Find(id);
  // Between polls, a reply is already on its way to the request that
  // timed out.
  if (w == nullptr || w->dead || w->stream || w->between) return;
  auto body = std::make_shared<const std::string>(
      absl::StrCat("{\"seq\":", w->since, ",\"items\":[]}"));
  ++stats_->pull_timeouts;
  sink_->Deliver(w->id, body, w->since, /*stream=*/false);
  if (w->keep) {
    w->between = true;
    ++between_count_;
    return;
  }
  Finish(w, /*close=*/false);
}

void Hub::Backlogged(WaiterId id) {
  Waiter* w = Find(id);
  if (w != nullptr) w->backed_up = true;
}

void Hub::Drained(WaiterId id) {
  Waiter* w = Find(id);
  if (w == nullptr || !w->backed_up) return;
  w->backed_up = false;
  Mark(w);
}

void Hub::Gone(WaiterId id) {
  Waiter* w = Find(id);
  if (w == nullptr || w->dead) return;
  w->dead = true;
  dead_.push_back(w);
  ScheduleFlush();
}

void Hub::Finish(Waiter* w, bool close) {
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
  by_id_.erase(w->id);
  --waiter_count_;
  if (w->stream) --stream_count_;
  if (w->between) --between_count_;
  if (w->marked) {
    // Answered before the flush that would have: take it off the queue.
    auto it = std::find(marked_.begin(), marked_.end(), w);
    if (it != marked_.end()) marked_.erase(it);
  }
  WaiterId id = w->id;
  delete w;
  sink_->Release(id, close);
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
    Finish(w, /*close=*/false);
  }
}

}  // namespace canopy
