#include "server/cluster/push_split.h"

#include <utility>

#include "absl/strings/string_view.h"
#include "canopy/key.h"

namespace canopy {
namespace {

// An owner for ops that go to every shard: a unit or a marker on a node
// above the shard depth (its descendants are on every shard).
constexpr size_t kEvery = static_cast<size_t>(-2);

// The owner of a unit or marker on the node at `path`.
size_t OwnerOfMark(const Ring& ring, absl::Span<const absl::string_view> path) {
  return path.size() < ring.depth() ? kEvery : ring.OwnerOfSegments(path);
}

// Walks a push's ops with the path they stand at, calling
// visit(op, depth, owner) for every op that writes or marks a node, where owner
// is the shard that owns that node (-1 for ops that belong to no key: time;
// kEvery for marks above the shard depth).
template <class Visit>
void Walk(const Push& push, const Ring& ring, Visit visit) {
  KeySegments path;
  path.reserve(kMaxSegments);
  for (const PushOp& op : push.ops) {
    switch (op.kind) {
      case PushOp::Kind::kEnter:
        path.push_back(op.name);
        visit(op, path.size(), static_cast<size_t>(-1));
        break;
      case PushOp::Kind::kLeave:
        path.resize(path.size() - op.count);
        visit(op, path.size(), static_cast<size_t>(-1));
        break;
      case PushOp::Kind::kSample:
      case PushOp::Kind::kText:
      case PushOp::Kind::kSketch: {
        path.push_back(op.name);
        const size_t owner = ring.OwnerOfSegments(path);
        path.pop_back();
        visit(op, path.size(), owner);
        break;
      }
      case PushOp::Kind::kMarker:
      case PushOp::Kind::kUnit:
        visit(op, path.size(), OwnerOfMark(ring, path));
        break;
      case PushOp::Kind::kTime:
        visit(op, path.size(), static_cast<size_t>(-1));
        break;
    }
  }
}

}  // namespace

std::vector<bool> OwnersOfPush(const Push& push, const Ring& ring) {
  std::vector<bool> owners(ring.shards().size(), false);
  auto own = [&](size_t owner) {
    if (owner == kEvery) owners.assign(owners.size(), true);
    if (owner < owners.size()) owners[owner] = true;
  };
  Walk(push, ring, [&](const PushOp&, size_t, size_t owner) { own(owner); });
  for (const Push::KeyMarker& km : push.key_markers) {
    own(OwnerOfMark(ring, km.key));
  }
  for (const Push::KeyUnit& ku : push.key_units) {
    own(OwnerOfMark(ring, ku.key));
  }
  return owners;
}

void KeepOwned(Push* push, const Ring& ring, size_t owner) {
  std::vector<PushOp> kept;
  kept.reserve(push->ops.size());
  // The enters of the current path, and how many of them are emitted.
  std::vector<const PushOp*> enters;
  size_t emitted = 0;
  size_t leaves = 0;
  Walk(*push, ring, [&](const PushOp& op, size_t depth, size_t who) {
    switch (op.kind) {
      case PushOp::Kind::kEnter:
        enters.push_back(&op);
        return;
      case PushOp::Kind::kLeave:
        enters.resize(depth);
        if (emitted > depth) {
          PushOp leave(PushOp::Kind::kLeave);
          leave.count = static_cast<uint32_t>(emitted - depth);
          kept.push_back(leave);
          emitted = depth;
        }
        return;
      case PushOp::Kind::kTime:
        kept.push_back(op);
        return;
      default:
        break;
    }
    if (who != owner && who != kEvery) return;
    while (emitted < depth) kept.push_back(*enters[emitted++]);
    kept.push_back(op);
    if (op.kind == PushOp::Kind::kSample || op.kind == PushOp::Kind::kText) {
      ++leaves;
    }
  });
  if (emitted > 0) {
    PushOp leave(PushOp::Kind::kLeave);
    leave.count = static_cast<uint32_t>(emitted);
    kept.push_back(leave);
  }
  push->ops = std::move(kept);
  std::vector<Push::KeyMarker> markers;
  auto mine = [&](const KeySegments& key) {
    const size_t who = OwnerOfMark(ring, key);
    return who == owner || who == kEvery;
  };
  for (Push::KeyMarker& km : push->key_markers) {
    if (mine(km.key)) markers.push_back(km);
  }
  push->key_markers = std::move(markers);
  std::vector<Push::KeyUnit> units;
  for (Push::KeyUnit& ku : push->key_units) {
    if (mine(ku.key)) units.push_back(ku);
  }
  push->key_units = std::move(units);
  push->leaves = leaves;
}

}  // namespace canopy
