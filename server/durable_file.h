// Small files that must survive a crash: written whole or not at all
// (a temp file, fsync, rename, fsync of the directory), and the seq
// high-water mark kept in one of them.
//
//   canopy::WriteFileAtomically(dir + "/tree.snapshot", bytes);
//   canopy::SeqReservation seq(dir + "/seq.reserved");
//   absl::StatusOr<uint64_t> before = seq.Load();  // 0: none yet
//   seq.Reserve(tree.seq() + SeqReservation::kBlock);
//
// Why the reservation: a seq handed to a client must never be handed out
// again for another change, even after kill -9 before any snapshot. Before
// the tree uses a seq, a number above it is on disk; a start that finds
// that number above the restored tree's seq knows changes were lost and
// continues above it, so that every old cursor gets "reset": true.
//
// Threads: any; the Server calls it on the loop (at start, once a second
// when the reservation runs low, at the stop) and the snapshot on the
// trend thread.
#ifndef CANOPY_SERVER_DURABLE_FILE_H_
#define CANOPY_SERVER_DURABLE_FILE_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace canopy {

// Writes `bytes` to `path` whole or not at all.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& bytes);

// The same, written piece by piece (a snapshot of ten million leaves is
// 650 MB: never whole in memory). Append may run on one thread and Commit
// on another, one after the other. Destroyed without a Commit, the
// temporary file is removed and `path` left as it was.
//
//   AtomicFile f(path);
//   f.Append(piece); ...            // on the loop, into the page cache
//   absl::Status s = f.Commit();    // fsync and rename, elsewhere
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  // A failure is kept and returned by Commit.
  void Append(const std::string& bytes);
  absl::Status Commit();

 private:
  std::string path_;
  std::string tmp_;
  FILE* f_ = nullptr;
  bool ok_ = true;
  int error_ = 0;
  bool committed_ = false;
};

class SeqReservation {
 public:
  // Seqs reserved at a time. Renewed when less than half is left, checked
  // once a second: the tree would need 32 M changes a second to outrun it.
  static constexpr uint64_t kBlock = uint64_t{1} << 26;

  explicit SeqReservation(std::string path) : path_(std::move(path)) {}

  // The reserved mark on disk (0 if there is none yet); an error if the
  // file is there but unreadable.
  absl::StatusOr<uint64_t> Load() const;
  // Puts `upto` on disk (durably) before returning OK.
  absl::Status Reserve(uint64_t upto);
  uint64_t reserved() const { return reserved_; }

 private:
  std::string path_;
  uint64_t reserved_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_DURABLE_FILE_H_
