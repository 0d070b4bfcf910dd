// The one mapping from canopy's leaves to Prometheus series: metric names,
// labels and types. remote_write (server/remote/sender.cc), remote_read
// (server/handlers/remote_read.cc) and GET /metrics?key=K all name series
// here, so a series is called the same wherever it is read.
//
//   PromFigures f = FiguresOfWindow(window, Action::kAdd, total, step);
//   std::vector<PromLabel> labels = KeyLabels("host,web1,cpu,user");
//   ForEachPromSample(f, [&](const PromSample& s) { ... });
//
// The mapping (docs/PROTOCOLS.md, "Prometheus series"):
//   labels: key="host,web1,cpu,user", s0="host", s1="web1", s2="cpu",
//           s3="user" (segment i of the key as s<i>), plus quantile= for
//           timers' quantiles; __name__ by the statistic:
//   canopy_value     gauge    the leaf's own figure: last, avg (mean), max,
//                             min; a timer's mean
//   canopy_total     counter  add: the running total
//   canopy_rate      gauge    add: per second over the window
//   canopy_increase  gauge    add: what the window added
//   canopy_samples   gauge    samples in the window (not timers)
//   canopy_min       gauge    smallest sample of the window (not add, set)
//   canopy_max       gauge    largest sample of the window (not add, set)
//   canopy_timer     summary  timers: canopy_timer{quantile="0.5"|"0.9"|
//                             "0.99"}, canopy_timer_count, canopy_timer_sum
//                             over the window
//   canopy_distinct  gauge    set: distinct members in the window
// (No gauge ends in _count, _sum or _total: promtool's lint.)
//
// Pure functions; any thread.
#ifndef CANOPY_SERVER_REMOTE_PROM_NAMES_H_
#define CANOPY_SERVER_REMOTE_PROM_NAMES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "canopy/action.h"
#include "canopy/block.h"
#include "canopy/tree.h"

namespace canopy {

enum class PromType { kGauge, kCounter, kSummary };

struct PromLabel {
  std::string name;
  std::string value;
};

// What is known of a leaf, for one window or live. Figures not `has_*` are
// not exported.
struct PromFigures {
  Action action = Action::kLast;
  bool has_value = false;  // the own figure (canopy_value)
  double value = 0;
  bool has_total = false;  // add: running total
  double total = 0;
  bool has_rate = false;  // add: per second
  double rate = 0;
  bool has_window = false;  // count and sum (and min, max if not a set)
  double count = 0, sum = 0, min = 0, max = 0;
  bool has_quantiles = false;  // timers
  double p50 = 0, p90 = 0, p99 = 0;
  bool has_distinct = false;  // sets
  double distinct = 0;
};

struct PromSample {
  size_t family;               // index in kPromFamilies
  absl::string_view name;      // canopy_value, canopy_timer_sum, ...
  PromType type;               // of the family
  absl::string_view quantile;  // "" or "0.5", "0.9", "0.99"
  double value;
};

// The quantiles a timer exports, with their label values.
inline constexpr std::pair<double, absl::string_view> kPromQuantiles[] = {
    {0.5, "0.5"}, {0.9, "0.9"}, {0.99, "0.99"}};

// Every metric family name, with its type and help (for /metrics and the
// remote_write metadata).
struct PromFamily {
  absl::string_view name;
  PromType type;
  absl::string_view help;
};
extern const PromFamily kPromFamilies[9];

// The figures of one stored window of a leaf whose action is `action`;
// `total` is the running total (add). A window with no samples gives none.
PromFigures FiguresOfWindow(const WindowRecord& w, Action action, double total,
                            int64_t step);

// The figures of a leaf's live value (GET /metrics?key=K): the running
// total and rate of an add leaf, a timer's window distribution, the own
// figure of the others.
PromFigures FiguresOfLive(Action action, const LiveValue& live);

// Calls `emit` for each series the figures make, in kPromFamilies order.
void ForEachPromSample(const PromFigures& f,
                       const std::function<void(const PromSample&)>& emit);

// The labels of a key, without __name__ and quantile: key, s0, s1, ...
// sorted by name (s10 sorts before s2, as Prometheus wants bytes order).
std::vector<PromLabel> KeyLabels(absl::string_view key);

// The whole label set of a sample of `key`, sorted: __name__, key,
// quantile if any, the segments.
std::vector<PromLabel> SampleLabels(absl::string_view key,
                                    const PromSample& sample);

// The labels of a sample, sorted, from its key's labels (KeyLabels, made
// once per key): calls emit(name, value) for __name__, the key's labels
// and quantile, in bytes order. SampleLabels in a loop without copies.
template <typename Emit>
void ForEachSampleLabel(const std::vector<PromLabel>& key_labels,
                        const PromSample& sample, Emit&& emit) {
  emit(absl::string_view("__name__"), sample.name);
  size_t i = 0;
  for (; i < key_labels.size() && key_labels[i].name < "quantile"; ++i) {
    emit(absl::string_view(key_labels[i].name),
         absl::string_view(key_labels[i].value));
  }
  if (!sample.quantile.empty()) {
    emit(absl::string_view("quantile"), sample.quantile);
  }
  for (; i < key_labels.size(); ++i) {
    emit(absl::string_view(key_labels[i].name),
         absl::string_view(key_labels[i].value));
  }
}

// The type's name in the text exposition ("gauge", "counter", "summary").
absl::string_view PromTypeName(PromType t);

}  // namespace canopy

#endif  // CANOPY_SERVER_REMOTE_PROM_NAMES_H_
