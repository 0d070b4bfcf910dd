// The trend store's encodings (internal to server/trend/): the LevelDB keys
// of a series' windows and blocks, a window's bytes, and the merging of two
// windows or of their summaries (a sketch or a HyperLogLog, tagged).
//
// Layout in LevelDB (all integers big-endian, so that a range is one seek):
//   "S" key                      -> series id (4 bytes), then the action
//                                   the series was made with (1 byte;
//                                   absent in stores from before 0.4)
//   "I" id                       -> key
//   "W" id level start           -> one window (EncodeWindow)
//   "B" id level block_start     -> a block of windows (canopy/block.h)
//   "L"                          -> each series' newest window start, left
//                                   by a clean stop, deleted at the next
//                                   load (TrendStore::SaveLastStarts)
//
// Pure functions; any thread.
#ifndef CANOPY_SERVER_TREND_CODEC_H_
#define CANOPY_SERVER_TREND_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "canopy/block.h"

namespace canopy {

// The figures of one stored window (see canopy/block.h).
using TrendWindow = WindowRecord;

// Blob tags: which kind of summary a window carries.
constexpr char kSketchTag = 'S';
constexpr char kHllTag = 'H';

std::string WindowKey(uint32_t id, size_t level, int64_t start);
std::string BlockKey(uint32_t id, size_t level, int64_t period);
std::string IdKey(uint32_t id);
// `t` rounded down to a multiple of `step` (also for negative `t`).
int64_t AlignDown(int64_t t, int64_t step);
// Merges two tagged summaries; keeps `a` if they cannot be merged.
void MergeBlob(std::string* a, const std::string& b);

// Folds `o` (a later or equal window) into `w`; a window with no samples
// takes `o`'s figures and keeps its start.
void MergeWindow(TrendWindow* w, const TrendWindow& o);

// The binary form of a window in LevelDB.
std::string EncodeWindow(const TrendWindow& w);
bool DecodeWindow(absl::string_view bytes, int64_t start, TrendWindow* w);

}  // namespace canopy

#endif  // CANOPY_SERVER_TREND_CODEC_H_
