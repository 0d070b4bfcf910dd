// The trend store's memory of where each series is: the start of its
// newest finest window (TrendStore::last_start_), saved by a clean stop in
// one record, read back at the next load, or rebuilt by one pass over the
// windows after a kill; looked up series by series only when neither can
// be had. Runs on the trend thread.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "canopy/coding.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "server/trend/codec.h"
#include "server/trend/store.h"

namespace canopy {

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
  if (!db_->Get(WriteReads(), kLastStartsKey, &v).ok()) return false;
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
  std::unique_ptr<leveldb::Iterator> it2(db_->NewIterator(WriteReads()));
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

}  // namespace canopy
