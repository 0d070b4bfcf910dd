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
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace canopy {

// Writes `bytes` to `path` whole or not at all.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& bytes);

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
