// POST /api/v1/read: Prometheus remote_read over canopy's history. The body
// is a snappy-compressed protobuf ReadRequest; the answer is a
// snappy-compressed ReadResponse of raw samples (the SAMPLES response type),
// named as remote_write names them (server/remote/prom_names.h), so that a
// Prometheus with `remote_read` pointed here runs PromQL over the history.
//
// Matchers (=, !=, =~, !~; regular expressions are RE2, anchored as in
// Prometheus) apply to __name__, key, the segment labels s0, s1, ... and
// quantile; a label a series does not have is "" (Prometheus's rule). An
// equality on key, or on s0, s1, ... from s0 on, narrows the series read
// from LevelDB; anything else reads every series's name. canopy_total is
// counted from the start of the queried range (rate() and increase() are
// exact; the figure itself is not the live total).
//
// Threads: HandleRemoteRead decodes on the event-loop thread; the store is
// read on the trend thread (Deferred).
#include <re2/re2.h>
#include <snappy.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/prometheus_remote.pb.h"
#include "server/handlers/handlers.h"
#include "server/remote/prom_names.h"
#include "server/remote/read_request.h"
#include "server/trend/store.h"

namespace canopy {
namespace {

// Past these a query is refused (400) rather than answered slowly.
constexpr size_t kMaxSeries = 100000;
constexpr size_t kMaxSamples = 20000000;

// The value of `name` among sorted labels, or "".
absl::string_view LabelOf(const std::vector<PromLabel>& labels,
                          absl::string_view name) {
  for (const PromLabel& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

bool AllMatch(const std::vector<Matcher>& matchers,
              const std::vector<PromLabel>& labels) {
  for (const Matcher& m : matchers) {
    if (!m.Matches(LabelOf(labels, m.name))) return false;
  }
  return true;
}

// The key prefix every matching series has: an equality on key, or the
// equalities on s0, s1, ... in a row.
std::string FixedPrefix(const std::vector<Matcher>& matchers) {
  for (const Matcher& m : matchers) {
    if (m.type == prometheus::LabelMatcher::EQ && m.name == "key") {
      return m.value;
    }
  }
  std::string prefix;
  for (size_t i = 0;; ++i) {
    std::string label = absl::StrCat("s", i);
    const Matcher* eq = nullptr;
    for (const Matcher& m : matchers) {
      if (m.type == prometheus::LabelMatcher::EQ && m.name == label &&
          !m.value.empty()) {
        eq = &m;
      }
    }
    if (eq == nullptr) return i == 0 ? "" : prefix;
    if (i > 0) prefix.push_back(',');
    prefix += eq->value;
  }
}

// The finest level of the retention that still holds `from` (seconds).
size_t LevelFor(const Retention& r, int64_t from, int64_t now) {
  for (size_t l = 0; l < r.levels.size(); ++l) {
    if (from >= now - r.levels[l].keep - r.levels[l].step) return l;
  }
  return r.levels.size() - 1;
}

absl::Status Answer(const ReadQuery& q, const TrendStore& store, int64_t now,
                    size_t* samples, prometheus::QueryResult* result) {
  // Series names (__name__ and quantile aside) are checked before any
  // window is read.
  std::vector<Matcher> key_matchers, name_matchers;
  for (const Matcher& m : q.matchers) {
    (m.name == "__name__" || m.name == "quantile" ? name_matchers
                                                  : key_matchers)
        .push_back(m);
  }
  std::vector<std::pair<std::string, Action>> series;
  store.ForEachSeries(FixedPrefix(q.matchers),
                      [&](absl::string_view key, Action action) {
                        if (AllMatch(key_matchers, KeyLabels(key))) {
                          series.emplace_back(std::string(key), action);
                        }
                        return series.size() <= kMaxSeries;
                      });
  if (series.size() > kMaxSeries) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote_read: more than ", kMaxSeries,
                     " series match; narrow the matchers"));
  }
  const Retention& retention = store.retention();
  int64_t from = std::max<int64_t>(0, q.start_ms / 1000);
  int64_t to = std::max<int64_t>(0, q.end_ms / 1000 + 1);
  size_t level = LevelFor(retention, from, now);
  int64_t step = retention.levels[level].step;
  for (const auto& entry : series) {
    // Named, not bound: lambdas below capture them (C++17 clang).
    const std::string& key = entry.first;
    const Action action = entry.second;
    // One TimeSeries per name (and quantile), in the order first seen.
    std::map<std::pair<std::string, std::string>, prometheus::TimeSeries*> out;
    double total = 0;
    for (const TrendWindow& w :
         store.Read(key, level, from - from % step, to)) {
      total += w.sum;
      int64_t ms = w.start * 1000;
      if (ms < q.start_ms || ms > q.end_ms) continue;
      // A store from before the action was kept says kLast; a summary in
      // the window still tells a timer or a set.
      Action a = action;
      if (a == Action::kLast && w.blob.size() > 1) {
        a = w.blob[0] == kHllTag ? Action::kSet : Action::kTimer;
      }
      PromFigures f = FiguresOfWindow(w, a, total, step);
      ForEachPromSample(f, [&](const PromSample& s) {
        std::vector<PromLabel> labels = SampleLabels(key, s);
        if (!AllMatch(name_matchers, labels)) return;
        prometheus::TimeSeries*& ts =
            out[{std::string(s.name), std::string(s.quantile)}];
        if (ts == nullptr) {
          ts = result->add_timeseries();
          for (const PromLabel& l : labels) {
            prometheus::Label* pl = ts->add_labels();
            pl->set_name(l.name);
            pl->set_value(l.value);
          }
        }
        prometheus::Sample* sample = ts->add_samples();
        sample->set_value(s.value);
        sample->set_timestamp(ms);
        ++*samples;
      });
      if (*samples > kMaxSamples) {
        return absl::InvalidArgumentError(
            absl::StrCat("remote_read: more than ", kMaxSamples,
                         " samples; narrow the range or the matchers"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Deferred> HandleRemoteRead(const Request& request,
                                          HandlerContext& ctx) {
  absl::StatusOr<std::vector<ReadQuery>> queries =
      ParseReadRequest(request.body);
  if (!queries.ok()) return queries.status();
  if (!ctx.history) {
    return absl::FailedPreconditionError(
        "remote_read: history is off (--history=false)");
  }
  ++ctx.stats->trend_queries;
  int64_t now = ctx.now;
  return Deferred{[queries = std::move(*queries), now](TrendStore& store) {
    prometheus::ReadResponse response;
    size_t samples = 0;
    for (const ReadQuery& q : queries) {
      absl::Status s = Answer(q, store, now, &samples, response.add_results());
      if (!s.ok()) return ErrorResponse(s);
    }
    std::string raw = response.SerializeAsString();
    Response r;
    r.content_type = "application/x-protobuf";
    r.headers.emplace_back("Content-Encoding", "snappy");
    snappy::Compress(raw.data(), raw.size(), &r.body);
    return r;
  }};
}

}  // namespace canopy
