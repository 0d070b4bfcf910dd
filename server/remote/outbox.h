// The remote_write outbox: closed windows waiting to be sent, kept in
// LevelDB (--data_dir/remote_write) so that a receiver down for an hour, or a
// restart of canopyd, loses nothing. Each target keeps its own position in
// the outbox, persisted beside it; what every target has sent is deleted.
//
//   auto outbox = Outbox::Open(dir,
//   /*targets=*/{"http://vm:8428/api/v1/write"});
//   (*outbox)->Append(windows, now_ms);            // the intake thread
//   OutboxPosition pos = (*outbox)->Position(url); // a sender thread
//   std::vector<OutboxWindow> out;
//   OutboxPosition next = (*outbox)->Read(pos, 10000, &out);
//   ... send ... then (*outbox)->SetPosition(url, next);
//
// Layout in LevelDB (integers big-endian):
//   "Q" seq                 -> a batch: varint time_ms, varint n, n windows
//                              (EncodeOutboxWindow)
//   "P" url                 -> the target's position: seq, index in batch
//   "C" key                 -> an add leaf's running total (double), so that
//                              canopy_total keeps counting across restarts
//
// Threads: Append is called by one thread at a time (the intake thread);
// Read, Position, SetPosition and Trim from any thread (LevelDB is
// thread-safe and they touch no other state). next_seq() is atomic.
#ifndef CANOPY_SERVER_REMOTE_OUTBOX_H_
#define CANOPY_SERVER_REMOTE_OUTBOX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "canopy/action.h"
#include "canopy/block.h"
#include "canopy/tree.h"

namespace leveldb {
class DB;
}

namespace canopy {

// One window in the outbox: its key, action, figures and (add) running
// total after it.
struct OutboxPosition {
  uint64_t seq = 0;    // the batch
  uint64_t index = 0;  // the next window in it
  bool operator==(const OutboxPosition& o) const {
    return seq == o.seq && index == o.index;
  }
};

struct OutboxWindow {
  std::string key;
  Action action = Action::kLast;
  WindowRecord w;
  double total = 0;
  int64_t queued_ms = 0;  // when its batch entered the outbox
  OutboxPosition after;   // the position once this window is sent
};

class Outbox {
 public:
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(const std::string& dir);
  ~Outbox();

  // Appends the windows as one batch (late windows are left out: history
  // merges them, a receiver already has that timestamp).
  absl::Status Append(const std::vector<ClosedWindow>& windows, int64_t now_ms);

  // Up to about `max_windows` windows from `from` on; returns the position
  // after the last one read (== from when there is nothing).
  OutboxPosition Read(OutboxPosition from, size_t max_windows,
                      std::vector<OutboxWindow>* out) const;
  // When the batch at `pos` entered the outbox (0: nothing there).
  int64_t QueuedMs(OutboxPosition pos) const;

  // A target's saved position; a new target starts at the next batch.
  OutboxPosition Position(const std::string& url) const;
  absl::Status SetPosition(const std::string& url, OutboxPosition pos);
  // Deletes the batches before `seq` (what every target has sent).
  void Trim(uint64_t seq);

  uint64_t next_seq() const { return next_seq_.load(); }

 private:
  explicit Outbox(leveldb::DB* db) : db_(db) {}
  leveldb::DB* db_;
  std::atomic<uint64_t> next_seq_{1};
  uint64_t trimmed_ = 0;  // batches before this are gone (Trim's caller)
  // Running totals of add leaves (the intake thread's).
  absl::flat_hash_map<std::string, double> totals_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_REMOTE_OUTBOX_H_
