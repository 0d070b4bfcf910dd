// canopy-query-bench: the worst tree queries we can construct, timed on the
// tree itself (what a /get, /pull or /metrics?key= holds the tree's thread
// for, less the JSON it writes), with and without the query budget.
//
//   canopy-query-bench --wide=1000000 --repeat=5
//
// Builds three trees in this process: "deep" (8 010 leaves 29 segments deep,
// the shape of issue 18), "wide" (--wide leaves under one node) and, with
// --big, a tree of --big leaves 4 levels deep. Runs each pattern --repeat
// times, taking turns, and prints the median wall time of one Tree::Collect
// under the default budget (QueryBudget::Limits: 2 000 000 node-steps,
// 50 ms) and with no budget, how much of the budget it used and whether it
// was refused.
//
// Prints one line per (tree, pattern) and a last line "RESULT ...".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/tree.h"

ABSL_FLAG(int64_t, wide, 1000000, "leaves under one node in the wide tree");
ABSL_FLAG(int64_t, big, 0, "leaves of the big tree (0: none)");
ABSL_FLAG(int, repeat, 5, "runs of each query (the median is reported)");

namespace canopy {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kNow = 1700000000;

void Add(Tree* tree, const std::vector<std::string>& segs) {
  KeySegments key(segs.begin(), segs.end());
  tree->BeginChange();
  absl::Status s = tree->AddSample(key, Action::kLast, 1, kNow);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

// 8 010 leaves 29 segments deep: a chain of 16, then 13 binary levels.
void BuildDeep(Tree* tree) {
  for (int i = 0; i < 8010; ++i) {
    std::vector<std::string> segs = {"deep"};
    for (int j = 1; j < 16; ++j) segs.push_back(absl::StrCat("c", j));
    for (int j = 0; j < 13; ++j) {
      segs.push_back(absl::StrCat("b", (i >> j) & 1));
    }
    Add(tree, segs);
  }
}

void BuildWide(Tree* tree, int64_t n) {
  for (int64_t i = 0; i < n; ++i) Add(tree, {"wide", absl::StrCat("w", i)});
}

void BuildBig(Tree* tree, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    Add(tree,
        {"big", absl::StrCat("h", i / 100000),
         absl::StrCat("m", (i / 100) % 1000), absl::StrCat("l", i % 100)});
  }
}

struct Run {
  double ms = 0;
  uint64_t leaves = 0;
  uint64_t used = 0;
  bool refused = false;
};

Run Once(const Tree& tree, const Pattern& p, bool budgeted) {
  QueryBudget::Limits unlimited{std::numeric_limits<uint64_t>::max(),
                                absl::InfiniteDuration()};
  QueryBudget budget(budgeted ? QueryBudget::Limits() : unlimited);
  Run r;
  Clock::time_point t0 = Clock::now();
  tree.Collect(
      p, 0,
      [&](const LeafView&) {
        ++r.leaves;
        return true;
      },
      &budget);
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  r.used = budget.used();
  r.refused = budget.exceeded();
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double worst_budgeted_ms = 0;

void Measure(const char* name, const Tree& tree,
             const std::vector<std::string>& patterns, int repeat) {
  for (const std::string& text : patterns) {
    absl::StatusOr<Pattern> p = Pattern::Parse(text);
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
      std::exit(1);
    }
    std::vector<double> with, without;
    Run last_with, last_without;
    for (int i = 0; i < repeat; ++i) {  // taking turns
      last_with = Once(tree, *p, true);
      with.push_back(last_with.ms);
      last_without = Once(tree, *p, false);
      without.push_back(last_without.ms);
    }
    double mw = Median(with);
    worst_budgeted_ms = std::max(worst_budgeted_ms,
                                 *std::max_element(with.begin(), with.end()));
    std::printf(
        "%-5s %-26s budget: %8.2f ms %-8s work %9llu | none: %8.2f ms, "
        "%llu leaves, work %llu\n",
        name, text.c_str(), mw, last_with.refused ? "REFUSED" : "ok",
        static_cast<unsigned long long>(last_with.used), Median(without),
        static_cast<unsigned long long>(last_without.leaves),
        static_cast<unsigned long long>(last_without.used));
  }
}

int Main() {
  const int repeat = std::max(1, absl::GetFlag(FLAGS_repeat));
  Tree::Options options;
  options.max_nodes = 100000000;
  auto build = [&](const char* name, auto&& fill) {
    auto tree = std::make_unique<Tree>(options);
    Clock::time_point t0 = Clock::now();
    fill(tree.get());
    std::printf("%s: %zu nodes, %zu leaves, built in %.1f s\n", name,
                tree->node_count(), tree->leaf_count(),
                std::chrono::duration<double>(Clock::now() - t0).count());
    return tree;
  };
  {
    auto tree = build("deep", [](Tree* t) { BuildDeep(t); });
    Measure("deep", *tree,
            {"**,**,**,**", "deep,**,**,**,**", "**,b1,**,b0,**,zz",
             "**,*b*1*,**,*0*,**", "deep,*,*,*,*,*,*,*,*", "**"},
            repeat);
  }
  {
    const int64_t n = absl::GetFlag(FLAGS_wide);
    auto tree = build("wide", [n](Tree* t) { BuildWide(t, n); });
    Measure("wide", *tree,
            {"wide,**,**,**,**", "**,*w*9*9*9*x", "wide,w42", "*,*"}, repeat);
  }
  if (const int64_t n = absl::GetFlag(FLAGS_big); n > 0) {
    auto tree = build("big", [n](Tree* t) { BuildBig(t, n); });
    Measure("big", *tree, {"**,**,**,**", "big,**,nomatch", "big,*,*,l7", "**"},
            repeat);
  }
  std::printf("RESULT worst_budgeted_ms=%.2f\n", worst_budgeted_ms);
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return canopy::bench::Main();
}
