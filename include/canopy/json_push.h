// The native push format: a JSON tree, parsed into a flat list of tree
// operations that Tree::Apply replays.
//
// Parsing validates everything a push can get wrong (syntax, keys, actions,
// values) before the tree is touched, so a push is applied whole or not at
// all. See API.md, "Pushing data", for the format:
//
//   canopy::Push push;
//   canopy::TextPosition where;
//   absl::Status s = canopy::ParseJsonPush(
//       R"([{"cpu": {"h1": {"idle": 32}}, "defaultaction": "average"}])",
//       &push, &where);
//   if (!s.ok()) { /* s.message(), where.line, where.column */ }
//   tree.Apply(push, now, &stats);
//
// Rules beyond API.md (also in docs/PROTOCOLS.md):
// - "defaultaction", "marker" and "unit" inside an object apply to the node
//   that object stands for. At the top level, where the object stands for the
//   root, they apply to each node the object's other keys name, so that a
//   push never changes the action of the whole tree.
// - "time" is honoured only in a top-level object; elsewhere it is a plain
//   segment name. Like "defaultaction", "marker" and "unit", it means the same
//   wherever it stands among the object's keys: its kTime op is placed
//   before the object's first op.
// - "unit" is a string (canopy/unit.h ValidateUnit) or null, which removes
//   the node's own unit.
// - true, false and null are not values; arrays hold numbers (or numeric
//   strings) only, except a top-level list of objects.
//
// A Push owns the bytes its operations point into. Thread-compatible.
#ifndef CANOPY_JSON_PUSH_H_
#define CANOPY_JSON_PUSH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/action.h"
#include "canopy/key.h"

namespace canopy {

inline constexpr size_t kMaxTextBytes = 4096;
inline constexpr size_t kMaxMarkerBytes = 256;

// A 1-based line and column in a text; 0 when unknown.
struct TextPosition {
  size_t line = 0;
  size_t column = 0;
};

// The line and column of byte `offset` in `text`.
TextPosition PositionAt(absl::string_view text, size_t offset);

// One step of a push, replayed in order against a stack of nodes that starts
// at the root.
struct PushOp {
  enum class Kind : uint8_t {
    kEnter,   // push child `name` of the top node (created if missing)
    kLeave,   // pop `count` nodes
    kSample,  // add sample `value` to child `name` of the top node
    kText,    // set child `name` of the top node to the text `text`
    kMarker,  // attach marker `text` to the top node
    kTime,    // date the following samples at epoch second `value` (0: now)
    kUnit,    // set the top node's unit to `text` ("": remove it)
    // Set child `name` of the top node, a timer, to the distribution
    // `text` (Sketch::Serialize's bytes). Never parsed from JSON: a cluster's
    // replica of an owner's timer (server/cluster/replicas.cc).
    kSketch,
  };
  explicit PushOp(Kind k) : kind(k) {}
  Kind kind;
  // kEnter, kSample, kText: the action to give that node first, if any.
  Action action = Action::kInherit;
  uint32_t count = 0;
  absl::string_view name;
  absl::string_view text;
  double value = 0;
};

struct Push {
  std::vector<PushOp> ops;
  // Top-level markers: each applies to every key in `marker_keys`.
  struct KeyMarker {
    KeySegments key;
    absl::string_view text;
    int64_t time = 0;  // its object's "time"; 0: when applied
  };
  std::vector<KeyMarker> key_markers;
  // Top-level units: each applies to the node `key` names ("": removes).
  struct KeyUnit {
    KeySegments key;
    absl::string_view unit;
  };
  std::vector<KeyUnit> key_units;
  size_t leaves = 0;     // samples and texts written
  size_t node_refs = 0;  // an upper bound on the nodes Apply may create

  // The parsed bytes; the views above point into them.
  std::unique_ptr<char[]> storage;
};

// Parses `json` into `out` (which is reset first). On error returns
// InvalidArgument with a message and sets `*where` to the position.
absl::Status ParseJsonPush(absl::string_view json, Push* out,
                           TextPosition* where);

}  // namespace canopy

#endif  // CANOPY_JSON_PUSH_H_
