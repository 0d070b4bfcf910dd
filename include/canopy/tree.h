// The live metric tree: every node canopy knows, its action, its live value
// and its open window, and the sequence numbers that let a watcher ask "what
// changed under K since S" without visiting what did not.
//
//   canopy::Tree tree(canopy::Tree::Options{.step_seconds = 10});
//   canopy::Push push;
//   canopy::TextPosition where;
//   ParseJsonPush(R"({"br,ie": {"7": 3}, "defaultaction": "add"})", &push,
//                 &where);
//   tree.Apply(push, /*now=*/1700000000);
//   tree.Collect(*canopy::Pattern::Parse("br"), /*since=*/0,
//                [](const canopy::LeafView& leaf) {
//                  // leaf.key == "br,ie,7", leaf.value == 3
//                  return true;
//                });
//
// Vocabulary: a node is any point of the tree; a leaf is a node that holds a
// value (a node may hold a value and have children too, as in Graphite,
// where "web.hits" and "web.hits.total" can both exist). The seq is a global
// counter bumped once per applied push (or removal); every leaf records the
// seq of its last change and every node the largest seq in its subtree.
//
// Threads: a Tree is not thread-safe. In canopyd the event-loop thread owns
// it; everything here runs on that thread.
#ifndef CANOPY_TREE_H_
#define CANOPY_TREE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "canopy/action.h"
#include "canopy/hll.h"
#include "canopy/json_push.h"
#include "canopy/key.h"
#include "canopy/sketch.h"

namespace canopy {

class Node;
class NodePool;  // core/node_pool.h

// Told about changes so that long-poll waiters can be woken. Each node may
// carry one opaque watch handle set by the observer (Tree::SetWatch).
class TreeObserver {
 public:
  virtual ~TreeObserver() = default;
  // A change happened at or under a node whose watch is `watch`. Called at
  // most once per watch per seq.
  virtual void OnChange(void* watch) = 0;
  // The node carrying `watch` is being removed; the handle is dropped.
  virtual void OnWatchRemoved(void* watch) = 0;
  // True if OnNodeCreated should be called (some watch waits for a node
  // that does not exist yet).
  virtual bool WantsCreates() const = 0;
  virtual void OnNodeCreated(Node* node) = 0;
};

// A marker: a short text with a time, shown on charts.
struct Marker {
  int64_t time;
  std::string text;
};

// The figures of one window of samples.
struct Window {
  uint32_t index = 0;  // window number: epoch seconds / step; 0 = none yet
  uint32_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double last = 0;
};

// What a node shows now.
struct LiveValue {
  bool has = false;
  bool is_text = false;
  double value = 0;
  absl::string_view text;
  bool has_rate = false;  // add leaves: per second over the last window
  double rate = 0;
  // Timers: the window's distribution (count, mean, min, max, percentiles).
  // Points into the node, or into `merged` for an interior node.
  const Sketch* sketch = nullptr;
  std::shared_ptr<const Sketch> merged;
};

// A leaf's window that has ended, handed to the trend store. `late` marks a
// sample dated into a window that had already been handed over (or ended):
// the store merges it into what it has for that window.
struct ClosedWindow {
  std::string key;
  int64_t start = 0;
  Action action = Action::kLast;
  double count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double last = 0;
  std::string blob;  // a serialized Sketch (timer) or Hll (set)
  bool late = false;
  // Restored from a snapshot taken before a crash: history may already
  // hold this window whole, in which case the stored one stands.
  bool replayed = false;
};

// One sample from a line protocol.
struct LineSample {
  Action action = Action::kInherit;  // given to a leaf that has none yet
  double value = 0;
  double weight = 1;         // 1 / sample rate: scales add, weights timers
  bool relative = false;     // a StatsD gauge "+3" / "-3": adds to the last
  absl::string_view member;  // set: the member
  int64_t time = 0;          // when it was measured; 0 = now
};

class Node {
 public:
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  absl::string_view name() const {
    return absl::string_view(name_ + 1, static_cast<unsigned char>(name_[0]));
  }
  Node* parent() const { return parent_; }
  Action own_action() const { return own_action_; }
  // The own action or the nearest ancestor's; kLast at the root by default.
  Action EffectiveAction() const;
  uint64_t seq() const { return seq_; }
  uint64_t max_seq() const { return max_seq_; }
  bool has_value() const { return has_value_; }
  bool is_text() const { return is_text_; }
  size_t child_count() const { return children_ ? children_->size() : 0; }
  const Window& window() const { return cur_; }
  double total() const { return total_; }
  const std::vector<Marker>* markers() const {
    return extra_ ? &extra_->markers : nullptr;
  }
  // The unit a push stated for this node ("unit"; canopy/unit.h), or "".
  absl::string_view own_unit() const {
    return extra_ && extra_->unit ? absl::string_view(*extra_->unit)
                                  : absl::string_view();
  }
  // The own unit or the nearest ancestor's; "" if none states one. A leaf
  // shows LeafUnit(StatedUnit(), key, action).
  absl::string_view StatedUnit() const;

  // Children sorted by name (allocates; for reads).
  std::vector<const Node*> SortedChildren() const;
  const Node* FindChild(absl::string_view name) const;

  // The live value of this node as a leaf under `action` at time `now`.
  LiveValue Live(Action action, int64_t now, int step) const;

 private:
  friend class Tree;
  struct Extra {
    std::string text;
    std::vector<Marker> markers;
    void* watch = nullptr;
    std::unique_ptr<Sketch> sketch;  // timer leaves: the open window
    std::unique_ptr<Hll> hll;        // set leaves: the open window
    // The stated unit (rare: nodes a push gave a "unit"); null when none.
    std::unique_ptr<std::string> unit;
  };
  // Children keyed by their own name: a slot is one pointer (8 bytes), and
  // lookups by name need no Node (heterogeneous lookup).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(absl::string_view name) const {
      return absl::Hash<absl::string_view>()(name);
    }
    size_t operator()(const Node* n) const { return (*this)(n->name()); }
  };
  struct NameEq {
    using is_transparent = void;
    static absl::string_view Name(absl::string_view s) { return s; }
    static absl::string_view Name(const Node* n) { return n->name(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Name(a) == Name(b);
    }
  };
  using ChildMap = absl::flat_hash_set<Node*, NameHash, NameEq>;

  // Nodes are made and freed only by their tree, in its NodePool
  // (Tree::NewNode, Tree::FreeNode).
  Node(const char* name, Node* parent)
      : name_(name),
        parent_(parent),
        has_value_(false),
        is_text_(false),
        flushed_(false),
        listed_(false),
        replayed_(false) {}
  ~Node() = default;

  Extra* MutableExtra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return extra_.get();
  }

  const char* name_;  // interned: one length byte, then the bytes
  Node* parent_;
  std::unique_ptr<ChildMap> children_;
  std::unique_ptr<Extra> extra_;
  uint64_t seq_ = 0;
  uint64_t max_seq_ = 0;
  Window cur_;
  uint32_t prev_index_ = 0;  // the window `prev_` summarises
  Action own_action_ = Action::kInherit;
  bool has_value_ : 1;
  bool is_text_ : 1;
  bool flushed_ : 1;   // the open window was handed to history already
  bool listed_ : 1;    // in Tree::open_windows_
  bool replayed_ : 1;  // the open window came from a snapshot unflushed
  double prev_ = 0;    // the figure of the last closed window with samples
  double total_ = 0;   // running total of all samples (the add value)
};

// Folds children's values into an interior node's aggregate. The aggregate
// of finite values is finite: a sum past the doubles' range saturates at
// +-1.7976931348623157e308 (DBL_MAX).
class Aggregator {
 public:
  explicit Aggregator(Action action) : action_(action) {}
  void Add(double v);
  // Adds a child's value: timers merge distributions, others Add(value).
  void Add(const LiveValue& v);
  // The aggregate as a value (has == false when there is none).
  LiveValue Result() const;
  // False when the action has no aggregate or nothing was added.
  bool has() const;
  double value() const;

 private:
  Action action_;
  size_t n_ = 0;
  // Sums in long double (x86: 64-bit mantissa, exponent to 1e4932): the sum
  // of any number of finite children cannot overflow it, and value() then
  // saturates at the doubles' range: an aggregate is always finite.
  long double acc_ = 0;
  std::shared_ptr<Sketch> merged_;
};

// What one query may spend reading the tree, so that no request holds the
// tree's thread for long: `work` units, a node visited costing one plus
// the number of pattern positions it is matched at, and `time` of wall
// clock. A walk that would pass either stops, and exceeded() says so.
//
//   QueryBudget budget(QueryBudget::Limits{.work = 2000000});
//   tree.Collect(pattern, 0, fn, &budget);
//   if (budget.exceeded()) return budget.Refusal();  // OutOfRange: 413
//
// One per query, on the query's thread; thread-compatible.
class QueryBudget {
 public:
  struct Limits {
    uint64_t work = 2000000;
    absl::Duration time = absl::Milliseconds(50);
  };
  explicit QueryBudget(const Limits& limits);
  // Charges `units`; false once the budget is spent (and from then on).
  bool Charge(uint64_t units) {
    if (exceeded_) return false;
    if (units > left_) return Exceed(true);
    left_ -= units;
    checked_ += units;
    if (checked_ >= kClockEvery) return CheckClock();
    return true;
  }
  // Charges sorting `n` children by name (Node::SortedChildren): about
  // n log2 n comparisons, each a cache miss or two on a wide node.
  bool ChargeSort(uint64_t n) {
    return n < 2 || Charge(n * static_cast<uint64_t>(64 - __builtin_clzll(n)));
  }
  bool exceeded() const { return exceeded_; }
  uint64_t used() const { return limits_.work - left_; }
  // OutOfRange, saying which limit was passed and what to do.
  absl::Status Refusal() const;

 private:
  static constexpr uint64_t kClockEvery = 1024;
  bool Exceed(bool by_work);
  bool CheckClock();
  Limits limits_;
  uint64_t left_;
  uint64_t checked_ = 0;
  absl::Time deadline_;
  bool exceeded_ = false;
  bool by_work_ = false;
};

// A leaf handed to a Collect callback. Views are valid during the call.
struct LeafView {
  absl::string_view key;
  const Node* node;
  Action action;
};

class Tree {
 public:
  struct Options {
    int step_seconds = 10;  // the window, the first step of --retention
    size_t max_nodes = 10000000;
    size_t max_tombstones = 100000;
    // Keep track of open windows for CloseWindows() (the trend store).
    bool history = false;
  };

  // Counts of what one Apply did.
  struct ApplyStats {
    size_t leaves = 0;
    size_t nodes_created = 0;
  };

  explicit Tree(Options options);
  ~Tree();
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  // Applies a parsed push whole. Fails with ResourceExhausted, changing
  // nothing, if the push would grow the tree past max_nodes.
  absl::Status Apply(const Push& push, int64_t now,
                     ApplyStats* stats = nullptr);

  // One sample for one key, for the line protocols. `segments` must be a
  // valid key. The leaf gets `action` as its own action if it has none yet
  // (a StatsD "c" makes an add leaf). All samples between one BeginChange()
  // and the next share a seq. Fails with ResourceExhausted past max_nodes.
  uint64_t BeginChange() { return ++seq_; }
  absl::Status AddSample(absl::Span<const absl::string_view> segments,
                         Action action, double value, int64_t now);
  absl::Status AddSample(absl::Span<const absl::string_view> segments,
                         const LineSample& sample, int64_t now);

  // The same for a comma key that may not have been validated: keys seen
  // recently are found through a bounded cache (one hash lookup instead of
  // one per segment, and no validation), others are validated first.
  absl::Status AddSampleByKey(absl::string_view key, const LineSample& sample,
                              int64_t now);

  // Many samples at once, in order, with the same result as one
  // AddSampleByKey each. Looks all the keys up first and prefetches their
  // nodes, so that the cache misses of a datagram's lines overlap instead of
  // following one another. Refused samples go to `errors` (index, status).
  // `leaf`, when set, is the node `key` names, found by the caller since
  // the last removal_epoch() change: the key is then not looked up again.
  struct KeyedSample {
    absl::string_view key;
    LineSample sample;
    const Node* leaf = nullptr;
  };
  void AddSamplesByKey(absl::Span<const KeyedSample> batch, int64_t now,
                       std::vector<std::pair<size_t, absl::Status>>* errors);

  // Removes leaves under `pattern` whose last sample is older than
  // `older_than` (epoch seconds), and interior nodes left empty. Returns the
  // number of leaves removed. With a `budget` (the walk, and each removal
  // at kExpireCost units), a sweep of a large tree is done in slices:
  // `*resume` is where this slice stopped ("" when the sweep is done), and
  // the next call goes on from there.
  static constexpr uint64_t kExpireCost = 16;
  size_t Expire(const Pattern& pattern, int64_t older_than,
                QueryBudget* budget = nullptr, std::string* resume = nullptr);

  // The value of `node` under `action`: its live value if it has no
  // children, else the aggregate of its children's values (add: sum, avg:
  // mean, max, min; last, timer and set nodes have none). Each node it
  // reads is charged to `budget`, when given; past it the value is partial
  // and budget->exceeded() says so.
  LiveValue ValueOf(const Node* node, Action action, int64_t now,
                    QueryBudget* budget = nullptr) const;

  // Removes the node named by `segments` and its subtree, recording a
  // tombstone for each leaf removed. Returns the number of leaves removed, or
  // NotFound. The root cannot be removed.
  absl::StatusOr<size_t> Remove(const KeySegments& segments);

  // Sets the own action of a node (creating it if needed).
  absl::Status SetAction(const KeySegments& segments, Action action);

  // History: appends every leaf window that ended before `now` and was not
  // handed over yet (and windows closed early by a sample in a later window,
  // late samples and removed leaves' open windows) to `out`. Needs
  // Options::history.
  //
  // At most `max_windows` ended windows are built a call (the others wait
  // in their leaves, where they cost nothing more, and the next call goes
  // on where this one stopped): ten million windows built at once took
  // 1.3 GB on top of the tree. True if ended windows may be left.
  bool CloseWindows(int64_t now, std::vector<ClosedWindow>* out,
                    size_t max_windows = SIZE_MAX);
  // On a clean stop: hands over every open window too, ended or not.
  void CloseAllWindows(std::vector<ClosedWindow>* out);
  size_t open_windows() const {
    return open_windows_.size() - (close_read_ - close_keep_);
  }
  // Windows ended by samples (or late ones) that wait for the next
  // hand-over.
  size_t ended_windows() const { return closed_.size(); }

  // Snapshots: the whole live tree (values, windows, actions, markers,
  // units, the seq) as bytes, and back. Restore() replaces the tree's content;
  // it fails, changing nothing, on bytes it cannot read.
  // With `spill`, the bytes go to it a few megabytes at a time (each call
  // gets what is new in `*out`, which is then cleared), the last piece
  // before Snapshot returns: ten million leaves are 650 MB, never held whole.
  void Snapshot(
      std::string* out,
      const std::function<void(const std::string&)>& spill = {}) const;
  absl::Status Restore(absl::string_view bytes);

  const Node* Find(absl::Span<const absl::string_view> segments) const;
  Node* root() { return root_; }
  const Node* root() const { return root_; }

  // Calls `fn` for every leaf under a node matched by `pattern` whose seq is
  // above `since`, in key order, until `fn` returns false. Returns false if
  // stopped early. With a `budget`, every node the walk visits is charged
  // to it, and the walk stops (returning false) when it is spent. With
  // `after` (a key, which need not exist any more), only the leaves after
  // it in key order: a walk stopped early goes on from its last leaf.
  bool Collect(const Pattern& pattern, uint64_t since,
               const std::function<bool(const LeafView&)>& fn,
               QueryBudget* budget = nullptr,
               absl::string_view after = {}) const;

  // Calls `fn` with each key removed after `since` that lies under a node
  // matched by `pattern` (oldest first), charging `budget` likewise.
  void CollectRemoved(const Pattern& pattern, uint64_t since,
                      const std::function<void(absl::string_view key)>& fn,
                      QueryBudget* budget = nullptr) const;

  // After a stop that may have lost changes (kill -9): the seq continues
  // above `seq`, which may have been handed out, and every cursor up to it
  // is answered with a reset. Nothing if the tree is already past it.
  void StartAbove(uint64_t seq) {
    if (seq < seq_) return;
    seq_ = seq + 1;
    tombstone_floor_ = seq_;
  }

  // True if a change list since `since` is complete: `since` is not from the
  // future and no tombstone after it has been forgotten.
  bool CanAnswerSince(uint64_t since) const {
    return since <= seq_ && since >= tombstone_floor_;
  }

  void SetObserver(TreeObserver* observer) { observer_ = observer; }
  void SetWatch(Node* node, void* watch);
  void* GetWatch(const Node* node) const {
    return node->extra_ ? node->extra_->watch : nullptr;
  }

  // The full key of a node ("" for the root).
  std::string KeyOf(const Node* node) const;

  uint64_t seq() const { return seq_; }
  // Changes whenever nodes may have been freed (a removal, an expiry, a
  // restore): a caller holding node pointers drops them when it moves.
  uint64_t removal_epoch() const { return removal_epoch_; }
  // Gives memory that removals freed back to the system: the node slabs
  // left empty, and free heap pages (canopy::ReleaseFreeMemory). Returns
  // the slab bytes released. For after large removals (DELETE of a
  // subtree, --expire); it walks the free nodes once.
  size_t ReleaseMemory();
  size_t node_count() const { return node_count_; }
  // Nodes removed since the tree was made (Remove, Expire).
  uint64_t nodes_removed() const { return nodes_removed_; }
  size_t leaf_count() const { return leaf_count_; }
  int step_seconds() const { return options_.step_seconds; }
  const Options& options() const { return options_; }
  // Markers kept per node; a new one past this drops the oldest.
  static constexpr size_t kMaxMarkersPerNode = 16;
  // Bytes held by interned segment names.
  size_t interned_bytes() const { return interned_bytes_; }
  // Samples refused because they would take a leaf's value, its running
  // total, its window's sum or its distribution's sum past the range of
  // doubles (about 1.8e308): such a sample changes nothing.
  uint64_t overflow_refused() const { return overflow_refused_; }

 private:
  Node* Child(Node* parent, absl::string_view name, bool* created);
  void Sample(Node* leaf, Action action, double value, int64_t now,
              double weight = 1, bool relative = false,
              absl::string_view member = {}, int64_t time = 0);
  // Sample() for the usual line: a number for the leaf's open window `w`
  // (not late, not a set, the leaf a number already). False, changing
  // nothing, for anything else.
  bool SampleOpenWindow(Node* leaf, Action action, const LineSample& s,
                        uint32_t w);
  // Counts `value` into the leaf's open window and running total.
  static void AddToWindow(Node* leaf, double value);
  // True (and counted) if the sample would make a figure of `leaf` leave
  // the finite doubles; Sample() then drops it.
  bool RefuseOverflow(const Node* leaf, Action action, double value,
                      double weight, bool relative);
  // Starts the leaf's window `window`, empty and not handed over yet;
  // lists the leaf for CloseWindows() (history on).
  void OpenWindow(Node* leaf, uint32_t window);
  // Appends a leaf's open window to closed_ (history on).
  void EmitWindow(Node* leaf, Action action);
  // Merges a sample dated into `window`, already handed over, into the
  // late window kept for it until the next hand-over (history on).
  void AddLateSample(Node* leaf, Action action, double value, double weight,
                     absl::string_view member, uint32_t window);
  // Moves closed_ into a hand-over batch and frees what closed_ held.
  void HandOver(std::vector<ClosedWindow>* out);
  // Drops removed nodes from open_windows_.
  void ForgetRemoved();
  void SetText(Node* leaf, absl::string_view text, int64_t now);
  // A timer leaf shows `sketch` as its window's distribution (a replica's:
  // it is not a window of this tree's, and history never gets it).
  void SetSketch(Node* leaf, Sketch sketch, int64_t now);
  void Touch(Node* leaf);
  void Propagate(Node* node);
  Node* NewNode(const char* name, Node* parent);
  void FreeNode(Node* node);
  void AddMarker(Node* node, absl::string_view text, int64_t time);
  // Sets the node's own unit; "" removes it.
  static void SetUnit(Node* node, absl::string_view unit);
  const char* Intern(absl::string_view name);
  void DeleteSubtree(Node* node, std::string* path, size_t* leaves);
  size_t CountNewNodes(const Push& push) const;

  Options options_;
  // The nodes' memory; declared before root_, freed after every node.
  std::unique_ptr<NodePool> pool_;
  Node* root_;  // from pool_, as every node
  TreeObserver* observer_ = nullptr;
  uint64_t seq_ = 0;
  size_t node_count_ = 1;
  uint64_t nodes_removed_ = 0;
  size_t leaf_count_ = 0;

  // Segment names, stored once each in blocks that live as long as the tree.
  absl::flat_hash_set<absl::string_view> names_;
  std::vector<std::unique_ptr<char[]>> name_blocks_;
  size_t block_used_ = 0;
  size_t interned_bytes_ = 0;

  // History: leaves whose open window has samples not handed over yet, and
  // windows closed since the last CloseWindows().
  std::vector<Node*> open_windows_;
  // A CloseWindows pass stopped by its budget: open_windows_[0, keep) are
  // kept, [keep, read) are stale, [read, end) not visited yet.
  size_t close_read_ = 0;
  size_t close_keep_ = 0;
  // Ends a stopped pass: closes the gap in open_windows_ (before anything
  // else walks it).
  void SettleOpenWindows();
  std::vector<ClosedWindow> closed_;
  // Late samples since the last hand-over, one window per leaf and window
  // start (the entry in closed_): a sender whose timestamps lag by a
  // window costs the trend thread one merge per series a second, not one
  // per line. Timers and sets keep their sketch here until the hand-over.
  struct LateWindow {
    size_t index = 0;  // in closed_
    std::unique_ptr<Sketch> sketch;
    std::unique_ptr<Hll> hll;
  };
  absl::flat_hash_map<std::pair<const Node*, uint32_t>, LateWindow> late_;
  // Writes the late sketches into closed_ and forgets late_ (before
  // closed_ is handed over, and before a node may be freed).
  void SealLateWindows();
  absl::flat_hash_set<const Node*> removed_listed_;

  // Recent keys of AddSampleByKey, cleared when full and whenever a node is
  // removed (so it never points at a freed node).
  //
  // Why a second name->leaf cache beside the line ingest's NameIndex
  // (server/name_index.h): that one maps names as sent ("web.hits") for the
  // fast path of plain lines only. This one maps comma keys, for every
  // caller that has a key and no leaf: the pipes (TreeSink::Update), the
  // lines the full parsers take (DogStatsD and Graphite tags, sets, names
  // that are not plain) and names not indexed yet. JSON pushes (Apply) and
  // indexed plain lines do not use it. Measured without it (Release,
  // 2 cores, interleaved runs): plain StatsD, Graphite and /push unchanged
  // within noise, but tagged StatsD lines 574 -> 878 ns a line (best of 5,
  // canopy-line-bench --format=statsd_tagged) and the access-log pipes
  // 1332 k -> 854 k lines per CPU second (canopy-pipes-bench, median of 5):
  // each miss validates the key again and walks it a segment at a time.
  static constexpr size_t kKeyCacheSize = 1 << 16;
  absl::flat_hash_map<size_t, Node*> key_cache_;  // key hash -> leaf
  KeySegments key_scratch_;
  uint64_t removal_epoch_ = 0;
  uint64_t overflow_refused_ = 0;

  struct Tombstone {
    uint64_t seq;
    std::string key;
  };
  std::deque<Tombstone> tombstones_;
  uint64_t tombstone_floor_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_TREE_H_
