#include "server/trend/codec.h"

#include <utility>

#include "absl/status/statusor.h"
#include "canopy/coding.h"
#include "canopy/hll.h"
#include "canopy/sketch.h"

namespace canopy {

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

}  // namespace canopy
