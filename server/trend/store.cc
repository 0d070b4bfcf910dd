#include "server/trend/store.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/coding.h"
#include "canopy/duration.h"
#include "canopy/hll.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/write_batch.h"
#include "server/log.h"
#include "server/trend/codec.h"

namespace canopy {

TrendStore::TrendStore(leveldb::DB* db, Retention retention, std::string dir,
                       leveldb::Env* env, StoreMemory memory)
    : db_(db),
      retention_(std::move(retention)),
      dir_(std::move(dir)),
      env_(env),
      memory_(memory) {}

TrendStore::~TrendStore() {
  SaveLastStarts();
  delete db_;
}

namespace {

leveldb::Options StoreOptions(leveldb::Env* env, bool create,
                              const StoreMemory& memory) {
  leveldb::Options options;
  // Never a fresh database over one that lost its CURRENT: LevelDB would
  // then delete the old tables as obsolete.
  options.create_if_missing = create;
  // Damage found while reading is reported, not skipped.
  options.paranoid_checks = true;
  options.write_buffer_size = memory.write_buffer_bytes;
  // Queries read whole ranges of table blocks (a /render of 1 000 series
  // over a day touches thousands): with LevelDB's default 8 MB cache they
  // were decompressed again at every query (a third of its time). One
  // cache for the process: stores are reopened after errors, and tests
  // open several.
  static leveldb::Cache* const cache = leveldb::NewLRUCache(memory.cache_bytes);
  options.block_cache = cache;
  // Budgeted with the server's other descriptors (server.cc).
  options.max_open_files = 256;
  if (env != nullptr) options.env = env;
  return options;
}

// True if `dir` holds LevelDB files (tables, logs, manifests).
bool HasDatabaseFiles(leveldb::Env* env, const std::string& dir) {
  std::vector<std::string> names;
  if (!env->GetChildren(dir, &names).ok()) return false;
  for (const std::string& n : names) {
    absl::string_view v(n);
    if (absl::EndsWith(v, ".ldb") || absl::EndsWith(v, ".sst") ||
        absl::EndsWith(v, ".log") || absl::StartsWith(v, "MANIFEST-")) {
      return true;
    }
  }
  return false;
}

std::string RepairAdvice(const std::string& dir) {
  return absl::StrCat(
      "; canopyd will not start over it. Start with --trend_repair to "
      "rebuild it with LevelDB's RepairDB (what is damaged is lost), or "
      "move ",
      dir, " away to start a new history");
}

}  // namespace

leveldb::ReadOptions TrendStore::Checked() {
  leveldb::ReadOptions o;
  o.verify_checksums = true;
  return o;
}

void TrendStore::NoteCorruption(const std::string& what) const {
  ++corruptions_;
  MutexLock lock(&log_mu_);
  if (corruption_log_.Allow()) {
    CANOPY_LOG("trend store %s is damaged: %s", dir_, what);
  }
}

void TrendStore::CheckIterator(const leveldb::Iterator& it) const {
  leveldb::Status s = it.status();
  if (!s.ok()) NoteCorruption(s.ToString());
}

absl::Status TrendStore::WriteFailed(const leveldb::Status& s) {
  // A full disk is retried; damage met by a compaction (paranoid checks
  // stop writes on it) is also counted as such.
  if (s.IsCorruption()) NoteCorruption(s.ToString());
  return absl::UnavailableError(s.ToString());
}

absl::StatusOr<std::unique_ptr<TrendStore>> TrendStore::Open(
    const std::string& dir, Retention retention, leveldb::Env* env, bool repair,
    StoreMemory memory) {
  leveldb::Env* e = env != nullptr ? env : leveldb::Env::Default();
  const bool has_files = HasDatabaseFiles(e, dir);
  uint64_t repaired = 0;
  auto run_repair = [&](const std::string& why) -> absl::Status {
    CANOPY_LOG("trend store %s: %s; repairing (--trend_repair)", dir, why);
    leveldb::Status r =
        leveldb::RepairDB(dir, StoreOptions(env, false, memory));
    if (!r.ok()) {
      return absl::DataLossError(absl::StrCat(
          "cannot repair the trend store in ", dir, ": ", r.ToString()));
    }
    ++repaired;
    return absl::OkStatus();
  };
  if (has_files && !e->FileExists(dir + "/CURRENT")) {
    std::string why = "its CURRENT file is missing";
    if (!repair) {
      return absl::DataLossError(absl::StrCat(
          "the trend store in ", dir, " is damaged: ", why, RepairAdvice(dir)));
    }
    if (absl::Status r = run_repair(why); !r.ok()) return r;
  }
  leveldb::DB* db = nullptr;
  leveldb::Status s =
      leveldb::DB::Open(StoreOptions(env, !has_files, memory), dir, &db);
  if (s.IsCorruption()) {
    if (!repair) {
      return absl::DataLossError(absl::StrCat("the trend store in ", dir,
                                              " is damaged: ", s.ToString(),
                                              RepairAdvice(dir)));
    }
    if (absl::Status r = run_repair(s.ToString()); !r.ok()) return r;
    s = leveldb::DB::Open(StoreOptions(env, false, memory), dir, &db);
  }
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open the trend store in ", dir, ": ", s.ToString()));
  }
  std::unique_ptr<TrendStore> store(
      new TrendStore(db, std::move(retention), dir, env, memory));
  store->corruptions_ += repaired;
  return store;
}

void TrendStore::LoadSeries() {
  if (series_loaded_ || db_ == nullptr) return;
  series_loaded_ = true;
  // The series dictionary lives in memory for the writer. Read here, not
  // in Open: ten million series take seconds, and canopyd serves meanwhile
  // (the trend thread reads it before its first write).
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Checked()));
  for (it->Seek("S"); it->Valid() && it->key().starts_with("S"); it->Next()) {
    if (it->value().size() < 4) continue;
    uint32_t id = DecodeBigEndian32(it->value().data());
    absl::string_view key(it->key().data() + 1, it->key().size() - 1);
    if (id == 0 || ids_.Find(key) != 0) continue;
    ids_.Insert(key, id);
    next_id_ = std::max(next_id_, id + 1);
  }
  CheckIterator(*it);
  it.reset();
  last_start_.assign(next_id_, kUnread);
  last_starts_saved_ = ReadSavedLastStarts();
  if (!last_starts_saved_) ScanLastStarts();
}

namespace {
constexpr char kLastStartsKey[] = "L";
}  // namespace

void TrendStore::SaveLastStarts() {
  if (db_ == nullptr || !series_loaded_) return;
  // Varints of the difference to the series before (most series of a
  // fleet end in the same window: a byte each); 0 for unknown.
  std::string v;
  PutVarint64(&v, next_id_);
  PutVarint64(&v, last_start_.size());
  int64_t prev = 0;
  for (int64_t start : last_start_) {
    if (start == kUnread) {
      v.push_back(0);
      continue;
    }
    PutVarint64(&v, ZigZagEncode64(start - prev) + 1);
    prev = start;
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  leveldb::Status s = db_->Put(sync, kLastStartsKey, v);
  if (!s.ok()) {
    CANOPY_LOG(
        "trend store %s: cannot save the series' newest windows (%s); "
        "the next start reads them from the windows",
        dir_, s.ToString());
  }
}

bool TrendStore::ReadSavedLastStarts() {
  std::string v;
  if (!db_->Get(Checked(), kLastStartsKey, &v).ok()) return false;
  // Gone before any write: from here on, a kill must not find it.
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (!db_->Delete(sync, kLastStartsKey).ok()) return false;
  absl::string_view in(v);
  uint64_t next_id, n;
  // Saved with this dictionary: the same series, none made since.
  if (!GetVarint64(&in, &next_id) || next_id != next_id_ ||
      !GetVarint64(&in, &n) || n > next_id_) {
    return false;
  }
  int64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t code;
    if (!GetVarint64(&in, &code)) {
      std::fill(last_start_.begin(), last_start_.end(), kUnread);
      return false;
    }
    if (code == 0) continue;
    prev += ZigZagDecode64(code - 1);
    last_start_[i] = prev;
  }
  return in.empty();
}

void TrendStore::ScanLastStarts() {
  // Level-0 blocks, then level-0 single windows, in key order: one pass,
  // where a seek a series took ten million seeks.
  leveldb::ReadOptions o = Checked();
  o.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(o));
  bool whole = true;
  for (char kind : {'B', 'W'}) {
    const std::string lo(1, kind);
    const std::string hi(1, static_cast<char>(kind + 1));
    for (it->Seek(lo); it->Valid() && it->key().compare(hi) < 0; it->Next()) {
      const leveldb::Slice k = it->key();
      if (k.size() != 14 || k[5] != 0) continue;
      uint32_t id = DecodeBigEndian32(k.data() + 1);
      int64_t start = static_cast<int64_t>(DecodeBigEndian64(k.data() + 6));
      if (kind == 'B') {
        absl::StatusOr<BlockInfo> info = PeekBlock(
            absl::string_view(it->value().data(), it->value().size()));
        if (!info.ok()) continue;
        start = info->last_start;
      }
      int64_t& slot = LastStartSlot(id);
      slot = std::max(slot, start);
    }
    if (!it->status().ok()) whole = false;
  }
  CheckIterator(*it);
  for (int64_t& slot : last_start_) {
    // Damage cut the pass: what it did not reach is sought series by
    // series as they come.
    if (!whole) {
      slot = kUnread;
    } else if (slot == kUnread) {
      slot = -1;
    }
  }
}

bool TrendStore::VerifySome(size_t budget) {
  if (db_ == nullptr || verified_) return verified_;
  leveldb::ReadOptions o = Checked();
  o.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(o));
  if (verify_cursor_.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(verify_cursor_);
  }
  for (; it->Valid() && budget > 0; it->Next(), --budget) {
    if (it->key().starts_with("B") &&
        !DecodeBlock(absl::string_view(it->value().data(), it->value().size()))
             .ok()) {
      NoteCorruption("a block of windows does not decode");
    }
  }
  if (it->Valid()) {
    verify_cursor_.assign(it->key().data(), it->key().size());
    return false;
  }
  // The end, or damage that stops the iterator: counted, and the pass ends.
  CheckIterator(*it);
  verified_ = true;
  return true;
}

absl::Status TrendStore::Reopen() {
  // LevelDB keeps a write error for good: after one, only closing and
  // opening the database again lets writes through. An open that fails (a
  // full disk) may leave files behind (an empty .log, a MANIFEST that
  // CURRENT does not name): they are removed, so that a retry every second
  // leaves no debris.
  delete db_;
  db_ = nullptr;
  leveldb::Env* e = env_ != nullptr ? env_ : leveldb::Env::Default();
  std::vector<std::string> before;
  (void)e->GetChildren(dir_, &before);
  std::string current_before;
  (void)leveldb::ReadFileToString(e, dir_ + "/CURRENT", &current_before);
  leveldb::Status s =
      leveldb::DB::Open(StoreOptions(env_, false, memory_), dir_, &db_);
  if (!s.ok()) {
    db_ = nullptr;
    std::string current_after;
    (void)leveldb::ReadFileToString(e, dir_ + "/CURRENT", &current_after);
    std::vector<std::string> after;
    if (current_after == current_before && e->GetChildren(dir_, &after).ok()) {
      for (const std::string& n : after) {
        if (n == "LOCK" || n == "LOG" || n == "LOG.old") continue;
        if (std::find(before.begin(), before.end(), n) == before.end()) {
          (void)e->RemoveFile(dir_ + "/" + n);
        }
      }
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot reopen the trend store in ", dir_, ": ", s.ToString()));
  }
  // Read back from disk as series come.
  std::fill(last_start_.begin(), last_start_.end(), kUnread);
  return absl::OkStatus();
}

uint32_t TrendStore::SeriesId(const std::string& key, Action action,
                              leveldb::WriteBatch* batch, bool* created) {
  uint32_t known = ids_.Find(key);
  *created = known == 0;
  if (!*created) return known;
  // A new series: its dictionary entries go in the same batch as its first
  // window (one write for a million new series, not a million).
  uint32_t id = next_id_++;
  std::string v;
  PutBigEndian32(&v, id);
  v.push_back(static_cast<char>(action));
  batch->Put("S" + key, v);
  batch->Put(IdKey(id), key);
  ids_.Insert(key, id);
  created_.push_back(id);
  LastStartSlot(id) = -1;
  return id;
}

std::vector<TrendWindow> TrendStore::Read(absl::string_view key, size_t level,
                                          int64_t from, int64_t to) const {
  if (db_ == nullptr) return {};
  std::string v;
  if (!db_->Get(Checked(), "S" + std::string(key), &v).ok() || v.size() < 4) {
    return {};
  }
  return ReadId(DecodeBigEndian32(v.data()), level, from, to);
}

std::vector<TrendWindow> TrendStore::ReadId(uint32_t id, size_t level,
                                            int64_t from, int64_t to) const {
  std::vector<TrendWindow> out;
  if (to <= from || db_ == nullptr) return out;
  from = std::max<int64_t>(from, 0);
  to = std::max<int64_t>(to, 0);
  out.reserve(static_cast<size_t>(std::min<int64_t>(
      (to - from) / retention_.levels[level].step + 1, 1 << 16)));
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Checked()));
  // Packed blocks first (older periods), then single windows (newer).
  int64_t span = BlockSpan(level);
  std::string blo = BlockKey(id, level, AlignDown(from, span));
  std::string bhi = BlockKey(id, level, to);
  for (it->Seek(blo); it->Valid() && it->key().compare(bhi) < 0; it->Next()) {
    absl::StatusOr<std::vector<WindowRecord>> block =
        DecodeBlock(absl::string_view(it->value().data(), it->value().size()));
    if (!block.ok()) {
      NoteCorruption(
          absl::StrCat("a block of series ", id,
                       " does not decode: ", block.status().message()));
      continue;
    }
    for (WindowRecord& w : *block) {
      if (w.start >= from && w.start < to) out.push_back(std::move(w));
    }
  }
  std::string lo = WindowKey(id, level, from);
  std::string hi = WindowKey(id, level, to);
  for (it->Seek(lo); it->Valid() && it->key().compare(hi) < 0; it->Next()) {
    TrendWindow w;
    int64_t start =
        static_cast<int64_t>(DecodeBigEndian64(it->key().data() + 6));
    if (DecodeWindow(absl::string_view(it->value().data(), it->value().size()),
                     start, &w)) {
      out.push_back(std::move(w));
    } else {
      NoteCorruption(
          absl::StrCat("a window of series ", id, " does not decode"));
    }
  }
  CheckIterator(*it);
  // Blocks and single windows usually come in time order already (a late
  // window can leave a single one before a block's): sort only then.
  auto by_start = [](const TrendWindow& a, const TrendWindow& b) {
    return a.start < b.start;
  };
  if (!std::is_sorted(out.begin(), out.end(), by_start)) {
    std::stable_sort(out.begin(), out.end(), by_start);
  }
  return out;
}

void TrendStore::ForEachSeries(
    absl::string_view prefix,
    const std::function<bool(absl::string_view key, Action action)>& fn) const {
  if (db_ == nullptr) return;
  std::string start = absl::StrCat("S", prefix);
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(start); it->Valid() && it->key().starts_with(start);
       it->Next()) {
    if (it->value().size() < 4) continue;
    // Stores written before the action was kept say nothing: kLast.
    Action action =
        it->value().size() > 4 && static_cast<uint8_t>(it->value()[4]) <=
                                      static_cast<uint8_t>(Action::kSet)
            ? static_cast<Action>(it->value()[4])
            : Action::kLast;
    if (!fn(absl::string_view(it->key().data() + 1, it->key().size() - 1),
            action)) {
      return;
    }
  }
}

void TrendStore::Pack(uint32_t id, size_t level, int64_t period,
                      leveldb::WriteBatch* batch) {
  // The single windows of this series and level before `period`, grouped by
  // their own block period; each group joins what is already packed there.
  std::string lo = WindowKey(id, level, 0);
  std::string hi = WindowKey(id, level, period);
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  int64_t span = BlockSpan(level);
  int64_t group = -1;
  std::vector<TrendWindow> windows;
  auto flush = [&]() {
    if (windows.empty()) return;
    std::string key = BlockKey(id, level, group);
    std::string existing;
    if (db_->Get(leveldb::ReadOptions(), key, &existing).ok()) {
      absl::StatusOr<std::vector<WindowRecord>> old = DecodeBlock(existing);
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
  for (it->Seek(lo); it->Valid() && it->key().compare(hi) < 0; it->Next()) {
    int64_t start =
        static_cast<int64_t>(DecodeBigEndian64(it->key().data() + 6));
    TrendWindow w;
    if (!DecodeWindow(absl::string_view(it->value().data(), it->value().size()),
                      start, &w)) {
      continue;
    }
    int64_t g = AlignDown(start, span);
    if (g != group) {
      flush();
      group = g;
    }
    windows.push_back(std::move(w));
    batch->Delete(it->key());
  }
  flush();
}

int64_t& TrendStore::LastStartSlot(uint32_t id) {
  if (last_start_.size() <= id) {
    // Ids come in order: grown by half, not doubled.
    if (id >= last_start_.capacity()) {
      last_start_.reserve(
          std::max<size_t>(id + 1, last_start_.capacity() * 3 / 2));
    }
    last_start_.resize(id + 1, kUnread);
  }
  return last_start_[id];
}

int64_t TrendStore::LastStart(uint32_t id) {
  int64_t& slot = LastStartSlot(id);
  if (slot != kUnread) return slot;
  ++last_start_lookups_;
  // First sight since the store opened: the newest stored window (single or
  // packed) tells where the series was.
  int64_t last = -1;
  std::unique_ptr<leveldb::Iterator> it2(
      db_->NewIterator(leveldb::ReadOptions()));
  for (char kind : {'W', 'B'}) {
    std::string k(1, kind);
    PutBigEndian32(&k, id);
    k.push_back(static_cast<char>(0));
    std::string hi = k;
    PutBigEndian64(&hi, ~uint64_t{0});
    it2->Seek(hi);
    if (it2->Valid()) {
      it2->Prev();
    } else {
      it2->SeekToLast();
    }
    if (it2->Valid() && it2->key().starts_with(k) && it2->key().size() == 14) {
      int64_t start =
          static_cast<int64_t>(DecodeBigEndian64(it2->key().data() + 6));
      if (kind == 'B') {
        absl::StatusOr<BlockInfo> info = PeekBlock(
            absl::string_view(it2->value().data(), it2->value().size()));
        if (info.ok()) start = info->last_start;
      }
      last = std::max(last, start);
    }
  }
  slot = last;
  return last;
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
    bool had = w.start <= last &&
               db_->Get(leveldb::ReadOptions(), key, &existing).ok() &&
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
  for (size_t l = 1; l < n && !rollups.empty(); ++l) {
    leveldb::WriteBatch up;
    int64_t step = retention_.levels[l].step;
    for (const PackJob& job : rollups) {
      if (job.level != l) continue;
      TrendWindow sum;
      sum.start = job.period;
      for (const TrendWindow& f :
           ReadId(job.id, l - 1, job.period, job.period + step)) {
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
    s = db_->Write(leveldb::WriteOptions(), &up);
    if (!s.ok()) return WriteFailed(s);
  }
  // Block periods that ended: pack their single windows (now on disk).
  // Written a megabyte at a time: a burst of history ends thousands of
  // periods in one slice, and one batch of them all (63 MB measured) then
  // landed in the memtable whole, far past its size.
  if (!to_pack_.empty()) {
    leveldb::WriteBatch packs;
    for (size_t i = 0; i < to_pack_.size(); ++i) {
      const PackJob& job = to_pack_[i];
      Pack(job.id, job.level, job.period, &packs);
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
  if (db_->Get(leveldb::ReadOptions(), bkey, &bytes).ok()) {
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
  if (db_->Get(leveldb::ReadOptions(), key, &v).ok()) {
    DecodeWindow(v, start, &stored);
  }
  merge(&stored);
  batch->Put(key, EncodeWindow(stored));
}

}  // namespace canopy
