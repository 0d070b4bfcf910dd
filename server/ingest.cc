#include "server/ingest.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/graphite.h"
#include "canopy/line_name.h"
#include "canopy/statsd.h"
#include "server/log.h"

namespace canopy {
namespace {

constexpr size_t kUdpBatch = 64;
constexpr size_t kUdpBufferBytes = 65536;
// The receive buffers sit in one block, each 7 cache lines further from a
// 64 KiB boundary than the one before: at a 64 KiB stride every datagram
// would land in the same cache sets and evict the ones just received.
constexpr size_t kUdpBufferStride = kUdpBufferBytes + 7 * 64;
constexpr int kUdpRoundsPerEvent = 16;  // then let other sockets run
// Under load the socket is read on a timer instead of on every wake-up:
// a wake that finds this many datagrams waiting turns polling on, every
// kUdpPollInterval; a poll that finds fewer turns it off again. At 1 M
// lines/s that is a thousand wake-ups a second instead of tens of
// thousands, for at most a millisecond more before a line is applied.
constexpr int kUdpPollAbove = 8;
constexpr timeval kUdpPollInterval = {0, 1000};
constexpr size_t kMaxTcpConnections = 4096;
constexpr int kUdpReceiveBuffer = 8 << 20;

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

absl::Status ParseSocketAddress(absl::string_view addr, sockaddr_storage* ss,
                                socklen_t* len) {
  size_t colon = addr.rfind(':');
  int port;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address \"", addr, "\" (expected HOST:PORT)"));
  }
  std::string host(addr.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  std::memset(ss, 0, sizeof *ss);
  auto* in4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad address \"", addr, "\": the host must be an IP address"));
  }
  return absl::OkStatus();
}

namespace {

int PortOf(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

bool StartsJson(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
    ++i;
  }
  return i < s.size() && (s[i] == '{' || s[i] == '[');
}

RateLimit& BadLineLog() {
  static RateLimit* limit = new RateLimit(10);
  return *limit;
}

}  // namespace

// ---------------------------------------------------------------- flags

absl::StatusOr<std::vector<ExpireRule>> ParseExpire(absl::string_view spec) {
  std::vector<ExpireRule> rules;
  if (spec.empty()) return rules;
  // Patterns have commas too: a rule ends at the token holding '='.
  std::string pattern;
  for (absl::string_view token : absl::StrSplit(spec, ',')) {
    size_t eq = token.find('=');
    if (eq == absl::string_view::npos) {
      absl::StrAppend(&pattern, pattern.empty() ? "" : ",", token);
      continue;
    }
    absl::StrAppend(&pattern, pattern.empty() ? "" : ",", token.substr(0, eq));
    int64_t seconds;
    if (!ParseDuration(token.substr(eq + 1), &seconds)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --expire duration \"", token.substr(eq + 1),
                       "\" (expected e.g. 90s, 30m, 1h, 7d)"));
    }
    absl::StatusOr<Pattern> p = Pattern::Parse(pattern);
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --expire pattern: ", p.status().message()));
    }
    rules.push_back(ExpireRule{std::move(*p), seconds});
    pattern.clear();
  }
  if (!pattern.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad --expire: \"", pattern, "\" has no =DURATION"));
  }
  return rules;
}

absl::StatusOr<AllowList> AllowList::Parse(absl::string_view spec) {
  AllowList list;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    part = absl::StripAsciiWhitespace(part);
    Range r;
    std::memset(&r, 0, sizeof r);
    size_t slash = part.find('/');
    std::string host(part.substr(0, slash));
    int max_prefix;
    if (inet_pton(AF_INET, host.c_str(), r.bytes) == 1) {
      r.family = AF_INET;
      max_prefix = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), r.bytes) == 1) {
      r.family = AF_INET6;
      max_prefix = 128;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --allow range \"", part, "\" (expected CIDR)"));
    }
    r.prefix = max_prefix;
    if (slash != absl::string_view::npos &&
        (!absl::SimpleAtoi(part.substr(slash + 1), &r.prefix) || r.prefix < 0 ||
         r.prefix > max_prefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --allow prefix in \"", part, "\""));
    }
    list.ranges_.push_back(r);
  }
  return list;
}

bool AllowList::Allows(const sockaddr* addr) const {
  if (ranges_.empty()) return true;
  unsigned char bytes[16];
  int family = addr->sa_family;
  if (family == AF_INET) {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr,
                4);
  } else if (family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    std::memcpy(bytes, &in6->sin6_addr, 16);
    // An IPv4-mapped address is checked as IPv4.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0,    0,
                                              0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, 12) == 0) {
      family = AF_INET;
      std::memmove(bytes, bytes + 12, 4);
    }
  } else {
    return false;
  }
  for (const Range& r : ranges_) {
    if (r.family != family) continue;
    int full = r.prefix / 8, rest = r.prefix % 8;
    if (std::memcmp(bytes, r.bytes, full) != 0) continue;
    if (rest != 0) {
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((bytes[full] & mask) != (r.bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- lines

void LineIngest::ApplyLine(absl::string_view line, size_t line_no, int64_t now,
                           Result* result,
                           std::map<std::string, uint64_t>* rejects) {
  auto reject = [&](absl::string_view reason, absl::string_view why,
                    size_t at_line) {
    ++result->rejected;
    ++(*rejects)[std::string(reason)];
    uint64_t dropped = 0;
    if (BadLineLog().Allow(&dropped)) {
      CANOPY_LOG(
          "rejected line %d (%s): %s%s", static_cast<int>(at_line),
          std::string(reason), std::string(why),
          dropped ? absl::StrCat(" (", dropped, " more not logged)") : "");
    }
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
    Push push;
    TextPosition where;
    if (absl::Status s = ParseJsonPush(line, &push, &where); !s.ok()) {
      reject("json", s.message(), line_no);
      return;
    }
    Tree::ApplyStats applied;
    if (absl::Status s = tree_->Apply(push, now, &applied); !s.ok()) {
      reject("max_nodes", s.message(), line_no);
      return;
    }
    result->accepted += applied.leaves;
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
  tree_->AddSamplesByKey(absl::MakeConstSpan(batch_.data(), pending_count_),
                         now, &errors_);
  result->accepted += pending_count_ - errors_.size();
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
    ++result->rejected;
    ++(*rejects)[std::string(reason)];
    uint64_t dropped = 0;
    if (BadLineLog().Allow(&dropped)) {
      CANOPY_LOG(
          "rejected line %d (%s): %s%s",
          static_cast<int>(pending_[index].line_no), std::string(reason),
          std::string(status.message()),
          dropped ? absl::StrCat(" (", dropped, " more not logged)") : "");
    }
  }
  pending_count_ = 0;
}

void LineIngest::Begin() {
  result_ = Result();
  rejects_.clear();
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

void LineIngest::Add(absl::string_view text, int64_t now) {
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

// ---------------------------------------------------------------- sockets

struct Listeners::TcpConn {
  Listeners* self;
  bufferevent* bev;
  bool discarding = false;  // inside a line longer than the limit
};

Listeners::Listeners(event_base* base, Tree* tree, Stats* stats,
                     const ServerOptions* options)
    : base_(base),
      tree_(tree),
      stats_(stats),
      options_(options),
      ingest_(tree, stats) {}

Listeners::~Listeners() {
  while (!tcp_conns_.empty()) CloseTcp(tcp_conns_.back());
  if (udp_event_) event_free(udp_event_);
  if (udp_poll_) event_free(udp_poll_);
  if (udp_fd_ >= 0) close(udp_fd_);
  if (tcp_listener_) evconnlistener_free(tcp_listener_);
}

absl::Status Listeners::Start() {
  absl::StatusOr<AllowList> allow = AllowList::Parse(options_->allow);
  if (!allow.ok()) return allow.status();
  allow_ = std::move(*allow);

  if (options_->udp != "off") {
    sockaddr_storage ss;
    socklen_t len;
    if (absl::Status s = ParseSocketAddress(options_->udp, &ss, &len);
        !s.ok()) {
      return s;
    }
    udp_fd_ =
        socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(udp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(udp_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on udp ", options_->udp, ": ", std::strerror(errno)));
    }
    // A large receive buffer rides out bursts; FORCE passes rmem_max when
    // we may.
    int want = kUdpReceiveBuffer;
    if (setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) !=
        0) {
      setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    socklen_t sl = sizeof udp_rcvbuf_;
    getsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &udp_rcvbuf_, &sl);
    udp_port_ = PortOf(udp_fd_);
    // Not zeroed: a page is only touched once a datagram reaches it.
    bufs_.reset(new char[kUdpBatch * kUdpBufferStride]);
    udp_event_ = event_new(base_, udp_fd_, EV_READ | EV_PERSIST,
                           &Listeners::OnUdp, this);
    udp_poll_ = evtimer_new(base_, &Listeners::OnUdpPoll, this);
    event_add(udp_event_, nullptr);
    CANOPY_LOG("canopyd listening on udp %s (port %d, receive buffer %d)",
               options_->udp, udp_port_, udp_rcvbuf_);
  }
  if (options_->tcp != "off") {
    sockaddr_storage ss;
    socklen_t len;
    if (absl::Status s = ParseSocketAddress(options_->tcp, &ss, &len);
        !s.ok()) {
      return s;
    }
    tcp_listener_ = evconnlistener_new_bind(
        base_, &Listeners::OnAccept, this,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
        reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len));
    if (tcp_listener_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on tcp ", options_->tcp, ": ", std::strerror(errno)));
    }
    tcp_port_ = PortOf(evconnlistener_get_fd(tcp_listener_));
    CANOPY_LOG("canopyd listening on tcp %s (port %d)", options_->tcp,
               tcp_port_);
  }
  return absl::OkStatus();
}

void Listeners::OnUdp(int, short, void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  if (self->ReadUdp() >= kUdpPollAbove) {
    event_del(self->udp_event_);
    event_add(self->udp_poll_, &kUdpPollInterval);
  }
}

void Listeners::OnUdpPoll(int, short, void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  const int n = self->ReadUdp();
  if (n >= static_cast<int>(kUdpBatch) * kUdpRoundsPerEvent) {
    const timeval now = {0, 0};  // more is waiting: after the other events
    event_add(self->udp_poll_, &now);
  } else if (n >= kUdpPollAbove) {
    event_add(self->udp_poll_, &kUdpPollInterval);
  } else {
    event_add(self->udp_event_, nullptr);
  }
}

uint64_t Listeners::kernel_drops() const {
  // The socket's own count of datagrams dropped for want of buffer space.
  uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (udp_fd_ < 0 ||
      getsockopt(udp_fd_, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
      len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return 0;
  }
  return info[SK_MEMINFO_DROPS];
}

int Listeners::ReadUdp() {
  mmsghdr msgs[kUdpBatch];
  iovec iovs[kUdpBatch];
  sockaddr_storage addrs[kUdpBatch];
  // The source address is only asked for when --allow needs it.
  const bool want_source = !allow_.empty();
  int64_t now = time(nullptr);
  int total = 0;
  for (int round = 0; round < kUdpRoundsPerEvent; ++round) {
    for (size_t i = 0; i < kUdpBatch; ++i) {
      iovs[i].iov_base = bufs_.get() + i * kUdpBufferStride;
      iovs[i].iov_len = kUdpBufferBytes;
      std::memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (want_source) {
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
      }
    }
    int n = recvmmsg(udp_fd_, msgs, kUdpBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return total;
    total += n;
    // The lines of this round's datagrams are applied together.
    bool batch_open = false;
    for (int i = 0; i < n; ++i) {
      msghdr& h = msgs[i].msg_hdr;
      if (want_source &&
          !allow_.Allows(reinterpret_cast<sockaddr*>(&addrs[i]))) {
        ++stats_->rejected["udp"]["denied"];
        continue;
      }
      if (h.msg_flags & MSG_TRUNC) {
        ++stats_->rejected["udp"]["too_long"];
        continue;
      }
      absl::string_view dgram(bufs_.get() + i * kUdpBufferStride,
                              msgs[i].msg_len);
      ++stats_->udp_datagrams;
      if (StartsJson(dgram)) {
        if (batch_open) ingest_.Flush(now);  // in order with the lines
        Push push;
        TextPosition where;
        if (absl::Status s = ParseJsonPush(dgram, &push, &where); !s.ok()) {
          ++stats_->rejected["udp"]["json"];
          continue;
        }
        Tree::ApplyStats applied;
        if (!tree_->Apply(push, now, &applied).ok()) {
          ++stats_->rejected["udp"]["max_nodes"];
          continue;
        }
        stats_->accepted["udp"] += applied.leaves;
      } else {
        if (!batch_open) {
          ingest_.Begin();
          batch_open = true;
        }
        ingest_.Add(dgram, now);
      }
    }
    if (batch_open) ingest_.End("udp", now);
    if (static_cast<size_t>(n) < kUdpBatch) return total;
  }
  return total;
}

void Listeners::OnAccept(evconnlistener*, int fd, sockaddr* addr, int,
                         void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  if (!self->allow_.Allows(addr)) {
    ++self->stats_->rejected["tcp"]["denied"];
    close(fd);
    return;
  }
  if (self->tcp_connections_ >= kMaxTcpConnections) {
    ++self->stats_->rejected["tcp"]["too_many_connections"];
    close(fd);
    return;
  }
  bufferevent* bev =
      bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    close(fd);
    return;
  }
  TcpConn* conn = new TcpConn{self, bev};
  ++self->tcp_connections_;
  self->tcp_conns_.push_back(conn);
  bufferevent_setcb(bev, &Listeners::OnTcpRead, nullptr, &Listeners::OnTcpEvent,
                    conn);
  bufferevent_enable(bev, EV_READ);
}

void Listeners::OnTcpRead(bufferevent* bev, void* arg) {
  TcpConn* conn = static_cast<TcpConn*>(arg);
  Listeners* self = conn->self;
  evbuffer* in = bufferevent_get_input(bev);
  size_t max_line = self->options_->max_line;
  while (true) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) return;
    // Up to 1 MiB of complete lines at a time, in one contiguous piece.
    size_t window =
        std::min<size_t>(len, std::max<size_t>(1 << 20, max_line + 1));
    const char* data = reinterpret_cast<const char*>(
        evbuffer_pullup(in, static_cast<ev_ssize_t>(window)));
    const char* nl = static_cast<const char*>(memrchr(data, '\n', window));
    if (nl == nullptr) {
      if (len > max_line) {
        // A line past the limit is dropped up to its newline; the
        // connection stays open for the lines after it.
        if (!conn->discarding) ++self->stats_->rejected["tcp"]["too_long"];
        conn->discarding = true;
        evbuffer_drain(in, len);
      }
      return;
    }
    size_t take = static_cast<size_t>(nl - data) + 1;
    absl::string_view chunk(data, take);
    if (conn->discarding) {
      chunk.remove_prefix(chunk.find('\n') + 1);
      conn->discarding = false;
    }
    self->ingest_.ApplyLines(chunk, "tcp", time(nullptr));
    evbuffer_drain(in, take);
  }
}

void Listeners::OnTcpEvent(bufferevent* bev, short what, void* arg) {
  TcpConn* conn = static_cast<TcpConn*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    // A last line without a newline still counts.
    evbuffer* in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (len > 0 && !conn->discarding && len <= conn->self->options_->max_line) {
      const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
      conn->self->ingest_.ApplyLines(absl::string_view(data, len), "tcp",
                                     time(nullptr));
    }
    conn->self->CloseTcp(conn);
  }
}

void Listeners::CloseTcp(TcpConn* conn) {
  bufferevent_free(conn->bev);
  --tcp_connections_;
  auto it = std::find(tcp_conns_.begin(), tcp_conns_.end(), conn);
  if (it != tcp_conns_.end()) {
    *it = tcp_conns_.back();
    tcp_conns_.pop_back();
  }
  delete conn;
}

}  // namespace canopy
