// The /render evaluator (evaluate.h): binding a call's arguments by the
// function table (function_table.h), checking them, and calling the series
// functions. Pure given the fetcher; runs on the trend thread for /render
// (CheckTarget on the loop thread).
#include "server/graphite/evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/number_text.h"
#include "server/graphite/function_table.h"
#include "server/graphite/time_text.h"

namespace canopy {
namespace graphite {
namespace {

// No function makes a series of more points than this (nor summarize more
// in all), whatever the nesting.
constexpr int64_t kMaxPoints = 10000000;

// A call's arguments by parameter name.
using Bound = std::map<std::string, std::vector<const Expr*>>;

absl::StatusOr<Bound> Bind(const Expr& call, const Function& f) {
  Bound b;
  size_t p = 0;
  for (const Expr& a : call.args) {
    if (p >= f.params.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(f.name, "() takes at most ", f.params.size(),
                       " arguments, got ", call.args.size()));
    }
    b[f.params[p].name].push_back(&a);
    if (!f.params[p].multiple) ++p;
  }
  for (const auto& [k, v] : call.kwargs) {
    bool known = false;
    for (const Param& param : f.params) known = known || k == param.name;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          f.name, "() has no parameter \"", k.substr(0, 40), "\""));
    }
    b[k].push_back(&v);
  }
  for (const Param& param : f.params) {
    if (param.required && b[param.name].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(f.name, "() needs its argument ", param.name, " (",
                       TypeName(param.type), ")"));
    }
  }
  return b;
}

bool IsSeries(const Expr& e) {
  return e.kind == Expr::kPath || e.kind == Expr::kCall;
}

bool Accepts(P type, const Expr& e) {
  switch (type) {
    case P::kSeriesList:
      return IsSeries(e);
    case P::kInteger:
    case P::kFloat:
    case P::kNode:
    case P::kIntOrInf:
      return e.kind == Expr::kNumber;
    case P::kString:
    case P::kInterval:
    case P::kAggFunc:
      return e.kind == Expr::kString;
    case P::kBoolean:
      return e.kind == Expr::kBool;
    case P::kIntOrInterval:
      return e.kind == Expr::kNumber || e.kind == Expr::kString;
    case P::kAny:
      return true;
  }
  return false;
}

absl::Status Check(const Expr& e, int depth) {
  if (e.kind != Expr::kCall) return absl::OkStatus();
  const Function* f = FindFunction(e.name);
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown function \"", e.name.substr(0, 60),
                     "\" (GET /functions lists those canopyd knows)"));
  }
  absl::StatusOr<Bound> b = Bind(e, *f);
  if (!b.ok()) return b.status();
  for (const Param& p : f->params) {
    for (const Expr* a : (*b)[p.name]) {
      bool none_ok = !p.required && a->kind == Expr::kNone;
      if (!none_ok && !Accepts(p.type, *a)) {
        return absl::InvalidArgumentError(absl::StrCat(
            f->name, "(): argument ", p.name, " must be ", TypeName(p.type),
            ", not \"", ExprText(*a).substr(0, 60), "\""));
      }
      if (absl::Status s = Check(*a, depth + 1); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

class Evaluator {
 public:
  explicit Evaluator(const Fetcher& fetch) : fetch_(fetch) {}

  absl::StatusOr<SeriesList> Eval(const Expr& e, const EvalRange& r) {
    if (e.kind == Expr::kPath) return fetch_(e.text, r.from, r.until);
    if (e.kind != Expr::kCall) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected a series, not \"", ExprText(e).substr(0, 60), "\""));
    }
    const Function* f = FindFunction(e.name);
    if (f == nullptr) return Check(e, 0);
    absl::StatusOr<Bound> b = Bind(e, *f);
    if (!b.ok()) return b.status();
    return Call(e, *f, *b, r);
  }

 private:
  absl::StatusOr<SeriesList> SeriesArg(Bound& b, const char* name,
                                       const EvalRange& r) {
    SeriesList out;
    for (const Expr* a : b[name]) {
      absl::StatusOr<SeriesList> s = Eval(*a, r);
      if (!s.ok()) return s.status();
      for (Series& one : *s) out.push_back(std::move(one));
    }
    return out;
  }
  static const Expr* One(Bound& b, const char* name) {
    auto it = b.find(name);
    if (it == b.end() || it->second.empty()) return nullptr;
    if (it->second[0]->kind == Expr::kNone) return nullptr;
    return it->second[0];
  }
  static std::optional<double> Number(Bound& b, const char* name) {
    const Expr* e = One(b, name);
    if (e == nullptr || e->kind != Expr::kNumber) return std::nullopt;
    return e->number;
  }
  static std::string Text(Bound& b, const char* name, const char* fallback) {
    const Expr* e = One(b, name);
    return e != nullptr && e->kind == Expr::kString ? e->text : fallback;
  }
  static bool Bool(Bound& b, const char* name, bool fallback) {
    const Expr* e = One(b, name);
    return e != nullptr && e->kind == Expr::kBool ? e->boolean : fallback;
  }
  static absl::StatusOr<int> Node(const Expr* e, const char* fn) {
    if (e == nullptr || e->kind != Expr::kNumber ||
        e->number != std::floor(e->number) || std::fabs(e->number) > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat(fn, "(): a node is a whole number from -64 to 64"));
    }
    return static_cast<int>(e->number);
  }
  static absl::StatusOr<size_t> Count(Bound& b, const char* name,
                                      const char* fn, size_t fallback) {
    std::optional<double> n = Number(b, name);
    if (!n) return fallback;
    if (*n < 0 || *n != std::floor(*n)) {
      return absl::InvalidArgumentError(
          absl::StrCat(fn, "(): ", name, " must be a whole number, 0 or more"));
    }
    return *n > 1e9 ? size_t{1000000000} : static_cast<size_t>(*n);
  }

  absl::StatusOr<SeriesList> Call(const Expr& e, const Function& f, Bound& b,
                                  const EvalRange& r);

  const Fetcher& fetch_;
};

absl::StatusOr<SeriesList> Evaluator::Call(const Expr& e, const Function& f,
                                           Bound& b, const EvalRange& r) {
  if ((r.until - r.from) / r.step > kMaxPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat(f.name, "(): the range holds more than ", kMaxPoints,
                     " points a series; narrow it or set maxDataPoints"));
  }
  const std::string name = f.name;
  if (name == "constantLine") {
    double v = Number(b, "value").value_or(0);
    int64_t start = r.from - ((r.from % r.step) + r.step) % r.step;
    return SeriesList{ConstantLine(v, start, r.until + 1, r.step)};
  }
  if (name == "timeShift") {
    std::string text = Text(b, "timeShift", "");
    std::string signed_text =
        !text.empty() && (text[0] == '-' || text[0] == '+') ? text : "-" + text;
    absl::StatusOr<int64_t> delta = ParseInterval(signed_text);
    if (!delta.ok()) return delta.status();
    EvalRange shifted{r.from + *delta, r.until + *delta, r.step};
    absl::StatusOr<SeriesList> in = SeriesArg(b, "seriesList", shifted);
    if (!in.ok()) return in;
    for (Series& s : *in) {
      s.start -= *delta;
      s.name = absl::StrCat("timeShift(", s.name, ", \"", text, "\")");
      s.path_expression = s.name;
    }
    return in;
  }
  if (name == "movingAverage") {
    const Expr* w = One(b, "windowSize");
    int64_t seconds;
    std::string label;
    if (w->kind == Expr::kNumber) {
      if (w->number < 1 || w->number != std::floor(w->number) ||
          w->number > 1e6) {
        return absl::InvalidArgumentError(
            "movingAverage(): windowSize is a whole number of points (1 to "
            "1000000) or a time such as '5min'");
      }
      seconds = static_cast<int64_t>(w->number) * r.step;
      label = NumberText(w->number);
    } else {
      absl::StatusOr<int64_t> s = ParseInterval(w->text);
      if (!s.ok()) return s.status();
      seconds = std::llabs(*s);
      label = absl::StrCat("'", w->text, "'");
    }
    EvalRange wider{r.from - seconds, r.until, r.step};
    absl::StatusOr<SeriesList> in = SeriesArg(b, "seriesList", wider);
    if (!in.ok()) return in;
    SeriesList out;
    for (Series& s : *in) {
      int64_t step = std::max<int64_t>(1, s.step);
      size_t points = static_cast<size_t>(std::max<int64_t>(1, seconds / step));
      int64_t first = r.from - ((r.from % step) + step) % step;
      size_t bootstrap = static_cast<size_t>(std::clamp<int64_t>(
          (first - s.start) / step, 0, static_cast<int64_t>(s.values.size())));
      for (Series& m :
           MovingAverage({std::move(s)}, points, bootstrap, label)) {
        out.push_back(std::move(m));
      }
    }
    return out;
  }
  if (name == "divideSeries") {
    absl::StatusOr<SeriesList> a = SeriesArg(b, "dividendSeriesList", r);
    if (!a.ok()) return a;
    absl::StatusOr<SeriesList> d = SeriesArg(b, "divisorSeries", r);
    if (!d.ok()) return d;
    return DivideSeries(std::move(*a), *d);
  }
  if (name == "asPercent") {
    absl::StatusOr<SeriesList> in = SeriesArg(b, "seriesList", r);
    if (!in.ok()) return in;
    const Expr* total = One(b, "total");
    if (total == nullptr) return AsPercent(std::move(*in), {});
    if (total->kind == Expr::kNumber) {
      return AsPercentOf(std::move(*in), total->number);
    }
    if (!IsSeries(*total)) {
      return absl::InvalidArgumentError(
          "asPercent(): total is a number or a series");
    }
    absl::StatusOr<SeriesList> t = Eval(*total, r);
    if (!t.ok()) return t;
    return AsPercent(std::move(*in), *t);
  }

  // The rest take their series first, evaluated over the same range.
  const char* first =
      f.params[0].type == P::kSeriesList ? f.params[0].name : nullptr;
  if (first == nullptr) return absl::InternalError("no series parameter");
  absl::StatusOr<SeriesList> in = SeriesArg(b, first, r);
  if (!in.ok()) return in;
  SeriesList s = std::move(*in);
  if (name == "sumSeries" || name == "averageSeries" || name == "maxSeries" ||
      name == "minSeries") {
    Agg agg = name == "sumSeries"       ? Agg::kSum
              : name == "averageSeries" ? Agg::kAverage
              : name == "maxSeries"     ? Agg::kMax
                                        : Agg::kMin;
    return Combine(s, agg, absl::StrCat(name, "(", PathExpressions(s), ")"));
  }
  if (name == "alias") return Alias(std::move(s), Text(b, "newName", ""));
  if (name == "aliasByNode") {
    std::vector<int> nodes;
    for (const Expr* n : b["nodes"]) {
      absl::StatusOr<int> i = Node(n, "aliasByNode");
      if (!i.ok()) return i.status();
      nodes.push_back(*i);
    }
    return AliasByNode(std::move(s), nodes);
  }
  if (name == "aliasSub") {
    return AliasSub(std::move(s), Text(b, "search", ""),
                    Text(b, "replace", ""));
  }
  if (name == "scale") return Scale(std::move(s), *Number(b, "factor"));
  if (name == "offset") return Offset(std::move(s), *Number(b, "factor"));
  if (name == "absolute") return Absolute(std::move(s));
  if (name == "perSecond") {
    return PerSecond(std::move(s), Number(b, "maxValue"));
  }
  if (name == "nonNegativeDerivative") {
    return NonNegativeDerivative(std::move(s), Number(b, "maxValue"));
  }
  if (name == "derivative") return Derivative(std::move(s));
  if (name == "integral") return Integral(std::move(s));
  if (name == "summarize") {
    std::string text = Text(b, "intervalString", "");
    absl::StatusOr<int64_t> interval = ParseInterval(text);
    if (!interval.ok()) return interval.status();
    if (*interval <= 0) {
      return absl::InvalidArgumentError(
          "summarize(): the interval must be positive");
    }
    std::string fn = Text(b, "func", "sum");
    absl::StatusOr<Agg> agg = ParseAgg(fn);
    if (!agg.ok()) return agg.status();
    if ((r.until - r.from) / *interval * static_cast<int64_t>(s.size()) >
        kMaxPoints) {
      return absl::InvalidArgumentError(
          absl::StrCat("summarize(): more than ", kMaxPoints,
                       " points; use a longer interval"));
    }
    return Summarize(std::move(s), *interval, text, *agg, fn,
                     Bool(b, "alignToFrom", false));
  }
  if (name == "highestCurrent" || name == "highestMax" || name == "limit") {
    absl::StatusOr<size_t> n = Count(b, "n", f.name, 1);
    if (!n.ok()) return n.status();
    if (name == "limit") return Limit(std::move(s), *n);
    return name == "highestMax" ? HighestMax(std::move(s), *n)
                                : HighestCurrent(std::move(s), *n);
  }
  if (name == "sortByMaxima") return SortByMaxima(std::move(s));
  if (name == "groupByNode") {
    absl::StatusOr<int> node = Node(One(b, "nodeNum"), "groupByNode");
    if (!node.ok()) return node.status();
    absl::StatusOr<Agg> agg = ParseAgg(Text(b, "callback", "average"));
    if (!agg.ok()) return agg.status();
    return GroupByNode(s, *node, *agg);
  }
  if (name == "keepLastValue") {
    std::optional<double> n = Number(b, "limit");
    size_t limit = static_cast<size_t>(-1);
    if (n && *n >= 0 && *n < 1e15) limit = static_cast<size_t>(*n);
    return KeepLastValue(std::move(s), limit);
  }
  if (name == "transformNull") {
    return TransformNull(std::move(s), Number(b, "default").value_or(0));
  }
  (void)e;
  return absl::InternalError(absl::StrCat(name, "() has no implementation"));
}

}  // namespace

absl::Status CheckTarget(const Expr& target) {
  if (!IsSeries(target)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a target is a path or a function call, not \"",
                     ExprText(target).substr(0, 60), "\""));
  }
  return Check(target, 0);
}

absl::StatusOr<SeriesList> Evaluate(const Expr& target, const EvalRange& range,
                                    const Fetcher& fetch) {
  if (absl::Status s = CheckTarget(target); !s.ok()) return s;
  if (range.step <= 0 || range.until < range.from) {
    return absl::InvalidArgumentError("from must be before until");
  }
  return Evaluator(fetch).Eval(target, range);
}

}  // namespace graphite
}  // namespace canopy
