// The series functions of /render (series.h). Pure; any thread.
#include "server/graphite/series.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/number_text.h"
#include "re2/re2.h"

namespace canopy {
namespace graphite {

double Series::At(int64_t t) const {
  if (step <= 0 || t < start) return kNull;
  int64_t i = (t - start) / step;
  if (i >= static_cast<int64_t>(values.size())) return kNull;
  return values[static_cast<size_t>(i)];
}

absl::StatusOr<Agg> ParseAgg(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name.substr(0, 20));
  if (n == "average" || n == "avg") return Agg::kAverage;
  if (n == "median") return Agg::kMedian;
  if (n == "sum" || n == "total") return Agg::kSum;
  if (n == "min") return Agg::kMin;
  if (n == "max") return Agg::kMax;
  if (n == "diff") return Agg::kDiff;
  if (n == "stddev") return Agg::kStddev;
  if (n == "count") return Agg::kCount;
  if (n == "range" || n == "rangeof") return Agg::kRange;
  if (n == "multiply") return Agg::kMultiply;
  if (n == "last" || n == "current") return Agg::kLast;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown aggregation \"", name.substr(0, 20),
      "\" (expected average, median, sum, min, max, diff, stddev, count, "
      "range, multiply or last)"));
}

double Aggregate(Agg agg, std::vector<double>& v) {
  v.erase(std::remove_if(v.begin(), v.end(), IsNull), v.end());
  if (v.empty()) return kNull;
  switch (agg) {
    case Agg::kAverage: {
      double s = 0;
      for (double x : v) s += x;
      return s / static_cast<double>(v.size());
    }
    case Agg::kMedian: {
      std::sort(v.begin(), v.end());
      size_t n = v.size();
      return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    case Agg::kSum: {
      double s = 0;
      for (double x : v) s += x;
      return s;
    }
    case Agg::kMin:
      return *std::min_element(v.begin(), v.end());
    case Agg::kMax:
      return *std::max_element(v.begin(), v.end());
    case Agg::kDiff: {
      double d = v[0];
      for (size_t i = 1; i < v.size(); ++i) d -= v[i];
      return d;
    }
    case Agg::kStddev: {
      double mean = 0;
      for (double x : v) mean += x;
      mean /= static_cast<double>(v.size());
      double var = 0;
      for (double x : v) var += (x - mean) * (x - mean);
      return std::sqrt(var / static_cast<double>(v.size()));
    }
    case Agg::kCount:
      return static_cast<double>(v.size());
    case Agg::kRange:
      return *std::max_element(v.begin(), v.end()) -
             *std::min_element(v.begin(), v.end());
    case Agg::kMultiply: {
      double p = 1;
      for (double x : v) p *= x;
      return p;
    }
    case Agg::kLast:
      return v.back();
  }
  return kNull;
}

std::string PathExpressions(const SeriesList& in) {
  std::set<std::string> paths;
  for (const Series& s : in) paths.insert(s.path_expression);
  return absl::StrJoin(paths, ",");
}

SeriesList Combine(const SeriesList& in, Agg agg, const std::string& name) {
  if (in.empty()) return {};
  Series out;
  out.name = name;
  out.path_expression = name;
  out.start = in[0].start;
  out.step = in[0].step;
  out.values.resize(in[0].values.size());
  std::vector<double> at;
  for (size_t i = 0; i < out.values.size(); ++i) {
    int64_t t = out.start + out.step * static_cast<int64_t>(i);
    at.clear();
    for (const Series& s : in) at.push_back(s.At(t));
    out.values[i] = Aggregate(agg, at);
  }
  return {std::move(out)};
}

SeriesList Alias(SeriesList in, const std::string& name) {
  for (Series& s : in) s.name = name;
  return in;
}

std::string NodeOf(const std::string& name, int i) {
  absl::string_view path = name;
  size_t open = path.rfind('(');
  if (open != absl::string_view::npos) path = path.substr(open + 1);
  size_t stop = path.find_first_of(",)");
  if (stop != absl::string_view::npos) path = path.substr(0, stop);
  std::vector<absl::string_view> nodes = absl::StrSplit(path, '.');
  int n = static_cast<int>(nodes.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return "";
  return std::string(nodes[static_cast<size_t>(i)]);
}

SeriesList AliasByNode(SeriesList in, const std::vector<int>& nodes) {
  for (Series& s : in) {
    std::vector<std::string> parts;
    for (int n : nodes) parts.push_back(NodeOf(s.name, n));
    s.name = absl::StrJoin(parts, ".");
  }
  return in;
}

absl::StatusOr<SeriesList> AliasSub(SeriesList in, const std::string& search,
                                    const std::string& replace) {
  RE2 re(search, RE2::Quiet);
  if (!re.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("aliasSub: bad regular expression \"",
                     search.substr(0, 80), "\": ", re.error()));
  }
  // Python writes groups as \1 and \g<1>; RE2 as \1 too.
  std::string rewrite;
  for (size_t i = 0; i < replace.size(); ++i) {
    if (replace.compare(i, 3, "\\g<") == 0) {
      size_t close = replace.find('>', i);
      if (close != std::string::npos) {
        absl::StrAppend(&rewrite, "\\", replace.substr(i + 3, close - i - 3));
        i = close;
        continue;
      }
    }
    rewrite += replace[i];
  }
  std::string why;
  if (!re.CheckRewriteString(rewrite, &why)) {
    return absl::InvalidArgumentError(
        absl::StrCat("aliasSub: bad replacement: ", why));
  }
  for (Series& s : in) RE2::Replace(&s.name, re, rewrite);
  return in;
}

namespace {

// Applies `f` to every non-null point and names the series fn(name,arg).
template <typename F>
SeriesList Map(SeriesList in, absl::string_view fn, absl::string_view arg,
               F f) {
  for (Series& s : in) {
    for (double& v : s.values) {
      if (!IsNull(v)) v = f(v);
    }
    s.name = arg.empty() ? absl::StrCat(fn, "(", s.name, ")")
                         : absl::StrCat(fn, "(", s.name, ",", arg, ")");
    s.path_expression = s.name;
  }
  return in;
}

SeriesList Deltas(SeriesList in, absl::string_view fn, bool non_negative,
                  std::optional<double> max_value, bool per_second) {
  for (Series& s : in) {
    double prev = kNull;
    for (double& v : s.values) {
      double val = v;
      if (IsNull(prev) || IsNull(val)) {
        v = kNull;
      } else {
        double diff = val - prev;
        if (!non_negative || diff >= 0) {
          v = diff;
        } else if (max_value && *max_value >= val) {
          v = (*max_value - prev) + val + 1;
        } else {
          v = kNull;
        }
        if (per_second && !IsNull(v)) v /= static_cast<double>(s.step);
      }
      prev = val;
    }
    s.name = absl::StrCat(fn, "(", s.name, ")");
    s.path_expression = s.name;
  }
  return in;
}

double MaxOf(const Series& s) {
  double m = kNull;
  for (double v : s.values) {
    if (!IsNull(v) && (IsNull(m) || v > m)) m = v;
  }
  return m;
}

double LastOf(const Series& s) {
  for (size_t i = s.values.size(); i-- > 0;) {
    if (!IsNull(s.values[i])) return s.values[i];
  }
  return kNull;
}

// The n series with the highest key, highest first (nulls last).
SeriesList TopBy(SeriesList in, size_t n, double (*key)(const Series&)) {
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < in.size(); ++i) order.emplace_back(key(in[i]), i);
  std::stable_sort(order.begin(), order.end(), [](auto& a, auto& b) {
    if (IsNull(a.first)) return false;
    if (IsNull(b.first)) return true;
    return a.first > b.first;
  });
  SeriesList out;
  for (size_t i = 0; i < order.size() && out.size() < n; ++i) {
    out.push_back(std::move(in[order[i].second]));
  }
  return out;
}

}  // namespace

SeriesList Scale(SeriesList in, double factor) {
  return Map(std::move(in), "scale", NumberText(factor),
             [factor](double v) { return v * factor; });
}

SeriesList Offset(SeriesList in, double amount) {
  return Map(std::move(in), "offset", NumberText(amount),
             [amount](double v) { return v + amount; });
}

SeriesList Absolute(SeriesList in) {
  return Map(std::move(in), "absolute", "",
             [](double v) { return std::fabs(v); });
}

SeriesList Derivative(SeriesList in) {
  return Deltas(std::move(in), "derivative", false, std::nullopt, false);
}

SeriesList NonNegativeDerivative(SeriesList in,
                                 std::optional<double> max_value) {
  return Deltas(std::move(in), "nonNegativeDerivative", true, max_value, false);
}

SeriesList PerSecond(SeriesList in, std::optional<double> max_value) {
  return Deltas(std::move(in), "perSecond", true, max_value, true);
}

SeriesList Integral(SeriesList in) {
  for (Series& s : in) {
    double sum = 0;
    for (double& v : s.values) {
      if (IsNull(v)) continue;
      sum += v;
      v = sum;
    }
    s.name = absl::StrCat("integral(", s.name, ")");
    s.path_expression = s.name;
  }
  return in;
}

SeriesList MovingAverage(SeriesList in, size_t points, size_t bootstrap,
                         const std::string& label) {
  for (Series& s : in) {
    std::vector<double> out;
    size_t first = std::min(bootstrap, s.values.size());
    double sum = 0;
    size_t count = 0;  // non-null values in the window [i - points, i)
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (i >= first)
        out.push_back(count > 0 && points > 0 ? sum / static_cast<double>(count)
                                              : kNull);
      if (!IsNull(s.values[i])) {
        sum += s.values[i];
        ++count;
      }
      // The window of the next point is [i + 1 - points, i].
      if (points > 0 && i >= points && !IsNull(s.values[i - points])) {
        sum -= s.values[i - points];
        --count;
      }
    }
    s.start += s.step * static_cast<int64_t>(first);
    s.values = std::move(out);
    s.name = absl::StrCat("movingAverage(", s.name, ",", label, ")");
    s.path_expression = s.name;
  }
  return in;
}

SeriesList Summarize(SeriesList in, int64_t interval,
                     const std::string& interval_text, Agg agg,
                     const std::string& agg_name, bool align_to_from) {
  for (Series& s : in) {
    int64_t origin =
        align_to_from ? s.start
                      : s.start - ((s.start % interval) + interval) % interval;
    int64_t end = s.end();
    size_t buckets = static_cast<size_t>(
        std::max<int64_t>(0, (end - origin + interval - 1) / interval));
    std::vector<std::vector<double>> in_bucket(buckets);
    for (size_t i = 0; i < s.values.size(); ++i) {
      int64_t t = s.start + s.step * static_cast<int64_t>(i);
      size_t b = static_cast<size_t>((t - origin) / interval);
      if (b < buckets) in_bucket[b].push_back(s.values[i]);
    }
    std::vector<double> out;
    out.reserve(buckets);
    for (std::vector<double>& vals : in_bucket) {
      out.push_back(Aggregate(agg, vals));
    }
    s.start = origin;
    s.step = interval;
    s.values = std::move(out);
    s.name = absl::StrCat("summarize(", s.name, ", \"", interval_text, "\", \"",
                          agg_name, "\"", align_to_from ? ", true" : "", ")");
    s.path_expression = s.name;
    s.quantile = false;
  }
  return in;
}

namespace {

Series PercentOf(Series s, const Series& total, const std::string& name) {
  for (size_t i = 0; i < s.values.size(); ++i) {
    double t = total.At(s.start + s.step * static_cast<int64_t>(i));
    double& v = s.values[i];
    v = IsNull(v) || IsNull(t) || t == 0 ? kNull : v / t * 100;
  }
  s.name = name;
  s.path_expression = name;
  return s;
}

}  // namespace

absl::StatusOr<SeriesList> AsPercent(SeriesList in, const SeriesList& total) {
  if (in.empty()) return in;
  SeriesList out;
  if (total.empty()) {
    SeriesList sum = Combine(in, Agg::kSum, "");
    for (Series& s : in) {
      std::string name = absl::StrCat("asPercent(", s.name, ",", "sumSeries(",
                                      PathExpressions(in), "))");
      out.push_back(PercentOf(std::move(s), sum[0], name));
    }
    return out;
  }
  if (total.size() != 1 && total.size() != in.size()) {
    return absl::InvalidArgumentError(
        "asPercent: the total must be one series, or as many as the series");
  }
  for (size_t i = 0; i < in.size(); ++i) {
    const Series& t = total.size() == 1 ? total[0] : total[i];
    std::string name = absl::StrCat("asPercent(", in[i].name, ",", t.name, ")");
    out.push_back(PercentOf(std::move(in[i]), t, name));
  }
  return out;
}

SeriesList AsPercentOf(SeriesList in, double total) {
  for (Series& s : in) {
    for (double& v : s.values) {
      v = IsNull(v) || total == 0 ? kNull : v / total * 100;
    }
    s.name = absl::StrCat("asPercent(", s.name, ",", NumberText(total), ")");
    s.path_expression = s.name;
  }
  return in;
}

absl::StatusOr<SeriesList> DivideSeries(SeriesList dividends,
                                        const SeriesList& divisor) {
  if (divisor.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "divideSeries: the divisor must be one series, not ", divisor.size()));
  }
  const Series& d = divisor[0];
  for (Series& s : dividends) {
    for (size_t i = 0; i < s.values.size(); ++i) {
      double q = d.At(s.start + s.step * static_cast<int64_t>(i));
      double& v = s.values[i];
      v = IsNull(v) || IsNull(q) || q == 0 ? kNull : v / q;
    }
    s.name = absl::StrCat("divideSeries(", s.name, ",", d.name, ")");
    s.path_expression = s.name;
    s.quantile = false;
  }
  return dividends;
}

SeriesList HighestCurrent(SeriesList in, size_t n) {
  return TopBy(std::move(in), n, LastOf);
}

SeriesList HighestMax(SeriesList in, size_t n) {
  return TopBy(std::move(in), n, MaxOf);
}

SeriesList Limit(SeriesList in, size_t n) {
  if (in.size() > n) in.resize(n);
  return in;
}

SeriesList SortByMaxima(SeriesList in) {
  size_t n = in.size();
  return TopBy(std::move(in), n, MaxOf);
}

SeriesList GroupByNode(const SeriesList& in, int node, Agg agg) {
  std::map<std::string, SeriesList> groups;
  for (const Series& s : in) groups[NodeOf(s.name, node)].push_back(s);
  SeriesList out;
  for (auto& [key, members] : groups) {
    SeriesList one = Combine(members, agg, key);
    for (Series& s : one) out.push_back(std::move(s));
  }
  return out;
}

SeriesList KeepLastValue(SeriesList in, size_t limit) {
  for (Series& s : in) {
    double last = kNull;
    size_t gap_start = 0, gap = 0;
    for (size_t i = 0; i <= s.values.size(); ++i) {
      bool null = i < s.values.size() && IsNull(s.values[i]);
      if (null) {
        if (gap++ == 0) gap_start = i;
        continue;
      }
      if (gap > 0 && gap <= limit && !IsNull(last)) {
        for (size_t j = gap_start; j < gap_start + gap; ++j) s.values[j] = last;
      }
      gap = 0;
      if (i < s.values.size()) last = s.values[i];
    }
    s.name = absl::StrCat("keepLastValue(", s.name, ")");
    s.path_expression = s.name;
  }
  return in;
}

SeriesList TransformNull(SeriesList in, double value) {
  for (Series& s : in) {
    for (double& v : s.values) {
      if (IsNull(v)) v = value;
    }
    s.name =
        absl::StrCat("transformNull(", s.name, ",", NumberText(value), ")");
    s.path_expression = s.name;
  }
  return in;
}

Series ConstantLine(double value, int64_t start, int64_t end, int64_t step) {
  Series s;
  s.name = NumberText(value);
  s.path_expression = s.name;
  s.start = start;
  s.step = step > 0 ? step : 1;
  int64_t n = std::max<int64_t>(1, (end - start + s.step - 1) / s.step);
  s.values.assign(static_cast<size_t>(n), value);
  return s;
}

SeriesList Consolidate(SeriesList in, size_t max_points) {
  if (max_points == 0) return in;
  for (Series& s : in) {
    size_t n = s.values.size();
    if (n <= max_points || s.quantile) continue;
    size_t per = (n + max_points - 1) / max_points;
    std::vector<double> out, run;
    for (size_t i = 0; i < n; i += per) {
      run.assign(
          s.values.begin() + static_cast<std::ptrdiff_t>(i),
          s.values.begin() + static_cast<std::ptrdiff_t>(std::min(n, i + per)));
      out.push_back(Aggregate(Agg::kAverage, run));
    }
    s.values = std::move(out);
    s.step *= static_cast<int64_t>(per);
  }
  return in;
}

SeriesList DropAllNull(SeriesList in) {
  in.erase(std::remove_if(in.begin(), in.end(),
                          [](const Series& s) {
                            return std::all_of(s.values.begin(), s.values.end(),
                                               IsNull);
                          }),
           in.end());
  return in;
}

}  // namespace graphite
}  // namespace canopy
