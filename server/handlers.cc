#include "server/handlers.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/pipe.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "server/ingest.h"
#include "server/json_out.h"
#include "server/trend.h"

namespace canopy {
namespace {

constexpr char kPositionPayload[] = "canopy.position";

Response JsonResponse(JsonOut& out) {
  Response r;
  r.body = out.Take();
  return r;
}

// "br,ie.json" -> "br,ie"; the key of /api/q/<key>.json.
absl::string_view StripJson(absl::string_view key) {
  if (absl::EndsWith(key, ".json")) key.remove_suffix(5);
  return key;
}

absl::StatusOr<KeySegments> KeyFromPath(absl::string_view key) {
  absl::StatusOr<KeySegments> segs = SplitKey(key);
  if (!segs.ok()) return segs.status();
  return segs;
}

void WriteLive(JsonOut& out, const LiveValue& v) {
  const Sketch* sketch = v.merged ? v.merged.get() : v.sketch;
  if (!v.has) {
    out.w.Null();
  } else if (sketch != nullptr) {
    // A timer: the window's distribution.
    out.w.StartObject();
    out.Key("count");
    out.Number(sketch->count());
    out.Key("mean");
    out.Number(sketch->sum() / sketch->count());
    out.Key("min");
    out.Number(sketch->min());
    out.Key("max");
    out.Number(sketch->max());
    for (auto [name, q] : {std::pair<const char*, double>{"p50", 0.5},
                           {"p90", 0.9},
                           {"p99", 0.99}}) {
      out.Key(name);
      out.Number(sketch->Quantile(q));
    }
    out.w.EndObject();
  } else if (v.is_text) {
    out.String(v.text);
  } else {
    out.Number(v.value);
  }
}

// Writes a subtree as nested JSON: a leaf is its value, an interior node an
// object of its children (and its own value under "" if it has one). Past
// `depth`, an interior node is its aggregate. Returns the node's value for
// its parent's aggregate.
LiveValue WriteNested(JsonOut& out, const Tree& tree, const Node* node,
                      Action action, int64_t now, int depth, bool meta) {
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
    for (const Node* c : node->SortedChildren()) {
      Action a = c->own_action() != Action::kInherit ? c->own_action() : action;
      LiveValue v;
      if (expand) {
        out.Key(c->name());
        v = WriteNested(out, tree, c, a, now, depth - 1, meta);
      } else {
        v = tree.ValueOf(c, a, now);
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

TextPosition PositionInMessage(absl::string_view message) {
  // "line 6, column 59: ..." as the parsers write it.
  TextPosition p;
  if (!absl::ConsumePrefix(&message, "line ")) return p;
  size_t comma = message.find(", column ");
  if (comma == absl::string_view::npos) return p;
  size_t colon = message.find(':', comma);
  if (!absl::SimpleAtoi(message.substr(0, comma), &p.line) ||
      !absl::SimpleAtoi(
          message.substr(comma + 9, colon == absl::string_view::npos
                                        ? absl::string_view::npos
                                        : colon - comma - 9),
          &p.column)) {
    return TextPosition();
  }
  return p;
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex(s[i + 1])) >= 0 &&
        (lo = hex(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- Request

std::vector<std::string> Request::Params(absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::string Request::Param(absl::string_view name,
                           absl::string_view fallback) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::string(fallback);
}

bool Request::HasParam(absl::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------- errors

absl::Status WithPosition(absl::Status status, TextPosition where) {
  status.SetPayload(kPositionPayload,
                    absl::Cord(absl::StrCat(where.line, ":", where.column)));
  return status;
}

TextPosition PositionOf(const absl::Status& status) {
  TextPosition p;
  absl::optional<absl::Cord> payload = status.GetPayload(kPositionPayload);
  if (!payload) return p;
  std::vector<std::string> parts = absl::StrSplit(std::string(*payload), ':');
  if (parts.size() == 2) {
    absl::SimpleAtoi(parts[0], &p.line);
    absl::SimpleAtoi(parts[1], &p.column);
  }
  return p;
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kOutOfRange:
      return 413;
    case absl::StatusCode::kResourceExhausted:
      return 507;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 405;
    default:
      return 500;
  }
}

Response ErrorResponse(const absl::Status& status) {
  JsonOut out;
  out.w.StartObject();
  out.Key("error");
  out.String(status.message());
  TextPosition p = PositionOf(status);
  if (p.line > 0) {
    out.Key("line");
    out.w.Uint64(p.line);
    out.Key("column");
    out.w.Uint64(p.column);
  }
  out.w.EndObject();
  Response r = JsonResponse(out);
  r.status = HttpStatusOf(status);
  return r;
}

absl::StatusOr<std::vector<Pattern>> PatternsOf(const Request& request) {
  std::vector<Pattern> out;
  for (const std::string& k : request.Params("key")) {
    absl::StatusOr<Pattern> p = Pattern::Parse(k);
    if (!p.ok()) return p.status();
    out.push_back(std::move(*p));
  }
  if (out.empty()) out.push_back(Pattern::All());
  if (out.size() > 64) {
    return absl::InvalidArgumentError("at most 64 key= parameters");
  }
  return out;
}

// ---------------------------------------------------------------- /push

absl::StatusOr<Response> HandlePush(const Request& request,
                                    HandlerContext& ctx) {
  absl::string_view json = request.body;
  std::string form_json;
  absl::string_view type = request.content_type;
  type = type.substr(0, type.find(';'));
  if (type == "application/x-www-form-urlencoded") {
    bool found = false;
    for (const auto& [k, v] : request.query) {
      if (k == "json") {
        form_json = v;
        found = true;
      }
    }
    if (request.HasParam("accesslog")) {
      // Log lines through the pipes (browsers, status, bytes, timing, ...),
      // dated with each line's time while it is within the first level of
      // the retention.
      if (ctx.access_logs == nullptr) {
        return absl::UnimplementedError("no access-log pipes here");
      }
      AccessLogOptions log_options;
      log_options.format = request.Param("format", "combined");
      log_options.prefix = request.Param("prefix", "web");
      log_options.plugin_dir = ctx.options->pipes_dir;
      if (absl::StatusOr<Retention> r =
              Retention::Parse(ctx.options->retention);
          r.ok() && !r->levels.empty()) {
        log_options.max_age = r->levels[0].keep;
      }
      absl::StatusOr<AccessLogResult> n = ctx.access_logs->Apply(
          request.Param("accesslog"), log_options, ctx.tree, ctx.now);
      if (!n.ok()) {
        ++ctx.stats->rejected["http"]["accesslog"];
        return WithPosition(n.status(),
                            PositionInMessage(n.status().message()));
      }
      ++ctx.stats->pushes;
      ctx.stats->accepted["http"] += n->leaves;
      JsonOut out;
      out.w.StartObject();
      out.Key("accepted");
      out.w.Uint64(n->leaves);
      out.Key("lines");
      out.w.Uint64(n->records);
      out.Key("skipped");
      out.w.Uint64(n->errors);
      out.w.EndObject();
      return JsonResponse(out);
    }
    if (!found) {
      return absl::InvalidArgumentError("form push without a json field");
    }
    json = form_json;
  } else if (type == "text/plain" && ctx.lines != nullptr) {
    // StatsD or Graphite lines (or one JSON tree per line): checked whole
    // first, so a bad line changes nothing.
    if (absl::Status s = ctx.lines->CheckLines(request.body); !s.ok()) {
      ++ctx.stats->rejected["http"]["lines"];
      return s;
    }
    LineIngest::Result r = ctx.lines->ApplyLines(request.body, "http", ctx.now);
    if (r.rejected > 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat(r.rejected, " lines refused (the tree is full), ",
                       r.accepted, " samples written"));
    }
    ++ctx.stats->pushes;
    JsonOut out;
    out.w.StartObject();
    out.Key("accepted");
    out.w.Uint64(r.accepted);
    out.w.EndObject();
    return JsonResponse(out);
  } else if (!type.empty() && type != "application/json" &&
             type != "text/json") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported Content-Type \"", type.substr(0, 60),
                     "\" (expected application/json, text/plain or a form)"));
  }
  Push push;
  TextPosition where;
  if (absl::Status s = ParseJsonPush(json, &push, &where); !s.ok()) {
    ++ctx.stats->rejected["http"]["json"];
    return WithPosition(s, where);
  }
  Tree::ApplyStats applied;
  if (absl::Status s = ctx.tree->Apply(push, ctx.now, &applied); !s.ok()) {
    ++ctx.stats->rejected["http"]["max_nodes"];
    return s;
  }
  ++ctx.stats->pushes;
  ctx.stats->accepted["http"] += applied.leaves;
  JsonOut out;
  out.w.StartObject();
  out.Key("accepted");
  out.w.Uint64(applied.leaves);
  out.w.EndObject();
  return JsonResponse(out);
}

// ---------------------------------------------------------------- /get

absl::StatusOr<Response> HandleGet(const Request& request,
                                   HandlerContext& ctx) {
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  size_t limit = ctx.options->get_limit;
  if (request.HasParam("limit") &&
      (!absl::SimpleAtoi(request.Param("limit"), &limit) || limit == 0)) {
    return absl::InvalidArgumentError("limit must be a positive integer");
  }
  JsonOut out;
  out.w.StartObject();
  out.Key("seq");
  out.w.Uint64(ctx.tree->seq());
  out.Key("items");
  out.w.StartArray();
  size_t n = 0;
  bool truncated = false;
  absl::flat_hash_set<std::string> seen;
  for (const Pattern& p : *patterns) {
    bool complete = ctx.tree->Collect(p, 0, [&](const LeafView& leaf) {
      if (n >= limit) {
        truncated = true;
        return false;
      }
      if (patterns->size() > 1 && !seen.insert(std::string(leaf.key)).second) {
        return true;
      }
      out.w.StartObject();
      out.Key(leaf.key);
      WriteLive(
          out, leaf.node->Live(leaf.action, ctx.now, ctx.tree->step_seconds()));
      out.w.EndObject();
      ++n;
      return true;
    });
    if (!complete) break;
  }
  out.w.EndArray();
  if (truncated) {
    out.Key("truncated");
    out.w.Bool(true);
  }
  out.w.EndObject();
  return JsonResponse(out);
}

std::string ChangesJson(const Tree& tree, const std::vector<Pattern>& patterns,
                        uint64_t since, bool reset, int64_t now,
                        size_t* count) {
  JsonOut out;
  out.w.StartObject();
  out.Key("seq");
  out.w.Uint64(tree.seq());
  if (reset) {
    out.Key("reset");
    out.w.Bool(true);
  }
  out.Key("items");
  out.w.StartArray();
  size_t n = 0;
  absl::flat_hash_set<std::string> seen;
  bool dedupe = patterns.size() > 1;
  if (!reset) {
    for (const Pattern& p : patterns) {
      tree.CollectRemoved(p, since, [&](absl::string_view key) {
        // A key removed and written again since shows its new value below.
        absl::StatusOr<KeySegments> segs = SplitKey(key);
        if (segs.ok()) {
          const Node* again = tree.Find(*segs);
          if (again != nullptr && again->has_value() && again->seq() > since) {
            return;
          }
        }
        if (dedupe && !seen.insert(absl::StrCat("-", key)).second) return;
        out.w.StartObject();
        out.Key(key);
        out.w.Null();
        out.w.EndObject();
        ++n;
      });
    }
  }
  for (const Pattern& p : patterns) {
    tree.Collect(p, reset ? 0 : since, [&](const LeafView& leaf) {
      if (dedupe && !seen.insert(std::string(leaf.key)).second) return true;
      out.w.StartObject();
      out.Key(leaf.key);
      WriteLive(out, leaf.node->Live(leaf.action, now, tree.step_seconds()));
      out.w.EndObject();
      ++n;
      return true;
    });
  }
  out.w.EndArray();
  out.w.EndObject();
  if (count != nullptr) *count = n;
  return out.Take();
}

// ---------------------------------------------------------------- /api/q

absl::StatusOr<Response> HandleQuery(const Request& request,
                                     HandlerContext& ctx) {
  absl::string_view key =
      StripJson(absl::string_view(request.path).substr(sizeof("/api/q/") - 1));
  absl::StatusOr<KeySegments> segs = KeyFromPath(key);
  if (!segs.ok()) return segs.status();
  int depth = -1;
  if (request.HasParam("depth") &&
      (!absl::SimpleAtoi(request.Param("depth"), &depth) || depth < 0)) {
    return absl::InvalidArgumentError("depth must be a non-negative integer");
  }
  bool meta = request.Param("meta") == "1" || request.Param("meta") == "true";
  const Node* node = ctx.tree->Find(*segs);
  if (node == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no node \"", key.substr(0, 200), "\""));
  }
  JsonOut out;
  if (meta) {
    // The top object also names its key.
    JsonOut inner;
    WriteNested(inner, *ctx.tree, node, node->EffectiveAction(), ctx.now, depth,
                true);
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
              false);
  return JsonResponse(out);
}

absl::StatusOr<Response> HandleDelete(const Request& request,
                                      HandlerContext& ctx) {
  absl::string_view key =
      StripJson(absl::string_view(request.path).substr(sizeof("/api/q/") - 1));
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

// ---------------------------------------------------------------- /trend

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
        row[i] = absl::StrFormat("%.17g", v);
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

absl::StatusOr<Response> HandleMarkers(const Request& request,
                                       HandlerContext& ctx) {
  absl::StatusOr<std::vector<Pattern>> patterns = PatternsOf(request);
  if (!patterns.ok()) return patterns.status();
  absl::StatusOr<int64_t> from =
      ParseTime(request.Param("from", "-1y"), ctx.now);
  if (!from.ok()) return from.status();
  absl::StatusOr<int64_t> to = ParseTime(request.Param("to", "now"), ctx.now);
  if (!to.ok()) return to.status();
  struct Found {
    int64_t time;
    std::string key;
    std::string text;
  };
  std::vector<Found> found;
  for (const Pattern& p : *patterns) {
    const Node* start = ctx.tree->Find(p.FixedPrefix());
    if (start == nullptr) continue;
    // Depth-first under the fixed prefix; a node counts if it lies under a
    // node the pattern matches.
    std::vector<const Node*> todo{start};
    while (!todo.empty() && found.size() < 100000) {
      const Node* n = todo.back();
      todo.pop_back();
      for (const Node* c : n->SortedChildren()) todo.push_back(c);
      const std::vector<Marker>* m = n->markers();
      if (m == nullptr || m->empty()) continue;
      std::string key = ctx.tree->KeyOf(n);
      absl::StatusOr<KeySegments> segs = SplitKey(key);
      if (!segs.ok()) continue;
      bool under = false;
      for (size_t len = 0; len <= segs->size() && !under; ++len) {
        under = p.Matches(absl::MakeConstSpan(segs->data(), len));
      }
      if (!under) continue;
      for (const Marker& mk : *m) {
        if (mk.time >= *from && mk.time <= *to) {
          found.push_back(Found{mk.time, key, mk.text});
        }
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.time != b.time ? a.time < b.time : a.key < b.key;
  });
  JsonOut out;
  out.w.StartObject();
  out.Key("markers");
  out.w.StartArray();
  for (const Found& f : found) {
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

// ---------------------------------------------------------------- /diff

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
  struct Side {
    std::vector<std::string> order;
    absl::flat_hash_map<std::string, LiveValue> values;
  };
  auto collect = [&](const KeySegments& segs, Side* side) -> absl::Status {
    const Node* node = ctx.tree->Find(segs);
    if (node == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no node \"", JoinKey(segs).substr(0, 200), "\""));
    }
    absl::StatusOr<Pattern> p = Pattern::Parse(JoinKey(segs));
    if (!p.ok()) return p.status();
    size_t prefix = JoinKey(segs).size();
    ctx.tree->Collect(*p, 0, [&](const LeafView& leaf) {
      std::string rel(leaf.key.size() > prefix ? leaf.key.substr(prefix + 1)
                                               : absl::string_view());
      side->order.push_back(rel);
      side->values[rel] =
          leaf.node->Live(leaf.action, ctx.now, ctx.tree->step_seconds());
      return side->order.size() < 100000;
    });
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
