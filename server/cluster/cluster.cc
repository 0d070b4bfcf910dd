#include "server/cluster/cluster.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/key.h"
#include "server/json_out.h"
#include "server/log.h"

namespace canopy {
namespace {

using cluster_subject::kAckPrefix;
using cluster_subject::kChangesPrefix;
using cluster_subject::kHeartbeatSubject;
using cluster_subject::kLeasePrefix;
using cluster_subject::kSnapshotPrefix;
using cluster_subject::kWritePrefix;

constexpr int kTickMs = 250;
constexpr int64_t kHeartbeatMs = 1000;
constexpr int64_t kResendMs = 1000;  // an unacknowledged batch is sent again
constexpr int64_t kAliveMs = 3500;   // heard from within this: alive

bool ValidNodeName(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

timeval Millis(int ms) { return {ms / 1000, (ms % 1000) * 1000}; }

}  // namespace

absl::StatusOr<ClusterConfig> ParseClusterConfig(absl::string_view cluster,
                                                 absl::string_view node,
                                                 absl::string_view shards,
                                                 int shard_depth, int batch_ms,
                                                 int replica_idle_s) {
  ClusterConfig c;
  for (absl::string_view url :
       absl::StrSplit(cluster, ',', absl::SkipEmpty())) {
    url = absl::StripAsciiWhitespace(url);
    if (!absl::StartsWith(url, "nats://")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--cluster: \"", url, "\" is not a nats://HOST:PORT URL"));
    }
    c.urls.emplace_back(url);
  }
  if (c.urls.empty()) {
    return absl::InvalidArgumentError("--cluster: no NATS URL");
  }
  if (!ValidNodeName(node)) {
    return absl::InvalidArgumentError(
        "--node: a cluster node needs a name of letters, digits, '-' and '_'");
  }
  c.node = std::string(node);
  for (absl::string_view s : absl::StrSplit(shards, ',', absl::SkipEmpty())) {
    s = absl::StripAsciiWhitespace(s);
    if (!ValidNodeName(s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--shards: \"", s, "\" is not a node name"));
    }
    if (std::find(c.shards.begin(), c.shards.end(), s) != c.shards.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--shards: \"", s, "\" is named twice"));
    }
    c.shards.emplace_back(s);
  }
  if (c.shards.empty()) {
    return absl::InvalidArgumentError("--shards: a cluster needs a shard");
  }
  if (shard_depth < 1 || shard_depth > static_cast<int>(kMaxSegments)) {
    return absl::InvalidArgumentError("--shard_depth must be 1 to 32");
  }
  c.shard_depth = static_cast<size_t>(shard_depth);
  if (batch_ms < 1 || batch_ms > 1000) {
    return absl::InvalidArgumentError("--cluster_batch_ms must be 1 to 1000");
  }
  c.batch_ms = batch_ms;
  if (replica_idle_s < 1 || replica_idle_s > 86400) {
    return absl::InvalidArgumentError(
        "--cluster_replica_idle_s must be 1 to 86400");
  }
  c.replica_idle_ms = int64_t{replica_idle_s} * 1000;
  return c;
}

Cluster::Cluster(const ClusterConfig& config, event_base* base,
                 LineIngest* lines, Tree* tree, Stats* stats)
    : config_(config),
      ring_(config.shards, config.shard_depth),
      base_(base),
      lines_(lines),
      tree_(tree),
      stats_(stats),
      loop_(base, [this] { TakeMessages(); }),
      out_(config.shards.size()),
      http_(config.http) {
  for (size_t i = 0; i < config.shards.size(); ++i) {
    if (config.shards[i] == config.node) self_ = i;
  }
  if (!config.journal_dir.empty()) {
    journal_ = std::make_unique<WriteJournal>(config.journal_dir);
  }
  // Batch numbers go on from a point a restarted sender has not used, so
  // that an owner never takes a new batch for an old one it has seen.
  next_id_ = static_cast<uint64_t>(NowMs()) << 16;
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(
    const ClusterConfig& config, event_base* base, LineIngest* lines,
    Tree* tree, Stats* stats) {
  std::unique_ptr<Cluster> c(new Cluster(config, base, lines, tree, stats));
  c->mail_event_ = event_new(base, c->mailbox_.fd(), EV_READ | EV_PERSIST,
                             &Cluster::OnMail, c.get());
  c->flush_event_ = event_new(base, -1, 0, &Cluster::OnFlushTimer, c.get());
  c->tick_event_ = event_new(base, -1, EV_PERSIST, &Cluster::OnTick, c.get());
  c->feed_event_ =
      event_new(base, -1, EV_PERSIST, &Cluster::OnFeedTimer, c.get());
  event_add(c->mail_event_, nullptr);
  timeval tick = Millis(kTickMs);
  event_add(c->tick_event_, &tick);
  if (absl::Status s = c->Connect(); !s.ok()) return s;
  return c;
}

absl::Status Cluster::Connect() {
  natsOptions* opts = nullptr;
  auto fail = [&](natsStatus s, const char* what) {
    if (opts != nullptr) natsOptions_Destroy(opts);
    return absl::UnavailableError(
        absl::StrCat("--cluster: ", what, ": ", natsStatus_GetText(s)));
  };
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return fail(s, "options");
  std::vector<const char*> urls;
  for (const std::string& u : config_.urls) urls.push_back(u.c_str());
  s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s != NATS_OK) return fail(s, "NATS URLs");
  natsOptions_SetName(opts, config_.node.c_str());
  natsOptions_SetAllowReconnect(opts, true);
  natsOptions_SetMaxReconnect(opts, -1);  // forever
  natsOptions_SetReconnectWait(opts, 250);
  // On the tree's loop: no reader thread, and with SendAsap no flusher
  // thread either (what is published leaves when the loop finds the socket
  // writable, all of one loop turn together).
  s = loop_.Configure(opts);
  if (s != NATS_OK) return fail(s, "event loop");
  natsOptions_SetSendAsap(opts, true);
  natsOptions_SetDisconnectedCB(opts, &Cluster::OnNatsConnection, this);
  natsOptions_SetReconnectedCB(opts, &Cluster::OnNatsConnection, this);
  // NATS may come up after canopyd: connect in the background then.
  natsOptions_SetRetryOnFailedConnect(opts, true, &Cluster::OnNatsConnection,
                                      this);
  s = natsConnection_Connect(&nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    return absl::UnavailableError(absl::StrCat(
        "--cluster: cannot connect to NATS: ", natsStatus_GetText(s)));
  }
  connected_ = s == NATS_OK;
  const std::string write = absl::StrCat(kWritePrefix, config_.node);
  const std::string ack = absl::StrCat(kAckPrefix, config_.node);
  const std::string lease = absl::StrCat(kLeasePrefix, config_.node);
  const std::string snapshot = absl::StrCat(kSnapshotPrefix, config_.node);
  const std::string changes = absl::StrCat(kChangesPrefix, "*");
  // Taken in this order after each read: a snapshot before the changes
  // read with it.
  using Kind = Inbound::Kind;
  const std::pair<Kind, std::string> subjects[] = {
      {Kind::kWrite, write},
      {Kind::kAck, ack},
      {Kind::kHeartbeat, kHeartbeatSubject},
      {Kind::kLease, lease},
      {Kind::kSnapshot, snapshot},
      {Kind::kChanges, changes}};
  for (const auto& [kind, subject] : subjects) {
    natsSubscription* sub = nullptr;
    s = natsConnection_SubscribeSync(&sub, nc_, subject.c_str());
    if (s != NATS_OK) {
      return absl::UnavailableError(absl::StrCat(
          "--cluster: subscribing to ", subject, ": ", natsStatus_GetText(s)));
    }
    // Taken after every read, so never many; no limit, so that nothing is
    // dropped as a slow consumer's.
    natsSubscription_SetPendingLimits(sub, -1, -1);
    subs_.emplace_back(kind, sub);
  }
  CANOPY_LOG("cluster: node %s (%s of %d), NATS %s%s", config_.node,
             IsShard() ? "shard" : "edge",
             static_cast<int>(config_.shards.size()),
             absl::StrJoin(config_.urls, ","),
             connected_ ? "" : " (not up yet: connecting in the background)");
  Tick();  // the first heartbeat now
  return absl::OkStatus();
}

Cluster::~Cluster() {
  // Closed first, with nothing left to write (Drain), so that closing waits
  // for nothing (libnats' Close flushes what is buffered, waiting for the
  // server's PONG, which only the loop would read); the subscriptions go
  // with the connection.
  if (nc_ != nullptr) natsConnection_Close(nc_);
  for (const auto& [kind, sub] : subs_) natsSubscription_Destroy(sub);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
  // The client's threads may be in a callback still, posting to mailbox_
  // or adding loop_'s events: wait until they are all gone (canopyd has one
  // connection, made once).
  nats_CloseAndWait(2000);
  loop_.Collect();
  for (event* e : {mail_event_, flush_event_, tick_event_, feed_event_}) {
    if (e != nullptr) event_free(e);
  }
}

int64_t Cluster::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- libnats' threads: the connection's state, posted ----------------------

void Cluster::OnNatsConnection(natsConnection* nc, void* closure) {
  Cluster* self = static_cast<Cluster*>(closure);
  self->mailbox_.Post(
      {natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED});
}

// --- the tree's thread -------------------------------------------------------

void Cluster::TakeMessages() {
  for (const auto& [kind, sub] : subs_) {
    int count = 0;
    int bytes = 0;
    if (natsSubscription_GetPending(sub, &count, &bytes) != NATS_OK) continue;
    for (; count > 0; --count) {
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, sub, 0) != NATS_OK) break;
      Inbound m{
          kind,
          absl::string_view(natsMsg_GetData(msg),
                            static_cast<size_t>(natsMsg_GetDataLength(msg))),
          {}};
      if (const char* reply = natsMsg_GetReply(msg)) m.reply = reply;
      Handle(m);
      natsMsg_Destroy(msg);
    }
  }
}

void Cluster::Handle(const Inbound& m) {
  switch (m.kind) {
    case Inbound::Kind::kWrite:
      ApplyWrite(m);
      break;
    case Inbound::Kind::kAck:
      Acknowledged(m.data);
      break;
    case Inbound::Kind::kHeartbeat:
      Heard(m.data);
      break;
    case Inbound::Kind::kLease:
      Lease(m);
      break;
    case Inbound::Kind::kSnapshot:
      Snapshot(m);
      break;
    case Inbound::Kind::kChanges:
      Changes(m);
      break;
  }
}

void Cluster::OnMail(evutil_socket_t, short, void* arg) {
  static_cast<Cluster*>(arg)->TakeMail();
}

void Cluster::TakeMail() {
  for (const ConnectionChange& change : mailbox_.TakeAll()) {
    if (change.up != connected_) {
      CANOPY_LOG("cluster: NATS %s", change.up ? "connected" : "disconnected");
    }
    connected_ = change.up;
    if (!change.up) continue;
    // Everything not acknowledged goes again now, not at its turn.
    const int64_t now = NowMs();
    for (auto& [id, u] : unacked_) {
      u.sent_ms = now;
      Publish(u);
    }
  }
}

// "H1 NODE ROLE SEQ [HTTP]"
void Cluster::Heard(absl::string_view data) {
  std::vector<absl::string_view> f = absl::StrSplit(data, ' ');
  uint64_t seq = 0;
  if ((f.size() != 4 && f.size() != 5) || f[0] != "H1" ||
      !ValidNodeName(f[1]) || !absl::SimpleAtoi(f[3], &seq)) {
    return;
  }
  Peer& p = peers_[f[1]];
  if (f.size() == 5) p.http = std::string(f[4]);
  const int64_t now = NowMs();
  const bool back = now - p.last_ms >= kAliveMs;  // or heard for the first time
  p.role = std::string(f[2]);
  p.last_ms = now;
  p.seq = seq;
  if (!back) return;
  // A shard come back: what waits for it goes now, not at its turn.
  for (auto& [id, u] : unacked_) {
    if (config_.shards[u.owner] != f[1]) continue;
    u.sent_ms = now;
    ++u.attempts;
    ++figures_.batches_resent;
    Publish(u);
  }
}

void Cluster::OnTick(evutil_socket_t, short, void* arg) {
  static_cast<Cluster*>(arg)->Tick();
}

void Cluster::Tick() {
  // Whatever a read outside the loop's callbacks left (none expected), and
  // the events a reconnection retired.
  TakeMessages();
  loop_.Collect();
  const int64_t now = NowMs();
  if (now - last_heartbeat_ms_ >= kHeartbeatMs && nc_ != nullptr) {
    last_heartbeat_ms_ = now;
    std::string hb =
        absl::StrCat("H1 ", config_.node, " ", IsShard() ? "shard" : "edge",
                     " ", ++heartbeats_);
    if (!http_.empty()) absl::StrAppend(&hb, " ", http_);
    natsConnection_Publish(nc_, kHeartbeatSubject, hb.data(),
                           static_cast<int>(hb.size()));
  }
  RenewReplicas();
  if (!connected_) return;
  for (auto& [id, u] : unacked_) {
    if (now - u.sent_ms < kResendMs * std::min(u.attempts, 8)) continue;
    u.sent_ms = now;
    ++u.attempts;
    ++figures_.batches_resent;
    Publish(u);
  }
}

Cluster::Figures Cluster::figures() const {
  Figures f = figures_;
  f.unacked_bytes = unacked_bytes_;
  f.leases = leases_.size();
  f.replicas = replicas_.size();
  f.connected = connected_;
  return f;
}

std::optional<std::string> Cluster::OwnerHttp(
    absl::Span<const absl::string_view> key) const {
  const size_t owner = ring_.OwnerOfSegments(key);
  if (owner == self_) return std::nullopt;
  auto p = peers_.find(config_.shards[owner]);
  if (p == peers_.end() || p->second.http.empty() ||
      NowMs() - p->second.last_ms >= kAliveMs) {
    return std::nullopt;
  }
  return p->second.http;
}

void Cluster::DropReplicaWindows(std::vector<ClosedWindow>* windows) {
  const size_t before = windows->size();
  windows->erase(std::remove_if(windows->begin(), windows->end(),
                                [this](const ClosedWindow& w) {
                                  return !IsShard() ||
                                         ring_.OwnerOfKey(w.key) != self_;
                                }),
                 windows->end());
  figures_.replica_windows += before - windows->size();
}

ShardMap Cluster::Shards() const {
  ShardMap map{ring_, std::nullopt, {}};
  if (IsShard()) map.self = self_;
  const int64_t now = NowMs();
  for (size_t i = 0; i < config_.shards.size(); ++i) {
    std::string http;
    auto p = peers_.find(config_.shards[i]);
    if (!map.Owns(i) && p != peers_.end() &&
        now - p->second.last_ms < kAliveMs) {
      http = p->second.http;
    }
    map.http.push_back(std::move(http));
  }
  return map;
}

std::string Cluster::StatusJson(absl::string_view key) const {
  const int64_t now = NowMs();
  JsonOut out;
  out.w.StartObject();
  out.Key("node");
  out.String(config_.node);
  out.Key("role");
  out.String(IsShard() ? "shard" : "edge");
  out.Key("nats");
  out.w.Bool(connected_);
  out.Key("shard_depth");
  out.Number(static_cast<double>(config_.shard_depth));
  if (!key.empty()) {
    out.Key("owner");
    out.String(config_.shards[ring_.OwnerOfKey(key)]);
  }
  // Waiting for each shard: batches not acknowledged, and their bytes.
  std::vector<size_t> waiting(config_.shards.size(), 0);
  std::vector<size_t> waiting_bytes(config_.shards.size(), 0);
  for (const auto& [id, u] : unacked_) {
    ++waiting[u.owner];
    waiting_bytes[u.owner] += u.message.size();
  }
  out.Key("nodes");
  out.w.StartArray();
  std::vector<std::string> names = config_.shards;
  for (const auto& [name, p] : peers_) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  for (const std::string& name : names) {
    out.w.StartObject();
    out.Key("node");
    out.String(name);
    const auto shard =
        std::find(config_.shards.begin(), config_.shards.end(), name);
    out.Key("role");
    out.String(shard != config_.shards.end() ? "shard" : "edge");
    auto p = peers_.find(name);
    const bool self = name == config_.node;
    out.Key("alive");
    out.w.Bool(self ||
               (p != peers_.end() && now - p->second.last_ms < kAliveMs));
    if (self && !http_.empty()) {
      out.Key("http");
      out.String(http_);
    } else if (p != peers_.end() && !p->second.http.empty()) {
      out.Key("http");
      out.String(p->second.http);
    }
    out.Key("last_heard_ms");
    if (self) {
      out.Number(0);
    } else if (p != peers_.end()) {
      out.Number(static_cast<double>(now - p->second.last_ms));
    } else {
      out.w.Null();
    }
    if (shard != config_.shards.end()) {
      const size_t i = static_cast<size_t>(shard - config_.shards.begin());
      out.Key("unacked_batches");
      out.Number(static_cast<double>(waiting[i]));
      out.Key("unacked_bytes");
      out.Number(static_cast<double>(waiting_bytes[i]));
    }
    out.w.EndObject();
  }
  out.w.EndArray();
  out.w.EndObject();
  return out.Take();
}

}  // namespace canopy
