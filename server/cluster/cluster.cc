#include "server/cluster/cluster.h"

#include <nats/nats.h>
#include <poll.h>

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
#include "server/cluster/push_split.h"
#include "server/ingest/json_ingest.h"
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

constexpr int kFlushMs = 5;                // a batch waits at most this long
constexpr size_t kBatchBytes = 512 << 10;  // or leaves as soon as this big
constexpr int kTickMs = 250;
constexpr int64_t kHeartbeatMs = 1000;
constexpr int64_t kResendMs = 1000;  // an unacknowledged batch is sent again
constexpr int64_t kAliveMs = 3500;   // heard from within this: alive
constexpr size_t kSeenPerSender = 65536;

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
                                                 int shard_depth) {
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
      out_(config.shards.size()),
      http_(config.http) {
  for (size_t i = 0; i < config.shards.size(); ++i) {
    if (config.shards[i] == config.node) self_ = i;
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
  for (const std::string& subject :
       {write, ack, std::string(kHeartbeatSubject), lease, snapshot, changes}) {
    natsSubscription* sub = nullptr;
    s = natsConnection_Subscribe(&sub, nc_, subject.c_str(),
                                 &Cluster::OnNatsMessage, this);
    if (s != NATS_OK) {
      return absl::UnavailableError(absl::StrCat(
          "--cluster: subscribing to ", subject, ": ", natsStatus_GetText(s)));
    }
    subs_.push_back(sub);
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
  for (natsSubscription* sub : subs_) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
  // The client's threads may be in a callback still, posting to mailbox_:
  // wait until they are all gone (canopyd has one connection, made once).
  nats_CloseAndWait(2000);
  for (event* e : {mail_event_, flush_event_, tick_event_, feed_event_}) {
    if (e != nullptr) event_free(e);
  }
}

int64_t Cluster::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- the NATS client's threads: post, nothing else ---------------------------

void Cluster::OnNatsMessage(natsConnection*, natsSubscription*, natsMsg* msg,
                            void* closure) {
  Cluster* self = static_cast<Cluster*>(closure);
  Inbound m;
  absl::string_view subject = natsMsg_GetSubject(msg);
  if (absl::StartsWith(subject, kWritePrefix)) {
    m.kind = Inbound::Kind::kWrite;
    if (const char* reply = natsMsg_GetReply(msg)) m.reply = reply;
  } else if (absl::StartsWith(subject, kAckPrefix)) {
    m.kind = Inbound::Kind::kAck;
  } else if (absl::StartsWith(subject, kLeasePrefix)) {
    m.kind = Inbound::Kind::kLease;
    if (const char* reply = natsMsg_GetReply(msg)) m.reply = reply;
  } else if (absl::StartsWith(subject, kSnapshotPrefix)) {
    m.kind = Inbound::Kind::kSnapshot;
  } else if (absl::StartsWith(subject, kChangesPrefix)) {
    m.kind = Inbound::Kind::kChanges;
  } else {
    m.kind = Inbound::Kind::kHeartbeat;
  }
  m.data.assign(natsMsg_GetData(msg),
                static_cast<size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  self->mailbox_.Post(std::move(m));
}

void Cluster::OnNatsConnection(natsConnection* nc, void* closure) {
  Cluster* self = static_cast<Cluster*>(closure);
  Inbound m;
  m.kind = Inbound::Kind::kConnection;
  m.data =
      natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED ? "up" : "down";
  self->mailbox_.Post(std::move(m));
}

// --- the tree's thread
// --------------------------------------------------------

void Cluster::OnMail(evutil_socket_t, short, void* arg) {
  static_cast<Cluster*>(arg)->TakeMail();
}

void Cluster::TakeMail() {
  for (Inbound& m : mailbox_.TakeAll()) {
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
      case Inbound::Kind::kConnection: {
        const bool up = m.data == "up";
        if (up != connected_) {
          CANOPY_LOG("cluster: NATS %s", up ? "connected" : "disconnected");
        }
        connected_ = up;
        if (up) {
          // Everything not acknowledged goes again now, not at its turn.
          const int64_t now = NowMs();
          for (auto& [id, u] : unacked_) {
            u.sent_ms = now;
            Publish(u);
          }
        }
        break;
      }
    }
  }
}

// A batch: "W1 FROM ID NOW KIND\n" then its body, KIND "L" (lines) or "J"
// (JSON pushes, each "LENGTH\n" then the push).
void Cluster::ApplyWrite(const Inbound& m) {
  const size_t nl = m.data.find('\n');
  if (nl == std::string::npos) return;
  std::vector<absl::string_view> head =
      absl::StrSplit(absl::string_view(m.data.data(), nl), ' ');
  uint64_t id = 0;
  int64_t now = 0;
  if (head.size() != 5 || head[0] != "W1" || !absl::SimpleAtoi(head[2], &id) ||
      !absl::SimpleAtoi(head[3], &now)) {
    CANOPY_LOG("cluster: a write batch with a bad head, dropped");
    return;
  }
  const std::string from(head[1]);
  const absl::string_view body = absl::string_view(m.data).substr(nl + 1);
  Seen& seen = seen_[from];
  if (seen.ids.contains(id)) {
    ++figures_.batches_duplicate;
  } else {
    if (head[4] == "L") {
      // Applied here whoever owns them by this node's ring: a batch is
      // never forwarded twice.
      Forwarder* saved = lines_->forwarder();
      lines_->set_forwarder(nullptr);
      lines_->ApplyLines(body, "cluster", now);
      lines_->set_forwarder(saved);
    } else if (head[4] == "J") {
      absl::string_view rest = body;
      while (!rest.empty()) {
        const size_t end = rest.find('\n');
        size_t len = 0;
        if (end == absl::string_view::npos ||
            !absl::SimpleAtoi(rest.substr(0, end), &len) ||
            len > rest.size() - end - 1) {
          CANOPY_LOG("cluster: a JSON batch from %s is cut short", from);
          break;
        }
        const absl::string_view text = rest.substr(end + 1, len);
        rest.remove_prefix(end + 1 + len);
        CountJsonPush(ApplyJsonPush(tree_, text, now, &trim_), "cluster",
                      stats_);
      }
    }
    ++figures_.batches_applied;
    seen.ids.insert(id);
    seen.order.push_back(id);
    if (seen.order.size() > kSeenPerSender) {
      seen.ids.erase(seen.order.front());
      seen.order.pop_front();
    }
  }
  // Acknowledged once applied (or known), so a sender that hears nothing
  // sends again and loses nothing.
  if (!m.reply.empty() && nc_ != nullptr) {
    const std::string ack = absl::StrCat("A1 ", id);
    natsConnection_Publish(nc_, m.reply.c_str(), ack.data(),
                           static_cast<int>(ack.size()));
  }
}

void Cluster::Acknowledged(absl::string_view data) {
  uint64_t id = 0;
  if (!absl::ConsumePrefix(&data, "A1 ") || !absl::SimpleAtoi(data, &id)) {
    return;
  }
  auto it = unacked_.find(id);
  if (it == unacked_.end()) return;  // acknowledged already
  unacked_bytes_ -= it->second.message.size();
  unacked_.erase(it);
  ++figures_.batches_acked;
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

void Cluster::Trim::RouteJson(absl::string_view, Push* push, int64_t) {
  if (c_->IsShard()) {
    KeepOwned(push, c_->ring_, c_->self_);
  } else {
    push->ops.clear();
    push->key_markers.clear();
  }
}

void Cluster::RouteJson(absl::string_view text, Push* push, int64_t) {
  const std::vector<bool> owners = OwnersOfPush(*push, ring_);
  bool others = false;
  for (size_t i = 0; i < owners.size(); ++i) {
    if (!owners[i] || i == self_) continue;
    others = true;
    Outbound& o = out_[i];
    absl::StrAppend(&o.json, text.size(), "\n", text);
    ++o.pushes;
    ++figures_.pushes_forwarded;
    if (o.json.size() >= kBatchBytes) Flush();
  }
  if (!others) return;  // all of it is this node's
  ScheduleFlush();
  trim_.RouteJson(text, push, 0);
}

absl::string_view Cluster::RouteLines(absl::string_view text, int64_t,
                                      std::string* local) {
  bool all_local = true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == absl::string_view::npos) nl = text.size();
    const absl::string_view line = text.substr(pos, nl - pos);
    const size_t start = pos;
    pos = nl + 1;
    size_t owner = self_;
    if (!line.empty() && line[0] != '{' && line[0] != '[' &&
        !StartsJson(line)) {
      // The name: before a StatsD ':' or a Graphite ' '.
      size_t end = 0;
      while (end < line.size() && line[end] != ':' && line[end] != ' ') ++end;
      owner = ring_.OwnerOfName(line.substr(0, end));
    }
    if (owner == self_) {
      if (!all_local) absl::StrAppend(local, line, "\n");
      continue;
    }
    if (all_local) {
      all_local = false;
      local->assign(text.data(), start);
    }
    Outbound& o = out_[owner];
    absl::StrAppend(&o.lines, line, "\n");
    ++o.lines_count;
    ++figures_.lines_forwarded;
    if (o.lines.size() >= kBatchBytes) Flush();
  }
  if (all_local) return text;
  ScheduleFlush();
  return *local;
}

void Cluster::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  timeval tv = Millis(kFlushMs);
  event_add(flush_event_, &tv);
}

void Cluster::OnFlushTimer(evutil_socket_t, short, void* arg) {
  Cluster* self = static_cast<Cluster*>(arg);
  self->flush_scheduled_ = false;
  self->Flush();
}

void Cluster::Flush() {
  const int64_t now = NowMs() / 1000;
  for (size_t owner = 0; owner < out_.size(); ++owner) {
    Outbound& o = out_[owner];
    if (!o.lines.empty()) {
      Send(owner, 'L', now, o.lines);
      o.lines.clear();
      o.lines_count = 0;
    }
    if (!o.json.empty()) {
      Send(owner, 'J', now, o.json);
      o.json.clear();
      o.pushes = 0;
    }
  }
}

void Cluster::Send(size_t owner, char kind, int64_t now,
                   absl::string_view body) {
  const uint64_t id = next_id_++;
  Unacked& u = unacked_[id];
  u.owner = owner;
  u.message = absl::StrCat("W1 ", config_.node, " ", id, " ", now, " ",
                           absl::string_view(&kind, 1), "\n", body);
  u.sent_ms = NowMs();
  u.attempts = 1;
  unacked_bytes_ += u.message.size();
  ++figures_.batches_sent;
  Publish(u);
  // Bounded: past the buffer the oldest batches are given up, and counted.
  while (unacked_bytes_ > config_.buffer_bytes && !unacked_.empty()) {
    auto oldest = unacked_.begin();
    unacked_bytes_ -= oldest->second.message.size();
    unacked_.erase(oldest);
    ++figures_.batches_dropped;
  }
}

void Cluster::Publish(const Unacked& u) {
  if (nc_ == nullptr) return;
  const std::string subject =
      absl::StrCat(kWritePrefix, config_.shards[u.owner]);
  const std::string reply = absl::StrCat(kAckPrefix, config_.node);
  natsConnection_PublishRequest(nc_, subject.c_str(), reply.c_str(),
                                u.message.data(),
                                static_cast<int>(u.message.size()));
}

void Cluster::OnTick(evutil_socket_t, short, void* arg) {
  static_cast<Cluster*>(arg)->Tick();
}

void Cluster::Tick() {
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

void Cluster::Drain(int timeout_ms) {
  Flush();
  if (nc_ == nullptr) return;
  natsConnection_FlushTimeout(nc_, timeout_ms);
  const int64_t deadline = NowMs() + timeout_ms;
  while (!unacked_.empty() && NowMs() < deadline && connected_) {
    // The acknowledgements come through the mailbox: take them here, the
    // loop being about to stop.
    pollfd p = {mailbox_.fd(), POLLIN, 0};
    poll(&p, 1, 50);
    TakeMail();
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
