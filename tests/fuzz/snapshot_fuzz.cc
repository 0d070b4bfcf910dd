// Fuzzes the tree's snapshots (core/tree_snapshot.cc), the file canopyd
// reads at every start. With the first byte even, the rest is snapshot
// bytes: Restore must refuse what it cannot read without changing the
// tree, and what it takes must snapshot and restore to the same content.
// With the first byte odd, the rest is a JSON push applied to a tree whose
// snapshot must restore to the same content (values, windows, units).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "canopy/json_push.h"
#include "canopy/tree.h"

namespace {

canopy::Tree::Options Small() {
  canopy::Tree::Options o;
  o.max_nodes = 5000;
  return o;
}

// What a tree holds, as text: every leaf's key, seq, window and figures,
// in key order (child order and the tombstone floor are not content).
std::string Content(const canopy::Tree& tree) {
  std::string out;
  tree.Collect(canopy::Pattern::All(), 0, [&](const canopy::LeafView& l) {
    const canopy::Window& w = l.node->window();
    absl::StrAppend(&out, l.key, " ", l.node->seq(), " ", w.index, " ", w.count,
                    " ", w.sum, " ", w.last, " ", l.node->total(), " ",
                    l.node->is_text(), " ", l.node->StatedUnit(), "\n");
    return true;
  });
  absl::StrAppend(&out, "seq ", tree.seq());
  return out;
}

// `tree`'s snapshot restored into a new tree: the same content, and its
// own snapshot the same size and readable again.
void RoundTrip(const canopy::Tree& tree) {
  std::string once;
  tree.Snapshot(&once);
  canopy::Tree again(Small());
  if (!again.Restore(once).ok()) std::abort();
  if (Content(again) != Content(tree)) std::abort();
  std::string twice;
  again.Snapshot(&twice);
  if (twice.size() != once.size()) std::abort();
  canopy::Tree third(Small());
  if (!third.Restore(twice).ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  canopy::Tree tree(Small());
  if ((data[0] & 1) == 0) {
    std::string empty;
    tree.Snapshot(&empty);
    if (!tree.Restore(rest).ok()) {
      std::string after;
      tree.Snapshot(&after);
      if (after != empty) std::abort();  // a refused snapshot changed it
      return 0;
    }
    RoundTrip(tree);
    return 0;
  }
  canopy::Push push;
  canopy::TextPosition where;
  if (!canopy::ParseJsonPush(rest, &push, &where).ok()) return 0;
  if (!tree.Apply(push, 1700000000).ok()) return 0;
  RoundTrip(tree);
  return 0;
}
