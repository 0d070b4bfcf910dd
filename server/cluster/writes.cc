// Writes across a cluster (see cluster.h): what ingest hands over is split
// by owner, queued, sent in numbered batches over NATS and kept until
// acknowledged; what other nodes send is applied here once and acknowledged.
// Everything here runs on the tree's thread.
#include <nats/nats.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/cluster/cluster.h"
#include "server/cluster/push_split.h"
#include "server/ingest/json_ingest.h"
#include "server/log.h"

namespace canopy {
namespace {

using cluster_subject::kAckPrefix;
using cluster_subject::kWritePrefix;

constexpr size_t kBatchBytes = 512 << 10;  // or leaves as soon as this big
constexpr size_t kSeenPerSender = 65536;   // batch numbers remembered

timeval Millis(int ms) { return {ms / 1000, (ms % 1000) * 1000}; }

}  // namespace

// A batch: "W2 FROM ID NOW KIND [ACK...]\n" then its body, KIND "L"
// (lines) or "J" (JSON pushes, each "LENGTH\n" then the push); the ACKs are
// the numbers of FROM's batches this node sent and FROM has applied (they
// ride with the writes FROM sends here, saving a message each: "W1", the
// head without them, is read too).
void Cluster::ApplyWrite(const Inbound& m) {
  const size_t nl = m.data.find('\n');
  if (nl == std::string::npos) return;
  std::vector<absl::string_view> head =
      absl::StrSplit(absl::string_view(m.data.data(), nl), ' ');
  uint64_t id = 0;
  int64_t now = 0;
  if (head.size() < 5 || (head[0] != "W2" && head[0] != "W1") ||
      (head[0] == "W1" && head.size() != 5) ||
      !absl::SimpleAtoi(head[2], &id) || !absl::SimpleAtoi(head[3], &now)) {
    CANOPY_LOG("cluster: a write batch with a bad head, dropped");
    return;
  }
  for (size_t i = 5; i < head.size(); ++i) Acknowledge(head[i]);
  const std::string from(head[1]);
  const absl::string_view body = absl::string_view(m.data).substr(nl + 1);
  Seen& seen = seen_[from];
  if (seen.ids.contains(id)) {
    ++figures_.batches_duplicate;
  } else {
    // Journaled before it is applied and acknowledged; a batch that cannot
    // be is neither, and its sender sends it again.
    if (!Journal('W', m.data)) return;
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
  // sends again and loses nothing. The acknowledgements for one sender
  // leave together with the next flush ("A1 ID ID ..."): a NATS message
  // costs far more than its bytes (tools/bench/cluster.sh).
  if (!m.reply.empty()) {
    std::string& ack = acks_[m.reply];
    absl::StrAppend(&ack, ack.empty() ? "" : " ", id);
    ScheduleFlush();
  }
}

// The write journal's records: 'S' (first in each file) the batches
// applied here, a line a sender ("FROM ID ID ...", oldest first); 'W' a
// batch another node sent, as it came; 'O' a batch this node sent, as
// Outgoing writes it (it took what was queued for its owner and kind); 'A'
// the number of one acknowledged (or given up); 'Q' bytes queued for an
// owner, not sent yet (JournalQueue).
absl::Status Cluster::Recover(uint64_t restored_seq) {
  if (journal_ == nullptr) return absl::OkStatus();
  size_t batches = 0;
  auto record = [&](char kind, absl::string_view body) {
    if (kind == 'S') {
      seen_.clear();
      for (absl::string_view line :
           absl::StrSplit(body, '\n', absl::SkipEmpty())) {
        std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
        Seen& seen = seen_[words[0]];
        for (size_t i = 1; i < words.size(); ++i) {
          uint64_t id = 0;
          if (absl::SimpleAtoi(words[i], &id) && seen.ids.insert(id).second) {
            seen.order.push_back(id);
          }
        }
      }
    } else if (kind == 'W') {
      replaying_ = true;
      ApplyWrite(Inbound{Inbound::Kind::kWrite, body, ""});
      replaying_ = false;
      ++batches;
    } else if (kind == 'O') {
      KeepUnsent(body);
    } else if (kind == 'Q') {
      Requeue(body);
    } else if (kind == 'A') {
      uint64_t id = 0;
      if (absl::SimpleAtoi(body, &id)) Forget(id);
    }
  };
  if (absl::Status s = journal_->Replay(restored_seq, record); !s.ok()) {
    return s;
  }
  if (batches > 0 || !unacked_.empty()) {
    CANOPY_LOG(
        "cluster: the write journal: %d batches applied again, %d to send "
        "again",
        static_cast<int>(batches), static_cast<int>(unacked_.size()));
  }
  BeginJournal(tree_->seq());
  for (const Outbound& o : out_) {
    if (!o.lines.empty() || !o.json.empty()) ScheduleFlush();
  }
  return absl::OkStatus();
}

void Cluster::BeginJournal(uint64_t seq) {
  if (journal_ == nullptr) return;
  std::string seen_record;
  for (const auto& [from, seen] : seen_) {
    absl::StrAppend(&seen_record, from);
    for (uint64_t id : seen.order) absl::StrAppend(&seen_record, " ", id);
    seen_record += '\n';
  }
  absl::Status s = journal_->Rotate(seq, seen_record);
  // The batches still unacknowledged go on in the new file: the older ones
  // go once the snapshot is on disk.
  for (const auto& [id, u] : unacked_) {
    if (!s.ok()) break;
    s = journal_->Append('O', Outgoing(u));
  }
  if (!s.ok()) CANOPY_ERROR("cluster: the write journal: %s", s.message());
  // And what was journaled as queued and has not left yet.
  for (size_t owner = 0; owner < out_.size(); ++owner) {
    Outbound& o = out_[owner];
    const bool lines = o.lines_journaled > 0, json = o.json_journaled > 0;
    o.lines_journaled = o.json_journaled = 0;
    if (lines) JournalQueue(owner, 'L', o.lines);
    if (json) JournalQueue(owner, 'J', o.json);
  }
}

void Cluster::JournalQueued() {
  if (journal_ == nullptr) return;
  for (size_t owner = 0; owner < out_.size(); ++owner) {
    Outbound& o = out_[owner];
    if (o.lines.size() > o.lines_journaled) {
      JournalQueue(owner, 'L',
                   absl::string_view(o.lines).substr(o.lines_journaled));
    }
    if (o.json.size() > o.json_journaled) {
      JournalQueue(owner, 'J',
                   absl::string_view(o.json).substr(o.json_journaled));
    }
  }
}

bool Cluster::JournalQueue(size_t owner, char kind, absl::string_view bytes) {
  if (!Journal('Q', absl::StrCat(config_.shards[owner], " ",
                                 absl::string_view(&kind, 1), "\n", bytes))) {
    return false;
  }
  Outbound& o = out_[owner];
  (kind == 'L' ? o.lines_journaled : o.json_journaled) =
      (kind == 'L' ? o.lines : o.json).size();
  return true;
}

void Cluster::Requeue(absl::string_view record) {
  const size_t nl = record.find('\n');
  const size_t sp = record.find(' ');
  if (nl == absl::string_view::npos || sp == absl::string_view::npos ||
      sp + 2 != nl) {
    return;
  }
  const auto shard = std::find(config_.shards.begin(), config_.shards.end(),
                               record.substr(0, sp));
  if (shard == config_.shards.end()) return;
  Outbound& o = out_[static_cast<size_t>(shard - config_.shards.begin())];
  const absl::string_view bytes = record.substr(nl + 1);
  // In the journal already: the next file takes it again (BeginJournal).
  if (record[sp + 1] == 'L') {
    absl::StrAppend(&o.lines, bytes);
    o.lines_journaled = o.lines.size();
  } else if (record[sp + 1] == 'J') {
    absl::StrAppend(&o.json, bytes);
    o.json_journaled = o.json.size();
  }
}

void Cluster::ForgetJournal(uint64_t seq) {
  if (journal_ != nullptr) journal_->Forget(seq);
}

std::string Cluster::Outgoing(const Unacked& u) const {
  return absl::StrCat(config_.shards[u.owner], "\n", u.message);
}

void Cluster::KeepUnsent(absl::string_view record) {
  const size_t nl = record.find('\n');
  if (nl == absl::string_view::npos) return;
  const absl::string_view owner = record.substr(0, nl);
  const absl::string_view message = record.substr(nl + 1);
  // "W2 FROM ID NOW KIND [ACK...]"
  std::vector<absl::string_view> head = absl::StrSplit(
      message.substr(0, message.find('\n')), absl::MaxSplits(' ', 5));
  uint64_t id = 0;
  const auto shard =
      std::find(config_.shards.begin(), config_.shards.end(), owner);
  if (head.size() < 5 || !absl::SimpleAtoi(head[2], &id) ||
      shard == config_.shards.end()) {
    CANOPY_LOG("cluster: a batch for %s in the write journal is given up",
               owner);
    return;
  }
  Forget(id);
  Unacked& u = unacked_[id];
  u.owner = static_cast<size_t>(shard - config_.shards.begin());
  // The batch took everything queued for its owner of its kind.
  Outbound& o = out_[u.owner];
  if (head[4] == "J") {
    o.json.clear();
    o.json_journaled = 0;
  } else {
    o.lines.clear();
    o.lines_journaled = 0;
  }
  u.message = std::string(message);
  u.sent_ms = 0;  // sent again as soon as NATS is there
  u.attempts = 1;
  unacked_bytes_ += u.message.size();
  next_id_ = std::max(next_id_, id + 1);
}

void Cluster::Forget(uint64_t id) {
  auto it = unacked_.find(id);
  if (it == unacked_.end()) return;
  unacked_bytes_ -= it->second.message.size();
  unacked_.erase(it);
}

bool Cluster::Journal(char kind, absl::string_view body) {
  if (journal_ == nullptr || replaying_) return true;
  absl::Status s = journal_->Append(kind, body);
  if (s.ok()) return true;
  ++figures_.journal_errors;
  uint64_t dropped = 0;
  if (journal_log_.Allow(&dropped)) {
    CANOPY_ERROR("cluster: the write journal: %s", s.message());
  }
  return false;
}

void Cluster::Acknowledged(absl::string_view data) {
  if (!absl::ConsumePrefix(&data, "A1 ")) return;
  for (absl::string_view word : absl::StrSplit(data, ' ', absl::SkipEmpty())) {
    Acknowledge(word);
  }
}

void Cluster::Acknowledge(absl::string_view number) {
  uint64_t id = 0;
  if (!absl::SimpleAtoi(number, &id)) return;
  if (unacked_.count(id) == 0) return;  // acknowledged already
  Forget(id);
  Journal('A', number);
  ++figures_.batches_acked;
}

std::string Cluster::TakeAcks(size_t owner) {
  auto it = acks_.find(absl::StrCat(kAckPrefix, config_.shards[owner]));
  if (it == acks_.end()) return "";
  std::string ids = std::move(it->second);
  acks_.erase(it);
  return ids;
}

void Cluster::Trim::RouteJson(absl::string_view, Push* push, int64_t) {
  if (c_->IsShard()) {
    KeepOwned(push, c_->ring_, c_->self_);
  } else {
    push->ops.clear();
    push->key_markers.clear();
    push->key_units.clear();
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
    // The owner of the line's name (before a StatsD ':' or a Graphite ' ').
    const size_t owner =
        line.empty() || line[0] == '{' || line[0] == '[' || StartsJson(line)
            ? self_
            : ring_.OwnerOfName(line);
    if (owner == self_) {
      if (!all_local) absl::StrAppend(local, line, "\n");
      continue;
    }
    if (all_local) {
      all_local = false;
      local->assign(text.data(), start);
    }
    Outbound& o = out_[owner];
    if (nl < text.size()) {
      o.lines.append(text.data() + start, nl + 1 - start);  // with its '\n'
    } else {
      absl::StrAppend(&o.lines, line, "\n");
    }
    ++o.lines_count;
    ++figures_.lines_forwarded;
    if (o.lines.size() >= kBatchBytes) Flush();
  }
  if (all_local) return text;
  ScheduleFlush();
  return *local;
}

// After a quiet spell a batch leaves at the end of this loop turn (a write
// that comes alone is not held back); under a steady stream, a batch goes
// to each owner every --cluster_batch_ms.
void Cluster::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  const int64_t wait =
      std::max<int64_t>(0, last_flush_ms_ + config_.batch_ms - NowMs());
  timeval tv = Millis(static_cast<int>(wait));
  event_add(flush_event_, &tv);
}

void Cluster::OnFlushTimer(evutil_socket_t, short, void* arg) {
  Cluster* self = static_cast<Cluster*>(arg);
  self->flush_scheduled_ = false;
  self->Flush();
}

void Cluster::SendAcks() {
  if (nc_ != nullptr) {
    for (const auto& [reply, ids] : acks_) {
      const std::string ack = absl::StrCat("A1 ", ids);
      natsConnection_Publish(nc_, reply.c_str(), ack.data(),
                             static_cast<int>(ack.size()));
    }
  }
  acks_.clear();
}

void Cluster::Flush() {
  last_flush_ms_ = NowMs();
  const int64_t now = last_flush_ms_ / 1000;
  for (size_t owner = 0; owner < out_.size(); ++owner) {
    Outbound& o = out_[owner];
    if (!o.lines.empty()) {
      Send(owner, 'L', now, o.lines, TakeAcks(owner));
      o.lines.clear();
      o.lines_count = 0;
      o.lines_journaled = 0;
    }
    if (!o.json.empty()) {
      Send(owner, 'J', now, o.json, TakeAcks(owner));
      o.json.clear();
      o.pushes = 0;
      o.json_journaled = 0;
    }
  }
  SendAcks();  // those no batch took
}

void Cluster::Send(size_t owner, char kind, int64_t now, absl::string_view body,
                   absl::string_view acks) {
  const uint64_t id = next_id_++;
  Unacked& u = unacked_[id];
  u.owner = owner;
  // A batch sent again carries its acknowledgements again: harmless.
  u.message = absl::StrCat("W2 ", config_.node, " ", id, " ", now, " ",
                           absl::string_view(&kind, 1), acks.empty() ? "" : " ",
                           acks, "\n", body);
  u.sent_ms = NowMs();
  u.attempts = 1;
  unacked_bytes_ += u.message.size();
  ++figures_.batches_sent;
  Journal('O', Outgoing(u));  // kept across a crash of this node
  Publish(u);
  // Bounded: past the buffer the oldest batches are given up, and counted.
  while (unacked_bytes_ > config_.buffer_bytes && !unacked_.empty()) {
    const uint64_t oldest = unacked_.begin()->first;
    Forget(oldest);
    Journal('A', absl::StrCat(oldest));
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

void Cluster::Drain(int timeout_ms) {
  Flush();
  if (nc_ == nullptr) return;
  // The loop does not run here (it has stopped, or this is one of its
  // callbacks): the socket is written and read from here, and the
  // acknowledgements taken as they come, until none is awaited and
  // everything published has left.
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    TakeMail();
    if (!connected_ || (unacked_.empty() && !loop_.writing())) break;
    if (!loop_.Pump(50)) break;
    SendAcks();
  }
}

}  // namespace canopy
