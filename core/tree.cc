#include "canopy/tree.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace canopy {
namespace {

constexpr size_t kNameBlockBytes = 64 * 1024;
constexpr size_t kMaxMarkersPerNode = 16;

bool ByName(const Node* a, const Node* b) { return a->name() < b->name(); }

}  // namespace

// ---------------------------------------------------------------- Node

namespace {

// A free list over slabs. Slabs are never returned to the system, but every
// freed node is reused before a new slab is cut.
class NodePool {
 public:
  void* Allocate() {
    if (free_ != nullptr) {
      void* p = free_;
      free_ = *static_cast<void**>(free_);
      return p;
    }
    if (slab_left_ == 0) {
      slabs_.emplace_back(new char[kSlabBytes]);
      slab_next_ = slabs_.back().get();
      slab_left_ = kSlabBytes / sizeof(Node);
    }
    void* p = slab_next_;
    slab_next_ += sizeof(Node);
    --slab_left_;
    return p;
  }
  void Free(void* p) {
    *static_cast<void**>(p) = free_;
    free_ = p;
  }

 private:
  static constexpr size_t kSlabBytes = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> slabs_;
  char* slab_next_ = nullptr;
  size_t slab_left_ = 0;
  void* free_ = nullptr;
};

NodePool& Pool() {
  // Leaked on purpose: nodes may outlive static destruction order.
  static thread_local NodePool* pool = new NodePool;
  return *pool;
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
#define CANOPY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CANOPY_ASAN 1
#endif
#endif

void* Node::operator new(size_t size) {
#ifdef CANOPY_ASAN
  return ::operator new(size);  // let ASan see every node's lifetime
#else
  (void)size;  // always sizeof(Node): Node has no subclasses
  return Pool().Allocate();
#endif
}

void Node::operator delete(void* p) {
#ifdef CANOPY_ASAN
  ::operator delete(p);
#else
  if (p != nullptr) Pool().Free(p);
#endif
}

Action Node::EffectiveAction() const {
  for (const Node* n = this; n != nullptr; n = n->parent_) {
    if (n->own_action_ != Action::kInherit) return n->own_action_;
  }
  return Action::kLast;
}

std::vector<const Node*> Node::SortedChildren() const {
  std::vector<const Node*> out;
  if (!children_) return out;
  out.reserve(children_->size());
  for (Node* child : *children_) out.push_back(child);
  std::sort(out.begin(), out.end(), ByName);
  return out;
}

const Node* Node::FindChild(absl::string_view name) const {
  if (!children_) return nullptr;
  auto it = children_->find(name);
  return it == children_->end() ? nullptr : *it;
}

LiveValue Node::Live(Action action, int64_t now, int step) const {
  LiveValue v;
  if (!has_value_) return v;
  v.has = true;
  if (is_text_) {
    v.is_text = true;
    v.text = extra_->text;
    return v;
  }
  switch (action) {
    case Action::kAdd: {
      v.value = total_;
      v.has_rate = true;
      uint32_t now_w = static_cast<uint32_t>(now / step);
      if (cur_.index + 1 == now_w) {
        v.rate = cur_.sum / step;
      } else if (cur_.index == now_w && prev_index_ + 1 == now_w) {
        v.rate = prev_ / step;
      }
      break;
    }
    case Action::kTimer:
      if (extra_ && extra_->sketch && !extra_->sketch->empty()) {
        v.sketch = extra_->sketch.get();
        v.value = v.sketch->sum() / v.sketch->count();
        break;
      }
      v.value = cur_.count ? cur_.sum / cur_.count : cur_.last;
      break;
    case Action::kSet:
      v.value = extra_ && extra_->hll ? extra_->hll->Estimate() : 0;
      break;
    case Action::kAvg:
      v.value = cur_.count ? cur_.sum / cur_.count : cur_.last;
      break;
    case Action::kMax:
      v.value = cur_.max;
      break;
    case Action::kMin:
      v.value = cur_.min;
      break;
    default:
      v.value = cur_.last;
      break;
  }
  return v;
}

// ---------------------------------------------------------------- Aggregator

void Aggregator::Add(double v) {
  switch (action_) {
    case Action::kAdd:
    case Action::kAvg:
      acc_ += v;
      break;
    case Action::kMax:
      acc_ = n_ == 0 ? v : std::max(acc_, v);
      break;
    case Action::kMin:
      acc_ = n_ == 0 ? v : std::min(acc_, v);
      break;
    default:
      return;
  }
  ++n_;
}

void Aggregator::Add(const LiveValue& v) {
  if (!v.has || v.is_text) return;
  if (action_ == Action::kTimer) {
    const Sketch* child = v.merged ? v.merged.get() : v.sketch;
    if (child == nullptr) return;
    if (!merged_)
      merged_ = std::make_shared<Sketch>(child->relative_accuracy());
    if (merged_->Merge(*child).ok()) ++n_;
    return;
  }
  Add(v.value);
}

LiveValue Aggregator::Result() const {
  LiveValue out;
  if (action_ == Action::kTimer && merged_ && !merged_->empty()) {
    out.has = true;
    out.merged = merged_;
    out.value = merged_->sum() / merged_->count();
    return out;
  }
  if (has()) {
    out.has = true;
    out.value = value();
  }
  return out;
}

bool Aggregator::has() const {
  switch (action_) {
    case Action::kAdd:
    case Action::kAvg:
    case Action::kMax:
    case Action::kMin:
      return n_ > 0;
    default:
      return false;
  }
}

double Aggregator::value() const {
  return action_ == Action::kAvg && n_ > 0 ? acc_ / n_ : acc_;
}

// ---------------------------------------------------------------- Tree

Tree::Tree(Options options) : options_(options) {
  if (options_.step_seconds <= 0) options_.step_seconds = 10;
  root_.reset(new Node(Intern(""), nullptr));
  root_->own_action_ = Action::kLast;
}

Tree::~Tree() {
  // Delete iteratively so that a deep tree cannot overflow the stack.
  std::vector<Node*> todo;
  if (root_->children_) {
    for (Node* child : *root_->children_) todo.push_back(child);
  }
  while (!todo.empty()) {
    Node* n = todo.back();
    todo.pop_back();
    if (n->children_) {
      for (Node* child : *n->children_) todo.push_back(child);
    }
    delete n;
  }
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
  Node* child = new Node(Intern(name), parent);
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

void Tree::EmitWindow(Node* leaf, Action action, bool late) {
  (void)late;
  const Window& cur = leaf->cur_;
  ClosedWindow cw;
  cw.key = KeyOf(leaf);
  cw.start = static_cast<int64_t>(cur.index) * options_.step_seconds;
  cw.action = action;
  cw.count = cur.count;
  cw.sum = cur.sum;
  cw.min = cur.min;
  cw.max = cur.max;
  cw.last = cur.last;
  if (leaf->extra_) {
    if (action == Action::kTimer && leaf->extra_->sketch) {
      cw.count = leaf->extra_->sketch->count();
      cw.sum = leaf->extra_->sketch->sum();
      leaf->extra_->sketch->Serialize(&cw.blob);
    } else if (action == Action::kSet && leaf->extra_->hll) {
      leaf->extra_->hll->Serialize(&cw.blob);
    }
  }
  cw.replayed = leaf->replayed_;
  closed_.push_back(std::move(cw));
  leaf->flushed_ = true;
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
    if (wt == leaf->cur_.index && !leaf->flushed_) {
      w = wt;  // its window is still open here: it goes in there
    } else if (options_.history) {
      // A sample for a window already handed over: history merges it; the
      // live value shows the open window and is left alone. Late samples
      // of one window are merged here first (as the store would merge
      // them: counts and sums add, the last one is the latest).
      const double v = action == Action::kAdd ? value * weight : value;
      const double count = action == Action::kTimer ? weight : 1;
      const double sum = action == Action::kTimer ? value * weight
                         : action == Action::kSet ? 1
                                                  : v;
      const double point = action == Action::kSet ? 1 : v;
      auto [it, fresh] = late_.try_emplace(std::make_pair(leaf, wt));
      LateWindow& lw = it->second;
      if (fresh) {
        ClosedWindow cw;
        cw.key = KeyOf(leaf);
        cw.start = static_cast<int64_t>(wt) * step;
        cw.action = action;
        cw.late = true;
        cw.count = count;
        cw.sum = sum;
        cw.min = cw.max = cw.last = point;
        lw.index = closed_.size();
        closed_.push_back(std::move(cw));
      } else {
        ClosedWindow& cw = closed_[lw.index];
        cw.count += count;
        cw.sum += sum;
        cw.min = std::min(cw.min, point);
        cw.max = std::max(cw.max, point);
        cw.last = point;
      }
      if (action == Action::kTimer) {
        if (!lw.sketch) lw.sketch = std::make_unique<Sketch>();
        lw.sketch->Add(value, weight);
      } else if (action == Action::kSet) {
        if (!lw.hll) lw.hll = std::make_unique<Hll>();
        lw.hll->Add(member.empty() ? absl::string_view(absl::StrCat(value))
                                   : member);
      }
      if (action == Action::kAdd) leaf->total_ += value * weight;
      if (leaf->cur_.count == 0) leaf->cur_.last = value;
      return;
    }
  }
  Window& cur = leaf->cur_;
  if (w == cur.index && leaf->flushed_) {
    // More samples for a window history already has (a clean stop and a
    // restart within one window): collect them as a part of their own,
    // which history merges into the stored one.
    double last = cur.last;
    cur = Window{};
    cur.index = w;
    cur.last = last;
    leaf->flushed_ = false;
    leaf->replayed_ = false;
    if (options_.history && !leaf->listed_) {
      leaf->listed_ = true;
      open_windows_.push_back(leaf);
    }
  }
  if (w > cur.index) {
    if (cur.count > 0) {
      if (options_.history && !leaf->flushed_) EmitWindow(leaf, action, false);
      leaf->prev_index_ = cur.index;
      leaf->prev_ = cur.sum;
    }
    cur = Window{};
    cur.index = w;
    leaf->flushed_ = false;
    leaf->replayed_ = false;
    if (options_.history && !leaf->listed_) {
      leaf->listed_ = true;
      open_windows_.push_back(leaf);
    }
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
  leaf->total_ += value;
}

void Tree::CloseWindows(int64_t now, std::vector<ClosedWindow>* out) {
  uint32_t w_now = static_cast<uint32_t>(now / options_.step_seconds);
  size_t keep = 0;
  for (Node* n : open_windows_) {
    if (n->cur_.index < w_now) {
      if (!n->flushed_ && n->cur_.count > 0) {
        EmitWindow(n, n->EffectiveAction(), false);
      }
      n->listed_ = false;
    } else {
      open_windows_[keep++] = n;
    }
  }
  open_windows_.resize(keep);
  SealLateWindows();
  for (ClosedWindow& cw : closed_) out->push_back(std::move(cw));
  closed_.clear();
}

void Tree::SealLateWindows() {
  for (auto& [where, lw] : late_) {
    ClosedWindow& cw = closed_[lw.index];
    if (lw.sketch) lw.sketch->Serialize(&cw.blob);
    if (lw.hll) lw.hll->Serialize(&cw.blob);
  }
  late_.clear();
}

void Tree::CloseAllWindows(std::vector<ClosedWindow>* out) {
  for (Node* n : open_windows_) {
    if (!n->flushed_ && n->cur_.count > 0) {
      EmitWindow(n, n->EffectiveAction(), false);
    }
  }
  SealLateWindows();
  for (ClosedWindow& cw : closed_) out->push_back(std::move(cw));
  closed_.clear();
}

void Tree::ForgetRemoved() {
  if (removed_listed_.empty()) return;
  size_t keep = 0;
  for (Node* n : open_windows_) {
    if (!removed_listed_.contains(n)) open_windows_[keep++] = n;
  }
  open_windows_.resize(keep);
  removed_listed_.clear();
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

void Tree::AddMarker(Node* node, absl::string_view text, int64_t time) {
  std::vector<Marker>& m = node->MutableExtra()->markers;
  if (m.size() >= kMaxMarkersPerNode) m.erase(m.begin());
  m.push_back(Marker{time, std::string(text)});
}

size_t Tree::CountNewNodes(const Push& push) const {
  // Rarely needed: only when a push might cross max_nodes. Walks the ops
  // against the tree, naming nodes that do not exist yet by their path.
  struct Level {
    const Node* node;  // nullptr when the node does not exist yet
    size_t path_size;
  };
  std::vector<Level> stack{{root_.get(), 0}};
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
  stack.push_back({root_.get(), root_->EffectiveAction()});
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
      case PushOp::Kind::kMarker:
        AddMarker(stack.back().node, op.text, time);
        break;
      case PushOp::Kind::kTime:
        time = static_cast<int64_t>(op.value);
        break;
    }
  }
  for (const Push::KeyMarker& km : push.key_markers) {
    Node* n = root_.get();
    for (absl::string_view seg : km.key) n = Child(n, seg, nullptr);
    AddMarker(n, km.text, time);
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
  Node* n = root_.get();
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

size_t Tree::Expire(const Pattern& pattern, int64_t older_than) {
  uint32_t limit = static_cast<uint32_t>(std::max<int64_t>(0, older_than) /
                                         options_.step_seconds);
  std::vector<Node*> stale;
  Collect(pattern, 0, [&](const LeafView& leaf) {
    if (leaf.node->cur_.index < limit)
      stale.push_back(const_cast<Node*>(leaf.node));
    return true;
  });
  if (stale.empty()) return 0;
  SealLateWindows();
  key_cache_.clear();
  ++removal_epoch_;
  ++seq_;
  for (Node* leaf : stale) {
    if (options_.history && !leaf->flushed_ && leaf->cur_.count > 0) {
      EmitWindow(leaf, leaf->EffectiveAction(), false);
    }
    tombstones_.push_back(Tombstone{seq_, KeyOf(leaf)});
    --leaf_count_;
    leaf->has_value_ = false;
    leaf->is_text_ = false;
    leaf->seq_ = 0;
    if (leaf->extra_) {
      leaf->extra_->text.clear();
      leaf->extra_->text.shrink_to_fit();
      leaf->extra_->sketch.reset();
      leaf->extra_->hll.reset();
    }
    // Give back the leaf and every ancestor it leaves empty.
    Node* n = leaf;
    while (n->parent_ != nullptr && n->child_count() == 0 && !n->has_value_ &&
           !(n->extra_ && (n->extra_->watch || !n->extra_->markers.empty()))) {
      Node* parent = n->parent_;
      parent->children_->erase(n);
      if (parent->children_->empty()) parent->children_.reset();
      --node_count_;
      if (n->listed_) removed_listed_.insert(n);
      delete n;
      n = parent;
    }
    Propagate(n);
  }
  ForgetRemoved();
  while (tombstones_.size() > options_.max_tombstones) {
    tombstone_floor_ = tombstones_.front().seq;
    tombstones_.pop_front();
  }
  return stale.size();
}

absl::Status Tree::SetAction(const KeySegments& segments, Action action) {
  Node* n = root_.get();
  for (absl::string_view seg : segments) n = Child(n, seg, nullptr);
  n->own_action_ = action;
  return absl::OkStatus();
}

const Node* Tree::Find(absl::Span<const absl::string_view> segments) const {
  const Node* n = root_.get();
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

void Tree::DeleteSubtree(Node* node, std::string* path, size_t* leaves) {
  // Iterative post-order would be longer; depth is bounded by kMaxSegments.
  size_t keep = path->size();
  if (node->children_) {
    for (Node* child : *node->children_) {
      path->push_back(',');
      path->append(child->name().data(), child->name().size());
      DeleteSubtree(child, path, leaves);
      path->resize(keep);
    }
  }
  if (node->has_value_) {
    ++*leaves;
    --leaf_count_;
    tombstones_.push_back(Tombstone{seq_, *path});
    if (options_.history && !node->flushed_ && node->cur_.count > 0) {
      EmitWindow(node, node->EffectiveAction(), false);
    }
  }
  if (node->listed_) removed_listed_.insert(node);
  if (node->extra_ && node->extra_->watch && observer_ != nullptr) {
    observer_->OnWatchRemoved(node->extra_->watch);
  }
  --node_count_;
  delete node;
}

absl::StatusOr<size_t> Tree::Remove(const KeySegments& segments) {
  if (segments.empty()) {
    return absl::InvalidArgumentError("the root cannot be removed");
  }
  Node* node = const_cast<Node*>(Find(segments));
  if (node == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no node \"", JoinKey(segments).substr(0, 200), "\""));
  }
  SealLateWindows();
  key_cache_.clear();
  ++removal_epoch_;
  ++seq_;
  Node* parent = node->parent_;
  parent->children_->erase(node);
  std::string path = JoinKey(segments);
  size_t leaves = 0;
  DeleteSubtree(node, &path, &leaves);
  ForgetRemoved();
  Propagate(parent);
  while (tombstones_.size() > options_.max_tombstones) {
    tombstone_floor_ = tombstones_.front().seq;
    tombstones_.pop_front();
  }
  return leaves;
}

void Tree::SetWatch(Node* node, void* watch) {
  if (watch == nullptr && !node->extra_) return;
  node->MutableExtra()->watch = watch;
}

LiveValue Tree::ValueOf(const Node* node, Action action, int64_t now) const {
  if (node->child_count() == 0) {
    return node->Live(action, now, options_.step_seconds);
  }
  Aggregator agg(action);
  for (Node* child : *node->children_) {
    Action a =
        child->own_action_ != Action::kInherit ? child->own_action_ : action;
    agg.Add(ValueOf(child, a, now));
  }
  return agg.Result();
}

namespace {

struct MatchContext {
  const std::vector<Pattern::Segment>* pattern;
  uint64_t since;
  std::vector<const Node*>* matched;
};

void FindMatches(const MatchContext& ctx, const Node* node, size_t pi) {
  if (node->max_seq() <= ctx.since) return;
  const std::vector<Pattern::Segment>& pat = *ctx.pattern;
  if (pi == pat.size()) {
    ctx.matched->push_back(node);
    return;
  }
  const Pattern::Segment& seg = pat[pi];
  switch (seg.kind) {
    case Pattern::Kind::kLiteral:
      if (const Node* c = node->FindChild(seg.text)) {
        FindMatches(ctx, c, pi + 1);
      }
      return;
    case Pattern::Kind::kAnyDepth:
      FindMatches(ctx, node, pi + 1);
      for (const Node* c : node->SortedChildren()) FindMatches(ctx, c, pi);
      return;
    case Pattern::Kind::kAnyOne:
      for (const Node* c : node->SortedChildren()) FindMatches(ctx, c, pi + 1);
      return;
    case Pattern::Kind::kGlob:
      for (const Node* c : node->SortedChildren()) {
        if (GlobMatch(seg.text, c->name())) FindMatches(ctx, c, pi + 1);
      }
      return;
  }
}

// Emits the leaves of a subtree changed after `since`, in key order.
bool EmitSubtree(const Node* node, Action action, uint64_t since,
                 std::string* key,
                 const std::function<bool(const LeafView&)>& fn) {
  if (node->max_seq() <= since) return true;
  if (node->has_value() && node->seq() > since) {
    if (!fn(LeafView{*key, node, action})) return false;
  }
  if (node->child_count() == 0) return true;
  size_t keep = key->size();
  for (const Node* c : node->SortedChildren()) {
    if (c->max_seq() <= since) continue;
    if (!key->empty()) key->push_back(',');
    key->append(c->name().data(), c->name().size());
    Action a = c->own_action() != Action::kInherit ? c->own_action() : action;
    bool go_on = EmitSubtree(c, a, since, key, fn);
    key->resize(keep);
    if (!go_on) return false;
  }
  return true;
}

}  // namespace

bool Tree::Collect(const Pattern& pattern, uint64_t since,
                   const std::function<bool(const LeafView&)>& fn) const {
  std::vector<const Node*> matched;
  MatchContext ctx{&pattern.segments(), since, &matched};
  FindMatches(ctx, root_.get(), 0);
  if (matched.size() > 1) {
    // "**" can reach a node twice, or a node and its ancestor: keep each
    // subtree once.
    absl::flat_hash_set<const Node*> set(matched.begin(), matched.end());
    std::vector<const Node*> kept;
    absl::flat_hash_set<const Node*> emitted;
    for (const Node* n : matched) {
      bool under = false;
      for (const Node* p = n->parent(); p != nullptr; p = p->parent()) {
        if (set.contains(p)) {
          under = true;
          break;
        }
      }
      if (!under && emitted.insert(n).second) kept.push_back(n);
    }
    matched.swap(kept);
  }
  std::string key;
  for (const Node* n : matched) {
    key = KeyOf(n);
    if (!EmitSubtree(n, n->EffectiveAction(), since, &key, fn)) return false;
  }
  return true;
}

void Tree::CollectRemoved(
    const Pattern& pattern, uint64_t since,
    const std::function<void(absl::string_view key)>& fn) const {
  size_t first = tombstones_.size();
  while (first > 0 && tombstones_[first - 1].seq > since) --first;
  for (size_t i = first; i < tombstones_.size(); ++i) {
    const std::string& key = tombstones_[i].key;
    absl::StatusOr<KeySegments> segs = SplitKey(key);
    if (!segs.ok()) continue;
    for (size_t len = 0; len <= segs->size(); ++len) {
      if (pattern.Matches(absl::MakeConstSpan(segs->data(), len))) {
        fn(key);
        break;
      }
    }
  }
}

}  // namespace canopy

// ---------------------------------------------------------------- snapshots

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
  std::vector<Node*> path{fresh.root_.get()};
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
            markers > kMaxMarkersPerNode) {
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
  order.push_back(fresh.root_.get());
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
  // Take the content.
  std::swap(root_, fresh.root_);
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
