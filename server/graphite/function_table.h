// The functions /render knows: their names, groups, descriptions and
// parameters (name, type, required, repeated, default). The evaluator
// (evaluate.cc) binds a call's arguments by this table, and GET /functions
// describes it in graphite-web's shape (FunctionsJson, evaluate.h), so that
// Grafana's function editor offers exactly what works.
//
//   const graphite::Function* f = graphite::FindFunction("summarize");
//   // f->params[1].name == "intervalString", type P::kInterval
//
// Internal to server/graphite/. Constant data; any thread.
#ifndef CANOPY_SERVER_GRAPHITE_FUNCTION_TABLE_H_
#define CANOPY_SERVER_GRAPHITE_FUNCTION_TABLE_H_

#include <vector>

#include "absl/strings/string_view.h"

namespace canopy {
namespace graphite {

// A parameter's type, as graphite-web names them (TypeName).
enum class P {
  kSeriesList,
  kInteger,
  kFloat,
  kString,
  kBoolean,
  kNode,
  kInterval,
  kIntOrInterval,
  kAggFunc,
  kIntOrInf,
  kAny,
};
const char* TypeName(P p);

struct Param {
  const char* name;
  P type;
  bool required = true;
  bool multiple = false;
  const char* fallback = nullptr;  // the default, as graphite-web lists it
};

struct Function {
  const char* name;
  const char* group;
  const char* description;
  std::vector<Param> params;
};

// Every function, in the order /functions lists them.
const std::vector<Function>& Functions();
// The function named `name`, or nullptr.
const Function* FindFunction(absl::string_view name);

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_FUNCTION_TABLE_H_
