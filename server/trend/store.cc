// The trend store's LevelDB (store.h): opening it (repair included), reopening
// after a write error, verifying its records, the series dictionary and the
// reads of stored windows. Runs on the trend thread; ReadId also on
// Query's reader threads.
#include "server/trend/store.h"

#include <algorithm>
#include <atomic>
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
#include "server/trend/pread_env.h"

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

// Queries read whole ranges of table blocks (a /render of 1 000 series over
// a day touches thousands): with LevelDB's default 8 MB cache they were
// decompressed again at every query (a third of its time). One cache for
// the process, sized by the first store opened: stores are reopened after
// errors, and tests open several. The write path does not fill it
// (WriteReads).
std::atomic<leveldb::Cache*> shared_cache{nullptr};

leveldb::Cache* SharedCache(size_t bytes) {
  static leveldb::Cache* const cache = [bytes] {
    leveldb::Cache* c = leveldb::NewLRUCache(bytes);
    shared_cache = c;
    return c;
  }();
  return cache;
}

leveldb::Options StoreOptions(leveldb::Env* env, bool create,
                              const StoreMemory& memory) {
  leveldb::Options options;
  // Never a fresh database over one that lost its CURRENT: LevelDB would
  // then delete the old tables as obsolete.
  options.create_if_missing = create;
  // Damage found while reading is reported, not skipped.
  options.paranoid_checks = true;
  options.write_buffer_size = memory.write_buffer_bytes;
  options.block_cache = SharedCache(memory.cache_bytes);
  // Each open table holds a descriptor (PreadEnv reads with pread):
  // budgeted with the server's other descriptors (server.cc).
  options.max_open_files = 256;
  options.env = env;
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

size_t TrendStore::CacheBytes() {
  leveldb::Cache* cache = shared_cache.load();
  return cache == nullptr ? 0 : cache->TotalCharge();
}

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
  if (env == nullptr) env = PreadEnv();
  leveldb::Env* e = env;
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
  // (the trend thread reads it before its first write). Read once, around
  // the block cache, which is the queries'.
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(WriteReads()));
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
  leveldb::Env* e = env_;
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

leveldb::ReadOptions TrendStore::WriteReads() {
  leveldb::ReadOptions o = Checked();
  o.fill_cache = false;
  return o;
}

std::vector<TrendWindow> TrendStore::ReadId(uint32_t id, size_t level,
                                            int64_t from, int64_t to) const {
  if (to <= from || db_ == nullptr) return {};
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Checked()));
  return ReadIdWith(it.get(), it.get(), id, level, from, to);
}

std::vector<TrendWindow> TrendStore::ReadIdWith(leveldb::Iterator* blocks,
                                                leveldb::Iterator* windows,
                                                uint32_t id, size_t level,
                                                int64_t from,
                                                int64_t to) const {
  std::vector<TrendWindow> out;
  if (to <= from || db_ == nullptr) return out;
  from = std::max<int64_t>(from, 0);
  to = std::max<int64_t>(to, 0);
  out.reserve(static_cast<size_t>(std::min<int64_t>(
      (to - from) / retention_.levels[level].step + 1, 1 << 16)));
  // Packed blocks first (older periods), then single windows (newer).
  int64_t span = BlockSpan(level);
  std::string blo = BlockKey(id, level, AlignDown(from, span));
  std::string bhi = BlockKey(id, level, to);
  for (blocks->Seek(blo); blocks->Valid() && blocks->key().compare(bhi) < 0;
       blocks->Next()) {
    absl::StatusOr<std::vector<WindowRecord>> block = DecodeBlock(
        absl::string_view(blocks->value().data(), blocks->value().size()));
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
  for (windows->Seek(lo); windows->Valid() && windows->key().compare(hi) < 0;
       windows->Next()) {
    TrendWindow w;
    int64_t start =
        static_cast<int64_t>(DecodeBigEndian64(windows->key().data() + 6));
    if (DecodeWindow(
            absl::string_view(windows->value().data(), windows->value().size()),
            start, &w)) {
      out.push_back(std::move(w));
    } else {
      NoteCorruption(
          absl::StrCat("a window of series ", id, " does not decode"));
    }
  }
  CheckIterator(*blocks);
  if (windows != blocks) CheckIterator(*windows);
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

}  // namespace canopy
