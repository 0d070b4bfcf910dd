#include "server/ingest/line_ingest.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/graphite.h"
#include "canopy/line_name.h"
#include "canopy/statsd.h"
#include "server/ingest/json_ingest.h"
#include "server/log.h"
#include "server/net/address.h"

namespace canopy {
namespace {

// A StatsD line as a sample (a set's member aside): c adds (weighted by
// 1 / rate), g is the last value (or a delta), ms and h are timers
// (weighted), s a set. The rate weighs counts, never values.
void SetStatsdSample(StatsdType type, double value, double rate, bool relative,
                     LineSample* sample) {
  sample->value = value;
  switch (type) {
    case StatsdType::kCounter:
      sample->action = Action::kAdd;
      sample->weight = 1 / rate;
      break;
    case StatsdType::kGauge:
      sample->action = Action::kLast;
      sample->relative = relative;
      break;
    case StatsdType::kTimer:
    case StatsdType::kHistogram:
      sample->action = Action::kTimer;
      sample->weight = 1 / rate;
      break;
    case StatsdType::kSet:
      sample->action = Action::kSet;
      break;
  }
}

}  // namespace

void LineIngest::ApplyLine(absl::string_view line, size_t line_no, int64_t now,
                           Result* result,
                           std::map<std::string, uint64_t>* rejects) {
  auto reject = [&](absl::string_view reason, absl::string_view why,
                    size_t at_line) {
    Reject(reason, why, at_line, sender_, result, rejects);
  };
  // Samples are queued and applied a batch at a time (FlushPending), so
  // that the tree can overlap the lookups of many lines.
  auto apply = [&](const std::string& key, const LineSample& sample) {
    const size_t slot = NextSlot();
    Pending& p = pending_[slot];
    p.key.assign(key);
    p.member.assign(sample.member.data(), sample.member.size());
    p.line_no = line_no;
    p.fresh = false;
    batch_[slot].sample = sample;
    batch_[slot].sample.member = p.member;
    batch_[slot].key = p.key;
    batch_[slot].leaf = nullptr;
    ++pending_count_;
  };
  if (StartsJson(line)) {
    FlushPending(now, result, rejects);
    JsonApplied r = ApplyJsonPush(tree_, line, now, forwarder_);
    if (!r.status.ok()) {
      reject(r.reason, r.status.message(), line_no);
      return;
    }
    result->accepted += r.leaves;
    return;
  }
  if (LooksLikeStatsd(line)) {
    ParseStatsd(
        line,
        [&](const StatsdRecord& r) {
          LineSample sample;
          SetStatsdSample(r.type, r.value, r.sample_rate, r.relative, &sample);
          if (r.type == StatsdType::kSet) sample.member = r.set_member;
          apply(r.key, sample);
        },
        [&](const StatsdError& e) {
          reject(StatsdReasonName(e.reason), e.status.message(),
                 line_no + e.line - 1);
        });
    return;
  }
  ParseGraphite(
      line,
      [&](const GraphiteRecord& r) {
        LineSample sample;
        sample.value = r.value;
        if (r.timestamp) sample.time = *r.timestamp;
        apply(r.key, sample);
      },
      [&](const GraphiteError& e) {
        reject(GraphiteReasonName(e.reason), e.status.message(), line_no);
      });
}

void LineIngest::FlushPending(int64_t now, Result* result,
                              std::map<std::string, uint64_t>* rejects) {
  if (pending_count_ == 0) return;
  if (tree_->removal_epoch() != index_epoch_) {
    // Nodes were freed since the leaves of these lines were found (nothing
    // does that between Add and here today): they go by their keys instead.
    // Their names came from the index, so they are plain.
    for (size_t i = 0; i < pending_count_; ++i) {
      Pending& p = pending_[i];
      Tree::KeyedSample& ks = batch_[i];
      if (ks.leaf == nullptr) continue;
      p.key.assign(p.name.data(), p.name.size());
      std::replace(p.key.begin(), p.key.end(), '.', ',');
      ks.key = p.key;
      ks.leaf = nullptr;
    }
    index_.Clear();
    index_epoch_ = tree_->removal_epoch();
  }
  errors_.clear();
  const uint64_t overflow_before = tree_->overflow_refused();
  tree_->AddSamplesByKey(absl::MakeConstSpan(batch_.data(), pending_count_),
                         now, &errors_);
  // A sample that would overflow is refused by the tree (and counted
  // there), not taken: rejected with reason "overflow", as JSON pushes are.
  const uint64_t overflowed = tree_->overflow_refused() - overflow_before;
  result->accepted +=
      pending_count_ - errors_.size() -
      std::min<uint64_t>(overflowed, pending_count_ - errors_.size());
  if (overflowed > 0) {
    result->rejected += overflowed;
    (*rejects)["overflow"] += overflowed;
  }
  // The names seen for the first time, now that their leaves exist.
  for (const auto& [index, status] : errors_) pending_[index].fresh = false;
  for (size_t i = 0; fresh_count_ > 0 && i < pending_count_; ++i) {
    Pending& p = pending_[i];
    if (!p.fresh) continue;
    segments_ = absl::StrSplit(p.key, ',');
    index_.Insert(p.name, p.hash, tree_->Find(segments_));
    p.fresh = false;
    --fresh_count_;
  }
  fresh_count_ = 0;
  for (const auto& [index, status] : errors_) {
    absl::string_view reason =
        status.code() == absl::StatusCode::kResourceExhausted ? "max_nodes"
                                                              : "bad_name";
    Reject(reason, status.message(), pending_[index].line_no,
           pending_[index].sender, result, rejects);
  }
  pending_count_ = 0;
}

void LineIngest::Reject(absl::string_view reason, absl::string_view why,
                        size_t line_no, uint32_t sender, Result* result,
                        std::map<std::string, uint64_t>* rejects) {
  ++result->rejected;
  ++(*rejects)[std::string(reason)];
  uint64_t dropped = 0;
  if (!bad_line_log_.Allow(&dropped)) return;
  const sockaddr* from =
      sender < senders_.size()
          ? reinterpret_cast<const sockaddr*>(&senders_[sender])
          : nullptr;
  std::string peer = PeerText(from);
  CANOPY_WARN("rejected %s line %d%s (%s): %s%s",
              protocol_.empty() ? "" : std::string(protocol_),
              static_cast<int>(line_no),
              peer.empty() ? "" : absl::StrCat(" from ", peer),
              std::string(reason), std::string(why),
              dropped ? absl::StrCat(" (", dropped, " more not logged)") : "");
}

void LineIngest::Begin(absl::string_view protocol) {
  result_ = Result();
  rejects_.clear();
  protocol_ = protocol;
  senders_.resize(1);
  sender_ = 0;
  routed_used_ = 0;
  tree_->BeginChange();
}

size_t LineIngest::NextSlot() {
  if (pending_count_ == pending_.size()) {
    pending_.emplace_back();
    batch_.emplace_back();
  }
  return pending_count_;
}

LineSample& LineIngest::QueueName(size_t slot, absl::string_view name,
                                  char stop) {
  Pending& p = pending_[slot];
  p.name = name;
  p.stop = stop;
  p.hash = index_.Hash(name);
  index_.Prefetch(p.hash);
  LineSample& sample = batch_[slot].sample;
  sample = LineSample();
  return sample;
}

bool LineIngest::ScanSimpleStatsd(absl::string_view rest, size_t slot,
                                  size_t* used) {
  SimpleStatsdLine line;
  *used = ScanSimpleStatsdLine(rest, &line);
  if (*used == 0) return false;
  SetStatsdSample(line.type, line.value, line.sample_rate, line.relative,
                  &QueueName(slot, line.name, ':'));
  return true;
}

bool LineIngest::ScanSimpleGraphite(absl::string_view rest, size_t slot,
                                    size_t* used) {
  SimpleGraphiteLine line;
  *used = ScanSimpleGraphiteLine(rest, &line);
  if (*used == 0) return false;
  LineSample& sample = QueueName(slot, line.name, ' ');
  sample.value = line.value;
  if (line.has_timestamp) sample.time = line.timestamp;
  return true;
}

size_t LineIngest::Resolve(size_t first) {
  for (size_t i = first; i < pending_count_; ++i) {
    index_.PrefetchEntry(pending_[i].hash);
  }
  for (size_t i = first; i < pending_count_; ++i) {
    Pending& p = pending_[i];
    if (const Node* leaf = index_.Find(p.name, p.hash)) {
      batch_[i].leaf = leaf;
      p.fresh = false;
      __builtin_prefetch(leaf);
      continue;
    }
    // A name not seen lately: checked and made a key like any other, and
    // indexed once the flush has found or made its leaf.
    batch_[i].leaf = nullptr;
    const char* const name = p.name.data();
    if (ScanPlainName(name, name + p.name.size() + 1, p.stop, &p.key) == 0) {
      for (size_t j = i; j < pending_count_; ++j) {
        fresh_count_ -= pending_[j].fresh;
        pending_[j].fresh = false;
      }
      pending_count_ = i;
      return p.offset;
    }
    batch_[i].key = p.key;
    p.fresh = true;
    ++fresh_count_;
  }
  return absl::string_view::npos;
}

void LineIngest::Add(absl::string_view text, int64_t now,
                     const sockaddr* from) {
  sender_ = 0;
  if (from != nullptr) {
    sockaddr_storage copy = {};
    const size_t n = from->sa_family == AF_INET6  ? sizeof(sockaddr_in6)
                     : from->sa_family == AF_INET ? sizeof(sockaddr_in)
                                                  : 0;
    std::memcpy(&copy, from, n);
    sender_ = static_cast<uint32_t>(senders_.size());
    senders_.push_back(copy);
  }
  if (forwarder_ != nullptr) {
    // Buffers kept from batch to batch (a deque: their addresses hold).
    if (routed_used_ == routed_.size()) routed_.emplace_back();
    std::string& local = routed_[routed_used_++];
    local.clear();
    text = forwarder_->RouteLines(text, now, &local);
  }
  // Names are looked up a run of lines at a time, after the run is
  // scanned: the index's cache misses of the run overlap.
  constexpr size_t kResolveRun = 32;
  if (tree_->removal_epoch() != index_epoch_) {
    index_.Clear();
    index_epoch_ = tree_->removal_epoch();
  }
  constexpr size_t npos = absl::string_view::npos;
  size_t line_no = 0, pos = 0;
  size_t first = pending_count_;  // this text's lines not resolved yet
  size_t full_at = npos;          // a line for the full parser, not plain
  // Resolves the run; false (and back to the line whose name is not
  // plain, which the full parser takes) if one is not.
  auto resolve = [&]() {
    const size_t back = Resolve(first);
    first = pending_count_;
    if (back == npos) return true;
    pos = full_at = back;
    line_no = pending_[pending_count_].line_no - 1;
    return false;
  };
  for (;;) {
    while (pos < text.size()) {
      if (pending_count_ >= kMaxPending) {
        if (!resolve()) continue;
        FlushPending(now, &result_, &rejects_);
        first = pending_count_;
      }
      const size_t slot = NextSlot();
      const absl::string_view rest = text.substr(pos);
      // The fast paths: the common lines of each protocol in one pass.
      bool simple = false;
      size_t used = 0;
      for (int attempt = 0; attempt < 2 && !simple && pos != full_at;
           ++attempt) {
        const bool graphite = graphite_first_ != (attempt == 1);
        simple = graphite ? ScanSimpleGraphite(rest, slot, &used)
                          : ScanSimpleStatsd(rest, slot, &used);
        if (simple) graphite_first_ = graphite;
      }
      if (simple) {
        Pending& p = pending_[slot];
        p.member.clear();
        p.line_no = ++line_no;
        p.sender = sender_;
        p.offset = pos;
        ++pending_count_;
        pos += used;
        if (pending_count_ - first >= kResolveRun) resolve();
        continue;
      }
      if (!resolve()) continue;
      // Everything else, a line at a time, by the full parsers.
      size_t nl = text.find('\n', pos);
      if (nl == npos) nl = text.size();
      absl::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) ApplyLine(line, line_no, now, &result_, &rejects_);
      first = pending_count_;
    }
    if (resolve()) break;
  }
}

LineIngest::Result LineIngest::End(absl::string_view protocol, int64_t now) {
  FlushPending(now, &result_, &rejects_);
  if (result_.accepted)
    stats_->accepted[std::string(protocol)] += result_.accepted;
  if (!rejects_.empty()) {
    auto& by_reason = stats_->rejected[std::string(protocol)];
    for (const auto& [reason, n] : rejects_) by_reason[reason] += n;
  }
  return result_;
}

absl::Status LineIngest::CheckLines(absl::string_view text) {
  size_t line_no = 0;
  absl::Status first;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto fail = [&](absl::string_view why, size_t column) {
      if (!first.ok()) return;
      // The parsers saw one line: their "line 1, column C: " prefix would
      // mislead; the position goes in the payload instead.
      if (absl::ConsumePrefix(&why, "line ")) {
        size_t colon = why.find(": ");
        why.remove_prefix(colon == absl::string_view::npos ? 0 : colon + 2);
      }
      first = absl::InvalidArgumentError(why);
      first.SetPayload("canopy.position",
                       absl::Cord(absl::StrCat(line_no, ":", column)));
    };
    if (StartsJson(line)) {
      Push push;
      TextPosition where;
      if (absl::Status s = ParseJsonPush(line, &push, &where); !s.ok()) {
        fail(s.message(), where.column);
      }
    } else if (LooksLikeStatsd(line)) {
      ParseStatsd(
          line, [](const StatsdRecord&) {},
          [&](const StatsdError& e) { fail(e.status.message(), e.column); });
    } else {
      ParseGraphite(
          line, [](const GraphiteRecord&) {},
          [&](const GraphiteError& e) { fail(e.status.message(), e.column); });
    }
    if (!first.ok()) return first;
  }
  return absl::OkStatus();
}

}  // namespace canopy
