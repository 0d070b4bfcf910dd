// canopyd as one node of a cluster (--cluster, --node, --shards): the
// connection to NATS, the other nodes as this one sees them, and the writes
// that go to the shard that owns them.
//
// Every key has one owner among the shards (server/cluster/ring.h). Ingest
// hands each JSON push and each text of lines to the Cluster (as its
// Forwarder) before applying it: what another shard owns is queued for it
// and what this node owns is applied here. Queued writes leave in batches
// (every few milliseconds, or sooner when large) as NATS requests on
// canopy.write.OWNER; the owner applies a batch, then acknowledges it; a
// batch not acknowledged within a second is sent again, and the owner
// recognises a batch it has applied already by its sender and number, so
// nothing is applied twice. Unacknowledged batches are bounded
// (--cluster_buffer); past that the oldest are dropped and counted. Every
// node keeps a write journal (journal.h): a shard appends each batch it is
// sent before applying and acknowledging it, and a sender each batch it
// sends and each acknowledgement, so that neither what an owner
// acknowledged nor what a sender holds for an owner is lost to kill -9.
// The tree's snapshot holds what came before the journal's newest file.
//
// Every node says it is alive on canopy.hb each second; /api/cluster shows
// the nodes, their roles, when each was last heard from, and what waits
// for it.
//
// NATS itself: the C client (libnats) on the tree's loop (nats_loop.h):
// the loop reads the socket and takes the messages of synchronous
// subscriptions right after each read; publishing appends to the
// client's buffer, which the loop writes when the socket is ready. Only
// the connection's state changes (disconnected, reconnected) come from
// libnats' own threads, through a mailbox that the loop reads; everything
// else here runs on the tree's thread.
//
// The connection, heartbeats and /api/cluster are in cluster.cc, writes in
// writes.cc, reads in replicas.cc.
//
// Reads (replicas.cc): a /get, /pull or /stream for keys another shard owns
// asks that shard for a lease on its pattern (canopy.rep.OWNER): the owner
// answers with a snapshot of what the pattern covers, then publishes the
// changes under its leased patterns on canopy.chg.OWNER every few
// milliseconds, as /pull bodies; the reader applies them to its own tree
// (numbers and texts as the owner shows them, removals as removals), where
// its own /get, /pull and /stream serve them. A lease lapses when no reader
// renews it. Until the snapshot has come, /get says "stale": true.
//
#ifndef CANOPY_SERVER_CLUSTER_CLUSTER_H_
#define CANOPY_SERVER_CLUSTER_CLUSTER_H_

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "server/cluster/journal.h"
#include "server/cluster/nats_loop.h"
#include "server/cluster/ring.h"
#include "server/cluster/shard_map.h"
#include "server/ingest/forwarder.h"
#include "server/ingest/line_ingest.h"
#include "server/log.h"
#include "server/net/mailbox.h"
#include "server/stats.h"

struct __natsConnection;
struct __natsSubscription;

namespace canopy {

// The NATS subjects of a cluster (each prefix ends with a node's name).
namespace cluster_subject {
inline constexpr char kWritePrefix[] = "canopy.write.";  // batches to owner
inline constexpr char kAckPrefix[] = "canopy.ack.";      // and their acks
inline constexpr char kHeartbeatSubject[] = "canopy.hb";
inline constexpr char kLeasePrefix[] = "canopy.rep.";      // reader -> owner
inline constexpr char kSnapshotPrefix[] = "canopy.snap.";  // owner -> reader
inline constexpr char kChangesPrefix[] = "canopy.chg.";    // owner's feed
}  // namespace cluster_subject

struct ClusterConfig {
  std::vector<std::string> urls;    // nats://host:port, at least one
  std::string node;                 // this node's name
  std::vector<std::string> shards;  // the shards' names; node may be one
  size_t shard_depth = 2;
  int batch_ms = 25;  // under a stream, a batch to each shard this often
  size_t buffer_bytes = 256 << 20;  // unacknowledged writes kept at most
  int64_t replica_idle_ms = 60000;  // a replica nobody reads is given up
  std::string http;         // HOST:PORT where the others reach this node's HTTP
  std::string journal_dir;  // a shard's write journal; "": none
};

// Checks and splits the flags: --cluster (comma-separated NATS URLs),
// --node, --shards (comma-separated names), --shard_depth, --cluster_batch_ms,
// --cluster_replica_idle_s.
absl::StatusOr<ClusterConfig> ParseClusterConfig(
    absl::string_view cluster, absl::string_view node, absl::string_view shards,
    int shard_depth, int batch_ms = 25, int replica_idle_s = 60);

class Cluster : public Forwarder {
 public:
  // Connects to NATS (retrying in the background if it is not up yet) and
  // starts listening for writes and heartbeats. `lines`, `tree` and `stats`
  // are the server's, used on the tree's thread to apply what others send.
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(
      const ClusterConfig& config, event_base* base, LineIngest* lines,
      Tree* tree, Stats* stats);
  ~Cluster() override;

  // Sends what is queued and waits up to `timeout_ms` for it to be
  // acknowledged (at shutdown).
  void Drain(int timeout_ms);

  // Before the loop runs: applies what the write journal holds past the
  // restored snapshot (the tree's seq was `restored_seq` then), batches
  // already applied known again, batches sent and not acknowledged held
  // again (and sent once NATS is there), and begins the journal's next file.
  absl::Status Recover(uint64_t restored_seq);
  // Before a reply says a write was accepted (POST /push): what waits for
  // other shards goes into the write journal, so that it survives kill -9
  // before its batch leaves.
  void JournalQueued();
  // As the tree's snapshot is taken, at the tree's `seq`: the journal
  // begins a file. Once that snapshot is on disk: the older files go.
  void BeginJournal(uint64_t seq);
  void ForgetJournal(uint64_t seq);

  // Forwarder.
  void RouteJson(absl::string_view text, Push* push, int64_t now) override;
  absl::string_view RouteLines(absl::string_view text, int64_t now,
                               std::string* local) override;

  // Reads of `patterns` are coming: makes sure the keys other shards own
  // under them are replicated here. False while a replica is not synced.
  bool Replicate(const std::vector<Pattern>& patterns);

  // The HTTP address of the shard that owns `key` when that is another
  // node heard from lately; none when this node owns it (or the owner is
  // silent): reads that need the owner's history go there (/trend, /graph).
  std::optional<std::string> OwnerHttp(
      absl::Span<const absl::string_view> key) const;

  // Takes out of `windows` (ended windows on their way to history) those of
  // keys another shard owns, the replicas' (an edge's are all of them): the
  // owner's history has them, and reads of history go there.
  void DropReplicaWindows(std::vector<ClosedWindow>* windows);

  // The ring and every shard's HTTP address now, for reads gathered from
  // every shard off this thread (Graphite's /render and /metrics/find).
  ShardMap Shards() const;

  // Whether a waiter is parked under the fixed prefix `key` (a comma key):
  // the comet hub's answer, set by the server. A replica read by waiters
  // is kept even while its key does not exist yet.
  void set_watched(std::function<bool(absl::string_view key)> watched) {
    watched_ = std::move(watched);
  }

  // GET /api/cluster: the nodes and, with a key, its owner.
  std::string StatusJson(absl::string_view key) const;

  struct Figures {
    uint64_t batches_sent = 0;    // first sendings
    uint64_t batches_resent = 0;  // sent again, not acknowledged in time
    uint64_t batches_acked = 0;
    uint64_t batches_dropped = 0;    // past --cluster_buffer
    uint64_t batches_applied = 0;    // received from others and applied
    uint64_t batches_duplicate = 0;  // received again, not applied again
    uint64_t lines_forwarded = 0;
    uint64_t pushes_forwarded = 0;
    uint64_t unacked_bytes = 0;
    uint64_t leases = 0;           // patterns others read from this shard
    uint64_t replicas = 0;         // patterns this node replicates
    uint64_t feeds_sent = 0;       // change bodies published
    uint64_t replica_items = 0;    // keys applied from owners' feeds
    uint64_t replica_windows = 0;  // replicas' windows kept out of history
    uint64_t journal_errors = 0;   // journal records that could not be written
    bool connected = false;
  };
  Figures figures() const;

  const Ring& ring() const { return ring_; }
  const ClusterConfig& config() const { return config_; }

 private:
  // A message as read, valid while it is handled.
  struct Inbound {
    enum class Kind {
      kWrite,
      kAck,
      kHeartbeat,
      kLease,     // an edge asks for a pattern (owner side)
      kSnapshot,  // the owner's answer (edge side)
      kChanges,   // an owner's changes (edge side)
    } kind;
    absl::string_view data;
    std::string reply;  // kWrite, kLease: where the answer goes
  };
  // The connection's state, from libnats' threads.
  struct ConnectionChange {
    bool up;
  };
  struct Outbound {  // what waits to be sent to one shard
    std::string lines;
    std::string json;  // pushes, each as "<length>\n<text>"
    size_t lines_count = 0;
    size_t pushes = 0;
    // How much of lines and json is in the write journal ('Q' records).
    size_t lines_journaled = 0;
    size_t json_journaled = 0;
  };
  struct Unacked {
    size_t owner;
    std::string message;
    int64_t sent_ms;
    int attempts;
  };
  struct Peer {
    std::string role;
    std::string http;  // its HTTP address, from its heartbeats
    int64_t last_ms = 0;
    uint64_t seq = 0;
  };
  // The batches applied lately from one sender.
  struct Seen {
    absl::flat_hash_set<uint64_t> ids;
    std::deque<uint64_t> order;
  };
  // Trims forwarded JSON to this node's part, on the receiving side.
  class Trim : public Forwarder {
   public:
    explicit Trim(const Cluster* c) : c_(c) {}
    void RouteJson(absl::string_view, Push* push, int64_t) override;
    absl::string_view RouteLines(absl::string_view text, int64_t,
                                 std::string*) override {
      return text;
    }

   private:
    const Cluster* c_;
  };

  Cluster(const ClusterConfig& config, event_base* base, LineIngest* lines,
          Tree* tree, Stats* stats);
  absl::Status Connect();

  static void OnNatsConnection(__natsConnection*, void* closure);
  static void OnMail(evutil_socket_t, short, void* arg);
  static void OnFlushTimer(evutil_socket_t, short, void* arg);
  static void OnTick(evutil_socket_t, short, void* arg);

  // Handles what the subscriptions hold (after each read of the socket).
  void TakeMessages();
  void Handle(const Inbound& m);
  void TakeMail();  // the connection's state
  void Heard(absl::string_view data);
  void Tick();
  // writes.cc
  void ApplyWrite(const Inbound& m);
  void Acknowledged(absl::string_view data);   // "A1 ID ID ..."
  void Acknowledge(absl::string_view number);  // one batch of ours
  // The acknowledgements owed to shard `owner`, to ride with a batch to it.
  std::string TakeAcks(size_t owner);
  void ScheduleFlush();
  void Flush();
  void SendAcks();
  // Queues and sends one batch of `kind` ('L' lines, 'J' pushes) with
  // `acks` (numbers of the owner's batches, space-separated) in its head.
  void Send(size_t owner, char kind, int64_t now, absl::string_view body,
            absl::string_view acks);
  void Publish(const Unacked& u);
  // replicas.cc
  void Lease(const Inbound& m);
  void Snapshot(const Inbound& m);
  void Changes(const Inbound& m);
  void Feed();
  void RenewReplicas();
  void RequestLease(size_t owner, const std::string& pattern);
  // Applies an owner's /pull body to the tree: the keys it owns under one
  // of `patterns`.
  void ApplyReplica(size_t owner, absl::string_view body,
                    const std::vector<const Pattern*>& patterns);
  static void OnFeedTimer(evutil_socket_t, short, void* arg);
  // The write journal's side of sending: a batch sent ('O' records, as
  // Outgoing writes them; KeepUnsent takes one back at a restart), and one
  // acknowledged or given up ('A', its number: Forget).
  std::string Outgoing(const Unacked& u) const;
  void KeepUnsent(absl::string_view record);
  // 'Q' records: "OWNER KIND\n" then bytes queued for OWNER ('L' lines, 'J'
  // pushes) since the last; Requeue takes one back at a restart.
  bool JournalQueue(size_t owner, char kind, absl::string_view bytes);
  void Requeue(absl::string_view record);
  void Forget(uint64_t id);
  // Appends a record (not while replaying); false, counted and logged, if
  // it could not be.
  bool Journal(char kind, absl::string_view body);
  int64_t NowMs() const;
  bool IsShard() const { return self_ != kNone; }

  static constexpr size_t kNone = static_cast<size_t>(-1);

  const ClusterConfig config_;
  const Ring ring_;
  size_t self_ = kNone;  // this node's index in the shards, or kNone
  event_base* const base_;
  LineIngest* const lines_;
  Tree* const tree_;
  Stats* const stats_;
  Trim trim_{this};

  NatsLoop loop_;
  __natsConnection* nc_ = nullptr;
  // Synchronous subscriptions, taken in this order after each read.
  std::vector<std::pair<Inbound::Kind, __natsSubscription*>> subs_;
  Mailbox<ConnectionChange> mailbox_;
  event* mail_event_ = nullptr;
  event* flush_event_ = nullptr;
  event* tick_event_ = nullptr;
  bool flush_scheduled_ = false;
  int64_t last_flush_ms_ = 0;  // when batches last left
  std::function<bool(absl::string_view)> watched_;

  // Tree's thread only from here on.
  std::vector<Outbound> out_;  // by shard index
  std::map<uint64_t, Unacked> unacked_;
  // Acknowledgements not sent yet ("ID ID ..."), by the sender's reply
  // subject.
  absl::flat_hash_map<std::string, std::string> acks_;
  size_t unacked_bytes_ = 0;
  uint64_t next_id_;
  absl::flat_hash_map<std::string, Peer> peers_;
  absl::flat_hash_map<std::string, Seen> seen_;
  std::unique_ptr<WriteJournal> journal_;  // a shard's, with journal_dir
  bool replaying_ = false;                 // Recover() is applying it
  RateLimit journal_log_{1};
  int64_t last_heartbeat_ms_ = 0;
  uint64_t heartbeats_ = 0;
  bool connected_ = false;
  std::string http_;  // this node's HTTP address
  Figures figures_;

  // Owner side: patterns leased by readers elsewhere, until when.
  struct LeaseEntry {
    Pattern pattern;
    int64_t until_ms = 0;
  };
  std::map<std::string, LeaseEntry> leases_;
  uint64_t fed_seq_ = 0;  // the tree's seq the last feed covered
  event* feed_event_ = nullptr;
  // Reader side: what this node replicates, by (owner, pattern text).
  struct Replica {
    Pattern pattern;
    bool synced = false;
    uint64_t seq = 0;  // the owner's seq of the last snapshot
    int64_t asked_ms = 0;
    int64_t read_ms = 0;
  };
  std::map<std::pair<size_t, std::string>, Replica> replicas_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_CLUSTER_H_
