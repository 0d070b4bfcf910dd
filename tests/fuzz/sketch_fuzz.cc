// Fuzzes Sketch and Hll deserialization (arbitrary bytes must give an error,
// never a crash) and checks that whatever is accepted reserializes stably and
// answers queries inside its bounds. The first byte picks the target.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "canopy/hll.h"
#include "canopy/sketch.h"

namespace {

void FuzzSketchBytes(absl::string_view bytes) {
  absl::StatusOr<canopy::Sketch> s = canopy::Sketch::Deserialize(bytes);
  if (!s.ok()) return;
  std::string once;
  s->Serialize(&once);
  absl::StatusOr<canopy::Sketch> again = canopy::Sketch::Deserialize(once);
  if (!again.ok()) std::abort();
  std::string twice;
  again->Serialize(&twice);
  if (once != twice) std::abort();
  for (double q : {0.0, 0.01, 0.5, 0.9, 0.99, 1.0}) {
    const double v = s->Quantile(q);
    if (s->empty() != std::isnan(v)) std::abort();
    if (!s->empty() && (v < s->min() || v > s->max())) std::abort();
  }
  if (!s->Merge(*again).ok()) std::abort();
}

void FuzzSketchAdds(absl::string_view bytes) {
  canopy::Sketch s;
  for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    double v;
    std::memcpy(&v, bytes.data() + i, sizeof v);
    s.Add(v, 1 + (static_cast<uint8_t>(bytes[i]) % 3));
  }
  if (s.bucket_count() > 2 * canopy::Sketch::kMaxBuckets + 1) std::abort();
  const double p = s.Quantile(0.5);
  if (!s.empty() && (p < s.min() || p > s.max())) std::abort();
  std::string out;
  s.Serialize(&out);
  if (!canopy::Sketch::Deserialize(out).ok()) std::abort();
}

void FuzzHllBytes(absl::string_view bytes) {
  absl::StatusOr<canopy::Hll> h = canopy::Hll::Deserialize(bytes);
  if (!h.ok()) return;
  const double e = h->Estimate();
  if (!(e >= 0) || std::isinf(e)) std::abort();
  std::string once;
  h->Serialize(&once);
  absl::StatusOr<canopy::Hll> again = canopy::Hll::Deserialize(once);
  if (!again.ok()) std::abort();
  std::string twice;
  again->Serialize(&twice);
  if (once != twice) std::abort();
  if (!h->Merge(*again).ok()) std::abort();
  h->Add("member");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzSketchBytes(rest);
      break;
    case 1:
      FuzzSketchAdds(rest);
      break;
    default:
      FuzzHllBytes(rest);
      break;
  }
  return 0;
}
