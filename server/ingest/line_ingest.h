// Line-protocol ingest: StatsD and Graphite lines (and newline-delimited JSON
// trees) from UDP datagrams, TCP streams and `POST /push` text bodies.
//
//   canopy::LineIngest ingest(&tree, &stats);
//   ingest.ApplyLines("web.hits:1|c|@0.1\ncpu.load 0.5 1700000000\n", "tcp",
//                     now);
//
// Each line is its own unit on UDP and TCP: a bad line is counted under its
// reason in Stats (and logged, rate-limited, naming the protocol, the sender
// and the line: "rejected udp line 3 from 10.0.0.5:4711 (bad_value): ...")
// and the good lines beside it are
// applied. Over HTTP a text body is applied whole or not at all
// (CheckLines first). One call of ApplyLines is one seq.
//
// Threads: like the tree it writes to, a LineIngest belongs to the
// event-loop thread. canopyd has one, owned by the Server and shared by the
// UDP and TCP listeners (server/net/listeners.h) and POST /push.
#ifndef CANOPY_SERVER_INGEST_LINE_INGEST_H_
#define CANOPY_SERVER_INGEST_LINE_INGEST_H_

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/duration.h"
#include "canopy/graphite.h"
#include "canopy/json_push.h"
#include "canopy/statsd.h"
#include "canopy/tree.h"
#include "server/ingest/forwarder.h"
#include "server/ingest/name_index.h"
#include "server/log.h"
#include "server/stats.h"

namespace canopy {

class LineIngest {
 public:
  LineIngest(Tree* tree, Stats* stats) : tree_(tree), stats_(stats) {
    // Never reallocated: a queued sample's key is a view of its Pending.
    pending_.reserve(kMaxPending);
    batch_.reserve(kMaxPending);
  }

  struct Result {
    size_t accepted = 0;  // samples written
    size_t rejected = 0;  // lines refused
  };
  // Applies every good line of `text`; counts bad ones for `protocol`.
  // `from` (may be null) is the sender a rejected line's log names.
  Result ApplyLines(absl::string_view text, absl::string_view protocol,
                    int64_t now, const sockaddr* from = nullptr) {
    Begin(protocol);
    Add(text, now, from);
    return End(protocol, now);
  }
  // The same for many texts at once (the datagrams of one recvmmsg): one
  // change of the tree, one update of the counters, and the samples of all
  // of them looked up together. Line numbers in errors count from each
  // text's start.
  // `protocol` must outlive the batch (a literal: "udp").
  void Begin(absl::string_view protocol = "");
  // `text` must stay valid until End() (or Flush()); `from`, the sender,
  // may be null.
  void Add(absl::string_view text, int64_t now, const sockaddr* from = nullptr);
  // Applies what is queued: before anything else changes the tree in the
  // middle of a batch (a JSON datagram), so that order is kept.
  void Flush(int64_t now) { FlushPending(now, &result_, &rejects_); }
  Result End(absl::string_view protocol, int64_t now);
  // Validates every line without applying any; the first error, with its
  // line and column, if one is bad.
  absl::Status CheckLines(absl::string_view text);

  // In a cluster: lines and JSON pushes go through `forwarder` first, which
  // takes away what other nodes own. nullptr (the default): all is applied.
  void set_forwarder(Forwarder* forwarder) { forwarder_ = forwarder; }
  Forwarder* forwarder() const { return forwarder_; }

 private:
  void ApplyLine(absl::string_view line, size_t line_no, int64_t now,
                 Result* result, std::map<std::string, uint64_t>* rejects);
  // Counts a rejected line and logs it (rate-limited).
  void Reject(absl::string_view reason, absl::string_view why, size_t line_no,
              uint32_t sender, Result* result,
              std::map<std::string, uint64_t>* rejects);

  void FlushPending(int64_t now, Result* result,
                    std::map<std::string, uint64_t>* rejects);

  Tree* tree_;
  Stats* stats_;
  Forwarder* forwarder_ = nullptr;
  // The lines a forwarder left this node, kept until End() as Add() needs.
  std::deque<std::string> routed_;
  size_t routed_used_ = 0;
  // Line samples waiting for FlushPending, in two arrays side by side:
  // batch_[i] is what the tree takes, pending_[i] what the ingest keeps
  // about it. Kept between calls so that a warm ingest allocates nothing.
  //
  // A fast-path line keeps its name as sent in `name` (a view of the text
  // being added, `offset` its line's start there). Until Resolve() it is
  // only scanned; then it is found in index_ (the sample's leaf is set and
  // it needs no key) or, seen for the first time, checked and given its
  // key, and it goes into index_ (`fresh`) once its leaf exists.
  struct Pending {
    std::string key;
    std::string member;
    size_t line_no = 0;
    uint32_t sender = 0;  // its index in senders_
    absl::string_view name;
    size_t hash = 0;
    size_t offset = 0;
    char stop = 0;  // the byte after the name
    bool fresh = false;
  };
  // A free slot at the end of the queue.
  size_t NextSlot();
  // Queues a fast-path line's name (stopped by `stop`) in `slot`, its
  // index slot on its way in; its sample, cleared, for the caller to fill.
  LineSample& QueueName(size_t slot, absl::string_view name, char stop);
  // The fast paths: false when the line at the start of `rest` is not
  // simple, for the full parsers.
  bool ScanSimpleStatsd(absl::string_view rest, size_t slot, size_t* used);
  bool ScanSimpleGraphite(absl::string_view rest, size_t slot, size_t* used);
  // Finds the names of the lines queued from `first` on. If one proves not
  // plain, it and the lines after it are taken off the queue, and its
  // offset is returned, for the full parser; npos otherwise.
  size_t Resolve(size_t first);

  // Queued samples are applied a batch at a time; a batch this size keeps
  // the queue's memory small whatever one read holds.
  static constexpr size_t kMaxPending = 4096;
  std::vector<Tree::KeyedSample> batch_;
  std::vector<Pending> pending_;
  size_t pending_count_ = 0;
  size_t fresh_count_ = 0;  // pending names to index after the flush
  // The batch between Begin and End.
  Result result_;
  std::map<std::string, uint64_t> rejects_;
  // Which fast path matched last: a stream is one protocol, so it is
  // tried first.
  bool graphite_first_ = false;
  // Names as sent to their leaves, valid while the tree's removal epoch is
  // index_epoch_.
  NameIndex index_;
  uint64_t index_epoch_ = 0;
  std::vector<absl::string_view> segments_;
  std::vector<std::pair<size_t, absl::Status>> errors_;
  RateLimit bad_line_log_{10};  // rejected lines, logged
  // The batch's protocol and senders (one per Add; [0] is unknown), for
  // the log of a rejected line.
  absl::string_view protocol_;
  std::vector<sockaddr_storage> senders_ = std::vector<sockaddr_storage>(1);
  uint32_t sender_ = 0;  // of the text being added
};

}  // namespace canopy

#endif  // CANOPY_SERVER_INGEST_LINE_INGEST_H_
