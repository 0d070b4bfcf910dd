#include "server/trend/store.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/coding.h"
#include "canopy/duration.h"
#include "canopy/hll.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace canopy {
namespace {

// Blob tags: which kind of summary a window carries.
constexpr char kSketchTag = 'S';
constexpr char kHllTag = 'H';

std::string WindowKey(uint32_t id, size_t level, int64_t start) {
  std::string k = "W";
  PutBigEndian32(&k, id);
  k.push_back(static_cast<char>(level));
  PutBigEndian64(&k, static_cast<uint64_t>(start));
  return k;
}

std::string BlockKey(uint32_t id, size_t level, int64_t period) {
  std::string k = "B";
  PutBigEndian32(&k, id);
  k.push_back(static_cast<char>(level));
  PutBigEndian64(&k, static_cast<uint64_t>(period));
  return k;
}

std::string IdKey(uint32_t id) {
  std::string k = "I";
  PutBigEndian32(&k, id);
  return k;
}

int64_t AlignDown(int64_t t, int64_t step) {
  int64_t r = t % step;
  if (r < 0) r += step;
  return t - r;
}

// Merges two tagged summaries; keeps `a` if they cannot be merged.
void MergeBlob(std::string* a, const std::string& b) {
  if (b.empty()) return;
  if (a->empty()) {
    *a = b;
    return;
  }
  if ((*a)[0] != b[0]) return;
  absl::string_view ra = absl::string_view(*a).substr(1);
  absl::string_view rb = absl::string_view(b).substr(1);
  std::string out(1, (*a)[0]);
  if ((*a)[0] == kSketchTag) {
    absl::StatusOr<Sketch> x = Sketch::Deserialize(ra);
    absl::StatusOr<Sketch> y = Sketch::Deserialize(rb);
    if (!x.ok() || !y.ok() || !x->Merge(*y).ok()) return;
    x->Serialize(&out);
  } else {
    absl::StatusOr<Hll> x = Hll::Deserialize(ra);
    absl::StatusOr<Hll> y = Hll::Deserialize(rb);
    if (!x.ok() || !y.ok() || !x->Merge(*y).ok()) return;
    x->Serialize(&out);
  }
  *a = std::move(out);
}

}  // namespace

// ---------------------------------------------------------------- windows

void MergeWindow(TrendWindow* w, const TrendWindow& o) {
  if (o.count <= 0 && o.blob.empty()) return;
  if (w->count <= 0) {
    int64_t keep_start = w->start;
    *w = o;
    w->start = keep_start;
    return;
  }
  w->count += o.count;
  w->sum += o.sum;
  w->min = std::min(w->min, o.min);
  w->max = std::max(w->max, o.max);
  w->last = o.last;  // callers merge in time order
  MergeBlob(&w->blob, o.blob);
}

std::string EncodeWindow(const TrendWindow& w) {
  std::string out;
  // A window of one sample (most gauges) needs only its value.
  bool single =
      w.count == 1 && w.sum == w.min && w.min == w.max && w.max == w.last;
  uint8_t flags = (single ? 1 : 0) | (w.blob.empty() ? 0 : 2);
  out.push_back(static_cast<char>(flags));
  if (single) {
    PutDouble(&out, w.last);
  } else {
    for (double v : {w.count, w.sum, w.min, w.max, w.last}) PutDouble(&out, v);
  }
  out.append(w.blob);
  return out;
}

bool DecodeWindow(absl::string_view bytes, int64_t start, TrendWindow* w) {
  if (bytes.empty()) return false;
  uint8_t flags = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  w->start = start;
  if (flags & 1) {
    if (bytes.size() < 8) return false;
    w->count = 1;
    w->sum = w->min = w->max = w->last = DecodeDouble(bytes.data());
    bytes.remove_prefix(8);
  } else {
    if (bytes.size() < 40) return false;
    const char* p = bytes.data();
    w->count = DecodeDouble(p);
    w->sum = DecodeDouble(p + 8);
    w->min = DecodeDouble(p + 16);
    w->max = DecodeDouble(p + 24);
    w->last = DecodeDouble(p + 32);
    bytes.remove_prefix(40);
  }
  w->blob = (flags & 2) ? std::string(bytes) : std::string();
  return true;
}

absl::StatusOr<Retention> Retention::Parse(absl::string_view spec) {
  Retention r;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    std::vector<absl::string_view> sk = absl::StrSplit(part, ':');
    Level l;
    if (sk.size() != 2 || !ParseDuration(sk[0], &l.step) ||
        !ParseDuration(sk[1], &l.keep) || l.keep < l.step) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --retention part \"", part,
                       "\" (expected STEP:KEEP such as 10s:2d)"));
    }
    if (!r.levels.empty() && (l.step <= r.levels.back().step ||
                              l.step % r.levels.back().step != 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --retention: step ", sk[0],
                       " must be a multiple of the step before it"));
    }
    r.levels.push_back(l);
  }
  if (r.levels.empty() || r.levels.size() > 8) {
    return absl::InvalidArgumentError("--retention needs 1 to 8 steps");
  }
  if (r.levels[0].step > 86400) {
    return absl::InvalidArgumentError(
        "--retention: the first step is at most 1d");
  }
  return r;
}

absl::StatusOr<TrendFn> ParseTrendFn(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name.substr(0, 10));
  if (n == "avg" || n == "average") return TrendFn::kAvg;
  if (n == "sum") return TrendFn::kSum;
  if (n == "min") return TrendFn::kMin;
  if (n == "max") return TrendFn::kMax;
  if (n == "last") return TrendFn::kLast;
  if (n == "count") return TrendFn::kCount;
  if (n == "rate") return TrendFn::kRate;
  if (n == "p50") return TrendFn::kP50;
  if (n == "p90") return TrendFn::kP90;
  if (n == "p99") return TrendFn::kP99;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown fn \"", name.substr(0, 20),
      "\" (expected avg, sum, min, max, last, count, rate, p50, p90 or p99)"));
}

// ---------------------------------------------------------------- store

TrendStore::TrendStore(leveldb::DB* db, Retention retention, std::string dir,
                       leveldb::Env* env)
    : db_(db),
      retention_(std::move(retention)),
      dir_(std::move(dir)),
      env_(env) {}

TrendStore::~TrendStore() { delete db_; }

namespace {

leveldb::Options StoreOptions(leveldb::Env* env) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 16 << 20;
  if (env != nullptr) options.env = env;
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrendStore>> TrendStore::Open(
    const std::string& dir, Retention retention, leveldb::Env* env) {
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(StoreOptions(env), dir, &db);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open the trend store in ", dir, ": ", s.ToString()));
  }
  std::unique_ptr<TrendStore> store(
      new TrendStore(db, std::move(retention), dir, env));
  // The series dictionary lives in memory for the writer.
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek("S"); it->Valid() && it->key().starts_with("S"); it->Next()) {
    if (it->value().size() != 4) continue;
    uint32_t id = DecodeBigEndian32(it->value().data());
    store->ids_[std::string(it->key().data() + 1, it->key().size() - 1)] = id;
    store->next_id_ = std::max(store->next_id_, id + 1);
  }
  return store;
}

absl::Status TrendStore::Reopen() {
  // LevelDB keeps a write error for good: after one, only closing and
  // opening the database again lets writes through.
  delete db_;
  db_ = nullptr;
  leveldb::Status s = leveldb::DB::Open(StoreOptions(env_), dir_, &db_);
  if (!s.ok()) {
    db_ = nullptr;
    return absl::UnavailableError(absl::StrCat(
        "cannot reopen the trend store in ", dir_, ": ", s.ToString()));
  }
  last_start_.clear();  // read back from disk as series come
  return absl::OkStatus();
}

uint32_t TrendStore::SeriesId(const std::string& key,
                              leveldb::WriteBatch* batch, bool* created) {
  auto it = ids_.find(key);
  *created = it == ids_.end();
  if (!*created) return it->second;
  // A new series: its dictionary entries go in the same batch as its first
  // window (one write for a million new series, not a million).
  uint32_t id = next_id_++;
  std::string v;
  PutBigEndian32(&v, id);
  batch->Put("S" + key, v);
  batch->Put(IdKey(id), key);
  ids_[key] = id;
  created_.push_back(key);
  last_start_[id] = -1;
  return id;
}

std::vector<TrendWindow> TrendStore::Read(absl::string_view key, size_t level,
                                          int64_t from, int64_t to) const {
  if (db_ == nullptr) return {};
  std::string v;
  if (!db_->Get(leveldb::ReadOptions(), "S" + std::string(key), &v).ok() ||
      v.size() != 4) {
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
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  // Packed blocks first (older periods), then single windows (newer).
  int64_t span = BlockSpan(level);
  std::string blo = BlockKey(id, level, AlignDown(from, span));
  std::string bhi = BlockKey(id, level, to);
  for (it->Seek(blo); it->Valid() && it->key().compare(bhi) < 0; it->Next()) {
    absl::StatusOr<std::vector<WindowRecord>> block =
        DecodeBlock(absl::string_view(it->value().data(), it->value().size()));
    if (!block.ok()) continue;  // counted as lost; never a crash
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
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TrendWindow& a, const TrendWindow& b) {
                     return a.start < b.start;
                   });
  return out;
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

int64_t TrendStore::LastStart(uint32_t id) {
  auto it = last_start_.find(id);
  if (it != last_start_.end()) return it->second;
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
  last_start_[id] = last;
  return last;
}

absl::Status TrendStore::Write(const std::vector<ClosedWindow>& windows) {
  if (db_ == nullptr)
    return absl::UnavailableError("the trend store is closed");
  leveldb::WriteBatch batch;
  // Coarser windows that a finest window completed: rolled up after the
  // batch is on disk, from the finer level's stored windows.
  std::vector<PackJob> rollups;
  const size_t n = retention_.levels.size();
  for (const ClosedWindow& cw : windows) {
    bool created;
    uint32_t series = SeriesId(cw.key, &batch, &created);
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
    if (cw.late) {
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
      last_start_[*id] = w.start;
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
    for (const std::string& key : created_) {
      auto it = ids_.find(key);
      if (it != ids_.end()) {
        last_start_.erase(it->second);
        ids_.erase(it);
      }
    }
    created_.clear();
    return absl::UnavailableError(s.ToString());
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
    if (!s.ok()) return absl::UnavailableError(s.ToString());
  }
  // Block periods that ended: pack their single windows (now on disk).
  if (!to_pack_.empty()) {
    leveldb::WriteBatch packs;
    for (const PackJob& job : to_pack_)
      Pack(job.id, job.level, job.period, &packs);
    to_pack_.clear();
    s = db_->Write(leveldb::WriteOptions(), &packs);
    if (!s.ok()) return absl::UnavailableError(s.ToString());
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

absl::StatusOr<size_t> TrendStore::EnforceRetention(int64_t now,
                                                    size_t budget) {
  if (db_ == nullptr)
    return absl::UnavailableError("the trend store is closed");
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  // Blocks ("B") and single windows ("W"); the dictionary keys between
  // them are skipped.
  it->Seek(retention_cursor_.empty() ? std::string("B") : retention_cursor_);
  leveldb::WriteBatch batch;
  size_t deleted = 0, visited = 0;
  for (; it->Valid() && it->key().compare(leveldb::Slice("X")) < 0 &&
         visited < budget;
       it->Next(), ++visited) {
    char kind = it->key()[0];
    if ((kind != 'B' && kind != 'W') || it->key().size() != 14) continue;
    size_t level = static_cast<unsigned char>(it->key()[5]);
    if (level >= retention_.levels.size()) continue;  // a level no longer kept
    int64_t start =
        static_cast<int64_t>(DecodeBigEndian64(it->key().data() + 6));
    const Retention::Level& l = retention_.levels[level];
    int64_t end = start + (kind == 'B' ? BlockSpan(level) : l.step);
    if (end <= now - l.keep) {
      batch.Delete(it->key());
      ++deleted;
    }
  }
  retention_cursor_ = it->Valid() && it->key().compare(leveldb::Slice("X")) < 0
                          ? it->key().ToString()
                          : "";
  leveldb::Status s = db_->Write(leveldb::WriteOptions(), &batch);
  if (!s.ok()) return absl::UnavailableError(s.ToString());
  return deleted;
}

uint64_t TrendStore::ApproximateBytes() const {
  if (db_ == nullptr) return 0;
  leveldb::Range r("B", "X");
  uint64_t size = 0;
  db_->GetApproximateSizes(&r, 1, &size);
  return size;
}

absl::StatusOr<TrendResult> TrendStore::Query(const TrendQuery& q) const {
  if (db_ == nullptr) {
    return absl::UnavailableError(
        "history is unavailable (a disk error); the server is retrying");
  }
  if (q.to <= q.from) {
    return absl::InvalidArgumentError("from must be before to");
  }
  // now is the end of the query range at the latest.
  int64_t now = q.to;
  int64_t range = q.to - q.from;
  int64_t want = q.step > 0 ? q.step : std::max<int64_t>(1, range / 600);
  // The coarsest level whose step fits `want` and that still holds `from`;
  // failing that, the finest level that holds `from`.
  const auto& levels = retention_.levels;
  size_t level = levels.size() - 1;
  bool found = false;
  for (size_t l = levels.size(); l-- > 0;) {
    if (levels[l].step <= want &&
        q.from >= now - levels[l].keep - levels[l].step) {
      level = l;
      found = true;
      break;
    }
  }
  if (!found) {
    for (size_t l = 0; l < levels.size(); ++l) {
      if (q.from >= now - levels[l].keep - levels[l].step) {
        level = l;
        break;
      }
    }
  }
  int64_t base = levels[level].step;
  int64_t step = std::max(base, (want + base - 1) / base * base);
  int64_t from = AlignDown(q.from, step);
  int64_t buckets = (q.to - from + step - 1) / step;

  TrendResult result;
  result.step = step;
  // Series under every pattern, from the dictionary in LevelDB (sorted).
  std::vector<std::pair<std::string, uint32_t>> series;
  absl::flat_hash_map<std::string, bool> seen;
  for (const Pattern& p : q.patterns) {
    std::string prefix = "S" + JoinKey(p.FixedPrefix());
    std::unique_ptr<leveldb::Iterator> it(
        db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      std::string key(it->key().data() + 1, it->key().size() - 1);
      absl::StatusOr<KeySegments> segs = SplitKey(key);
      if (!segs.ok()) continue;
      bool match = false;
      for (size_t len = 0; len <= segs->size() && !match; ++len) {
        match = p.Matches(absl::MakeConstSpan(segs->data(), len));
      }
      if (!match || seen.contains(key)) continue;
      seen[key] = true;
      if (series.size() >= q.max_series) {
        result.truncated = true;
        break;
      }
      series.emplace_back(key, DecodeBigEndian32(it->value().data()));
    }
  }
  if (static_cast<double>(buckets) * static_cast<double>(series.size()) >
      static_cast<double>(q.max_points)) {
    return absl::OutOfRangeError(absl::StrCat(
        "the query would return ",
        buckets * static_cast<int64_t>(series.size()), " points (",
        series.size(), " series x ", buckets, " steps), past the limit of ",
        q.max_points, "; narrow the range or raise step"));
  }
  bool percentile =
      q.fn == TrendFn::kP50 || q.fn == TrendFn::kP90 || q.fn == TrendFn::kP99;
  for (const auto& [key, id] : series) {
    TrendSeries out;
    out.key = key;
    TrendWindow bucket;
    bucket.start = -1;
    auto emit = [&]() {
      if (bucket.start < 0 || bucket.count <= 0) return;
      double v = 0;
      switch (q.fn) {
        case TrendFn::kAvg:
          v = bucket.sum / bucket.count;
          break;
        case TrendFn::kSum:
          v = bucket.sum;
          break;
        case TrendFn::kMin:
          v = bucket.min;
          break;
        case TrendFn::kMax:
          v = bucket.max;
          break;
        case TrendFn::kLast:
          v = bucket.last;
          break;
        case TrendFn::kCount:
          v = bucket.count;
          break;
        case TrendFn::kRate:
          v = bucket.sum / static_cast<double>(step);
          break;
        default: {
          if (bucket.blob.size() < 2 || bucket.blob[0] != kSketchTag) return;
          absl::StatusOr<Sketch> sk =
              Sketch::Deserialize(absl::string_view(bucket.blob).substr(1));
          if (!sk.ok() || sk->empty()) return;
          double qv = q.fn == TrendFn::kP50   ? 0.5
                      : q.fn == TrendFn::kP90 ? 0.9
                                              : 0.99;
          v = sk->Quantile(qv);
        }
      }
      out.points.emplace_back(bucket.start, v);
    };
    auto fold = [&](const TrendWindow& w0) {
      TrendWindow w = w0;
      if (!percentile) w.blob.clear();  // no need to merge summaries
      int64_t b = AlignDown(w.start, step);
      if (b != bucket.start) {
        emit();
        bucket = TrendWindow{};
        bucket.start = b;
      }
      MergeWindow(&bucket, w);
    };
    int64_t covered = from;  // the chosen level holds data up to here
    for (const TrendWindow& w : ReadId(id, level, from, q.to)) {
      fold(w);
      covered = w.start + base;
    }
    // The chosen level's newest window is still being filled: the finest
    // level has what came since.
    if (level > 0) {
      for (const TrendWindow& w : ReadId(id, 0, covered, q.to)) fold(w);
    }
    emit();
    result.series.push_back(std::move(out));
  }
  return result;
}

}  // namespace canopy
