// Snapshots of the live tree (Tree::Snapshot, Tree::Restore): every node
// with its value, open window, action, markers, sketch and HyperLogLog, and
// the seq, as bytes that canopyd writes on a clean stop (and periodically)
// and reads back at start. The format is versioned (kSnapshotVersion) and
// must keep reading the snapshots older builds wrote.
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/tree.h"

namespace canopy {
namespace {

constexpr char kSnapshotMagic[] = "CNPYTREE";
constexpr uint32_t kSnapshotVersion = 1;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytes(std::string* out, absl::string_view s) {
  PutVarint(out, s.size());
  out->append(s.data(), s.size());
}

void PutF64(std::string* out, double v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out->append(b, 8);
}

// Reads what PutVarint/PutBytes/PutF64 wrote; every read checks bounds.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Bytes(absl::string_view* s) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size()) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool F64(double* v) {
    if (in_.size() < 8) return false;
    std::memcpy(v, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
};

}  // namespace

void Tree::Snapshot(std::string* out) const {
  out->clear();
  out->append(kSnapshotMagic, 8);
  PutVarint(out, kSnapshotVersion);
  PutVarint(out, seq_);
  PutVarint(out, tombstone_floor_);
  PutVarint(out, options_.step_seconds);
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
    PutVarint(out, it.depth);
    PutBytes(out, n->name());
    uint8_t flags = (n->has_value_ ? 1 : 0) | (n->is_text_ ? 2 : 0) |
                    (n->flushed_ ? 4 : 0) | (n->extra_ ? 8 : 0);
    out->push_back(static_cast<char>(flags));
    out->push_back(static_cast<char>(n->own_action_));
    if (n->has_value_) {
      PutVarint(out, n->seq_);
      PutVarint(out, n->cur_.index);
      PutVarint(out, n->cur_.count);
      PutF64(out, n->cur_.sum);
      PutF64(out, n->cur_.min);
      PutF64(out, n->cur_.max);
      PutF64(out, n->cur_.last);
      PutVarint(out, n->prev_index_);
      PutF64(out, n->prev_);
      PutF64(out, n->total_);
    }
    if (n->extra_) {
      PutBytes(out, n->extra_->text);
      PutVarint(out, n->extra_->markers.size());
      for (const Marker& m : n->extra_->markers) {
        PutVarint(out, static_cast<uint64_t>(m.time));
        PutBytes(out, m.text);
      }
      std::string blob;
      if (n->extra_->sketch) n->extra_->sketch->Serialize(&blob);
      PutBytes(out, blob);
      blob.clear();
      if (n->extra_->hll) n->extra_->hll->Serialize(&blob);
      PutBytes(out, blob);
    }
    if (n->children_) {
      for (Node* c : *n->children_) {
        todo.push_back({c, it.depth + 1});
      }
    }
  }
  // The end: depth 0 and the number of nodes, so a cut file is refused.
  PutVarint(out, 0);
  PutVarint(out, written);
}

absl::Status Tree::Restore(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("unreadable snapshot: ", what));
  };
  if (bytes.size() < 8 ||
      bytes.substr(0, 8) != absl::string_view(kSnapshotMagic, 8)) {
    return bad("not a canopy snapshot");
  }
  Reader r(bytes.substr(8));
  uint64_t version, seq, floor, step;
  if (!r.Varint(&version) || version != kSnapshotVersion) {
    return bad("unknown version");
  }
  if (!r.Varint(&seq) || !r.Varint(&floor) || !r.Varint(&step)) {
    return bad("truncated header");
  }
  // Build into a fresh tree, then take its content: all or nothing.
  Options o = options_;
  Tree fresh(o);
  std::vector<Node*> path{fresh.root_};
  uint64_t nodes = 0;
  bool ended = false;
  while (!r.done()) {
    uint64_t depth;
    absl::string_view name;
    if (!r.Varint(&depth)) return bad("truncated node");
    if (depth == 0) {
      uint64_t count;
      if (!r.Varint(&count) || count != nodes || !r.done()) {
        return bad("bad end");
      }
      ended = true;
      break;
    }
    ++nodes;
    if (!r.Bytes(&name)) return bad("truncated node");
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
      if (!r.Varint(&f) || !r.Varint(&a)) return bad("truncated node");
      uint8_t flags = static_cast<uint8_t>(f);
      if (a > static_cast<uint64_t>(Action::kSet)) return bad("bad action");
      n->own_action_ = static_cast<Action>(a);
      if (flags & 1) {
        uint64_t nseq, index, count, prev_index;
        Window& w = n->cur_;
        if (!r.Varint(&nseq) || !r.Varint(&index) || !r.Varint(&count) ||
            !r.F64(&w.sum) || !r.F64(&w.min) || !r.F64(&w.max) ||
            !r.F64(&w.last) || !r.Varint(&prev_index) || !r.F64(&n->prev_) ||
            !r.F64(&n->total_) || index > UINT32_MAX || count > UINT32_MAX ||
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
        if (!r.Bytes(&text) || !r.Varint(&markers) ||
            markers > Tree::kMaxMarkersPerNode) {
          return bad("truncated extra");
        }
        e->text = std::string(text);
        for (uint64_t i = 0; i < markers; ++i) {
          uint64_t t;
          absl::string_view mt;
          if (!r.Varint(&t) || !r.Bytes(&mt)) return bad("truncated marker");
          e->markers.push_back(
              Marker{static_cast<int64_t>(t), std::string(mt)});
        }
        absl::string_view sk, hll;
        if (!r.Bytes(&sk) || !r.Bytes(&hll)) return bad("truncated summary");
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
  late_.clear();
  closed_.clear();
  key_cache_.clear();
  ++removal_epoch_;
  return absl::OkStatus();
}

}  // namespace canopy