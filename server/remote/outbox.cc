// The remote_write outbox in LevelDB (outbox.h).
//
// Threads: see outbox.h; Append on the intake thread, the rest anywhere.
#include "server/remote/outbox.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "canopy/coding.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace canopy {
namespace {

std::string BatchKey(uint64_t seq) {
  std::string k = "Q";
  PutBigEndian64(&k, seq);
  return k;
}

void EncodeWindow(const ClosedWindow& cw, double total, std::string* out) {
  PutLengthPrefixed(out, cw.key);
  PutVarint64(out, ZigZagEncode64(cw.start));
  out->push_back(static_cast<char>(cw.action));
  PutDouble(out, cw.count);
  PutDouble(out, cw.sum);
  PutDouble(out, cw.min);
  PutDouble(out, cw.max);
  PutDouble(out, cw.last);
  PutDouble(out, total);
  PutLengthPrefixed(out, cw.blob);
}

bool DecodeWindow(absl::string_view* in, OutboxWindow* w) {
  absl::string_view key, blob;
  uint64_t start;
  if (!GetLengthPrefixed(in, &key) || !GetVarint64(in, &start) || in->empty()) {
    return false;
  }
  w->key = std::string(key);
  w->w.start = ZigZagDecode64(start);
  uint8_t action = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (action > static_cast<uint8_t>(Action::kSet)) return false;
  w->action = static_cast<Action>(action);
  if (!GetDouble(in, &w->w.count) || !GetDouble(in, &w->w.sum) ||
      !GetDouble(in, &w->w.min) || !GetDouble(in, &w->w.max) ||
      !GetDouble(in, &w->w.last) || !GetDouble(in, &w->total) ||
      !GetLengthPrefixed(in, &blob)) {
    return false;
  }
  // Tagged as the trend store tags its blobs (server/trend/codec.h).
  w->w.blob.clear();
  if (!blob.empty()) {
    w->w.blob.push_back(w->action == Action::kSet ? 'H' : 'S');
    w->w.blob.append(blob.data(), blob.size());
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Open(const std::string& dir) {
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open the remote_write outbox in ", dir, ": ", s.ToString()));
  }
  std::unique_ptr<Outbox> box(new Outbox(db));
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  // The next batch follows the newest one kept, or the furthest position
  // (every batch sent and deleted): a position never points past it.
  uint64_t next = 1;
  it->Seek("R");
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  if (it->Valid() && it->key().starts_with("Q") && it->key().size() == 9) {
    next = DecodeBigEndian64(it->key().data() + 1) + 1;
  }
  for (it->Seek("P"); it->Valid() && it->key().starts_with("P"); it->Next()) {
    if (it->value().size() == 16) {
      next = std::max(next, DecodeBigEndian64(it->value().data()));
    }
  }
  box->next_seq_ = next;
  for (it->Seek("C"); it->Valid() && it->key().starts_with("C"); it->Next()) {
    if (it->value().size() == 8) {
      box->totals_[std::string(it->key().data() + 1, it->key().size() - 1)] =
          DecodeDouble(it->value().data());
    }
  }
  return box;
}

Outbox::~Outbox() { delete db_; }

absl::Status Outbox::Append(const std::vector<ClosedWindow>& windows,
                            int64_t now_ms) {
  leveldb::WriteBatch batch;
  std::string body;
  uint64_t n = 0;
  std::string windows_bytes;
  for (const ClosedWindow& cw : windows) {
    if (cw.late || cw.count <= 0) continue;
    double total = 0;
    if (cw.action == Action::kAdd) {
      double& t = totals_[cw.key];
      t += cw.sum;
      total = t;
      std::string v;
      PutDouble(&v, t);
      batch.Put("C" + cw.key, v);
    }
    EncodeWindow(cw, total, &windows_bytes);
    ++n;
  }
  if (n == 0) return absl::OkStatus();
  PutVarint64(&body, static_cast<uint64_t>(now_ms));
  PutVarint64(&body, n);
  body += windows_bytes;
  uint64_t seq = next_seq_.load();
  batch.Put(BatchKey(seq), body);
  leveldb::Status s = db_->Write(leveldb::WriteOptions(), &batch);
  if (!s.ok()) return absl::UnavailableError(s.ToString());
  next_seq_ = seq + 1;
  return absl::OkStatus();
}

OutboxPosition Outbox::Read(OutboxPosition from, size_t max_windows,
                            std::vector<OutboxWindow>* out) const {
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  OutboxPosition pos = from;
  size_t taken = 0;
  for (it->Seek(BatchKey(from.seq)); it->Valid() && taken < max_windows;
       it->Next()) {
    if (!it->key().starts_with("Q") || it->key().size() != 9) break;
    uint64_t seq = DecodeBigEndian64(it->key().data() + 1);
    if (seq != pos.seq) pos = OutboxPosition{seq, 0};
    absl::string_view in(it->value().data(), it->value().size());
    uint64_t time_ms = 0, n = 0;
    if (!GetVarint64(&in, &time_ms) || !GetVarint64(&in, &n)) {
      pos = OutboxPosition{seq + 1, 0};  // unreadable: skipped
      continue;
    }
    for (uint64_t i = 0; i < n; ++i) {
      OutboxWindow w;
      if (!DecodeWindow(&in, &w)) {
        i = n;  // the rest of a damaged batch is skipped
        break;
      }
      if (i < pos.index) continue;
      if (taken >= max_windows) return pos;
      w.queued_ms = static_cast<int64_t>(time_ms);
      pos.index = i + 1;
      w.after = pos;
      out->push_back(std::move(w));
      ++taken;
    }
    pos = OutboxPosition{seq + 1, 0};
  }
  return pos;
}

int64_t Outbox::QueuedMs(OutboxPosition pos) const {
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  it->Seek(BatchKey(pos.seq));
  if (!it->Valid() || !it->key().starts_with("Q")) return 0;
  absl::string_view in(it->value().data(), it->value().size());
  uint64_t time_ms = 0;
  if (!GetVarint64(&in, &time_ms)) return 0;
  return static_cast<int64_t>(time_ms);
}

OutboxPosition Outbox::Position(const std::string& url) const {
  std::string v;
  if (db_->Get(leveldb::ReadOptions(), "P" + url, &v).ok() && v.size() == 16) {
    return OutboxPosition{DecodeBigEndian64(v.data()),
                          DecodeBigEndian64(v.data() + 8)};
  }
  return OutboxPosition{next_seq_.load(), 0};
}

absl::Status Outbox::SetPosition(const std::string& url, OutboxPosition pos) {
  std::string v;
  PutBigEndian64(&v, pos.seq);
  PutBigEndian64(&v, pos.index);
  leveldb::Status s = db_->Put(leveldb::WriteOptions(), "P" + url, v);
  if (!s.ok()) return absl::UnavailableError(s.ToString());
  return absl::OkStatus();
}

void Outbox::Trim(uint64_t seq) {
  if (seq <= trimmed_) return;
  leveldb::WriteBatch batch;
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(BatchKey(trimmed_)); it->Valid(); it->Next()) {
    if (!it->key().starts_with("Q") || it->key().size() != 9) break;
    if (DecodeBigEndian64(it->key().data() + 1) >= seq) break;
    batch.Delete(it->key());
  }
  if (db_->Write(leveldb::WriteOptions(), &batch).ok()) trimmed_ = seq;
}

}  // namespace canopy
