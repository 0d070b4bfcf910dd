// Graphite's metric tree over the trend store's series (handlers.h):
// /metrics/find (Grafana's query editor and template variables),
// /metrics/expand, /metrics/index.json; and the small fixed answers
// /version, /functions and /tags/autoComplete/*. The handlers run on the
// event-loop thread; the work reading the store's series runs on the trend
// thread (Deferred).
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/http_client.h"
#include "rapidjson/document.h"
#include "server/cluster/gather.h"
#include "server/graphite/evaluate.h"
#include "server/graphite/handlers.h"
#include "server/graphite/path_glob.h"
#include "server/json_out.h"
#include "server/trend/store.h"

namespace canopy {
namespace {

using graphite::PathGlob;

struct FoundNode {
  bool leaf = false;
  bool branch = false;
};

// The figures /render reads of a series by a last path segment
// (FetchPath): listed as its children, for the series whose action gives
// them a meaning beyond the series' own value (a timer's percentiles, a
// counter's rate), as StatsD's Graphite backend lists a timer's mean,
// upper_90 and count.
std::vector<absl::string_view> StatSuffixes(Action action) {
  switch (action) {
    case Action::kTimer:
      return {"avg", "count", "max", "min", "p50", "p90", "p99", "sum"};
    case Action::kAdd:
      return {"rate", "sum"};
    default:
      return {};
  }
}

// The nodes at the glob's depth with a stored series at or under them, by
// dotted path, and the stat suffixes of the series just above it. At most
// `limit` nodes.
std::map<std::string, FoundNode> FindNodes(const TrendStore& store,
                                           const PathGlob& glob,
                                           const ShardScope& scope,
                                           size_t limit = 100000) {
  std::map<std::string, FoundNode> nodes;
  std::vector<std::string> fixed = glob.FixedPrefix();
  std::string prefix = absl::StrJoin(fixed, ",");
  size_t d = glob.depth();
  auto node_at = [&](std::string path) -> FoundNode* {
    auto it = nodes.find(path);
    if (it == nodes.end()) {
      if (nodes.size() >= limit) return nullptr;
      it = nodes.emplace(std::move(path), FoundNode{}).first;
    }
    return &it->second;
  };
  store.ForEachSeries(prefix, [&](absl::string_view key, Action action) {
    if (!scope.Own(key)) return true;  // another shard's (gather.h)
    std::vector<absl::string_view> segs = absl::StrSplit(key, ',');
    if (segs.size() + 1 < d) return true;
    const size_t own = std::min(segs.size(), d);
    for (size_t i = 0; i < own; ++i) {
      if (!glob.SegmentMatches(i, segs[i])) return true;
    }
    std::vector<absl::string_view> suffixes = StatSuffixes(action);
    if (segs.size() + 1 == d) {  // its figures are at the glob's depth
      for (absl::string_view suffix : suffixes) {
        if (!glob.SegmentMatches(d - 1, suffix)) continue;
        FoundNode* n =
            node_at(absl::StrCat(absl::StrJoin(segs, "."), ".", suffix));
        if (n == nullptr) return false;
        n->leaf = true;
      }
      return true;
    }
    FoundNode* n = node_at(absl::StrJoin(segs.begin(), segs.begin() + d, "."));
    if (n == nullptr) return false;
    if (segs.size() == d) {
      n->leaf = true;
      if (!suffixes.empty()) n->branch = true;
    } else {
      n->branch = true;
    }
    return true;
  });
  return nodes;
}

// FindNodes over this store, and in a cluster the other shards' nodes
// for `query` merged in (their /metrics/find answers).
absl::StatusOr<std::map<std::string, FoundNode>> FindEverywhere(
    const TrendStore& store, const PathGlob& glob, const std::string& query,
    const ShardScope& scope) {
  std::map<std::string, FoundNode> nodes = FindNodes(store, glob, scope);
  absl::Status asked = scope.AskOthers(
      absl::StrCat("/metrics/find?format=treejson&query=", UrlEncode(query)),
      [&](absl::string_view body) {
        rapidjson::Document d;
        d.Parse(body.data(), body.size());
        if (d.HasParseError() || !d.IsArray()) {
          return absl::InvalidArgumentError("a find answer is not an array");
        }
        for (const auto& n : d.GetArray()) {
          if (!n.IsObject() || !n.HasMember("id") || !n["id"].IsString() ||
              !n.HasMember("leaf") || !n["leaf"].IsInt() ||
              !n.HasMember("expandable") || !n["expandable"].IsInt()) {
            return absl::InvalidArgumentError("a find answer's node is bad");
          }
          FoundNode& f = nodes[n["id"].GetString()];
          f.leaf = f.leaf || n["leaf"].GetInt() != 0;
          f.branch = f.branch || n["expandable"].GetInt() != 0;
        }
        return absl::OkStatus();
      });
  if (!asked.ok()) return asked;
  return nodes;
}

absl::Status NoHistory() {
  return absl::FailedPreconditionError("this canopyd keeps no history");
}

absl::StatusOr<PathGlob> QueryGlob(const std::string& query) {
  if (query.empty()) {
    return absl::InvalidArgumentError("/metrics/find needs query=");
  }
  return PathGlob::Parse(query);
}

Response FindResponse(const std::map<std::string, FoundNode>& nodes,
                      bool completer) {
  JsonOut out;
  if (completer) {
    out.w.StartObject();
    out.Key("metrics");
  }
  out.w.StartArray();
  for (const auto& [path, n] : nodes) {
    size_t dot = path.rfind('.');
    std::string text = dot == std::string::npos ? path : path.substr(dot + 1);
    out.w.StartObject();
    if (completer) {
      out.Key("path");
      out.String(n.branch ? absl::StrCat(path, ".") : path);
      out.Key("name");
      out.String(text);
      out.Key("is_leaf");
      out.String(n.branch ? "0" : "1");
    } else {
      out.Key("text");
      out.String(text);
      out.Key("id");
      out.String(path);
      out.Key("leaf");
      out.w.Int(n.leaf ? 1 : 0);
      out.Key("expandable");
      out.w.Int(n.branch ? 1 : 0);
      out.Key("allowChildren");
      out.w.Int(n.branch ? 1 : 0);
      out.Key("context");
      out.w.StartObject();
      out.w.EndObject();
    }
    out.w.EndObject();
  }
  out.w.EndArray();
  if (completer) out.w.EndObject();
  return JsonResponse(out);
}

}  // namespace

bool IsGraphiteReadPath(absl::string_view path) {
  return path == "/render" || path == "/render/" ||
         absl::StartsWith(path, "/metrics/find") ||
         absl::StartsWith(path, "/metrics/expand");
}

absl::StatusOr<Deferred> HandleMetricsFind(const Request& request,
                                           HandlerContext& ctx) {
  absl::StatusOr<PathGlob> glob = QueryGlob(request.Param("query"));
  if (!glob.ok()) return glob.status();
  std::string format = request.Param("format", "treejson");
  if (format != "treejson" && format != "completer" && format != "json") {
    return absl::InvalidArgumentError("format must be treejson or completer");
  }
  if (!ctx.history) return NoHistory();
  bool completer = format == "completer";
  return Deferred{[glob = std::move(*glob), completer,
                   query = request.Param("query"),
                   scope = ShardScopeOf(request, ctx)](TrendStore& store) {
    absl::StatusOr<std::map<std::string, FoundNode>> nodes =
        FindEverywhere(store, glob, query, scope);
    if (!nodes.ok()) return ErrorResponse(nodes.status());
    return FindResponse(*nodes, completer);
  }};
}

absl::StatusOr<Deferred> HandleMetricsExpand(const Request& request,
                                             HandlerContext& ctx) {
  std::vector<std::string> queries = request.Params("query");
  if (queries.empty()) {
    return absl::InvalidArgumentError("/metrics/expand needs query=");
  }
  std::vector<PathGlob> globs;
  for (const std::string& q : queries) {
    absl::StatusOr<PathGlob> g = QueryGlob(q);
    if (!g.ok()) return g.status();
    globs.push_back(std::move(*g));
  }
  auto yes = [&](absl::string_view name) {
    std::string v = absl::AsciiStrToLower(request.Param(name));
    return v == "1" || v == "true";
  };
  bool leaves_only = yes("leavesOnly");
  bool group = yes("groupByExpr");
  if (!ctx.history) return NoHistory();
  return Deferred{[queries, globs, leaves_only, group,
                   scope = ShardScopeOf(request, ctx)](TrendStore& store) {
    JsonOut out;
    out.w.StartObject();
    out.Key("results");
    if (group) out.w.StartObject();
    std::map<std::string, bool> all;
    for (size_t i = 0; i < globs.size(); ++i) {
      absl::StatusOr<std::map<std::string, FoundNode>> found =
          FindEverywhere(store, globs[i], queries[i], scope);
      if (!found.ok()) return ErrorResponse(found.status());
      const std::map<std::string, FoundNode>& nodes = *found;
      if (group) {
        out.Key(queries[i]);
        out.w.StartArray();
      }
      for (const auto& [path, n] : nodes) {
        if (leaves_only && !n.leaf) continue;
        if (group) {
          out.String(path);
        } else {
          all[path] = true;
        }
      }
      if (group) out.w.EndArray();
    }
    if (group) {
      out.w.EndObject();
    } else {
      out.w.StartArray();
      for (const auto& [path, unused] : all) out.String(path);
      out.w.EndArray();
    }
    out.w.EndObject();
    return JsonResponse(out);
  }};
}

absl::StatusOr<Deferred> HandleMetricsIndex(const Request& request,
                                            HandlerContext& ctx) {
  if (!ctx.history) return NoHistory();
  return Deferred{[scope = ShardScopeOf(request, ctx)](TrendStore& store) {
    std::vector<std::string> names;
    store.ForEachSeries("", [&](absl::string_view key, Action) {
      if (scope.Own(key)) names.push_back(graphite::KeyToDotted(key));
      return true;
    });
    const size_t local = names.size();
    absl::Status asked =
        scope.AskOthers("/metrics/index.json", [&](absl::string_view body) {
          rapidjson::Document d;
          d.Parse(body.data(), body.size());
          if (d.HasParseError() || !d.IsArray()) {
            return absl::InvalidArgumentError("an index is not an array");
          }
          for (const auto& n : d.GetArray()) {
            if (n.IsString()) names.emplace_back(n.GetString());
          }
          return absl::OkStatus();
        });
    if (!asked.ok()) return ErrorResponse(asked);
    if (names.size() > local) std::sort(names.begin(), names.end());
    JsonOut out;
    out.w.StartArray();
    for (const std::string& n : names) out.String(n);
    out.w.EndArray();
    return JsonResponse(out);
  }};
}

absl::StatusOr<Response> HandleGraphiteVersion(const Request& request,
                                               HandlerContext& ctx) {
  (void)request;
  (void)ctx;
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "1.1.10";  // the graphite-web release whose API this follows
  return r;
}

absl::StatusOr<Response> HandleGraphiteFunctions(const Request& request,
                                                 HandlerContext& ctx) {
  (void)request;
  (void)ctx;
  Response r;
  r.body = graphite::FunctionsJson();
  return r;
}

absl::StatusOr<Response> HandleGraphiteTags(const Request& request,
                                            HandlerContext& ctx) {
  (void)request;
  (void)ctx;
  Response r;
  r.body = "[]";  // canopy's keys have no Graphite tags
  return r;
}

}  // namespace canopy
