// Graphite target expressions ("sumSeries(host.*.cpu.user)",
// "alias(scale(a.b, 2), 'twice')"): a pure parser from text to a tree of
// Exprs, for /render and the graphite_target fuzzer.
//
//   absl::StatusOr<canopy::graphite::Expr> e =
//       canopy::graphite::ParseTarget("scale(web.*.hits, 0.5)");
//   // e->kind == Expr::kCall, e->name == "scale",
//   // e->args[0].kind == Expr::kPath, e->args[0].text == "web.*.hits",
//   // e->args[1].number == 0.5
//
// Grammar (graphite-web's, less what canopy cannot hold: tags, templates):
//
//   expr   := call | number | string | bool | none | path
//   call   := NAME '(' [ arg { ',' arg } ] ')'
//   arg    := expr | NAME '=' expr            (a keyword argument)
//   number := a decimal ("2", "-0.5", "1e3")
//   string := '...' or "..." (a backslash escapes the next byte)
//   bool   := true | false (any case);  none := None
//   path   := bytes of [A-Za-z0-9_.*?[]{}:,~^$@#%+-] with commas only inside
//             {...}; Graphite's globs are checked later (path_glob.h).
//
// Whitespace around tokens is ignored. A malformed target is an
// InvalidArgument naming the column (1-based) and what was expected. Limits,
// so that no input costs more than its length: a target of at most
// kMaxTargetBytes and nesting of at most kMaxDepth calls.
//
// Pure functions; any thread.
#ifndef CANOPY_SERVER_GRAPHITE_TARGET_H_
#define CANOPY_SERVER_GRAPHITE_TARGET_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {
namespace graphite {

inline constexpr size_t kMaxTargetBytes = 64 * 1024;
inline constexpr int kMaxDepth = 32;

struct Expr {
  enum Kind { kPath, kCall, kNumber, kString, kBool, kNone };
  Kind kind = kPath;
  std::string text;   // the path, the string, or the call's source text
  std::string name;   // the function's name (kCall)
  double number = 0;  // kNumber
  bool boolean = false;
  std::vector<Expr> args;                            // positional (kCall)
  std::vector<std::pair<std::string, Expr>> kwargs;  // keyword (kCall)
};

absl::StatusOr<Expr> ParseTarget(absl::string_view text);

// The expression written back in one canonical form ("scale(a.b,2)",
// strings in single quotes with ' and \ escaped); it parses back to the
// same expression.
std::string ExprText(const Expr& e);

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_TARGET_H_
