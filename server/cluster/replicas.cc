// Reads across a cluster (see cluster.h): the owner's side (leases, the
// snapshot, the feed of changes) and the reader's (asking, applying,
// renewing). Everything here runs on the tree's thread.
#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/unit.h"
#include "rapidjson/document.h"
#include "server/cluster/cluster.h"
#include "server/comet/changes.h"
#include "server/json_out.h"

namespace canopy {
namespace {

using cluster_subject::kChangesPrefix;
using cluster_subject::kLeasePrefix;
using cluster_subject::kSnapshotPrefix;

constexpr int kFeedMs = 10;            // changes leave at most this late
constexpr int64_t kLeaseMs = 30000;    // an owner keeps a lease this long
constexpr int64_t kRenewMs = 10000;    // a reader renews this often
constexpr int64_t kRetryAskMs = 1000;  // an unanswered lease is asked again

// The head line of a snapshot or a feed: "S1 OWNER SEQ" or "C1 OWNER SEQ".
bool ParseHead(absl::string_view data, char kind, std::string* owner,
               uint64_t* seq, absl::string_view* rest) {
  const size_t nl = data.find('\n');
  if (nl == absl::string_view::npos) return false;
  std::vector<absl::string_view> f = absl::StrSplit(data.substr(0, nl), ' ');
  if (f.size() < 3 || f[0].size() != 2 || f[0][0] != kind ||
      !absl::SimpleAtoi(f[2], seq)) {
    return false;
  }
  *owner = std::string(f[1]);
  *rest = data.substr(nl + 1);
  return true;
}

// A snapshot's or a feed's body with what a reader needs beyond the values
// /pull shows: `changes` ({"seq", "items", ...}, the leaves under
// `patterns` changed after `since`) with "units": {KEY: UNIT} added for
// the leaves a push gave one (a reader infers the others itself), and
// "sketches": {KEY: BASE64} for timers, their window's distribution
// (Sketch::Serialize), so that a replica shows the very figures the owner
// shows and merges them as the owner would. Readers that predate either
// member ignore it.
std::string WithUnits(std::string changes, const Tree& tree,
                      const std::vector<Pattern>& patterns, uint64_t since,
                      int64_t now) {
  if (changes.empty() || changes.back() != '}') return changes;
  JsonOut units;
  JsonOut sketches;
  units.w.StartObject();
  sketches.w.StartObject();
  absl::flat_hash_set<std::string> seen;
  std::string bytes;
  for (const Pattern& p : patterns) {
    tree.Collect(p, since, [&](const LeafView& leaf) {
      if (patterns.size() > 1 && !seen.insert(std::string(leaf.key)).second) {
        return true;
      }
      const absl::string_view unit = leaf.node->StatedUnit();
      if (!unit.empty()) {
        units.Key(leaf.key);
        units.String(unit);
      }
      if (leaf.action == Action::kTimer) {
        const LiveValue live =
            leaf.node->Live(leaf.action, now, tree.step_seconds());
        if (live.sketch != nullptr) {
          bytes.clear();
          live.sketch->Serialize(&bytes);
          sketches.Key(leaf.key);
          sketches.String(absl::Base64Escape(bytes));
        }
      }
      return true;
    });
  }
  units.w.EndObject();
  sketches.w.EndObject();
  changes.pop_back();
  absl::StrAppend(&changes, ",\"units\":", units.buffer.GetString(),
                  ",\"sketches\":", sketches.buffer.GetString(), "}");
  return changes;
}

}  // namespace

// --- the owner's side
// ---------------------------------------------------------

// "R1 READER PATTERN": a lease on PATTERN, answered with a snapshot
// "S1 OWNER SEQ\nPATTERN\n" and the /get-like body of what it covers, with
// the units stated for its leaves.
void Cluster::Lease(const Inbound& m) {
  if (!IsShard() || m.reply.empty()) return;
  absl::string_view data = m.data;
  if (!absl::ConsumePrefix(&data, "R1 ")) return;
  const size_t sp = data.find(' ');
  if (sp == absl::string_view::npos) return;
  const absl::string_view text = data.substr(sp + 1);
  absl::StatusOr<Pattern> p = Pattern::Parse(text);
  if (!p.ok()) return;
  LeaseEntry& lease = leases_[std::string(text)];
  const bool fresh = lease.until_ms == 0;
  lease.pattern = *p;
  lease.until_ms = NowMs() + kLeaseMs;
  if (fresh && leases_.size() == 1) {
    // The first lease: the feed starts from now.
    fed_seq_ = tree_->seq();
    timeval tv = {0, kFeedMs * 1000};
    event_add(feed_event_, &tv);
  }
  const int64_t now = NowMs() / 1000;
  const std::string body = absl::StrCat(
      "S1 ", config_.node, " ", tree_->seq(), "\n", text, "\n",
      WithUnits(ChangesJson(*tree_, {*p}, 0, /*reset=*/true, now, nullptr),
                *tree_, {*p}, 0, now));
  natsConnection_Publish(nc_, m.reply.c_str(), body.data(),
                         static_cast<int>(body.size()));
}

void Cluster::OnFeedTimer(evutil_socket_t, short, void* arg) {
  static_cast<Cluster*>(arg)->Feed();
}

// Publishes what changed under the leased patterns since the last feed.
void Cluster::Feed() {
  const int64_t now_ms = NowMs();
  for (auto it = leases_.begin(); it != leases_.end();) {
    it = it->second.until_ms < now_ms ? leases_.erase(it) : std::next(it);
  }
  if (leases_.empty()) {
    event_del(feed_event_);
    return;
  }
  if (tree_->seq() == fed_seq_ || nc_ == nullptr) return;
  std::vector<Pattern> patterns;
  for (const auto& [text, lease] : leases_) patterns.push_back(lease.pattern);
  size_t count = 0;
  const std::string changes =
      WithUnits(ChangesJson(*tree_, patterns, fed_seq_,
                            /*reset=*/false, now_ms / 1000, &count),
                *tree_, patterns, fed_seq_, now_ms / 1000);
  fed_seq_ = tree_->seq();
  if (count == 0) return;
  const std::string body =
      absl::StrCat("C1 ", config_.node, " ", fed_seq_, "\n", changes);
  const std::string subject = absl::StrCat(kChangesPrefix, config_.node);
  natsConnection_Publish(nc_, subject.c_str(), body.data(),
                         static_cast<int>(body.size()));
  ++figures_.feeds_sent;
}

// --- the reader's side
// --------------------------------------------------------

bool Cluster::Replicate(const std::vector<Pattern>& patterns) {
  const int64_t now = NowMs();
  bool synced = true;
  for (const Pattern& p : patterns) {
    // The shards that may own keys under p: one if its leading segments
    // are literal to the shard depth, else every shard.
    std::vector<size_t> owners;
    const auto& segs = p.segments();
    bool literal = segs.size() >= ring_.depth();
    for (size_t i = 0; literal && i < ring_.depth(); ++i) {
      literal = segs[i].kind == Pattern::Kind::kLiteral;
    }
    if (literal) {
      std::vector<absl::string_view> prefix;
      for (size_t i = 0; i < ring_.depth(); ++i) prefix.push_back(segs[i].text);
      owners.push_back(ring_.OwnerOfSegments(prefix));
    } else {
      for (size_t i = 0; i < config_.shards.size(); ++i) owners.push_back(i);
    }
    for (size_t owner : owners) {
      if (owner == self_) continue;
      auto [it, fresh] = replicas_.try_emplace({owner, p.text()});
      Replica& r = it->second;
      if (fresh) r.pattern = p;
      r.read_ms = now;
      if (fresh) RequestLease(owner, p.text());
      synced = synced && r.synced;
    }
  }
  return synced;
}

void Cluster::RequestLease(size_t owner, const std::string& pattern) {
  Replica& r = replicas_[{owner, pattern}];
  r.asked_ms = NowMs();
  if (nc_ == nullptr) return;
  const std::string subject = absl::StrCat(kLeasePrefix, config_.shards[owner]);
  const std::string reply = absl::StrCat(kSnapshotPrefix, config_.node);
  const std::string body = absl::StrCat("R1 ", config_.node, " ", pattern);
  natsConnection_PublishRequest(nc_, subject.c_str(), reply.c_str(),
                                body.data(), static_cast<int>(body.size()));
}

// Renews the leases of replicas still read, asks again where no snapshot
// came, and gives up replicas nobody reads.
void Cluster::RenewReplicas() {
  const int64_t now = NowMs();
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    Replica& r = it->second;
    // Waiters parked on it (a long poll, a stream open for hours) read it
    // all along, also before its key exists: the comet hub keeps them by
    // their patterns' fixed prefix.
    if (watched_ && watched_(JoinKey(r.pattern.FixedPrefix()))) {
      r.read_ms = now;
    }
    if (now - r.read_ms > config_.replica_idle_ms) {
      it = replicas_.erase(it);
      continue;
    }
    if (now - r.asked_ms > (r.synced ? kRenewMs : kRetryAskMs)) {
      RequestLease(it->first.first, it->first.second);
    }
    ++it;
  }
}

void Cluster::Snapshot(const Inbound& m) {
  std::string owner_name;
  uint64_t seq = 0;
  absl::string_view rest;
  if (!ParseHead(m.data, 'S', &owner_name, &seq, &rest)) return;
  const size_t nl = rest.find('\n');
  if (nl == absl::string_view::npos) return;
  const std::string pattern(rest.substr(0, nl));
  auto shard =
      std::find(config_.shards.begin(), config_.shards.end(), owner_name);
  if (shard == config_.shards.end()) return;
  const size_t owner = static_cast<size_t>(shard - config_.shards.begin());
  auto it = replicas_.find({owner, pattern});
  if (it == replicas_.end()) return;  // given up meanwhile
  Replica& r = it->second;
  ApplyReplica(owner, rest.substr(nl + 1), {&r.pattern});
  r.synced = true;
  r.seq = seq;
}

void Cluster::Changes(const Inbound& m) {
  std::string owner_name;
  uint64_t seq = 0;
  absl::string_view body;
  if (!ParseHead(m.data, 'C', &owner_name, &seq, &body)) return;
  if (owner_name == config_.node) return;  // this node's own feed
  auto shard =
      std::find(config_.shards.begin(), config_.shards.end(), owner_name);
  if (shard == config_.shards.end()) return;
  const size_t owner = static_cast<size_t>(shard - config_.shards.begin());
  // The replicas of this owner that this body is newer than.
  std::vector<const Pattern*> patterns;
  for (auto it = replicas_.lower_bound({owner, std::string()});
       it != replicas_.end() && it->first.first == owner; ++it) {
    if (it->second.synced && seq > it->second.seq) {
      patterns.push_back(&it->second.pattern);
    }
  }
  if (!patterns.empty()) ApplyReplica(owner, body, patterns);
}

void Cluster::ApplyReplica(size_t owner, absl::string_view body,
                           const std::vector<const Pattern*>& patterns) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.IsObject() || !doc.HasMember("items") || !doc["items"].IsArray()) {
    return;
  }
  const bool reset = doc.HasMember("reset") && doc["reset"].IsTrue();
  // A body from an owner that sends units: each leaf in it gets the one
  // listed, or loses the one it had.
  const rapidjson::Value* units = nullptr;
  if (doc.HasMember("units") && doc["units"].IsObject()) {
    units = &doc["units"];
  }
  const rapidjson::Value* sketches = nullptr;
  if (doc.HasMember("sketches") && doc["sketches"].IsObject()) {
    sketches = &doc["sketches"];
  }
  std::deque<std::string> sketch_bytes;  // what kSketch ops point into
  const int64_t now = NowMs() / 1000;
  Push push;
  std::vector<KeySegments> removed;
  size_t applied = 0;
  for (const auto& item : doc["items"].GetArray()) {
    if (!item.IsObject() || item.MemberCount() != 1) continue;
    const auto& member = *item.MemberBegin();
    const absl::string_view key(member.name.GetString(),
                                member.name.GetStringLength());
    absl::StatusOr<KeySegments> segs = SplitKey(key);
    if (!segs.ok() || segs->empty()) continue;
    // Only what the owner owns, under a pattern read here: an owner's feed
    // covers every reader's leases, and its own replicas are not its.
    if (ring_.OwnerOfSegments(*segs) != owner) continue;
    bool wanted = false;
    for (const Pattern* p : patterns) wanted = wanted || p->Selects(*segs);
    if (!wanted) continue;
    const rapidjson::Value& v = member.value;
    if (v.IsNull()) {
      removed.push_back(*segs);
      continue;
    }
    double number = 0;
    absl::string_view text;
    bool is_text = false;
    const std::string* sketch = nullptr;  // a timer's distribution
    if (v.IsNumber()) {
      number = v.GetDouble();
    } else if (v.IsString()) {
      text = absl::string_view(v.GetString(), v.GetStringLength());
      is_text = true;
    } else if (v.IsObject() && v.HasMember("mean") && v["mean"].IsNumber()) {
      number = v["mean"].GetDouble();  // an owner that sends no sketches
      auto it =
          sketches == nullptr
              ? rapidjson::Value::ConstMemberIterator()
              : sketches->FindMember(rapidjson::Value(rapidjson::StringRef(
                    member.name.GetString(), member.name.GetStringLength())));
      std::string bytes;
      if (sketches != nullptr && it != sketches->MemberEnd() &&
          it->value.IsString() &&
          absl::Base64Unescape(absl::string_view(it->value.GetString(),
                                                 it->value.GetStringLength()),
                               &bytes) &&
          Sketch::Deserialize(bytes).ok()) {
        sketch_bytes.push_back(std::move(bytes));
        sketch = &sketch_bytes.back();
      }
    } else {
      continue;
    }
    // The unit the owner lists for it (with a body that lists units).
    absl::string_view unit;
    bool set_unit = false;
    if (units != nullptr) {
      auto it = units->FindMember(rapidjson::Value(rapidjson::StringRef(
          member.name.GetString(), member.name.GetStringLength())));
      if (it != units->MemberEnd() && it->value.IsString()) {
        unit = absl::string_view(it->value.GetString(),
                                 it->value.GetStringLength());
      }
      set_unit = ValidateUnit(unit).ok() || unit.empty();
    }
    // What this node shows already (a renewed lease's snapshot repeats
    // what the feed brought) is not applied again: its waiters would wake
    // for nothing.
    if (const Node* n = tree_->Find(*segs); n != nullptr && n->has_value()) {
      const LiveValue live =
          n->Live(n->EffectiveAction(), now, tree_->step_seconds());
      bool same = live.has && live.is_text == is_text &&
                  (is_text ? live.text == text : live.value == number);
      if (same && sketch != nullptr) {
        std::string shown;
        if (live.sketch != nullptr) live.sketch->Serialize(&shown);
        same = shown == *sketch;
      }
      if (same && (!set_unit || n->StatedUnit() == unit)) continue;
    }
    for (size_t i = 0; i + 1 < segs->size(); ++i) {
      PushOp enter(PushOp::Kind::kEnter);
      enter.name = (*segs)[i];
      push.ops.push_back(enter);
    }
    PushOp leaf(is_text  ? PushOp::Kind::kText
                : sketch ? PushOp::Kind::kSketch
                         : PushOp::Kind::kSample);
    leaf.name = segs->back();
    leaf.action = is_text ? Action::kInherit : Action::kLast;
    leaf.value = number;
    leaf.text = sketch ? absl::string_view(*sketch) : text;
    push.ops.push_back(leaf);
    if (set_unit) {
      PushOp enter(PushOp::Kind::kEnter);
      enter.name = segs->back();
      push.ops.push_back(enter);
      PushOp set(PushOp::Kind::kUnit);
      set.text = unit;
      push.ops.push_back(set);
      PushOp leave(PushOp::Kind::kLeave);
      leave.count = 1;
      push.ops.push_back(leave);
    }
    if (segs->size() > 1) {
      PushOp leave(PushOp::Kind::kLeave);
      leave.count = static_cast<uint32_t>(segs->size() - 1);
      push.ops.push_back(leave);
    }
    push.node_refs += segs->size();
    ++push.leaves;
    ++applied;
  }
  if (reset) {
    // A snapshot is all there is: what this node holds of the owner's
    // under these patterns and the snapshot lacks is gone.
    absl::flat_hash_set<std::string> present;
    for (const auto& item : doc["items"].GetArray()) {
      if (item.IsObject() && item.MemberCount() == 1) {
        present.insert(item.MemberBegin()->name.GetString());
      }
    }
    std::vector<std::string> stale;
    for (const Pattern* p : patterns) {
      tree_->Collect(*p, 0, [&](const LeafView& leaf) {
        if (!present.contains(leaf.key) &&
            ring_.OwnerOfKey(leaf.key) == owner) {
          stale.emplace_back(leaf.key);
        }
        return true;
      });
    }
    for (const std::string& key : stale) {
      if (absl::StatusOr<KeySegments> segs = SplitKey(key); segs.ok()) {
        (void)tree_->Remove(*segs);
      }
    }
  }
  for (const KeySegments& k : removed) (void)tree_->Remove(k);
  if (!push.ops.empty()) (void)tree_->Apply(push, now);
  figures_.replica_items += applied + removed.size();
}

}  // namespace canopy
