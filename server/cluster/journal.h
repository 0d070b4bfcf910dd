// The write journal of a shard: every batch of writes another node sent is
// appended here before it is applied and acknowledged, so that an owner
// killed with -9 loses nothing it acknowledged. The tree's snapshot holds
// what came before; the journal, what came after.
//
//   WriteJournal journal(data_dir + "/cluster");
//   journal.Replay(restored_seq, [&](char kind, absl::string_view body) {...});
//   journal.Rotate(tree.seq(), seen);    // the file appends go to
//   journal.Append('W', batch);          // before applying and acknowledging
//   journal.Rotate(tree.seq(), seen);    // as the tree's snapshot is taken
//   journal.Forget(snapshot_seq);        // once that snapshot is on disk
//
// Files: DIR/journal-SEQ, SEQ the tree's seq when the file was begun (20
// digits, so that names sort as numbers). A file begun at SEQ holds what
// the tree took after its seq was SEQ, so a start that restored a
// snapshot of seq S replays the files begun at S or later, in order, and
// deletes the older ones. Each record is "KIND LENGTH\n" then LENGTH bytes,
// written with one write(): a process killed at any moment leaves whole
// records (the page cache has them); a record cut short by the machine's
// own crash ends the replay of its file, logged.
//
// Threads: the tree's (the cluster's loop); not thread-safe.
#ifndef CANOPY_SERVER_CLUSTER_JOURNAL_H_
#define CANOPY_SERVER_CLUSTER_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace canopy {

class WriteJournal {
 public:
  explicit WriteJournal(std::string dir) : dir_(std::move(dir)) {}
  ~WriteJournal();
  WriteJournal(const WriteJournal&) = delete;
  WriteJournal& operator=(const WriteJournal&) = delete;

  // At start: calls `record` for each record of the files begun at
  // `restored_seq` or later, oldest first, and deletes the older files.
  // Creates DIR. Appends need a Rotate first (the file they go to).
  absl::Status Replay(
      uint64_t restored_seq,
      const std::function<void(char kind, absl::string_view body)>& record);

  // Appends one record; an error (a full disk) leaves the journal as it was.
  absl::Status Append(char kind, absl::string_view body);

  // Begins the file of `seq` (the tree's now, as its snapshot is taken)
  // with `first`, a record of kind 'S' that stands for the state the
  // records before it built (what was applied already: the batch numbers).
  absl::Status Rotate(uint64_t seq, absl::string_view first);

  // Deletes the files begun before `seq`: a snapshot of `seq` is on disk.
  void Forget(uint64_t seq);

  // The files now, oldest first (their seqs).
  std::vector<uint64_t> Files() const;

 private:
  std::string PathOf(uint64_t seq) const;
  absl::Status OpenFile(uint64_t seq);

  std::string dir_;
  int fd_ = -1;
  uint64_t open_seq_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_JOURNAL_H_
