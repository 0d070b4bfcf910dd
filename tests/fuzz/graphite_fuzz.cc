// Fuzzes the Graphite plaintext parser: any bytes must parse without
// crashing, and every record it delivers must satisfy graphite.h.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "canopy/graphite.h"
#include "canopy/key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  canopy::GraphiteOptions options;
  options.max_line_bytes = 4096;
  const canopy::GraphiteCounts counts = canopy::ParseGraphite(
      input,
      [](const canopy::GraphiteRecord& r) {
        if (!canopy::SplitKey(r.key).ok() || r.key.empty()) std::abort();
        if (!std::isfinite(r.value)) std::abort();
        if (r.timestamp && (*r.timestamp < 0 ||
                            *r.timestamp > canopy::kMaxGraphiteTimestamp)) {
          std::abort();
        }
      },
      [](const canopy::GraphiteError& e) {
        if (e.line == 0 || e.column == 0 || e.status.ok()) std::abort();
      },
      options);
  if (counts.records + counts.errors > size) std::abort();
  return 0;
}
