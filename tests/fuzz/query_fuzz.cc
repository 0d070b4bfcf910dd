// Fuzzes the tree's queries, what /get, /pull and /metrics?key= answer
// from: builds a small tree from the input and runs /get-style pattern
// queries on it. A query must answer exactly the leaves its pattern selects,
// in key order (checked against Pattern::Selects on every leaf), and its
// work must stay within nodes x pattern length (plus the sorting of
// children), so a pattern that blows up is a failure here, not a 30 s
// freeze of canopyd (issue 18). A wall-clock bound per input backs it up.
//
// Input: one line per item. "?PATTERN" is a query (at most 8), "-KEY"
// removes a key (its tombstones feed CollectRemoved), "#N" sets the work
// budget of a second, budgeted run of each query; any other line is a key
// that gets a sample.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "canopy/key.h"
#include "canopy/tree.h"

namespace {

constexpr int64_t kNow = 1700000000;

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "query_fuzz: %s: %s\n", what, detail.c_str());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using canopy::Pattern;
  const auto started = std::chrono::steady_clock::now();
  std::string text(reinterpret_cast<const char*>(data), size);
  canopy::Tree::Options options;
  options.max_nodes = 20000;
  canopy::Tree tree(options);
  std::vector<Pattern> patterns;
  uint64_t small_budget = 50;
  size_t keys = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty() && line[0] == '?') {
      absl::StatusOr<Pattern> p = Pattern::Parse(line.substr(1));
      if (p.ok() && patterns.size() < 8) patterns.push_back(std::move(*p));
    } else if (!line.empty() && line[0] == '-') {
      absl::StatusOr<canopy::KeySegments> k = canopy::SplitKey(line.substr(1));
      if (k.ok() && !k->empty()) (void)tree.Remove(*k);
    } else if (!line.empty() && line[0] == '#') {
      (void)absl::SimpleAtoi(line.substr(1), &small_budget);
    } else if (keys < 2000) {
      absl::StatusOr<canopy::KeySegments> k = canopy::SplitKey(line);
      if (!k.ok() || k->empty()) continue;
      ++keys;
      tree.BeginChange();
      (void)tree.AddSample(*k, canopy::Action::kLast, 1, kNow);
    }
  }
  // Every leaf, in key order: the reference.
  std::vector<std::string> all;
  tree.Collect(Pattern::All(), 0, [&](const canopy::LeafView& leaf) {
    all.emplace_back(leaf.key);
    return true;
  });
  for (const Pattern& p : patterns) {
    std::vector<std::string> expected;
    for (const std::string& key : all) {
      absl::StatusOr<canopy::KeySegments> segs = canopy::SplitKey(key);
      if (segs.ok() && p.Selects(*segs)) expected.push_back(key);
    }
    canopy::QueryBudget ample(canopy::QueryBudget::Limits{
        std::numeric_limits<uint64_t>::max(), absl::InfiniteDuration()});
    std::vector<std::string> got;
    tree.Collect(
        p, 0,
        [&](const canopy::LeafView& leaf) {
          got.emplace_back(leaf.key);
          return true;
        },
        &ample);
    if (got != expected) Fail("wrong leaves for", p.text());
    // Linear work: each node stepped once (at most the pattern's positions)
    // and its children sorted once (n log2 n, at most 64 n).
    const uint64_t bound =
        tree.node_count() * (2 * (p.segments().size() + 1) + 64) + 64;
    if (ample.used() > bound) Fail("work past nodes x pattern for", p.text());
    // Removed keys under the pattern.
    std::vector<std::string> removed;
    tree.CollectRemoved(
        p, 0, [&](absl::string_view key) { removed.emplace_back(key); },
        &ample);
    // The same walk under a small budget stops, or completes alike.
    canopy::QueryBudget small(canopy::QueryBudget::Limits{small_budget});
    std::vector<std::string> partial;
    bool complete = tree.Collect(
        p, 0,
        [&](const canopy::LeafView& leaf) {
          partial.emplace_back(leaf.key);
          return true;
        },
        &small);
    if (complete == small.exceeded()) Fail("budget state for", p.text());
    if (complete && partial != expected) Fail("budgeted leaves", p.text());
    if (small.exceeded() && small.Refusal().ok()) Fail("no refusal", p.text());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  if (seconds > 5) Fail("an input took seconds", std::to_string(seconds));
  return 0;
}
