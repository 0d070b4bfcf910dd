// Fuzzes the line ingest (server/ingest.cc: the fast paths, the name index
// and the batched apply) against a plain reference: the full parsers and
// Tree::AddSampleByKey, one line at a time. Both trees must end up the same.
//
// The input is a run of texts separated by NUL bytes, each given to both
// as one datagram (one second apart, so that windows close and samples
// fall late). A text "!rm KEY" removes KEY from both trees instead, so
// that the index must let go of freed leaves (ASan catches a stale one).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "canopy/graphite.h"
#include "canopy/json_push.h"
#include "canopy/key.h"
#include "canopy/statsd.h"
#include "canopy/tree.h"
#include "server/ingest/line_ingest.h"

namespace {

using canopy::Action;
using canopy::LineSample;
using canopy::Tree;

// What the ingest does with one line, without its fast paths: the full
// parsers, then one AddSampleByKey a sample.
size_t ApplyReference(Tree* tree, absl::string_view line, int64_t now) {
  size_t accepted = 0;
  // A JSON line starts with '{' or '[' after any blanks.
  const size_t first = line.find_first_not_of(" \t\r\n");
  if (first != absl::string_view::npos &&
      (line[first] == '{' || line[first] == '[')) {
    canopy::Push push;
    canopy::TextPosition where;
    if (!canopy::ParseJsonPush(line, &push, &where).ok()) return 0;
    Tree::ApplyStats applied;
    if (!tree->Apply(push, now, &applied).ok()) return 0;
    return applied.leaves;
  }
  if (canopy::LooksLikeStatsd(line)) {
    canopy::ParseStatsd(
        line,
        [&](const canopy::StatsdRecord& r) {
          LineSample s;
          s.value = r.value;
          switch (r.type) {
            case canopy::StatsdType::kCounter:
              s.action = Action::kAdd;
              s.weight = 1 / r.sample_rate;
              break;
            case canopy::StatsdType::kGauge:
              s.action = Action::kLast;
              s.relative = r.relative;
              break;
            case canopy::StatsdType::kTimer:
            case canopy::StatsdType::kHistogram:
              s.action = Action::kTimer;
              s.weight = 1 / r.sample_rate;
              break;
            case canopy::StatsdType::kSet:
              s.action = Action::kSet;
              s.member = r.set_member;
              break;
          }
          accepted += tree->AddSampleByKey(r.key, s, now).ok();
        },
        [](const canopy::StatsdError&) {});
    return accepted;
  }
  canopy::ParseGraphite(
      line,
      [&](const canopy::GraphiteRecord& r) {
        LineSample s;
        s.value = r.value;
        if (r.timestamp) s.time = *r.timestamp;
        accepted += tree->AddSampleByKey(r.key, s, now).ok();
      },
      [](const canopy::GraphiteError&) {});
  return accepted;
}

struct Leaf {
  Action action;
  canopy::Window window;
  double total;
  double value;
  double sketch_count;
  double sketch_sum;
};

std::map<std::string, Leaf> Leaves(const Tree& tree, int64_t now) {
  std::map<std::string, Leaf> out;
  const canopy::Pattern all = *canopy::Pattern::Parse("*");
  tree.Collect(all, 0, [&](const canopy::LeafView& l) {
    const canopy::LiveValue live =
        l.node->Live(l.action, now, tree.step_seconds());
    Leaf leaf{l.action,
              l.node->window(),
              l.node->total(),
              live.value,
              live.sketch ? live.sketch->count() : 0,
              live.sketch ? live.sketch->sum() : 0};
    out.emplace(std::string(l.key), leaf);
    return true;
  });
  return out;
}

bool Same(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  Tree::Options options;
  options.history = true;
  options.max_nodes = 2000;
  Tree fast(options), reference(options);
  canopy::Stats stats;
  canopy::LineIngest ingest(&fast, &stats);
  int64_t now = 1700000000;
  size_t fast_accepted = 0, reference_accepted = 0;
  for (absl::string_view text : absl::StrSplit(input, '\0')) {
    ++now;
    if (absl::ConsumePrefix(&text, "!rm ")) {
      auto key = canopy::SplitKey(text);
      if (!key.ok()) continue;
      const bool a = fast.Remove(*key).ok();
      const bool b = reference.Remove(*key).ok();
      if (a != b) std::abort();
      continue;
    }
    fast_accepted += ingest.ApplyLines(text, "udp", now).accepted;
    reference.BeginChange();
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty())
        reference_accepted += ApplyReference(&reference, line, now);
    }
  }
  if (fast_accepted != reference_accepted) std::abort();
  const auto a = Leaves(fast, now);
  const auto b = Leaves(reference, now);
  if (a.size() != b.size()) std::abort();
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    const Leaf& x = i->second;
    const Leaf& y = j->second;
    if (i->first != j->first || x.action != y.action ||
        x.window.index != y.window.index || x.window.count != y.window.count ||
        !Same(x.window.sum, y.window.sum) ||
        !Same(x.window.min, y.window.min) ||
        !Same(x.window.max, y.window.max) ||
        !Same(x.window.last, y.window.last) || !Same(x.total, y.total) ||
        !Same(x.value, y.value) || !Same(x.sketch_count, y.sketch_count) ||
        !Same(x.sketch_sum, y.sketch_sum)) {
      std::abort();
    }
  }
  return 0;
}
