#include "server/ingest/json_ingest.h"

#include <algorithm>
#include <string>

namespace canopy {

JsonApplied ApplyJsonPush(Tree* tree, absl::string_view text, int64_t now,
                          Forwarder* forwarder) {
  JsonApplied r;
  Push push;
  if (absl::Status s = ParseJsonPush(text, &push, &r.where); !s.ok()) {
    r.status = std::move(s);
    r.reason = "json";
    return r;
  }
  // In a cluster the push is accepted whole: the parts other nodes own go
  // to them, and only the rest is applied here.
  const size_t all = push.leaves;
  if (forwarder != nullptr) {
    forwarder->RouteJson(text, &push, now);
    if (push.ops.empty() && push.key_markers.empty() &&
        push.key_units.empty()) {
      r.leaves = all;
      return r;
    }
  }
  Tree::ApplyStats applied;
  const uint64_t refused_before = tree->overflow_refused();
  if (absl::Status s = tree->Apply(push, now, &applied); !s.ok()) {
    r.status = std::move(s);
    r.reason = "max_nodes";
    return r;
  }
  r.overflowed = tree->overflow_refused() - refused_before;
  const size_t taken = forwarder != nullptr ? all : applied.leaves;
  r.leaves = taken - std::min(taken, r.overflowed);
  return r;
}

void CountJsonPush(const JsonApplied& r, absl::string_view protocol,
                   Stats* stats) {
  if (r.status.ok()) {
    stats->accepted[std::string(protocol)] += r.leaves;
    if (r.overflowed > 0) {
      stats->rejected[std::string(protocol)]["overflow"] += r.overflowed;
    }
  } else {
    ++stats->rejected[std::string(protocol)][r.reason];
  }
}

bool StartsJson(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
    ++i;
  }
  return i < s.size() && (s[i] == '{' || s[i] == '[');
}

}  // namespace canopy
