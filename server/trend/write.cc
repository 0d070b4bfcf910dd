// Writing history: closed windows stored at the finest level, coarser
// windows rolled up when a finer one completes them, late windows merged
// where they belong, and ended block periods packed. Runs on the trend
// thread.
#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "canopy/coding.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "server/trend/codec.h"
#include "server/trend/store.h"

namespace canopy {

void TrendStore::Pack(uint32_t id, size_t level, int64_t period,
                      leveldb::Iterator* singles, leveldb::Iterator* blocks,
                      leveldb::WriteBatch* batch) {
  // The single windows of this series and level before `period`, grouped by
  // their own block period; each group joins what is already packed there.
  std::string lo = WindowKey(id, level, 0);
  std::string hi = WindowKey(id, level, period);
  int64_t span = BlockSpan(level);
  int64_t group = -1;
  std::vector<TrendWindow> windows;
  auto flush = [&]() {
    if (windows.empty()) return;
    std::string key = BlockKey(id, level, group);
    blocks->Seek(key);
    if (blocks->Valid() && blocks->key() == leveldb::Slice(key)) {
      absl::StatusOr<std::vector<WindowRecord>> old = DecodeBlock(
          absl::string_view(blocks->value().data(), blocks->value().size()));
      if (old.ok()) {
        for (WindowRecord& w : *old) windows.push_back(std::move(w));
        std::stable_sort(windows.begin(), windows.end(),
                         [](const TrendWindow& a, const TrendWindow& b) {
                           return a.start < b.start;
                         });
      }
    }
    BlockWriter writer(retention_.levels[level].step);
    for (const TrendWindow& w : windows) {
      if (!writer.Append(w).ok()) {
        // A duplicate start (a late window beside a packed one): keep the
        // merged figure in one window.
        continue;
      }
    }
    batch->Put(key, writer.Finish());
    windows.clear();
  };
  for (singles->Seek(lo); singles->Valid() && singles->key().compare(hi) < 0;
       singles->Next()) {
    int64_t start =
        static_cast<int64_t>(DecodeBigEndian64(singles->key().data() + 6));
    TrendWindow w;
    if (!DecodeWindow(
            absl::string_view(singles->value().data(), singles->value().size()),
            start, &w)) {
      continue;
    }
    int64_t g = AlignDown(start, span);
    if (g != group) {
      flush();
      group = g;
    }
    windows.push_back(std::move(w));
    batch->Delete(singles->key());
  }
  flush();
}

absl::Status TrendStore::Write(const std::vector<ClosedWindow>& windows,
                               size_t* written) {
  if (written != nullptr) *written = 0;
  if (db_ == nullptr)
    return absl::UnavailableError("the trend store is closed");
  LoadSeries();
  for (size_t i = 0; i < windows.size(); i += kWriteSlice) {
    size_t end = std::min(windows.size(), i + kWriteSlice);
    absl::Status s = WriteSlice(windows.data() + i, windows.data() + end);
    if (!s.ok()) return s;
    if (written != nullptr) *written = end;
  }
  return absl::OkStatus();
}

absl::Status TrendStore::WriteSlice(const ClosedWindow* begin,
                                    const ClosedWindow* end) {
  leveldb::WriteBatch batch;
  // Coarser windows that a finest window completed: rolled up after the
  // batch is on disk, from the finer level's stored windows.
  std::vector<PackJob> rollups;
  const size_t n = retention_.levels.size();
  for (const ClosedWindow* p = begin; p != end; ++p) {
    const ClosedWindow& cw = *p;
    bool created;
    uint32_t series = SeriesId(cw.key, cw.action, &batch, &created);
    const uint32_t* id = &series;
    TrendWindow w;
    w.start = cw.start;
    w.count = cw.count;
    w.sum = cw.sum;
    w.min = cw.min;
    w.max = cw.max;
    w.last = cw.last;
    if (!cw.blob.empty()) {
      w.blob.push_back(cw.action == Action::kSet ? kHllTag : kSketchTag);
      w.blob.append(cw.blob);
    }
    int64_t last = LastStart(*id);
    // A late window newer than anything stored for its series (history
    // sent with its timestamps, Graphite's backfill) is in order here: it
    // is stored, rolled up and packed as a live one would be.
    if (cw.late && w.start <= last) {
      // Merge into what is stored at every level whose window is complete;
      // a coarse window still open will be rolled up with it.
      for (size_t l = 0; l < n; ++l) {
        int64_t step = retention_.levels[l].step;
        int64_t start = AlignDown(w.start, step);
        if (l > 0 && start + step > AlignDown(last, step)) continue;
        MergeStored(*id, l, start, w, &batch);
      }
      continue;
    }
    std::string key = WindowKey(*id, 0, w.start);
    std::string existing;
    TrendWindow stored;
    // Only a window no newer than the series' newest can be stored already.
    bool had = w.start <= last && db_->Get(WriteReads(), key, &existing).ok() &&
               DecodeWindow(existing, w.start, &stored);
    if (had && cw.replayed) continue;  // stored whole before a crash
    // A window stored before a clean stop and continued after the restart:
    // the two parts merge.
    if (had) {
      MergeWindow(&stored, w);
    } else {
      stored = w;
    }
    batch.Put(key, EncodeWindow(stored));
    ++windows_written_;
    if (w.start > last) {
      LastStartSlot(*id) = w.start;
      if (last >= 0) {
        for (size_t l = 0; l < n; ++l) {
          int64_t step = retention_.levels[l].step;
          if (l > 0 && AlignDown(w.start, step) > AlignDown(last, step)) {
            rollups.push_back(PackJob{*id, l, AlignDown(last, step)});
          }
          int64_t span = BlockSpan(l);
          if (l == 0 && AlignDown(w.start, span) > AlignDown(last, span)) {
            to_pack_.push_back(PackJob{*id, 0, AlignDown(w.start, span)});
          }
        }
      }
    }
  }
  leveldb::Status s = db_->Write(leveldb::WriteOptions(), &batch);
  if (!s.ok()) {
    // Forget the series this batch would have created: the retry makes
    // them again, dictionary entries included.
    for (uint32_t id : created_) ids_.Erase(id);
    created_.clear();
    // The slice moved the newest starts of its series on before the write
    // failed: unknown again, sought as they come (and not saved as known).
    std::fill(last_start_.begin(), last_start_.end(), kUnread);
    return WriteFailed(s);
  }
  created_.clear();
  // Level by level, so that each reads the one below already written.
  // The finer windows are read in key order (series, then period) through
  // two uncached iterators a level, one for blocks and one for single
  // windows (ReadIdWith).
  std::sort(rollups.begin(), rollups.end(),
            [](const PackJob& a, const PackJob& b) {
              return std::tie(a.level, a.id, a.period) <
                     std::tie(b.level, b.id, b.period);
            });
  for (size_t l = 1; l < n && !rollups.empty(); ++l) {
    leveldb::WriteBatch up;
    int64_t step = retention_.levels[l].step;
    std::unique_ptr<leveldb::Iterator> blocks(db_->NewIterator(WriteReads()));
    std::unique_ptr<leveldb::Iterator> singles(db_->NewIterator(WriteReads()));
    for (const PackJob& job : rollups) {
      if (job.level != l) continue;
      TrendWindow sum;
      sum.start = job.period;
      for (const TrendWindow& f :
           ReadIdWith(blocks.get(), singles.get(), job.id, l - 1, job.period,
                      job.period + step)) {
        MergeWindow(&sum, f);
      }
      if (sum.count <= 0) continue;
      up.Put(WindowKey(job.id, l, job.period), EncodeWindow(sum));
      ++windows_written_;
      // The previous coarse window of this level, if it opened a period.
      int64_t span = BlockSpan(l);
      int64_t prev = job.period - step;
      if (AlignDown(job.period, span) > AlignDown(prev, span)) {
        to_pack_.push_back(PackJob{job.id, l, AlignDown(job.period, span)});
      }
    }
    blocks.reset();
    singles.reset();
    s = db_->Write(leveldb::WriteOptions(), &up);
    if (!s.ok()) return WriteFailed(s);
  }
  // Block periods that ended: pack their single windows (now on disk).
  // Written a megabyte at a time: a burst of history ends thousands of
  // periods in one slice, and one batch of them all (63 MB measured) then
  // landed in the memtable whole, far past its size.
  if (!to_pack_.empty()) {
    // In key order, one job a series and level: its newest period packs
    // every window before it, those of its older jobs too. Jobs touch keys
    // of their own, so iterators made before the first batch is written
    // read what each needs.
    std::sort(to_pack_.begin(), to_pack_.end(),
              [](const PackJob& a, const PackJob& b) {
                return std::tie(a.id, a.level, a.period) <
                       std::tie(b.id, b.level, b.period);
              });
    size_t kept = 0;
    for (size_t i = 0; i < to_pack_.size(); ++i) {
      const bool newer_follows = i + 1 < to_pack_.size() &&
                                 to_pack_[i + 1].id == to_pack_[i].id &&
                                 to_pack_[i + 1].level == to_pack_[i].level;
      if (!newer_follows) to_pack_[kept++] = to_pack_[i];
    }
    to_pack_.resize(kept);
    // Made again after each batch: an iterator keeps the memtables it
    // began with, so one kept across a burst's batches held every memtable
    // they filled (14 MB more at the burst's peak).
    std::unique_ptr<leveldb::Iterator> singles, blocks;
    leveldb::WriteBatch packs;
    for (size_t i = 0; i < to_pack_.size(); ++i) {
      const PackJob& job = to_pack_[i];
      if (singles == nullptr) {
        singles.reset(db_->NewIterator(WriteReads()));
        blocks.reset(db_->NewIterator(WriteReads()));
      }
      Pack(job.id, job.level, job.period, singles.get(), blocks.get(), &packs);
      if (packs.ApproximateSize() < kPackBatchBytes &&
          i + 1 < to_pack_.size()) {
        continue;
      }
      s = db_->Write(leveldb::WriteOptions(), &packs);
      if (!s.ok()) {
        // What is not packed is packed with the series' next period (Pack
        // takes every single window before it).
        to_pack_.clear();
        return WriteFailed(s);
      }
      packs.Clear();
      CheckIterator(*singles);
      CheckIterator(*blocks);
      singles.reset();
      blocks.reset();
    }
    to_pack_.clear();
  }
  return absl::OkStatus();
}

void TrendStore::MergeStored(uint32_t id, size_t level, int64_t start,
                             const TrendWindow& w, leveldb::WriteBatch* batch) {
  // A late window joins the stored one, wherever it is: a single window,
  // or inside a packed block.
  auto merge = [&](TrendWindow* stored) {
    double last = stored->count > 0 ? stored->last : w.last;
    MergeWindow(stored, w);
    stored->last = last;  // a late sample is not the latest
  };
  std::string bkey = BlockKey(id, level, AlignDown(start, BlockSpan(level)));
  std::string bytes;
  if (db_->Get(WriteReads(), bkey, &bytes).ok()) {
    absl::StatusOr<std::vector<WindowRecord>> block = DecodeBlock(bytes);
    if (block.ok()) {
      bool found = false;
      for (WindowRecord& r : *block) {
        if (r.start == start) {
          merge(&r);
          found = true;
        }
      }
      if (!found) {
        TrendWindow fresh;
        fresh.start = start;
        merge(&fresh);
        block->push_back(std::move(fresh));
        std::stable_sort(block->begin(), block->end(),
                         [](const WindowRecord& a, const WindowRecord& b) {
                           return a.start < b.start;
                         });
      }
      BlockWriter writer(retention_.levels[level].step);
      for (const WindowRecord& r : *block) (void)writer.Append(r);
      batch->Put(bkey, writer.Finish());
      return;
    }
  }
  std::string key = WindowKey(id, level, start);
  std::string v;
  TrendWindow stored;
  stored.start = start;
  if (db_->Get(WriteReads(), key, &v).ok()) {
    DecodeWindow(v, start, &stored);
  }
  merge(&stored);
  batch->Put(key, EncodeWindow(stored));
}

}  // namespace canopy
