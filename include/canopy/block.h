// Block: the compressed codec for trend history. A block packs the closed
// windows of one series at one step (10 s, 1 m, 1 h, 1 d) so that a window
// costs one or two bytes on disk instead of forty. Pure: bytes in, bytes out;
// the trend store decides where blocks live in LevelDB.
//
//   BlockWriter w(/*step=*/10);
//   w.Append({1700000000, 1, 43.21, 43.21, 43.21, 43.21});  // start, count,
//   w.Append({1700000010, 1, 43.27, 43.27, 43.27, 43.27});  // sum, min, max,
//   std::string block = w.Finish();                          // last
//   absl::StatusOr<BlockInfo> info = PeekBlock(block);  // starts, count
//   absl::StatusOr<std::vector<WindowRecord>> back = DecodeBlock(block);
//
// Block size: the writer takes up to kMaxWindows windows; the trend store
// should close a block every kWindowsPerBlock (256) windows, at starts that
// are multiples of 256 steps (about 43 minutes at 10 s, 4.3 hours at 1 m,
// 10.7 days at 1 h), so a block's key is its first possible start. The fixed
// cost of a block (about 25 bytes) is then a tenth of a byte per window.
//
// Format (version 1). A header of varints, then a bit stream, then blobs,
// then a checksum:
//
//   u8 version (1) | varint step | varint n | if n > 0: zigzag varint
//   start[0] / step, varint (start[n-1] - start[0]) / step |
//   varint length of the bit stream | bit stream (MSB first, zero padded) |
//   blobs: varint length + bytes, for each window that has one |
//   fixed32 little-endian CRC32C of every byte before it
//
// The bit stream holds columns, one after the other:
//   - gaps: for each window after the first, (start - previous start) / step
//     - 1: the delta-of-delta of Gorilla with the expected delta fixed at one
//     step, so a series without gaps costs 0 bits per window here;
//   - shapes: 3 bits saying which relations the block uses, then per window
//     which fields they imply (bit 0: min == last, bit 1: max == last, bit
//     2: sum == count * last and not NaN, bit 3: has a blob). A gauge sampled
//     once per window (count 1, sum = min = max = last) stores only count and
//     last. A relation that holds for some windows only is used if it saves
//     more value bits than it costs shape bits (the writer tries both);
//   - count and last for every window, then min, max and sum for the windows
//     whose shape does not imply them.
// An integer column is either one constant or a three-bucket prefix code
// ('0' + w1 bits, '10' + w2 bits, '11' + w3 bits, widths chosen per column to
// minimise its size). A value column is whichever is smaller of Gorilla's XOR
// code (leading/trailing-zero windows, '0' for a repeat) or, when every value
// is exactly m / 10^d for integers m (|m| <= 2^53) and d <= 15 (values that
// came from decimal text), the integers m as deltas or as offsets from their
// minimum through the integer code. Doubles round-trip bit for bit: negative
// zero, infinities, NaN payloads, subnormals.
//
// Measured (tests/core/block_test.cc, a day at 10 s in 256-window blocks):
// a two-decimal gauge random walk 0.80 bytes per window, a counter of +1
// increments 0.83, a counter pushed as one delta of 0..200 per window 1.20;
// arbitrary full-precision doubles about 7. Encoding a 256-window block takes
// 40-140 us, decoding 10-20 us.
//
// Decoding is safe on any input: a wrong checksum, a truncation or an
// inconsistent field gives InvalidArgument, never a crash; memory is bounded
// by kMaxWindows records plus the input's size.
//
// BlockWriter is a value type: thread-compatible. The free functions are
// thread-safe.
#ifndef CANOPY_BLOCK_H_
#define CANOPY_BLOCK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace canopy {

// One closed window of one series at one step. `blob` is opaque: a
// serialized Sketch (timers) or Hll (sets), or empty.
struct WindowRecord {
  int64_t start = 0;  // epoch seconds, a multiple of the step
  double count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double last = 0;
  std::string blob;
};

// What a block holds, read from its header.
struct BlockInfo {
  int64_t step = 0;
  size_t count = 0;         // windows in the block
  int64_t first_start = 0;  // 0 when count == 0
  int64_t last_start = 0;   // 0 when count == 0
};

// Accumulates windows in memory and encodes them as one block.
class BlockWriter {
 public:
  // The most windows a block may hold (a day at 10 s is 8640).
  static constexpr size_t kMaxWindows = 16384;
  // The block size the trend store should use (see the top of this file).
  static constexpr size_t kWindowsPerBlock = 256;

  // `step` in seconds; Append fails if it is not positive.
  explicit BlockWriter(int64_t step);

  // Adds a window. InvalidArgument, changing nothing, if the step is not
  // positive, `w.start` is not a multiple of it or not after the previous
  // start; ResourceExhausted if the block already holds kMaxWindows.
  absl::Status Append(const WindowRecord& w);

  // Windows appended since construction or the last Finish().
  size_t size() const { return windows_.size(); }
  bool empty() const { return windows_.empty(); }
  int64_t step() const { return step_; }

  // Encodes the appended windows (none is allowed) and empties the writer,
  // ready for the next block.
  std::string Finish();

 private:
  int64_t step_;
  std::vector<WindowRecord> windows_;
};

// Decodes a whole block. InvalidArgument on anything Finish() did not write.
absl::StatusOr<std::vector<WindowRecord>> DecodeBlock(absl::string_view bytes);

// Reads the header only (and checks the checksum): cheap, for skipping
// blocks outside a range.
absl::StatusOr<BlockInfo> PeekBlock(absl::string_view bytes);

// The CRC32C (Castagnoli) of `bytes`, as a block ends with. Exposed for tests
// and fuzzers that forge blocks.
uint32_t BlockChecksum(absl::string_view bytes);

// One coarser window from the finer windows inside it, for rollups: count
// and sum add up, min and max are the extremes, last is the `last` of the
// finer window with the latest start. Windows with count 0 hold no samples
// and are skipped; if none is left the result is all zeros. Blobs are left
// empty: the caller merges the sketches. The caller makes sure every finer
// window lies inside [start, start + coarser step).
WindowRecord Rollup(absl::Span<const WindowRecord> finer, int64_t start);

}  // namespace canopy

#endif  // CANOPY_BLOCK_H_
