// Retention: windows past their level's --retention are deleted a budget
// of keys at a time, resuming where the last call stopped (LevelDB's
// compaction then gives the space back). Runs on the trend thread.
#include <memory>
#include <string>

#include "canopy/coding.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "server/trend/store.h"

namespace canopy {

absl::StatusOr<size_t> TrendStore::EnforceRetention(int64_t now,
                                                    size_t budget) {
  if (db_ == nullptr)
    return absl::UnavailableError("the trend store is closed");
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(WriteReads()));
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

}  // namespace canopy
