// The function table of /render (function_table.h) and its description
// for GET /functions. Constant data; any thread.
#include "server/graphite/function_table.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/graphite/evaluate.h"
#include "server/json_out.h"

namespace canopy {
namespace graphite {

const char* TypeName(P p) {
  switch (p) {
    case P::kSeriesList:
      return "seriesList";
    case P::kInteger:
      return "integer";
    case P::kFloat:
      return "float";
    case P::kString:
      return "string";
    case P::kBoolean:
      return "boolean";
    case P::kNode:
      return "node";
    case P::kInterval:
      return "interval";
    case P::kIntOrInterval:
      return "intOrInterval";
    case P::kAggFunc:
      return "aggFunc";
    case P::kIntOrInf:
      return "intOrInf";
    case P::kAny:
      return "any";
  }
  return "any";
}

const std::vector<Function>& Functions() {
  static const auto* table = new std::vector<Function>{
      {"sumSeries",
       "Combine",
       "The sum of the series at each point.",
       {{"seriesLists", P::kSeriesList, true, true}}},
      {"averageSeries",
       "Combine",
       "The average of the series at each point.",
       {{"seriesLists", P::kSeriesList, true, true}}},
      {"maxSeries",
       "Combine",
       "The maximum of the series at each point.",
       {{"seriesLists", P::kSeriesList, true, true}}},
      {"minSeries",
       "Combine",
       "The minimum of the series at each point.",
       {{"seriesLists", P::kSeriesList, true, true}}},
      {"alias",
       "Alias",
       "Names the series.",
       {{"seriesList", P::kSeriesList}, {"newName", P::kString}}},
      {"aliasByNode",
       "Alias",
       "Names each series by nodes of its path (0 is the first, -1 the "
       "last).",
       {{"seriesList", P::kSeriesList}, {"nodes", P::kNode, true, true}}},
      {"aliasSub",
       "Alias",
       "Replaces a regular expression in the names (\\1 is a group).",
       {{"seriesList", P::kSeriesList},
        {"search", P::kString},
        {"replace", P::kString}}},
      {"scale",
       "Transform",
       "Multiplies each point by a factor.",
       {{"seriesList", P::kSeriesList}, {"factor", P::kFloat}}},
      {"offset",
       "Transform",
       "Adds a constant to each point.",
       {{"seriesList", P::kSeriesList}, {"factor", P::kFloat}}},
      {"absolute",
       "Transform",
       "The absolute value of each point.",
       {{"seriesList", P::kSeriesList}}},
      {"perSecond",
       "Transform",
       "The increase per second of a counter; a drop is null (or wraps at "
       "maxValue).",
       {{"seriesList", P::kSeriesList},
        {"maxValue", P::kFloat, false, false, "None"}}},
      {"nonNegativeDerivative",
       "Transform",
       "The increase from the previous point; a drop is null (or wraps at "
       "maxValue).",
       {{"seriesList", P::kSeriesList},
        {"maxValue", P::kFloat, false, false, "None"}}},
      {"derivative",
       "Transform",
       "The change from the previous point.",
       {{"seriesList", P::kSeriesList}}},
      {"integral",
       "Transform",
       "The running sum.",
       {{"seriesList", P::kSeriesList}}},
      {"movingAverage",
       "Calculate",
       "The average of the window before each point (points, or a time "
       "such as '5min').",
       {{"seriesList", P::kSeriesList},
        {"windowSize", P::kIntOrInterval},
        {"xFilesFactor", P::kFloat, false, false, "None"}}},
      {"summarize",
       "Transform",
       "One point per interval, aggregated by func (sum by default).",
       {{"seriesList", P::kSeriesList},
        {"intervalString", P::kInterval},
        {"func", P::kAggFunc, false, false, "sum"},
        {"alignToFrom", P::kBoolean, false, false, "false"}}},
      {"timeShift",
       "Transform",
       "The series as it was a time ago ('7d': last week).",
       {{"seriesList", P::kSeriesList},
        {"timeShift", P::kInterval},
        {"resetEnd", P::kBoolean, false, false, "true"},
        {"alignDST", P::kBoolean, false, false, "false"}}},
      {"asPercent",
       "Calculate",
       "Each series as a percentage of a total (a number, a series, or the "
       "sum of the series).",
       {{"seriesList", P::kSeriesList},
        {"total", P::kAny, false, false, "None"}}},
      {"divideSeries",
       "Combine",
       "Each series divided by one divisor series.",
       {{"dividendSeriesList", P::kSeriesList},
        {"divisorSeries", P::kSeriesList}}},
      {"highestCurrent",
       "Filter Series",
       "The n series with the highest last value.",
       {{"seriesList", P::kSeriesList}, {"n", P::kInteger, false, false, "1"}}},
      {"highestMax",
       "Filter Series",
       "The n series with the highest maximum.",
       {{"seriesList", P::kSeriesList}, {"n", P::kInteger, false, false, "1"}}},
      {"limit",
       "Filter Series",
       "The first n series.",
       {{"seriesList", P::kSeriesList}, {"n", P::kInteger}}},
      {"sortByMaxima",
       "Sorting",
       "The series by their maximum, highest first.",
       {{"seriesList", P::kSeriesList}}},
      {"groupByNode",
       "Combine",
       "One series per value of a node of the path, aggregated by callback.",
       {{"seriesList", P::kSeriesList},
        {"nodeNum", P::kNode},
        {"callback", P::kAggFunc, false, false, "average"}}},
      {"keepLastValue",
       "Transform",
       "Nulls replaced by the last value, for gaps of at most limit points.",
       {{"seriesList", P::kSeriesList},
        {"limit", P::kIntOrInf, false, false, "INF"}}},
      {"transformNull",
       "Transform",
       "Nulls replaced by a value (0 by default).",
       {{"seriesList", P::kSeriesList},
        {"default", P::kFloat, false, false, "0"}}},
      {"constantLine",
       "Special",
       "A line at a value across the range.",
       {{"value", P::kFloat}}},
  };
  return *table;
}

const Function* FindFunction(absl::string_view name) {
  for (const Function& f : Functions()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string FunctionsJson() {
  JsonOut out;
  out.w.StartObject();
  for (const Function& f : Functions()) {
    out.Key(f.name);
    out.w.StartObject();
    out.Key("name");
    out.String(f.name);
    std::string signature = absl::StrCat(f.name, "(");
    for (size_t i = 0; i < f.params.size(); ++i) {
      const Param& p = f.params[i];
      absl::StrAppend(&signature, i > 0 ? ", " : "", p.multiple ? "*" : "",
                      p.name, p.fallback != nullptr ? "=" : "",
                      p.fallback != nullptr ? p.fallback : "");
    }
    signature += ")";
    out.Key("function");
    out.String(signature);
    out.Key("description");
    out.String(f.description);
    out.Key("module");
    out.String("graphite.render.functions");
    out.Key("group");
    out.String(f.group);
    out.Key("params");
    out.w.StartArray();
    for (const Param& p : f.params) {
      out.w.StartObject();
      out.Key("name");
      out.String(p.name);
      out.Key("type");
      out.String(TypeName(p.type));
      if (p.required) {
        out.Key("required");
        out.w.Bool(true);
      }
      if (p.multiple) {
        out.Key("multiple");
        out.w.Bool(true);
      }
      if (p.type == P::kAggFunc) {
        out.Key("options");
        out.w.StartArray();
        for (const char* o : {"average", "median", "sum", "min", "max", "diff",
                              "stddev", "count", "range", "multiply", "last"}) {
          out.String(o);
        }
        out.w.EndArray();
      }
      if (p.fallback != nullptr) {
        out.Key("default");
        std::string d = p.fallback;
        if (d == "true" || d == "false") {
          out.w.Bool(d == "true");
        } else if (d == "None") {
          out.w.Null();
        } else if (p.type == P::kString || p.type == P::kAggFunc ||
                   d == "INF") {
          out.String(d);
        } else {
          out.Number(std::stod(d));
        }
      }
      out.w.EndObject();
    }
    out.w.EndArray();
    out.w.EndObject();
  }
  out.w.EndObject();
  return out.Take();
}

}  // namespace graphite
}  // namespace canopy
