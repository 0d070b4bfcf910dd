// The agent's spool: records the server did not take, kept on disk in
// order and bounded in bytes, to be sent again when the server is back.
//
//   Spool spool("/var/lib/canopy-agent/spool", 64 << 20);
//   spool.Push(record);        // oldest records dropped past the bound
//   std::string r;
//   while (spool.Front(&r) && Send(r)) spool.PopFront();
//
// Each record is one file named by a sequence number, written to a
// temporary name and renamed, so a crash never leaves half a record. The
// records left by an earlier run are picked up on open. Thread-compatible:
// the sender thread owns it; bytes() and dropped() may be read by others.
#ifndef CANOPY_AGENT_SPOOL_H_
#define CANOPY_AGENT_SPOOL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace canopy {
namespace agent {

class Spool {
 public:
  Spool(std::string dir, uint64_t max_bytes);

  // Creates the directory and indexes the records already in it.
  absl::Status Open();

  // Appends a record; drops the oldest ones (counted) while over the bound.
  // A record larger than the bound is dropped itself.
  absl::Status Push(absl::string_view record);
  // The oldest record; false if the spool is empty.
  bool Front(std::string* record);
  void PopFront();

  bool empty() const { return records_.empty(); }
  size_t size() const { return records_.size(); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // Records dropped to keep the bound, since the start.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::string PathOf(uint64_t id) const;
  void DropFront();

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t next_id_ = 1;
  std::deque<std::pair<uint64_t, uint64_t>> records_;  // id, bytes
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_SPOOL_H_
