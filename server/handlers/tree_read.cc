// Reading and removing the live tree: GET /get (the leaves under patterns),
// GET /api/q/<key>.json (a subtree as nested JSON), DELETE /api/q/<key>, and
// GET /diff/<a>/<b> (two subtrees aligned by relative path).
//
// Threads: the event-loop thread (it reads and writes the tree).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/cluster/cluster.h"
#include "server/handlers/handlers.h"
#include "server/live_json.h"

namespace canopy {
namespace {

// "br,ie.json" -> "br,ie"; the key of /api/q/<key>.json.
absl::string_view StripJson(absl::string_view key) {
  if (absl::EndsWith(key, ".json")) key.remove_suffix(5);
  return key;
}

// The key of /api/q/<key>[.json].
absl::string_view ApiKey(const Request& request) {
  return StripJson(
      absl::string_view(request.path).substr(sizeof("/api/q/") - 1));
}

absl::StatusOr<KeySegments> KeyFromPath(absl::string_view key) {
  absl::StatusOr<KeySegments> segs = SplitKey(key);
  if (!segs.ok()) return segs.status();
  return segs;
}

// Writes a subtree as nested JSON: a leaf is its value, an interior node an
// object of its children (and its own value under "" if it has one). Past
// `depth`, an interior node is its aggregate. Returns the node's value for
// its parent's aggregate.
LiveValue WriteNested(JsonOut& out, const Tree& tree, const Node* node,
                      Action action, int64_t now, int depth, bool meta,
                      QueryBudget* budget) {
  int step = tree.step_seconds();
  LiveValue own = node->Live(action, now, step);
  if (meta) {
    out.w.StartObject();
    out.Key("action");
    out.String(ActionName(action));
    out.Key("seq");
    out.w.Uint64(node->max_seq());
  }
  LiveValue result = own;
  if (node->child_count() > 0) {
    Aggregator agg(action);
    bool expand = depth != 0;
    if (meta && expand) out.Key("children");
    if (expand) out.w.StartObject();
    // Past the budget the reply is refused: what is written is dropped
    // (the JSON is still closed properly).
    std::vector<const Node*> children;
    if (budget->ChargeSort(node->child_count())) {
      children = node->SortedChildren();
    }
    for (const Node* c : children) {
      if (!budget->Charge(1)) break;
      Action a = c->own_action() != Action::kInherit ? c->own_action() : action;
      LiveValue v;
      if (expand) {
        out.Key(c->name());
        v = WriteNested(out, tree, c, a, now, depth - 1, meta, budget);
      } else {
        v = tree.ValueOf(c, a, now, budget);
      }
      agg.Add(v);
    }
    if (!meta && expand && own.has) {
      out.Key("");
      WriteLive(out, own);
    }
    if (expand) out.w.EndObject();
    result = agg.Result();
    if (!meta && !expand) WriteLive(out, result);
  } else if (!meta) {
    WriteLive(out, own);
  }
  if (meta) {
    // A node that holds a value shows it; an interior node its aggregate.
    const LiveValue& shown = own.has ? own : result;
    if (shown.has) {
      out.Key("value");
      WriteLive(out, shown);
    }
    if (own.has && own.has_rate) {
      out.Key("rate");
      out.Number(own.rate);
    }
    if (own.has && !own.is_text) {
      const Window& w = node->window();
      out.Key("window");
      out.w.StartObject();
      out.Key("start");
      out.w.Int64(static_cast<int64_t>(w.index) * step);
      out.Key("count");
      out.w.Uint(w.count);
      out.Key("sum");
      out.Number(w.sum);
      out.Key("min");
      out.Number(w.min);
      out.Key("max");
      out.Number(w.max);
      out.Key("last");
      out.Number(w.last);
      out.w.EndObject();
    }
    if (const std::vector<Marker>* m = node->markers(); m && !m->empty()) {
      out.Key("markers");
      out.w.StartArray();
      for (const Marker& mk : *m) {
        out.w.StartObject();
        out.Key("time");
        out.w.Int64(mk.time);
        out.Key("text");
        out.String(mk.text);
        out.w.EndObject();
      }
      out.w.EndArray();
    }
    out.w.EndObject();
  }
  return own.has && node->child_count() == 0 ? own : result;
}

}  // namespace

absl::StatusOr<Response> HandleGet(const Request& request,
                                   HandlerContext& ctx) {
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  // In a cluster, keys other shards own come from replicas of them.
  const bool stale =
      ctx.cluster != nullptr && !ctx.cluster->Replicate(*patterns);
  absl::StatusOr<size_t> limit_or = LimitOf(request, ctx.options->get_limit);
  if (!limit_or.ok()) return limit_or.status();
  const size_t limit = *limit_or;
  JsonOut out;
  out.w.StartObject();
  out.Key("seq");
  out.w.Uint64(ctx.tree->seq());
  out.Key("items");
  out.w.StartArray();
  size_t n = 0;
  bool truncated = false;
  absl::flat_hash_set<std::string> seen;
  QueryBudget budget(ctx.options->query);
  for (const Pattern& p : *patterns) {
    bool complete = ctx.tree->Collect(
        p, 0,
        [&](const LeafView& leaf) {
          if (n >= limit) {
            truncated = true;
            return false;
          }
          if (patterns->size() > 1 &&
              !seen.insert(std::string(leaf.key)).second) {
            return true;
          }
          out.w.StartObject();
          out.Key(leaf.key);
          WriteLive(out, leaf.node->Live(leaf.action, ctx.now,
                                         ctx.tree->step_seconds()));
          out.w.EndObject();
          ++n;
          return true;
        },
        &budget);
    if (budget.exceeded()) return QueryRefused(budget, ctx);
    if (!complete) break;
  }
  out.w.EndArray();
  if (truncated) {
    out.Key("truncated");
    out.w.Bool(true);
  }
  if (stale) {
    out.Key("stale");
    out.w.Bool(true);
  }
  out.w.EndObject();
  return JsonResponse(out);
}

namespace {

// In a cluster: reads of `segs` are coming, so the keys other shards own
// under it are replicated here (Cluster::Replicate). Unavailable while the
// first copy is on its way and there is nothing here yet.
absl::Status AwaitReplica(HandlerContext& ctx, const KeySegments& segs) {
  if (ctx.cluster == nullptr) return absl::OkStatus();
  absl::StatusOr<Pattern> p = Pattern::Parse(JoinKey(segs));
  if (!p.ok()) return absl::OkStatus();
  if (ctx.cluster->Replicate({*p}) || ctx.tree->Find(segs) != nullptr) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("\"", JoinKey(segs).substr(0, 200),
                   "\" belongs to another shard and its copy is on its way: "
                   "ask again in a moment"));
}

}  // namespace

absl::StatusOr<Response> HandleQuery(const Request& request,
                                     HandlerContext& ctx) {
  absl::string_view key = ApiKey(request);
  absl::StatusOr<KeySegments> segs = KeyFromPath(key);
  if (!segs.ok()) return segs.status();
  int depth = -1;
  if (request.HasParam("depth") &&
      (!absl::SimpleAtoi(request.Param("depth"), &depth) || depth < 0)) {
    return absl::InvalidArgumentError("depth must be a non-negative integer");
  }
  bool meta = request.Param("meta") == "1" || request.Param("meta") == "true";
  if (absl::Status s = AwaitReplica(ctx, *segs); !s.ok()) return s;
  const Node* node = ctx.tree->Find(*segs);
  if (node == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no node \"", key.substr(0, 200), "\""));
  }
  QueryBudget budget(ctx.options->query);
  JsonOut out;
  if (meta) {
    // The top object also names its key.
    JsonOut inner;
    WriteNested(inner, *ctx.tree, node, node->EffectiveAction(), ctx.now, depth,
                true, &budget);
    if (budget.exceeded()) return QueryRefused(budget, ctx);
    std::string body = inner.Take();
    JsonOut head;
    head.w.StartObject();
    head.Key("key");
    head.String(key);
    head.w.EndObject();
    std::string h = head.Take();  // {"key":"..."}
    h.pop_back();
    Response r;
    r.body = body.size() > 2 ? absl::StrCat(h, ",", body.substr(1))
                             : absl::StrCat(h, "}");
    return r;
  }
  WriteNested(out, *ctx.tree, node, node->EffectiveAction(), ctx.now, depth,
              false, &budget);
  if (budget.exceeded()) return QueryRefused(budget, ctx);
  return JsonResponse(out);
}

absl::StatusOr<Response> HandleDelete(const Request& request,
                                      HandlerContext& ctx) {
  absl::string_view key = ApiKey(request);
  absl::StatusOr<KeySegments> segs = KeyFromPath(key);
  if (!segs.ok()) return segs.status();
  absl::StatusOr<size_t> removed = ctx.tree->Remove(*segs);
  if (!removed.ok()) return removed.status();
  JsonOut out;
  out.w.StartObject();
  out.Key("removed");
  out.w.Uint64(*removed);
  out.Key("seq");
  out.w.Uint64(ctx.tree->seq());
  out.w.EndObject();
  return JsonResponse(out);
}

absl::StatusOr<Response> HandleDiff(const Request& request,
                                    HandlerContext& ctx) {
  // Split the path as sent, then decode each key: a key may hold a '/'
  // (sent as %2F), as a disk's mount point does.
  absl::string_view raw = request.raw_path.empty()
                              ? absl::string_view(request.path)
                              : absl::string_view(request.raw_path);
  if (!absl::ConsumePrefix(&raw, "/diff/")) {
    return absl::InvalidArgumentError("use /diff/<keyA>/<keyB>");
  }
  size_t slash = raw.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError("use /diff/<keyA>/<keyB>");
  }
  std::string da = PercentDecode(raw.substr(0, slash));
  std::string db = PercentDecode(raw.substr(slash + 1));
  absl::string_view ka = da, kb = db;
  absl::StatusOr<KeySegments> sa = KeyFromPath(ka);
  if (!sa.ok()) return sa.status();
  absl::StatusOr<KeySegments> sb = KeyFromPath(kb);
  if (!sb.ok()) return sb.status();
  for (const KeySegments* segs : {&*sa, &*sb}) {
    if (absl::Status s = AwaitReplica(ctx, *segs); !s.ok()) return s;
  }
  struct Side {
    std::vector<std::string> order;
    absl::flat_hash_map<std::string, LiveValue> values;
  };
  QueryBudget budget(ctx.options->query);
  auto collect = [&](const KeySegments& segs, Side* side) -> absl::Status {
    const Node* node = ctx.tree->Find(segs);
    if (node == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no node \"", JoinKey(segs).substr(0, 200), "\""));
    }
    absl::StatusOr<Pattern> p = Pattern::Parse(JoinKey(segs));
    if (!p.ok()) return p.status();
    size_t prefix = JoinKey(segs).size();
    ctx.tree->Collect(
        *p, 0,
        [&](const LeafView& leaf) {
          std::string rel(leaf.key.size() > prefix ? leaf.key.substr(prefix + 1)
                                                   : absl::string_view());
          side->order.push_back(rel);
          side->values[rel] =
              leaf.node->Live(leaf.action, ctx.now, ctx.tree->step_seconds());
          return side->order.size() < 100000;
        },
        &budget);
    if (budget.exceeded()) return QueryRefused(budget, ctx);
    return absl::OkStatus();
  };
  Side a, b;
  if (absl::Status s = collect(*sa, &a); !s.ok()) return s;
  if (absl::Status s = collect(*sb, &b); !s.ok()) return s;
  JsonOut out;
  out.w.StartObject();
  auto only = [&](const char* name, const Side& x, const Side& y) {
    out.Key(name);
    out.w.StartArray();
    for (const std::string& path : x.order) {
      if (y.values.contains(path)) continue;
      out.w.StartObject();
      out.Key("path");
      out.String(path);
      out.Key("value");
      WriteLive(out, x.values.at(path));
      out.w.EndObject();
    }
    out.w.EndArray();
  };
  only("only_a", a, b);
  only("only_b", b, a);
  out.Key("both");
  out.w.StartArray();
  for (const std::string& path : a.order) {
    auto it = b.values.find(path);
    if (it == b.values.end()) continue;
    const LiveValue& va = a.values.at(path);
    const LiveValue& vb = it->second;
    out.w.StartObject();
    out.Key("path");
    out.String(path);
    out.Key("a");
    WriteLive(out, va);
    out.Key("b");
    WriteLive(out, vb);
    if (va.has && vb.has && !va.is_text && !vb.is_text) {
      out.Key("delta");
      out.Number(vb.value - va.value);
    }
    out.w.EndObject();
  }
  out.w.EndArray();
  out.w.EndObject();
  return JsonResponse(out);
}

}  // namespace canopy
