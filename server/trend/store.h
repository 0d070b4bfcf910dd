// Trend history: every closed window of every leaf, rolled up into coarser
// steps and kept in LevelDB for as long as --retention says.
//
//   auto retention = canopy::Retention::Parse("10s:2d,1m:30d,1h:2y,1d:10y");
//   auto store = canopy::TrendStore::Open(dir, *retention);
//   (*store)->Write(windows);                      // from the tree
//   (*store)->Query(query, now);                   // for GET /trend
//
// Layout in LevelDB: server/trend/codec.h. `level` is the index of the step in
// the retention. Windows are written one record each as they arrive (cheap,
// durable at once); once a block period (256 steps) is over, its windows are
// packed into one compressed block of about one byte per window. Coarser levels
// are rolled up from the finer level's stored windows when a finest window
// crosses their end, so a restart (or a kill) loses no rollup and nothing
// but one timestamp per series is held in memory.
//
// Late windows (a sample dated into a window already stored) are merged into
// the stored window at every level.
//
// The room's files: store.cc (open, reopen, verify, series ids, reads),
// write.cc (writes, rollups, late windows, packing), last_starts.cc (each
// series' newest window start: saved, read back, rebuilt), query.cc (Query,
// and the retention and fn names), retention.cc (deleting what is past
// --retention), codec.cc (keys and window bytes).
//
// Threads: a TrendStore is used by one thread at a time (the trend thread,
// server/trend/thread.h). LevelDB itself is thread-safe. Query forks
// reader threads for a large answer and joins them before it returns: they
// only read (ReadSeries), and damage they find is counted under log_mu_.
#ifndef CANOPY_SERVER_TREND_STORE_H_
#define CANOPY_SERVER_TREND_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "canopy/block.h"
#include "canopy/key.h"
#include "canopy/mutex.h"
#include "canopy/sketch.h"
#include "canopy/tree.h"
#include "server/log.h"
#include "server/trend/codec.h"
#include "server/trend/series_dict.h"

namespace leveldb {
class DB;
class Env;
class Iterator;
struct ReadOptions;
class Status;
class WriteBatch;
}  // namespace leveldb

namespace canopy {

struct Retention {
  struct Level {
    int64_t step;
    int64_t keep;
  };
  std::vector<Level> levels;
  // "10s:2d,1m:30d,...": steps increasing, each a multiple of the one before.
  static absl::StatusOr<Retention> Parse(absl::string_view spec);
};

enum class TrendFn {
  kAvg,
  kSum,
  kMin,
  kMax,
  kLast,
  kCount,
  kRate,
  kP50,
  kP90,
  kP99
};
absl::StatusOr<TrendFn> ParseTrendFn(absl::string_view name);

struct TrendQuery {
  std::vector<Pattern> patterns;
  int64_t from = 0;  // epoch seconds, inclusive
  int64_t to = 0;    // epoch seconds, exclusive
  int64_t step = 0;  // 0: pick one for ~600 points
  TrendFn fn = TrendFn::kAvg;
  size_t max_series = 1000;
  size_t max_points = 2000000;  // series x points; past it the query fails
  // When set, only the series whose key segments it accepts (after the
  // patterns): Graphite's globs (server/graphite/) select exactly.
  std::function<bool(absl::Span<const absl::string_view> segments)> accept;
};

struct TrendSeries {
  std::string key;
  std::vector<std::pair<int64_t, double>> points;  // start, value
};

struct TrendResult {
  int64_t step = 0;
  std::vector<TrendSeries> series;
  bool truncated = false;  // more series matched than max_series
};

// LevelDB's memory (--trend_cache_mb, --trend_write_buffer_mb): fixed
// amounts, whatever the number of series. The block cache serves queries;
// the write buffer is the memtable size (LevelDB holds up to two while one
// is written out).
struct StoreMemory {
  size_t cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 16 << 20;
};

class TrendStore {
 public:
  // `env` (tests) replaces LevelDB's file system; nullptr is PreadEnv().
  //
  // Opened with paranoid checks. A directory with LevelDB files but no
  // CURRENT, or one LevelDB finds damaged, is refused with one line
  // (DataLoss) unless `repair`: then leveldb::RepairDB rebuilds it first
  // (counted in corruptions()). A fresh database is made only in a
  // directory with no LevelDB files.
  //
  // The block cache is one for the process (stores are reopened after
  // errors, and tests open several), sized by the first store opened.
  static absl::StatusOr<std::unique_ptr<TrendStore>> Open(
      const std::string& dir, Retention retention, leveldb::Env* env = nullptr,
      bool repair = false, StoreMemory memory = {});
  // Closes and opens the database again, after a write error (which LevelDB
  // otherwise keeps returning). Until it succeeds the store must not be used.
  absl::Status Reopen();
  bool open() const { return db_ != nullptr; }
  ~TrendStore();

  // Stores closed windows of the finest step and rolls them up, in LevelDB
  // batches of at most kWriteSlice windows (so that neither a WriteBatch nor
  // the memtable it lands in grows with the hand-over: a batch of ten
  // million windows would otherwise be a 400 MB WriteBatch and a memtable
  // far past write_buffer_size). On an error, `*written` (if given) is the
  // number of windows from the front that are on disk: a retry must start
  // after them (a window written twice would be merged with itself).
  static constexpr size_t kWriteSlice = 16384;
  // Packed blocks go to LevelDB in batches of about this size.
  static constexpr size_t kPackBatchBytes = 1 << 20;
  absl::Status Write(const std::vector<ClosedWindow>& windows,
                     size_t* written = nullptr);
  // Deletes windows past their level's retention (at most `budget` keys
  // visited per call, resuming where the last call stopped). Returns the
  // number deleted.
  absl::StatusOr<size_t> EnforceRetention(int64_t now, size_t budget);

  absl::StatusOr<TrendResult> Query(const TrendQuery& query) const;
  // Query reads a large answer on up to kQueryThreads threads, one for
  // every kSeriesPerQueryThread series.
  static constexpr size_t kQueryThreads = 2;
  static constexpr size_t kSeriesPerQueryThread = 64;

  // The step a Query from `from` to `to` asking for `want` seconds gets:
  // a multiple of the step of the level that answers it.
  int64_t StepFor(int64_t from, int64_t to, int64_t want) const;

  // Calls `fn` with each series whose key starts with `prefix` (bytes) and
  // the action it had when it was first stored, in key order, until it
  // returns false.
  void ForEachSeries(absl::string_view prefix,
                     const std::function<bool(absl::string_view key,
                                              Action action)>& fn) const;

  // The stored windows of one series at one level (for tests and export).
  std::vector<TrendWindow> Read(absl::string_view key, size_t level,
                                int64_t from, int64_t to) const;

  const Retention& retention() const { return retention_; }
  // Reads the series dictionary into memory, once (Write does it first if
  // it was not done). Open does not: canopyd serves while the trend thread
  // reads it.
  void LoadSeries();
  // The series known; 0 until LoadSeries.
  size_t series_count() const { return ids_.size(); }
  // LoadSeries also learns each series' newest stored window start (what
  // keeps a window written again after a restart from overwriting the one
  // stored, and coarser windows from being rolled up twice or not at
  // all): from the record a clean stop left (SaveLastStarts) or, after a
  // kill, from one pass over the windows in key order. The record is
  // deleted (a synced write) before anything else is written, so a kill
  // later never finds one that is out of date. Never one LevelDB seek a
  // series: at ten million series those took minutes.
  void SaveLastStarts();
  // True if LoadSeries took them from a clean stop's record.
  bool last_starts_saved() const { return last_starts_saved_; }
  // Series whose newest window start was sought in LevelDB one by one
  // (after a write error reopened the store, or damage cut the pass).
  uint64_t last_start_lookups() const { return last_start_lookups_; }
  uint64_t windows_written() const { return windows_written_; }
  // Bytes LevelDB reports for the whole key range.
  uint64_t ApproximateBytes() const;
  // Bytes held in the process's block cache (StoreMemory::cache_bytes at
  // most), filled by queries. Any thread.
  static size_t CacheBytes();

  // Reads up to `budget` records on from where the last call stopped,
  // checksums verified; damage found is logged and counted in
  // corruptions(). True once the whole store has been read (once per open).
  bool VerifySome(size_t budget);
  // Damage found so far: at open (a repair), by Verify, or by a read (a bad
  // checksum, a truncated table, a record that does not decode). Read from
  // any thread.
  uint64_t corruptions() const { return corruptions_.load(); }

 private:
  struct PackJob {
    uint32_t id;
    size_t level;
    int64_t period;
  };
  // Write() of windows [begin, end).
  absl::Status WriteSlice(const ClosedWindow* begin, const ClosedWindow* end);
  // The level a query from `from` to `to` at `want` seconds reads.
  size_t LevelFor(int64_t from, int64_t to, int64_t want) const;
  // The start of the newest finest-level window of a series (-1: none).
  int64_t LastStart(uint32_t id);
  // The series' entry in last_start_ (made kUnread if new).
  int64_t& LastStartSlot(uint32_t id);
  // last_start_ from the record of a clean stop; false if there is none
  // or it does not decode (then all kUnread).
  bool ReadSavedLastStarts();
  // last_start_ from one pass over the level-0 windows and blocks.
  void ScanLastStarts();
  void MergeStored(uint32_t id, size_t level, int64_t start,
                   const TrendWindow& w, leveldb::WriteBatch* batch);
  // Packs the series' single windows of `level` that lie before `period`,
  // read through `singles`, into the blocks read through `blocks`: the
  // caller's iterators (WriteReads), moved forward in key order over its
  // jobs so that a table block is read once for all of them.
  void Pack(uint32_t id, size_t level, int64_t period,
            leveldb::Iterator* singles, leveldb::Iterator* blocks,
            leveldb::WriteBatch* batch);
  int64_t BlockSpan(size_t level) const {
    return retention_.levels[level].step *
           static_cast<int64_t>(BlockWriter::kWindowsPerBlock);
  }

  TrendStore(leveldb::DB* db, Retention retention, std::string dir,
             leveldb::Env* env, StoreMemory memory);
  // The id of a series, made (into `batch`) if it is new.
  uint32_t SeriesId(const std::string& key, Action action,
                    leveldb::WriteBatch* batch, bool* created);
  std::vector<TrendWindow> ReadId(uint32_t id, size_t level, int64_t from,
                                  int64_t to) const;
  // ReadId through the caller's iterators, `blocks` for packed blocks and
  // `windows` for single windows (they may be one). The write path reads
  // many series in key order through two of its own, each moving forward
  // in its part of the key space, so that a table block is read once a
  // slice and not kept in the block cache (WriteReads).
  std::vector<TrendWindow> ReadIdWith(leveldb::Iterator* blocks,
                                      leveldb::Iterator* windows, uint32_t id,
                                      size_t level, int64_t from,
                                      int64_t to) const;
  // What Query reads of each series: the level, its step, the asked step
  // and range, the fn.
  struct SeriesPlan {
    size_t level = 0;
    int64_t base = 0;
    int64_t step = 0;
    int64_t from = 0;
    int64_t to = 0;
    TrendFn fn = TrendFn::kAvg;
  };
  // One series of a Query (any thread: it only reads).
  TrendSeries ReadSeries(const SeriesPlan& plan, const std::string& key,
                         uint32_t id) const;
  // The write path's reads (and the dictionary's one read at the start):
  // checksums verified, blocks not cached. A burst of history reads back
  // every window it rolls up; cached, those blocks filled the block cache
  // that queries want (issue 17).
  static leveldb::ReadOptions WriteReads();
  // Reads that verify checksums.
  static leveldb::ReadOptions Checked();
  // Logs (rate-limited) and counts damage.
  void NoteCorruption(const std::string& what) const;
  void CheckIterator(const leveldb::Iterator& it) const;
  absl::Status WriteFailed(const leveldb::Status& s);

  leveldb::DB* db_;
  Retention retention_;
  std::string dir_;
  leveldb::Env* env_;
  StoreMemory memory_;
  SeriesDict ids_;
  // By series id, the start of its newest finest window (-1: none;
  // kUnread: not read back from disk since the store opened): a later one
  // that crosses a coarser boundary completes that coarser window, which is
  // then rolled up from the stored finer windows (so nothing is held in
  // memory but this, 8 bytes a series).
  static constexpr int64_t kUnread = INT64_MIN;
  std::vector<int64_t> last_start_;
  uint32_t next_id_ = 1;
  bool series_loaded_ = false;
  bool last_starts_saved_ = false;
  uint64_t last_start_lookups_ = 0;
  uint64_t windows_written_ = 0;
  std::string retention_cursor_;
  std::vector<PackJob> to_pack_;
  std::vector<uint32_t> created_;  // series made by the Write in progress
  mutable std::atomic<uint64_t> corruptions_{0};
  // Query's threads may find damage at once.
  mutable Mutex log_mu_;
  std::string verify_cursor_;  // where VerifySome goes on
  bool verified_ = false;
  mutable RateLimit corruption_log_ ABSL_GUARDED_BY(log_mu_);
};

}  // namespace canopy

#endif  // CANOPY_SERVER_TREND_STORE_H_
