// Reading history: the retention and fn names parsed, and TrendStore::Query
// (the series under patterns, at the level that fits the step, rolled up to
// the asked step and reduced by the fn). Runs on the trend thread.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/coding.h"
#include "canopy/duration.h"
#include "canopy/hll.h"
#include "leveldb/db.h"
#include "server/trend/codec.h"
#include "server/trend/store.h"

namespace canopy {

absl::StatusOr<Retention> Retention::Parse(absl::string_view spec) {
  Retention r;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    std::vector<absl::string_view> sk = absl::StrSplit(part, ':');
    Level l;
    if (sk.size() != 2 || !ParseDuration(sk[0], &l.step) ||
        !ParseDuration(sk[1], &l.keep) || l.keep < l.step) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --retention part \"", part,
                       "\" (expected STEP:KEEP such as 10s:2d)"));
    }
    if (!r.levels.empty() && (l.step <= r.levels.back().step ||
                              l.step % r.levels.back().step != 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --retention: step ", sk[0],
                       " must be a multiple of the step before it"));
    }
    r.levels.push_back(l);
  }
  if (r.levels.empty() || r.levels.size() > 8) {
    return absl::InvalidArgumentError("--retention needs 1 to 8 steps");
  }
  if (r.levels[0].step > 86400) {
    return absl::InvalidArgumentError(
        "--retention: the first step is at most 1d");
  }
  return r;
}

absl::StatusOr<TrendFn> ParseTrendFn(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name.substr(0, 10));
  if (n == "avg" || n == "average") return TrendFn::kAvg;
  if (n == "sum") return TrendFn::kSum;
  if (n == "min") return TrendFn::kMin;
  if (n == "max") return TrendFn::kMax;
  if (n == "last") return TrendFn::kLast;
  if (n == "count") return TrendFn::kCount;
  if (n == "rate") return TrendFn::kRate;
  if (n == "p50") return TrendFn::kP50;
  if (n == "p90") return TrendFn::kP90;
  if (n == "p99") return TrendFn::kP99;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown fn \"", name.substr(0, 20),
      "\" (expected avg, sum, min, max, last, count, rate, p50, p90 or p99)"));
}

size_t TrendStore::LevelFor(int64_t from, int64_t to, int64_t want) const {
  // `to` is "now" for the query: the end of its range at the latest.
  int64_t now = to;
  // The coarsest level whose step fits `want` and that still holds `from`;
  // failing that, the finest level that holds `from`.
  const auto& levels = retention_.levels;
  for (size_t l = levels.size(); l-- > 0;) {
    if (levels[l].step <= want &&
        from >= now - levels[l].keep - levels[l].step) {
      return l;
    }
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    if (from >= now - levels[l].keep - levels[l].step) return l;
  }
  return levels.size() - 1;
}

int64_t TrendStore::StepFor(int64_t from, int64_t to, int64_t want) const {
  int64_t base = retention_.levels[LevelFor(from, to, want)].step;
  return std::max(base, (std::max<int64_t>(1, want) + base - 1) / base * base);
}

TrendSeries TrendStore::ReadSeries(const SeriesPlan& plan,
                                   const std::string& key, uint32_t id) const {
  const bool percentile = plan.fn == TrendFn::kP50 ||
                          plan.fn == TrendFn::kP90 || plan.fn == TrendFn::kP99;
  TrendSeries out;
  out.key = key;
  TrendWindow bucket;
  bucket.start = -1;
  auto emit = [&]() {
    if (bucket.start < 0 || bucket.count <= 0) return;
    double v = 0;
    switch (plan.fn) {
      case TrendFn::kAvg:
        v = bucket.sum / bucket.count;
        break;
      case TrendFn::kSum:
        v = bucket.sum;
        break;
      case TrendFn::kMin:
        v = bucket.min;
        break;
      case TrendFn::kMax:
        v = bucket.max;
        break;
      case TrendFn::kLast:
        v = bucket.last;
        break;
      case TrendFn::kCount:
        v = bucket.count;
        break;
      case TrendFn::kRate:
        v = bucket.sum / static_cast<double>(plan.step);
        break;
      default: {
        if (bucket.blob.size() < 2 || bucket.blob[0] != kSketchTag) return;
        absl::StatusOr<Sketch> sk =
            Sketch::Deserialize(absl::string_view(bucket.blob).substr(1));
        if (!sk.ok() || sk->empty()) return;
        double qv = plan.fn == TrendFn::kP50   ? 0.5
                    : plan.fn == TrendFn::kP90 ? 0.9
                                               : 0.99;
        v = sk->Quantile(qv);
      }
    }
    out.points.emplace_back(bucket.start, v);
  };
  auto fold = [&](TrendWindow& w) {
    if (!percentile) w.blob.clear();  // no need to merge summaries
    int64_t b = AlignDown(w.start, plan.step);
    if (b != bucket.start) {
      emit();
      bucket = TrendWindow{};
      bucket.start = b;
    }
    MergeWindow(&bucket, w);
  };
  int64_t covered = plan.from;  // the chosen level holds data up to here
  for (TrendWindow& w : ReadId(id, plan.level, plan.from, plan.to)) {
    fold(w);
    covered = w.start + plan.base;
  }
  // The chosen level's newest window is still being filled: the finest
  // level has what came since.
  if (plan.level > 0) {
    for (TrendWindow& w : ReadId(id, 0, covered, plan.to)) fold(w);
  }
  emit();
  return out;
}

absl::StatusOr<TrendResult> TrendStore::Query(const TrendQuery& q) const {
  if (db_ == nullptr) {
    return absl::UnavailableError(
        "history is unavailable (a disk error); the server is retrying");
  }
  if (q.to <= q.from) {
    return absl::InvalidArgumentError("from must be before to");
  }
  int64_t range = q.to - q.from;
  int64_t want = q.step > 0 ? q.step : std::max<int64_t>(1, range / 600);
  size_t level = LevelFor(q.from, q.to, want);
  int64_t base = retention_.levels[level].step;
  int64_t step = std::max(base, (want + base - 1) / base * base);
  int64_t from = AlignDown(q.from, step);
  int64_t buckets = (q.to - from + step - 1) / step;

  TrendResult result;
  result.step = step;
  // Series under every pattern, from the dictionary in LevelDB (sorted).
  std::vector<std::pair<std::string, uint32_t>> series;
  absl::flat_hash_map<std::string, bool> seen;
  for (const Pattern& p : q.patterns) {
    std::string prefix = "S" + JoinKey(p.FixedPrefix());
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Checked()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      std::string key(it->key().data() + 1, it->key().size() - 1);
      absl::StatusOr<KeySegments> segs = SplitKey(key);
      if (!segs.ok()) continue;
      if (!p.Selects(*segs) || seen.contains(key)) continue;
      if (q.accept && !q.accept(*segs)) continue;
      seen[key] = true;
      if (series.size() >= q.max_series) {
        result.truncated = true;
        break;
      }
      series.emplace_back(key, DecodeBigEndian32(it->value().data()));
    }
    CheckIterator(*it);
  }
  if (static_cast<double>(buckets) * static_cast<double>(series.size()) >
      static_cast<double>(q.max_points)) {
    return absl::OutOfRangeError(absl::StrCat(
        "the query would return ",
        buckets * static_cast<int64_t>(series.size()), " points (",
        series.size(), " series x ", buckets, " steps), past the limit of ",
        q.max_points, "; narrow the range or raise step"));
  }
  SeriesPlan plan;
  plan.level = level;
  plan.base = base;
  plan.step = step;
  plan.from = from;
  plan.to = q.to;
  plan.fn = q.fn;
  result.series.resize(series.size());
  // Large answers (Grafana's 1 000 series over a day) are read by several
  // threads at once, each a contiguous run of series: LevelDB's reads are
  // thread-safe and each series is written by the thread that reads it.
  // The threads are joined before Query returns: nothing outlives it.
  auto read_run = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      result.series[i] = ReadSeries(plan, series[i].first, series[i].second);
    }
  };
  size_t threads =
      std::min<size_t>(kQueryThreads, series.size() / kSeriesPerQueryThread);
  if (threads <= 1) {
    read_run(0, series.size());
  } else {
    std::vector<std::thread> helpers;
    size_t per = (series.size() + threads - 1) / threads;
    for (size_t t = 1; t < threads; ++t) {
      size_t begin = std::min(series.size(), t * per);
      size_t end = std::min(series.size(), begin + per);
      helpers.emplace_back(read_run, begin, end);
    }
    read_run(0, std::min(series.size(), per));
    for (std::thread& h : helpers) h.join();
  }
  return result;
}

}  // namespace canopy
