// The mapping from canopy's leaves to Prometheus series (prom_names.h).
//
// Pure functions; any thread.
#include "server/remote/prom_names.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "canopy/hll.h"
#include "canopy/key.h"
#include "canopy/sketch.h"

namespace canopy {

const PromFamily kPromFamilies[9] = {
    {"canopy_value", PromType::kGauge,
     "The leaf's own figure: last, mean (avg, timer), max or min."},
    {"canopy_total", PromType::kCounter, "Running total of an add leaf."},
    {"canopy_rate", PromType::kGauge,
     "Per second over the window (add leaves)."},
    {"canopy_increase", PromType::kGauge,
     "What the window added (add leaves)."},
    {"canopy_samples", PromType::kGauge, "Samples in the window."},
    {"canopy_min", PromType::kGauge, "Smallest sample of the window."},
    {"canopy_max", PromType::kGauge, "Largest sample of the window."},
    {"canopy_timer", PromType::kSummary,
     "A timer's quantiles, count and sum over the window."},
    {"canopy_distinct", PromType::kGauge,
     "Distinct members in the window (set leaves)."},
};

PromFigures FiguresOfWindow(const WindowRecord& w, Action action, double total,
                            int64_t step) {
  PromFigures f;
  f.action = action;
  if (w.count <= 0) return f;
  f.has_window = true;
  f.count = w.count;
  f.sum = w.sum;
  f.min = w.min;
  f.max = w.max;
  switch (action) {
    case Action::kAdd:
      f.has_total = true;
      f.total = total;
      f.has_rate = step > 0;
      f.rate = step > 0 ? w.sum / static_cast<double>(step) : 0;
      break;
    case Action::kAvg:
      f.has_value = true;
      f.value = w.sum / w.count;
      break;
    case Action::kMax:
      f.has_value = true;
      f.value = w.max;
      break;
    case Action::kMin:
      f.has_value = true;
      f.value = w.min;
      break;
    case Action::kTimer: {
      f.has_value = true;
      f.value = w.sum / w.count;
      if (w.blob.size() > 1 && w.blob[0] == 'S') {
        absl::StatusOr<Sketch> sk =
            Sketch::Deserialize(absl::string_view(w.blob).substr(1));
        if (sk.ok() && !sk->empty()) {
          f.has_quantiles = true;
          f.p50 = sk->Quantile(0.5);
          f.p90 = sk->Quantile(0.9);
          f.p99 = sk->Quantile(0.99);
          f.min = sk->min();
          f.max = sk->max();
        }
      }
      break;
    }
    case Action::kSet: {
      if (w.blob.size() > 1 && w.blob[0] == 'H') {
        absl::StatusOr<Hll> h =
            Hll::Deserialize(absl::string_view(w.blob).substr(1));
        if (h.ok()) {
          f.has_distinct = true;
          f.distinct = h->Estimate();
        }
      }
      break;
    }
    default:  // kLast, kInherit
      f.has_value = true;
      f.value = w.last;
      break;
  }
  return f;
}

PromFigures FiguresOfLive(Action action, const LiveValue& live) {
  PromFigures f;
  f.action = action;
  if (!live.has || live.is_text) return f;
  switch (action) {
    case Action::kAdd:
      f.has_total = true;
      f.total = live.value;
      f.has_rate = live.has_rate;
      f.rate = live.rate;
      break;
    case Action::kSet:
      f.has_distinct = true;
      f.distinct = live.value;
      break;
    case Action::kTimer:
      f.has_value = true;
      f.value = live.value;
      if (live.sketch != nullptr && !live.sketch->empty()) {
        const Sketch& sk = *live.sketch;
        f.has_window = true;
        f.count = sk.count();
        f.sum = sk.sum();
        f.min = sk.min();
        f.max = sk.max();
        f.has_quantiles = true;
        f.p50 = sk.Quantile(0.5);
        f.p90 = sk.Quantile(0.9);
        f.p99 = sk.Quantile(0.99);
      }
      break;
    default:
      f.has_value = true;
      f.value = live.value;
      break;
  }
  return f;
}

void ForEachPromSample(const PromFigures& f,
                       const std::function<void(const PromSample&)>& emit) {
  auto one = [&](size_t family, double v, absl::string_view q = "",
                 absl::string_view name = "") {
    emit(PromSample{family, name.empty() ? kPromFamilies[family].name : name,
                    kPromFamilies[family].type, q, v});
  };
  const bool timer = f.action == Action::kTimer;
  const bool add = f.action == Action::kAdd;
  const bool set = f.action == Action::kSet;
  if (f.has_value) one(0, f.value);
  if (f.has_total) one(1, f.total);
  if (f.has_rate) one(2, f.rate);
  if (f.has_window) {
    if (add) one(3, f.sum);
    if (!timer) one(4, f.count);
    if (!add && !set) {
      one(5, f.min);
      one(6, f.max);
    }
  }
  if (f.has_quantiles) {
    one(7, f.p50, kPromQuantiles[0].second);
    one(7, f.p90, kPromQuantiles[1].second);
    one(7, f.p99, kPromQuantiles[2].second);
  }
  if (timer && f.has_window) {
    one(7, f.count, "", "canopy_timer_count");
    one(7, f.sum, "", "canopy_timer_sum");
  }
  if (f.has_distinct) one(8, f.distinct);
}

std::vector<PromLabel> KeyLabels(absl::string_view key) {
  std::vector<PromLabel> out;
  out.push_back({"key", std::string(key)});
  absl::StatusOr<KeySegments> segs = SplitKey(key);
  if (segs.ok()) {
    for (size_t i = 0; i < segs->size(); ++i) {
      out.push_back({absl::StrCat("s", i), std::string((*segs)[i])});
    }
  }
  std::sort(out.begin(), out.end(), [](const PromLabel& a, const PromLabel& b) {
    return a.name < b.name;
  });
  return out;
}

std::vector<PromLabel> SampleLabels(absl::string_view key,
                                    const PromSample& sample) {
  std::vector<PromLabel> out;
  ForEachSampleLabel(KeyLabels(key), sample,
                     [&](absl::string_view name, absl::string_view value) {
                       out.push_back({std::string(name), std::string(value)});
                     });
  return out;
}

absl::string_view PromTypeName(PromType t) {
  switch (t) {
    case PromType::kCounter:
      return "counter";
    case PromType::kSummary:
      return "summary";
    default:
      return "gauge";
  }
}

}  // namespace canopy
