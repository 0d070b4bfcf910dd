// The tree itself: its nodes and their names, and how samples change them,
// from a JSON push (Tree::Apply) or a line protocol (Tree::AddSample*), with
// the seqs that record what changed. The rest of Tree lives beside it by
// concern: core/tree_windows.cc (closed windows handed to history),
// core/tree_remove.cc (removal, expiry, tombstones), core/tree_query.cc
// (values and Collect), core/tree_snapshot.cc (snapshots), core/node.cc
// (what a node shows) and core/node_pool.h (the memory nodes live in).
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there.
#include "canopy/tree.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "core/node_pool.h"

namespace canopy {
namespace {

constexpr size_t kNameBlockBytes = 64 * 1024;

}  // namespace

Tree::Tree(Options options)
    : options_(options), pool_(std::make_unique<NodePool>()) {
  if (options_.step_seconds <= 0) options_.step_seconds = 10;
  root_ = NewNode(Intern(""), nullptr);
  root_->own_action_ = Action::kLast;
}

Tree::~Tree() {
  // Delete iteratively so that a deep tree cannot overflow the stack.
  std::vector<Node*> todo{root_};
  while (!todo.empty()) {
    Node* n = todo.back();
    todo.pop_back();
    if (n->children_) {
      for (Node* child : *n->children_) todo.push_back(child);
    }
    FreeNode(n);
  }
}

Node* Tree::NewNode(const char* name, Node* parent) {
  return new (pool_->Allocate()) Node(name, parent);
}

void Tree::FreeNode(Node* node) {
  node->~Node();
  pool_->Free(node);
}

const char* Tree::Intern(absl::string_view name) {
  auto it = names_.find(name);
  if (it != names_.end()) return it->data() - 1;
  size_t need = name.size() + 1;
  if (name_blocks_.empty() || block_used_ + need > kNameBlockBytes) {
    name_blocks_.emplace_back(new char[kNameBlockBytes]);
    block_used_ = 0;
  }
  char* p = name_blocks_.back().get() + block_used_;
  block_used_ += need;
  interned_bytes_ += need;
  p[0] = static_cast<char>(name.size());
  std::memcpy(p + 1, name.data(), name.size());
  names_.insert(absl::string_view(p + 1, name.size()));
  return p;
}

Node* Tree::Child(Node* parent, absl::string_view name, bool* created) {
  if (!parent->children_) {
    parent->children_ = std::make_unique<Node::ChildMap>();
  } else {
    auto it = parent->children_->find(name);
    if (it != parent->children_->end()) return *it;
  }
  Node* child = NewNode(Intern(name), parent);
  parent->children_->insert(child);
  ++node_count_;
  if (created) *created = true;
  if (observer_ != nullptr && observer_->WantsCreates()) {
    observer_->OnNodeCreated(child);
  }
  return child;
}

void Tree::Touch(Node* leaf) {
  leaf->seq_ = seq_;
  Propagate(leaf);
}

void Tree::Propagate(Node* node) {
  for (Node* n = node; n != nullptr && n->max_seq_ != seq_; n = n->parent_) {
    n->max_seq_ = seq_;
    if (n->extra_ && n->extra_->watch && observer_ != nullptr) {
      observer_->OnChange(n->extra_->watch);
    }
  }
}

bool Tree::SampleOpenWindow(Node* leaf, Action action, const LineSample& s,
                            uint32_t w) {
  // What Sample() does in its most common case, without its other cases'
  // tests: a number into the leaf's open window, not late, of an action
  // other than set.
  Window& cur = leaf->cur_;
  if (!leaf->has_value_ || leaf->is_text_ || leaf->flushed_ || cur.index != w ||
      cur.count == 0 || action == Action::kSet ||
      (s.time > 0 && s.time / options_.step_seconds < w)) {
    return false;
  }
  if (RefuseOverflow(leaf, action, s.value, s.weight, s.relative)) {
    return false;  // Sample() refuses it and counts it
  }
  double value = s.value;
  if (s.relative) value += cur.last;
  if (action == Action::kAdd) {
    value *= s.weight;
  } else if (action == Action::kTimer) {
    if (!leaf->extra_ || !leaf->extra_->sketch) return false;
    leaf->extra_->sketch->Add(value, s.weight);
  }
  AddToWindow(leaf, value);
  return true;
}

void Tree::Sample(Node* leaf, Action action, double value, int64_t now,
                  double weight, bool relative, absl::string_view member,
                  int64_t time) {
  if (RefuseOverflow(leaf, action, value, weight, relative)) return;
  const int step = options_.step_seconds;
  uint32_t w = static_cast<uint32_t>(now / step);
  if (relative)
    value += leaf->has_value_ && !leaf->is_text_ ? leaf->cur_.last : 0;
  if (!leaf->has_value_) {
    leaf->has_value_ = true;
    ++leaf_count_;
  }
  if (leaf->is_text_) {
    leaf->is_text_ = false;
    leaf->extra_->text.clear();
    leaf->extra_->text.shrink_to_fit();
  }
  if (time > 0 && time / step < w) {
    uint32_t wt = static_cast<uint32_t>(time / step);
    if (wt > leaf->cur_.index || (wt == leaf->cur_.index && !leaf->flushed_)) {
      // Its window is still open here, or newer than anything the leaf
      // had (history sent with its timestamps, a sender that lags): it
      // goes in there, and that window ends and is handed over in order.
      w = wt;
    } else if (options_.history) {
      AddLateSample(leaf, action, value, weight, member, wt);
      return;
    }
  }
  Window& cur = leaf->cur_;
  if (w == cur.index && leaf->flushed_) {
    // More samples for a window history already has (a clean stop and a
    // restart within one window): collect them as a part of their own,
    // which history merges into the stored one.
    const double last = cur.last;
    OpenWindow(leaf, w);
    cur.last = last;
  }
  if (w > cur.index) {
    if (cur.count > 0) {
      if (options_.history && !leaf->flushed_) EmitWindow(leaf, action);
      leaf->prev_index_ = cur.index;
      leaf->prev_ = cur.sum;
    }
    OpenWindow(leaf, w);
    if (leaf->extra_) {
      if (leaf->extra_->sketch) leaf->extra_->sketch->Clear();
      if (leaf->extra_->hll) leaf->extra_->hll->Clear();
    }
  }
  if (action == Action::kAdd) value *= weight;
  if (action == Action::kTimer) {
    Node::Extra* extra = leaf->MutableExtra();
    if (!extra->sketch) extra->sketch = std::make_unique<Sketch>();
    extra->sketch->Add(value, weight);
  } else if (action == Action::kSet) {
    Node::Extra* extra = leaf->MutableExtra();
    if (!extra->hll) extra->hll = std::make_unique<Hll>();
    if (member.empty()) {
      extra->hll->Add(absl::StrCat(value));
    } else {
      extra->hll->Add(member);
    }
    value = 1;
  }
  AddToWindow(leaf, value);
}

bool Tree::RefuseOverflow(const Node* leaf, Action action, double value,
                          double weight, bool relative) {
  if (action == Action::kSet) return false;  // counts members, not values
  const bool number = leaf->has_value_ && !leaf->is_text_;
  if (relative && number) value += leaf->cur_.last;
  const double counted = action == Action::kAdd ? value * weight : value;
  // Conservative: the open window's sum is tested even when the sample will
  // open a new window (only values near 1.8e308 can tell the difference).
  bool finite = std::isfinite(counted) &&
                (!number || std::isfinite(leaf->cur_.sum + counted));
  if (finite && number && action == Action::kAdd) {
    finite = std::isfinite(leaf->total_ + counted);
  }
  if (finite && action == Action::kTimer && leaf->extra_ &&
      leaf->extra_->sketch) {
    finite = std::isfinite(leaf->extra_->sketch->sum() + value * weight);
  }
  if (finite) return false;
  ++overflow_refused_;
  return true;
}

void Tree::AddToWindow(Node* leaf, double value) {
  Window& cur = leaf->cur_;
  if (cur.count == 0) {
    cur.min = cur.max = value;
  } else {
    cur.min = std::min(cur.min, value);
    cur.max = std::max(cur.max, value);
  }
  ++cur.count;
  cur.sum += value;
  cur.last = value;
  // Only an add leaf shows its total (RefuseOverflow keeps it finite);
  // others' may pass the range unseen: kept finite for a later "add".
  leaf->total_ = std::clamp(leaf->total_ + value, -DBL_MAX, DBL_MAX);
}

void Tree::SetText(Node* leaf, absl::string_view text, int64_t now) {
  leaf->cur_.index = static_cast<uint32_t>(now / options_.step_seconds);
  if (!leaf->has_value_) {
    leaf->has_value_ = true;
    ++leaf_count_;
  }
  leaf->is_text_ = true;
  leaf->MutableExtra()->text.assign(text.data(), text.size());
}

void Tree::SetSketch(Node* leaf, Sketch sketch, int64_t now) {
  leaf->cur_.index = static_cast<uint32_t>(now / options_.step_seconds);
  if (!leaf->has_value_) {
    leaf->has_value_ = true;
    ++leaf_count_;
  }
  Node::Extra* extra = leaf->MutableExtra();
  if (leaf->is_text_) {
    leaf->is_text_ = false;
    extra->text.clear();
    extra->text.shrink_to_fit();
  }
  leaf->cur_.last = sketch.sum() / sketch.count();
  extra->sketch = std::make_unique<Sketch>(std::move(sketch));
}

void Tree::AddMarker(Node* node, absl::string_view text, int64_t time) {
  std::vector<Marker>& m = node->MutableExtra()->markers;
  if (m.size() >= Tree::kMaxMarkersPerNode) m.erase(m.begin());
  m.push_back(Marker{time, std::string(text)});
}

void Tree::SetUnit(Node* node, absl::string_view unit) {
  if (unit.empty()) {
    if (node->extra_) node->extra_->unit.reset();
    return;
  }
  node->MutableExtra()->unit = std::make_unique<std::string>(unit);
}

size_t Tree::CountNewNodes(const Push& push) const {
  // Rarely needed: only when a push might cross max_nodes. Walks the ops
  // against the tree, naming nodes that do not exist yet by their path.
  struct Level {
    const Node* node;  // nullptr when the node does not exist yet
    size_t path_size;
  };
  std::vector<Level> stack{{root_, 0}};
  std::string path;
  absl::flat_hash_set<std::string> created;
  auto visit = [&](absl::string_view name) -> Level {
    const Level& top = stack.back();
    path.resize(top.path_size);
    path.push_back(',');
    path.append(name.data(), name.size());
    const Node* child = top.node ? top.node->FindChild(name) : nullptr;
    if (child == nullptr) created.insert(path);
    return Level{child, path.size()};
  };
  for (const PushOp& op : push.ops) {
    switch (op.kind) {
      case PushOp::Kind::kEnter:
        stack.push_back(visit(op.name));
        break;
      case PushOp::Kind::kLeave:
        stack.resize(stack.size() - op.count);
        break;
      case PushOp::Kind::kSample:
      case PushOp::Kind::kText:
      case PushOp::Kind::kSketch:
        visit(op.name);
        break;
      default:
        break;
    }
  }
  return created.size();
}

absl::Status Tree::Apply(const Push& push, int64_t now, ApplyStats* stats) {
  if (node_count_ + push.node_refs > options_.max_nodes) {
    size_t fresh = CountNewNodes(push);
    if (node_count_ + fresh > options_.max_nodes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the push would grow the tree to ", node_count_ + fresh,
                       " nodes, past --max_nodes=", options_.max_nodes));
    }
  }
  ++seq_;
  size_t before = node_count_;
  struct Level {
    Node* node;
    Action action;  // effective action at this node
  };
  std::vector<Level> stack;
  stack.reserve(16);
  stack.push_back({root_, root_->EffectiveAction()});
  int64_t time = now;
  size_t leaves = 0;
  for (const PushOp& op : push.ops) {
    switch (op.kind) {
      case PushOp::Kind::kEnter: {
        Node* child = Child(stack.back().node, op.name, nullptr);
        if (op.action != Action::kInherit) child->own_action_ = op.action;
        Action a = child->own_action_ != Action::kInherit ? child->own_action_
                                                          : stack.back().action;
        stack.push_back({child, a});
        break;
      }
      case PushOp::Kind::kLeave:
        stack.resize(stack.size() - op.count);
        break;
      case PushOp::Kind::kSample: {
        Node* leaf = Child(stack.back().node, op.name, nullptr);
        if (op.action != Action::kInherit) leaf->own_action_ = op.action;
        Action a = leaf->own_action_ != Action::kInherit ? leaf->own_action_
                                                         : stack.back().action;
        Sample(leaf, a, op.value, now, 1, false, {}, time == now ? 0 : time);
        Touch(leaf);
        ++leaves;
        break;
      }
      case PushOp::Kind::kText: {
        Node* leaf = Child(stack.back().node, op.name, nullptr);
        if (op.action != Action::kInherit) leaf->own_action_ = op.action;
        Action a = leaf->own_action_ != Action::kInherit ? leaf->own_action_
                                                         : stack.back().action;
        if (a == Action::kSet) {
          Sample(leaf, a, 0, now, 1, false, op.text,
                 time == now ? 0 : time);  // a member
        } else {
          SetText(leaf, op.text, time);
        }
        Touch(leaf);
        ++leaves;
        break;
      }
      case PushOp::Kind::kSketch: {
        absl::StatusOr<Sketch> sketch = Sketch::Deserialize(op.text);
        if (!sketch.ok() || sketch->empty()) break;
        Node* leaf = Child(stack.back().node, op.name, nullptr);
        leaf->own_action_ = Action::kTimer;
        SetSketch(leaf, std::move(*sketch), time);
        Touch(leaf);
        ++leaves;
        break;
      }
      case PushOp::Kind::kMarker:
        AddMarker(stack.back().node, op.text, time);
        break;
      case PushOp::Kind::kUnit:
        SetUnit(stack.back().node, op.text);
        break;
      case PushOp::Kind::kTime:
        time = op.value > 0 ? static_cast<int64_t>(op.value) : now;
        break;
    }
  }
  for (const Push::KeyMarker& km : push.key_markers) {
    Node* n = root_;
    for (absl::string_view seg : km.key) n = Child(n, seg, nullptr);
    AddMarker(n, km.text, km.time > 0 ? km.time : now);
  }
  for (const Push::KeyUnit& ku : push.key_units) {
    Node* n = root_;
    for (absl::string_view seg : ku.key) n = Child(n, seg, nullptr);
    SetUnit(n, ku.unit);
  }
  if (stats != nullptr) {
    stats->leaves = leaves;
    stats->nodes_created = node_count_ - before;
  }
  return absl::OkStatus();
}

absl::Status Tree::AddSample(absl::Span<const absl::string_view> segments,
                             Action action, double value, int64_t now) {
  LineSample sample;
  sample.action = action;
  sample.value = value;
  return AddSample(segments, sample, now);
}

absl::Status Tree::AddSample(absl::Span<const absl::string_view> segments,
                             const LineSample& sample, int64_t now) {
  if (segments.empty()) {
    return absl::InvalidArgumentError("the root holds no value");
  }
  if (node_count_ + segments.size() > options_.max_nodes &&
      Find(segments) == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the tree is full (--max_nodes=", options_.max_nodes, ")"));
  }
  Node* n = root_;
  Action eff = n->own_action_;
  for (absl::string_view seg : segments) {
    n = Child(n, seg, nullptr);
    if (n->own_action_ != Action::kInherit) eff = n->own_action_;
  }
  if (n->own_action_ == Action::kInherit && sample.action != Action::kInherit) {
    n->own_action_ = sample.action;
    eff = sample.action;
  }
  Sample(n, eff, sample.value, now, sample.weight, sample.relative,
         sample.member, sample.time);
  Touch(n);
  return absl::OkStatus();
}

namespace {

// True if `node` is named by the comma key `key`: compares segments from the
// leaf up (the ancestors are few and shared, so this touches warm memory).
bool NamedBy(const Node* node, absl::string_view key) {
  while (node->parent() != nullptr) {
    absl::string_view name = node->name();
    if (key.size() < name.size() ||
        key.substr(key.size() - name.size()) != name) {
      return false;
    }
    key.remove_suffix(name.size());
    node = node->parent();
    if (node->parent() == nullptr) return key.empty();
    if (key.empty() || key.back() != ',') return false;
    key.remove_suffix(1);
  }
  return key.empty();
}

}  // namespace

absl::Status Tree::AddSampleByKey(absl::string_view key,
                                  const LineSample& sample, int64_t now) {
  // The cache is keyed by the key's hash (a 16-byte slot, no key bytes to
  // chase); a hit is confirmed against the node's own path.
  size_t hash = absl::Hash<absl::string_view>()(key);
  auto it = key_cache_.find(hash);
  if (it != key_cache_.end() && NamedBy(it->second, key)) {
    Node* n = it->second;
    if (n->own_action_ == Action::kInherit &&
        sample.action != Action::kInherit) {
      n->own_action_ = sample.action;
    }
    Sample(n, n->EffectiveAction(), sample.value, now, sample.weight,
           sample.relative, sample.member, sample.time);
    Touch(n);
    return absl::OkStatus();
  }
  key_scratch_.clear();
  if (absl::Status s = AppendKey(key, 0, &key_scratch_); !s.ok()) return s;
  if (absl::Status s = AddSample(key_scratch_, sample, now); !s.ok()) return s;
  if (key_cache_.size() >= kKeyCacheSize) key_cache_.clear();
  key_cache_[hash] = const_cast<Node*>(Find(key_scratch_));
  return absl::OkStatus();
}

void Tree::AddSamplesByKey(
    absl::Span<const KeyedSample> batch, int64_t now,
    std::vector<std::pair<size_t, absl::Status>>* errors) {
  // A pipeline over the batch: sample i is applied when the samples after
  // it are on their way in, each a stage further down its chain of
  // pointers (node, extra, sketch, the sketch's end), kStage samples
  // apart, so that their cache misses overlap instead of following one
  // another.
  constexpr size_t kStage = 4;
  constexpr size_t kRing = 32;  // a power of two above 4 * kStage
  Node* nodes[kRing];
  const size_t n = batch.size();
  const uint32_t window = static_cast<uint32_t>(now / options_.step_seconds);
  auto node_at = [&](size_t i) -> Node*& { return nodes[i & (kRing - 1)]; };
  for (size_t j = 0; j < n + 4 * kStage; ++j) {
    if (j < n) {
      const KeyedSample& ks = batch[j];
      Node* node = const_cast<Node*>(ks.leaf);
      if (node == nullptr) {
        auto it = key_cache_.find(absl::Hash<absl::string_view>()(ks.key));
        node = it == key_cache_.end() ? nullptr : it->second;
      }
      node_at(j) = node;
      if (node != nullptr) {
        // A node is 112 bytes from a slab: it may touch three lines.
        const char* p = reinterpret_cast<const char*>(node);
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
        __builtin_prefetch(p + sizeof(Node) - 1);
      }
    }
    if (j >= kStage && j - kStage < n) {
      Node* node = node_at(j - kStage);
      if (node != nullptr) {
        // Touch() reads the parent's max_seq_.
        __builtin_prefetch(&node->parent_->max_seq_);
        if (node->extra_) __builtin_prefetch(node->extra_.get());
      }
    }
    if (j >= 2 * kStage && j - 2 * kStage < n) {
      Node* node = node_at(j - 2 * kStage);
      if (node != nullptr && node->extra_ && node->extra_->sketch) {
        __builtin_prefetch(node->extra_->sketch.get());
      }
    }
    if (j >= 3 * kStage && j - 3 * kStage < n) {
      Node* node = node_at(j - 3 * kStage);
      if (node != nullptr && node->extra_ && node->extra_->sketch) {
        node->extra_->sketch->Prefetch();
      }
    }
    if (j < 4 * kStage) continue;
    const size_t i = j - 4 * kStage;
    const KeyedSample& ks = batch[i];
    Node* node = node_at(i);
    if (node != nullptr && (ks.leaf != nullptr || NamedBy(node, ks.key))) {
      if (node->own_action_ == Action::kInherit &&
          ks.sample.action != Action::kInherit) {
        node->own_action_ = ks.sample.action;
      }
      const Action action = node->EffectiveAction();
      if (!SampleOpenWindow(node, action, ks.sample, window)) {
        Sample(node, action, ks.sample.value, now, ks.sample.weight,
               ks.sample.relative, ks.sample.member, ks.sample.time);
      }
      Touch(node);
      continue;
    }
    // A key not seen lately (or a removal cleared the cache since the
    // lookup above): the one-at-a-time path validates and creates it.
    absl::Status s = AddSampleByKey(ks.key, ks.sample, now);
    if (!s.ok() && errors != nullptr) errors->emplace_back(i, s);
    // A node made here may be one a later sample looked up as missing;
    // those take the slow path too, which finds it.
  }
}

absl::Status Tree::SetAction(const KeySegments& segments, Action action) {
  Node* n = root_;
  for (absl::string_view seg : segments) n = Child(n, seg, nullptr);
  n->own_action_ = action;
  return absl::OkStatus();
}

const Node* Tree::Find(absl::Span<const absl::string_view> segments) const {
  const Node* n = root_;
  for (absl::string_view seg : segments) {
    n = n->FindChild(seg);
    if (n == nullptr) return nullptr;
  }
  return n;
}

std::string Tree::KeyOf(const Node* node) const {
  std::vector<absl::string_view> names;
  for (const Node* n = node; n != nullptr && n->parent_ != nullptr;
       n = n->parent_) {
    names.push_back(n->name());
  }
  std::reverse(names.begin(), names.end());
  return JoinKey(names);
}

void Tree::SetWatch(Node* node, void* watch) {
  if (watch == nullptr && !node->extra_) return;
  node->MutableExtra()->watch = watch;
}

}  // namespace canopy