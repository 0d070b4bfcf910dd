// Snapshots of the live tree (Tree::Snapshot, Tree::Restore): every node
// with its value, open window, action, markers, unit, sketch and
// HyperLogLog, and the seq, as bytes that canopyd writes on a clean stop (and
// periodically) and reads back at start. The format is versioned
// (kSnapshotVersion) and must keep reading the snapshots older builds wrote.
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/coding.h"
#include "canopy/tree.h"
#include "canopy/unit.h"

namespace canopy {
namespace {

constexpr char kSnapshotMagic[] = "CNPYTREE";
// Version 2 added units (flag 16 and its text after the extra part); a
// version 1 snapshot reads as one without units.
constexpr uint32_t kSnapshotVersion = 2;
// Integers are varints, doubles the 8 bytes of their bits little-endian
// (include/canopy/coding.h; version 1 wrote them with memcpy, the same
// bytes on the little-endian machines canopyd runs on), names and blobs
// length-prefixed.

}  // namespace

void Tree::Snapshot(
    std::string* out,
    const std::function<void(const std::string&)>& spill) const {
  constexpr size_t kSpillBytes = 4 << 20;
  out->clear();
  out->append(kSnapshotMagic, 8);
  PutVarint64(out, kSnapshotVersion);
  PutVarint64(out, seq_);
  PutVarint64(out, tombstone_floor_);
  PutVarint64(out, options_.step_seconds);
  // Pre-order, each node with its depth; children in any order.
  struct Item {
    const Node* node;
    uint32_t depth;
  };
  std::vector<Item> todo;
  if (root_->children_) {
    for (Node* c : *root_->children_) todo.push_back({c, 1});
  }
  uint64_t written = 0;
  while (!todo.empty()) {
    Item it = todo.back();
    todo.pop_back();
    const Node* n = it.node;
    ++written;
    PutVarint64(out, it.depth);
    PutLengthPrefixed(out, n->name());
    uint8_t flags = (n->has_value_ ? 1 : 0) | (n->is_text_ ? 2 : 0) |
                    (n->flushed_ ? 4 : 0) | (n->extra_ ? 8 : 0) |
                    (n->extra_ && n->extra_->unit ? 16 : 0);
    out->push_back(static_cast<char>(flags));
    out->push_back(static_cast<char>(n->own_action_));
    if (n->has_value_) {
      PutVarint64(out, n->seq_);
      PutVarint64(out, n->cur_.index);
      PutVarint64(out, n->cur_.count);
      PutDouble(out, n->cur_.sum);
      PutDouble(out, n->cur_.min);
      PutDouble(out, n->cur_.max);
      PutDouble(out, n->cur_.last);
      PutVarint64(out, n->prev_index_);
      PutDouble(out, n->prev_);
      PutDouble(out, n->total_);
    }
    if (n->extra_) {
      PutLengthPrefixed(out, n->extra_->text);
      PutVarint64(out, n->extra_->markers.size());
      for (const Marker& m : n->extra_->markers) {
        PutVarint64(out, static_cast<uint64_t>(m.time));
        PutLengthPrefixed(out, m.text);
      }
      std::string blob;
      if (n->extra_->sketch) n->extra_->sketch->Serialize(&blob);
      PutLengthPrefixed(out, blob);
      blob.clear();
      if (n->extra_->hll) n->extra_->hll->Serialize(&blob);
      PutLengthPrefixed(out, blob);
      if (n->extra_->unit) PutLengthPrefixed(out, *n->extra_->unit);
    }
    if (n->children_) {
      for (Node* c : *n->children_) {
        todo.push_back({c, it.depth + 1});
      }
    }
    if (spill && out->size() >= kSpillBytes) {
      spill(*out);
      out->clear();
    }
  }
  // The end: depth 0 and the number of nodes, so a cut file is refused.
  PutVarint64(out, 0);
  PutVarint64(out, written);
  if (spill) {
    spill(*out);
    out->clear();
  }
}

absl::Status Tree::Restore(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("unreadable snapshot: ", what));
  };
  if (bytes.size() < 8 ||
      bytes.substr(0, 8) != absl::string_view(kSnapshotMagic, 8)) {
    return bad("not a canopy snapshot");
  }
  absl::string_view in = bytes.substr(8);
  uint64_t version, seq, floor, step;
  if (!GetVarint64(&in, &version) || version < 1 ||
      version > kSnapshotVersion) {
    return bad("unknown version");
  }
  if (!GetVarint64(&in, &seq) || !GetVarint64(&in, &floor) ||
      !GetVarint64(&in, &step)) {
    return bad("truncated header");
  }
  // Build into a fresh tree, then take its content: all or nothing.
  Options o = options_;
  Tree fresh(o);
  std::vector<Node*> path{fresh.root_};
  uint64_t nodes = 0;
  bool ended = false;
  while (!in.empty()) {
    uint64_t depth;
    absl::string_view name;
    if (!GetVarint64(&in, &depth)) return bad("truncated node");
    if (depth == 0) {
      uint64_t count;
      if (!GetVarint64(&in, &count) || count != nodes || !in.empty()) {
        return bad("bad end");
      }
      ended = true;
      break;
    }
    ++nodes;
    if (!GetLengthPrefixed(&in, &name)) return bad("truncated node");
    if (depth == 0 || depth > path.size() || depth > kMaxSegments ||
        !ValidateSegment(name).ok()) {
      return bad("bad node");
    }
    path.resize(depth);
    bool created = false;
    Node* n = fresh.Child(path.back(), name, &created);
    if (!created) return bad("duplicate node");
    path.push_back(n);
    {
      // Flags and action were written as single bytes below 0x80, which
      // read back as one-byte varints.
      uint64_t f, a;
      if (!GetVarint64(&in, &f) || !GetVarint64(&in, &a))
        return bad("truncated node");
      uint8_t flags = static_cast<uint8_t>(f);
      if (a > static_cast<uint64_t>(Action::kSet)) return bad("bad action");
      n->own_action_ = static_cast<Action>(a);
      if (flags & 1) {
        uint64_t nseq, index, count, prev_index;
        Window& w = n->cur_;
        if (!GetVarint64(&in, &nseq) || !GetVarint64(&in, &index) ||
            !GetVarint64(&in, &count) || !GetDouble(&in, &w.sum) ||
            !GetDouble(&in, &w.min) || !GetDouble(&in, &w.max) ||
            !GetDouble(&in, &w.last) || !GetVarint64(&in, &prev_index) ||
            !GetDouble(&in, &n->prev_) || !GetDouble(&in, &n->total_) ||
            index > UINT32_MAX || count > UINT32_MAX ||
            prev_index > UINT32_MAX || nseq > seq) {
          return bad("truncated value");
        }
        w.index = static_cast<uint32_t>(index);
        w.count = static_cast<uint32_t>(count);
        n->prev_index_ = static_cast<uint32_t>(prev_index);
        n->has_value_ = true;
        n->is_text_ = (flags & 2) != 0;
        n->flushed_ = (flags & 4) != 0;
        n->seq_ = nseq;
        ++fresh.leaf_count_;
        if (!n->flushed_ && w.count > 0) {
          // Maybe already in history (a crash after the snapshot).
          n->replayed_ = true;
          n->listed_ = true;
          fresh.open_windows_.push_back(n);
        }
      }
      if (flags & 8) {
        Node::Extra* e = n->MutableExtra();
        absl::string_view text;
        uint64_t markers;
        if (!GetLengthPrefixed(&in, &text) || !GetVarint64(&in, &markers) ||
            markers > Tree::kMaxMarkersPerNode) {
          return bad("truncated extra");
        }
        e->text = std::string(text);
        for (uint64_t i = 0; i < markers; ++i) {
          uint64_t t;
          absl::string_view mt;
          if (!GetVarint64(&in, &t) || !GetLengthPrefixed(&in, &mt))
            return bad("truncated marker");
          e->markers.push_back(
              Marker{static_cast<int64_t>(t), std::string(mt)});
        }
        absl::string_view sk, hll;
        if (!GetLengthPrefixed(&in, &sk) || !GetLengthPrefixed(&in, &hll))
          return bad("truncated summary");
        if (!sk.empty()) {
          absl::StatusOr<Sketch> s = Sketch::Deserialize(sk);
          if (!s.ok()) return bad("bad sketch");
          e->sketch = std::make_unique<Sketch>(std::move(*s));
        }
        if (!hll.empty()) {
          absl::StatusOr<Hll> h = Hll::Deserialize(hll);
          if (!h.ok()) return bad("bad hyperloglog");
          e->hll = std::make_unique<Hll>(std::move(*h));
        }
        if (flags & 16) {
          absl::string_view unit;
          if (version < 2 || !GetLengthPrefixed(&in, &unit) ||
              !ValidateUnit(unit).ok()) {
            return bad("bad unit");
          }
          SetUnit(n, unit);
        }
      } else if (flags & 16) {
        return bad("unit without extra");
      }
    }
  }
  if (!ended) return bad("truncated (no end)");
  // Sequence numbers: every node's max-seq from its subtree.
  fresh.seq_ = seq;
  fresh.tombstone_floor_ = floor;
  std::vector<Node*> order;
  order.push_back(fresh.root_);
  for (size_t i = 0; i < order.size(); ++i) {
    Node* n = order[i];
    n->max_seq_ = n->seq_;
    if (n->children_) {
      for (Node* c : *n->children_) order.push_back(c);
    }
  }
  for (size_t i = order.size(); i-- > 1;) {
    Node* n = order[i];
    n->parent_->max_seq_ = std::max(n->parent_->max_seq_, n->max_seq_);
  }
  // A cursor from before the snapshot may miss removals after it.
  fresh.tombstone_floor_ = std::max(floor, seq);
  // Take the content: the nodes with the pool they live in (the old ones
  // go to `fresh`, which frees them into their own pool).
  std::swap(root_, fresh.root_);
  std::swap(pool_, fresh.pool_);
  std::swap(seq_, fresh.seq_);
  std::swap(node_count_, fresh.node_count_);
  std::swap(leaf_count_, fresh.leaf_count_);
  std::swap(names_, fresh.names_);
  std::swap(name_blocks_, fresh.name_blocks_);
  std::swap(block_used_, fresh.block_used_);
  std::swap(interned_bytes_, fresh.interned_bytes_);
  std::swap(tombstones_, fresh.tombstones_);
  std::swap(tombstone_floor_, fresh.tombstone_floor_);
  std::swap(open_windows_, fresh.open_windows_);
  close_read_ = close_keep_ = 0;  // a CloseWindows pass stopped is moot
  late_.clear();
  closed_.clear();
  key_cache_.clear();
  ++removal_epoch_;
  return absl::OkStatus();
}

}  // namespace canopy