// History: GET /trend (a query answered on the trend thread, as JSON or
// CSV), GET /graph/<key>.svg|png|pdf (a chart drawn there with cairo) and
// GET /api/markers (from the live tree).
//
// Threads: the handlers run on the event-loop thread; the Deferred work they
// return runs on the trend thread and touches only its TrendStore.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "canopy/duration.h"
#include "canopy/http_client.h"
#include "canopy/key.h"
#include "canopy/number_text.h"
#include "canopy/unit.h"
#include "rapidjson/document.h"
#include "server/cluster/gather.h"
#include "server/handlers/graph_render.h"
#include "server/handlers/handlers.h"

namespace canopy {

absl::StatusOr<int64_t> ParseTime(absl::string_view text, int64_t now) {
  if (text.empty() || text == "now") return now;
  int64_t v;
  if (text[0] == '-' || text[0] == '+') {
    int64_t d;
    if (!ParseDuration(text.substr(1), &d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad time \"", text.substr(0, 40),
                       "\" (expected epoch seconds, now, or -1h, -7d ...)"));
    }
    return text[0] == '-' ? now - d : now + d;
  }
  if (!absl::SimpleAtoi(text, &v) || v < 0 || v > 253402300799) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad time \"", text.substr(0, 40),
                     "\" (expected epoch seconds, now, or -1h, -7d ...)"));
  }
  return v;
}

absl::StatusOr<TrendQuery> ParseTrendRequest(const Request& request,
                                             int64_t now) {
  TrendQuery q;
  if (request.Params("key").empty()) {
    return absl::InvalidArgumentError("/trend needs at least one key=");
  }
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  q.patterns = std::move(*patterns);
  absl::StatusOr<int64_t> from = ParseTime(request.Param("from", "-1h"), now);
  if (!from.ok()) return from.status();
  absl::StatusOr<int64_t> to = ParseTime(request.Param("to", "now"), now);
  if (!to.ok()) return to.status();
  q.from = *from;
  q.to = *to + 1;  // "to" is inclusive for users
  if (q.to <= q.from) {
    return absl::InvalidArgumentError("from must be before to");
  }
  std::string step = request.Param("step");
  if (!step.empty()) {
    if (!absl::SimpleAtoi(step, &q.step) && !ParseDuration(step, &q.step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad step \"", step.substr(0, 20), "\" (seconds, or 10s, 1m, 1h)"));
    }
    if (q.step <= 0) return absl::InvalidArgumentError("step must be positive");
  }
  absl::StatusOr<TrendFn> fn = ParseTrendFn(request.Param("fn", "avg"));
  if (!fn.ok()) return fn.status();
  q.fn = *fn;
  std::string format = request.Param("format", "json");
  if (format != "json" && format != "csv") {
    return absl::InvalidArgumentError("format must be json or csv");
  }
  return q;
}

Response TrendResponse(const TrendResult& result, bool csv) {
  Response r;
  if (csv) {
    // One row per time, one column per key (what Dygraph and spreadsheets
    // read); a missing point is an empty cell.
    r.content_type = "text/csv; charset=utf-8";
    std::string out = "time";
    std::map<int64_t, std::vector<std::string>> rows;
    for (size_t i = 0; i < result.series.size(); ++i) {
      std::string k = result.series[i].key;
      bool quote = k.find_first_of(",\"") != std::string::npos;
      std::string escaped;
      for (char c : k) {
        if (c == '"') escaped += '"';
        escaped += c;
      }
      absl::StrAppend(&out, ",", quote ? absl::StrCat("\"", escaped, "\"") : k);
      for (const auto& [t, v] : result.series[i].points) {
        auto& row = rows[t];
        row.resize(result.series.size());
        row[i] = NumberText(v);  // as the JSON reply writes it
      }
    }
    out += "\n";
    for (auto& [t, row] : rows) {
      row.resize(result.series.size());
      absl::StrAppend(&out, t);
      for (const std::string& cell : row) absl::StrAppend(&out, ",", cell);
      out += "\n";
    }
    r.body = std::move(out);
    return r;
  }
  JsonOut out;
  out.w.StartObject();
  out.Key("step");
  out.w.Int64(result.step);
  if (result.truncated) {
    out.Key("truncated");
    out.w.Bool(true);
  }
  out.Key("series");
  out.w.StartArray();
  for (const TrendSeries& s : result.series) {
    out.w.StartObject();
    out.Key("key");
    out.String(s.key);
    out.Key("points");
    out.w.StartArray();
    for (const auto& [t, v] : s.points) {
      out.w.StartArray();
      out.w.Int64(t);
      out.Number(v);
      out.w.EndArray();
    }
    out.w.EndArray();
    out.w.EndObject();
  }
  out.w.EndArray();
  out.w.EndObject();
  r.body = out.Take();
  return r;
}

namespace {

struct FoundMarker {
  int64_t time;
  std::string key;
  std::string text;
};

// The markers on the nodes under `patterns` dated from `from` to `to`, by
// time then key, and those of the nodes above each pattern's fixed prefix:
// a marker on a node concerns everything under it (a deploy marker on
// "app,requests" shows on the charts of "app,requests,home"). Each marker
// comes once, with the key of the node that holds it.
// Each node visited, and each sorting of children, is charged to `budget`:
// past it the list is incomplete (budget->exceeded()).
std::vector<FoundMarker> FindMarkers(const Tree& tree,
                                     const std::vector<Pattern>& patterns,
                                     int64_t from, int64_t to,
                                     QueryBudget* budget) {
  std::vector<FoundMarker> found;
  // Nodes whose markers are in `found`: a node several patterns reach (as
  // an ancestor or under them) gives its markers once.
  absl::flat_hash_set<const Node*> given;
  auto add = [&](const Node* n, const std::string& key) {
    if (!given.insert(n).second) return;
    for (const Marker& mk : *n->markers()) {
      if (mk.time >= from && mk.time <= to) {
        found.push_back(FoundMarker{mk.time, key, mk.text});
      }
    }
  };
  for (const Pattern& p : patterns) {
    const std::vector<absl::string_view> prefix = p.FixedPrefix();
    // The prefix's node and those above it (the root first), as far as
    // they exist.
    for (size_t len = 0; len <= prefix.size(); ++len) {
      if (!budget->Charge(len + 1)) break;
      const Node* a = tree.Find(absl::MakeConstSpan(prefix.data(), len));
      if (a == nullptr) break;
      const std::vector<Marker>* m = a->markers();
      if (m != nullptr && !m->empty()) add(a, tree.KeyOf(a));
    }
    const Node* start = tree.Find(prefix);
    if (start == nullptr) continue;
    // Depth-first under the fixed prefix; a node counts if it lies under a
    // node the pattern matches.
    std::vector<const Node*> todo{start};
    while (!todo.empty() && found.size() < 100000) {
      const Node* n = todo.back();
      todo.pop_back();
      if (!budget->Charge(1) || !budget->ChargeSort(n->child_count())) break;
      for (const Node* c : n->SortedChildren()) todo.push_back(c);
      const std::vector<Marker>* m = n->markers();
      if (m == nullptr || m->empty()) continue;
      std::string key = tree.KeyOf(n);
      absl::StatusOr<KeySegments> segs = SplitKey(key);
      if (!segs.ok()) continue;
      if (!budget->Charge((segs->size() + 1) * (p.segments().size() + 1)) ||
          !p.Selects(*segs)) {
        continue;
      }
      add(n, key);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const FoundMarker& a, const FoundMarker& b) {
              return a.time != b.time ? a.time < b.time : a.key < b.key;
            });
  return found;
}

absl::Status NoHistory() {
  return absl::FailedPreconditionError("this canopyd keeps no history");
}

}  // namespace

absl::StatusOr<Response> HandleMarkers(const Request& request,
                                       HandlerContext& ctx) {
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  absl::StatusOr<int64_t> from =
      ParseTime(request.Param("from", "-1y"), ctx.now);
  if (!from.ok()) return from.status();
  absl::StatusOr<int64_t> to = ParseTime(request.Param("to", "now"), ctx.now);
  if (!to.ok()) return to.status();
  QueryBudget budget(ctx.options->query);
  std::vector<FoundMarker> found =
      FindMarkers(*ctx.tree, *patterns, *from, *to, &budget);
  if (budget.exceeded()) return QueryRefused(budget, ctx);
  JsonOut out;
  out.w.StartObject();
  out.Key("markers");
  out.w.StartArray();
  for (const FoundMarker& f : found) {
    out.w.StartObject();
    out.Key("key");
    out.String(f.key);
    out.Key("time");
    out.w.Int64(f.time);
    out.Key("text");
    out.String(f.text);
    out.w.EndObject();
  }
  out.w.EndArray();
  out.w.EndObject();
  return JsonResponse(out);
}

namespace {

// Whether every pattern names keys only this shard owns: its first
// --shard_depth segments literal (what the ring hashes; a shorter pattern
// selects a subtree the shards share) and their owner this node.
bool OnlyThisShards(const std::vector<Pattern>& patterns,
                    const ShardScope& scope) {
  const size_t depth = scope.shards->ring.depth();
  for (const Pattern& p : patterns) {
    const std::vector<Pattern::Segment>& segs = p.segments();
    if (segs.size() < depth) return false;
    std::vector<absl::string_view> prefix;
    for (size_t i = 0; i < depth; ++i) {
      if (segs[i].kind != Pattern::Kind::kLiteral) return false;
      prefix.push_back(segs[i].text);
    }
    if (!scope.OwnSegments(prefix)) return false;
  }
  return true;
}

// The other shards' series of `query` added to `r`, in key order; the
// same step asked of each (their retention must give it).
absl::Status GatherTrend(const ShardScope& scope, const TrendQuery& query,
                         const std::vector<std::string>& keys,
                         const std::string& fn, TrendResult* r) {
  std::string target =
      absl::StrCat("/trend?format=json&from=", query.from, "&to=", query.to - 1,
                   "&step=", r->step, "&fn=", UrlEncode(fn));
  for (const std::string& k : keys)
    absl::StrAppend(&target, "&key=", UrlEncode(k));
  const size_t local = r->series.size();
  absl::Status asked = scope.AskOthers(target, [&](absl::string_view body) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("step") ||
        !d["step"].IsInt64() || !d.HasMember("series") ||
        !d["series"].IsArray()) {
      return absl::InvalidArgumentError("a /trend answer is not one");
    }
    if (d["step"].GetInt64() != r->step) {
      return absl::FailedPreconditionError(
          absl::StrCat("its step is ", d["step"].GetInt64(), " s, here ",
                       r->step, " s (is its retention another?)"));
    }
    if (d.HasMember("truncated") && d["truncated"].IsTrue())
      r->truncated = true;
    for (const auto& s : d["series"].GetArray()) {
      if (!s.IsObject() || !s.HasMember("key") || !s["key"].IsString() ||
          !s.HasMember("points") || !s["points"].IsArray()) {
        return absl::InvalidArgumentError("a /trend series is bad");
      }
      TrendSeries ts;
      ts.key = s["key"].GetString();
      for (const auto& p : s["points"].GetArray()) {
        if (!p.IsArray() || p.Size() != 2 || !p[0].IsInt64() ||
            !(p[1].IsNumber() || p[1].IsNull())) {
          return absl::InvalidArgumentError("a /trend point is bad");
        }
        ts.points.emplace_back(p[0].GetInt64(),
                               p[1].IsNull() ? std::nan("") : p[1].GetDouble());
      }
      r->series.push_back(std::move(ts));
    }
    return absl::OkStatus();
  });
  if (!asked.ok()) return asked;
  if (r->series.size() > local) {
    std::sort(r->series.begin(), r->series.end(),
              [](const TrendSeries& a, const TrendSeries& b) {
                return a.key < b.key;
              });
  }
  if (query.max_series > 0 && r->series.size() > query.max_series) {
    r->series.resize(query.max_series);
    r->truncated = true;
  }
  return absl::OkStatus();
}

// In a cluster, history under patterns other shards may own is gathered
// from every shard (server/cluster/gather.h); this store gives only this
// shard's series. On the loop thread.
ShardScope TrendScope(const Request& request, const HandlerContext& ctx,
                      const std::vector<Pattern>& patterns) {
  ShardScope scope = ShardScopeOf(request, ctx);
  if (scope.shards && scope.gather && OnlyThisShards(patterns, scope)) {
    scope.gather = false;
  }
  return scope;
}

// The query over this store (only this shard's series in a cluster), and
// the other shards' when `scope` gathers. On the trend thread.
absl::StatusOr<TrendResult> QueryShards(TrendStore& store,
                                        const TrendQuery& query,
                                        const ShardScope& scope,
                                        const std::vector<std::string>& keys,
                                        const std::string& fn) {
  TrendQuery here = query;
  if (scope.shards) {
    here.accept = [&scope, inner = query.accept](
                      absl::Span<const absl::string_view> segs) {
      return scope.OwnSegments(segs) && (!inner || inner(segs));
    };
  }
  absl::StatusOr<TrendResult> r = store.Query(here);
  if (!r.ok() || !scope.gather) return r;
  if (absl::Status s = GatherTrend(scope, query, keys, fn, &*r); !s.ok()) {
    return s;
  }
  return r;
}

}  // namespace

absl::StatusOr<Deferred> HandleTrend(const Request& request,
                                     HandlerContext& ctx) {
  absl::StatusOr<TrendQuery> q = ParseTrendRequest(request, ctx.now);
  if (!q.ok()) return q.status();
  // In a cluster, a key another shard owns is read from its history.
  if (request.Params("key").size() == 1) {
    if (auto owner = ForwardToOwner(request, ctx, request.Param("key"))) {
      return std::move(*owner);
    }
  }
  if (!ctx.history) return NoHistory();
  ++ctx.stats->trend_queries;
  bool csv = request.Param("format") == "csv";
  ShardScope scope = TrendScope(request, ctx, q->patterns);
  return Deferred{[query = std::move(*q), csv, scope = std::move(scope),
                   keys = request.Params("key"),
                   fn = request.Param("fn", "avg")](TrendStore& store) {
    absl::StatusOr<TrendResult> r = QueryShards(store, query, scope, keys, fn);
    return r.ok() ? TrendResponse(*r, csv) : ErrorResponse(r.status());
  }};
}

namespace {

// The units /graph looks up for the leaves it may draw, at most.
constexpr size_t kMaxGraphUnits = 10000;

// The unit of a chart's values: the series' common unit (the leaf's, from
// the tree when it is there, else its key's; then changed by `fn`: count,
// rate), or none when they differ.
std::string ChartUnit(
    const TrendResult& r,
    const absl::flat_hash_map<std::string, std::string>& units,
    absl::string_view fn) {
  std::string common;
  for (size_t i = 0; i < r.series.size(); ++i) {
    auto it = units.find(r.series[i].key);
    const std::string unit =
        TrendUnit(it != units.end() ? absl::string_view(it->second)
                                    : InferUnit(r.series[i].key),
                  fn);
    if (i == 0) {
      common = unit;
    } else if (unit != common) {
      return "";
    }
  }
  return common;
}

}  // namespace

absl::StatusOr<Deferred> HandleGraph(const Request& request,
                                     HandlerContext& ctx) {
  // /graph/<key>.svg|.png|.pdf
  std::string name = request.path.substr(sizeof("/graph/") - 1);
  GraphOptions o;
  size_t dot = name.rfind('.');
  std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "svg") {
    o.format = GraphOptions::kSvg;
  } else if (ext == "png") {
    o.format = GraphOptions::kPng;
  } else if (ext == "pdf") {
    o.format = GraphOptions::kPdf;
  } else {
    return absl::InvalidArgumentError("use /graph/<key>.svg, .png or .pdf");
  }
  std::string key = name.substr(0, dot);
  Request as_trend = request;
  as_trend.query.erase(
      std::remove_if(as_trend.query.begin(), as_trend.query.end(),
                     [](const auto& kv) { return kv.first == "key"; }),
      as_trend.query.end());
  as_trend.query.emplace_back("key", key);
  std::string style = request.Param("style", "line");
  std::string theme = request.Param("theme", "light");
  if (style == "bar") {
    o.style = GraphOptions::kBar;
  } else if (style == "area") {
    o.style = GraphOptions::kArea;
  } else if (style != "line") {
    return absl::InvalidArgumentError("style must be line, bar or area");
  }
  if (theme != "light" && theme != "dark") {
    return absl::InvalidArgumentError("theme must be light or dark");
  }
  o.dark = theme == "dark";
  if ((request.HasParam("width") &&
       !absl::SimpleAtoi(request.Param("width"), &o.width)) ||
      (request.HasParam("height") &&
       !absl::SimpleAtoi(request.Param("height"), &o.height)) ||
      o.width < 100 || o.width > 4000 || o.height < 60 || o.height > 4000) {
    return absl::InvalidArgumentError(
        "width must be 100 to 4000 and height 60 to 4000 pixels");
  }
  absl::StatusOr<TrendQuery> q = ParseTrendRequest(as_trend, ctx.now);
  if (!q.ok()) return q.status();
  if (auto owner = ForwardToOwner(request, ctx, key)) return std::move(*owner);
  if (!ctx.history) return NoHistory();
  if (!request.HasParam("step")) {
    q->step = std::max<int64_t>(1, (q->to - q->from) / (o.width / 2));
  }
  o.from = q->from;
  o.to = q->to;
  o.title = key;
  // Markers and units come from the live tree, here on the loop thread.
  std::vector<GraphMarker> markers;
  absl::flat_hash_map<std::string, std::string> units;
  if (absl::StatusOr<Pattern> p = Pattern::Parse(key); p.ok()) {
    QueryBudget budget(ctx.options->query);
    for (FoundMarker& f :
         FindMarkers(*ctx.tree, {*p}, q->from, q->to, &budget)) {
      markers.push_back(GraphMarker{f.time, std::move(f.text)});
    }
    bool truncated = false;
    for (auto& [leaf, unit] :
         CollectUnits(*ctx.tree, {*p}, kMaxGraphUnits, &budget, &truncated)) {
      units.emplace(std::move(leaf), std::move(unit));
    }
    if (budget.exceeded()) return QueryRefused(budget, ctx);
  }
  ++ctx.stats->trend_queries;
  const std::string fn = q->fn == TrendFn::kCount  ? "count"
                         : q->fn == TrendFn::kRate ? "rate"
                                                   : "";
  ShardScope scope = TrendScope(request, ctx, q->patterns);
  return Deferred{
      [query = std::move(*q), o, markers, units, fn, scope = std::move(scope),
       key, trend_fn = as_trend.Param("fn", "avg")](TrendStore& store) mutable {
        absl::StatusOr<TrendResult> r =
            QueryShards(store, query, scope, {key}, trend_fn);
        if (!r.ok()) return ErrorResponse(r.status());
        o.unit = ChartUnit(*r, units, fn);
        absl::StatusOr<std::string> bytes = RenderGraph(*r, markers, o);
        if (!bytes.ok()) return ErrorResponse(bytes.status());
        Response resp;
        resp.content_type = GraphContentType(o.format);
        resp.body = std::move(*bytes);
        return resp;
      }};
}

}  // namespace canopy
