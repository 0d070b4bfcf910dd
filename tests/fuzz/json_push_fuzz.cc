// Fuzzes the JSON push parser and replays what it accepts into a small tree:
// no input may crash either, a rejected push must leave the tree untouched,
// and an accepted one must respect max_nodes; every unit it states is one
// ValidateUnit accepts (or "": removed), and every leaf's unit formats.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "canopy/json_push.h"
#include "canopy/tree.h"
#include "canopy/unit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static canopy::Tree* tree = [] {
    canopy::Tree::Options o;
    o.max_nodes = 2000;
    return new canopy::Tree(o);
  }();
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  canopy::Push push;
  canopy::TextPosition where;
  uint64_t seq = tree->seq();
  absl::Status s = canopy::ParseJsonPush(json, &push, &where);
  if (!s.ok()) {
    if (where.line == 0) abort();  // every error has a position
    return 0;
  }
  for (const canopy::PushOp& op : push.ops) {
    if (op.kind == canopy::PushOp::Kind::kUnit && !op.text.empty() &&
        !canopy::ValidateUnit(op.text).ok()) {
      abort();
    }
  }
  for (const canopy::Push::KeyUnit& ku : push.key_units) {
    if (!ku.unit.empty() && !canopy::ValidateUnit(ku.unit).ok()) abort();
  }
  size_t nodes = tree->node_count();
  absl::Status applied = tree->Apply(push, 1700000000);
  if (!applied.ok() && (tree->node_count() != nodes || tree->seq() != seq)) {
    abort();  // a refused push changed the tree
  }
  if (tree->node_count() > 2000) abort();
  size_t n = 0;
  tree->Collect(canopy::Pattern::All(), seq, [&](const canopy::LeafView& l) {
    const canopy::LiveValue v = l.node->Live(l.action, 1700000000, 10);
    const absl::string_view unit =
        canopy::LeafUnit(l.node->StatedUnit(), l.key, l.action);
    if (!unit.empty() && !canopy::ValidateUnit(unit).ok()) abort();
    (void)canopy::FormatWithUnit(v.value, unit);
    return ++n < 100;
  });
  if (tree->node_count() > 1500) {
    // Start over now and then so the tree keeps accepting.
    delete tree;
    canopy::Tree::Options o;
    o.max_nodes = 2000;
    tree = new canopy::Tree(o);
  }
  return 0;
}
