// Fuzzes the Graphite plaintext parser: any bytes must parse without
// crashing, and every record it delivers must satisfy graphite.h. The fast
// path (ParseSimpleGraphiteLine) must agree with the full parser on every
// line it takes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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

  canopy::GraphiteRecord fast;
  const size_t used = canopy::ParseSimpleGraphiteLine(input, &fast);
  if (used > 0) {
    if (used > size) std::abort();
    int records = 0;
    canopy::ParseGraphite(
        input.substr(0, used),
        [&](const canopy::GraphiteRecord& r) {
          ++records;
          if (r.key != fast.key || r.timestamp != fast.timestamp ||
              std::memcmp(&r.value, &fast.value, sizeof r.value) != 0) {
            std::abort();
          }
        },
        [](const canopy::GraphiteError&) { std::abort(); });
    if (records != 1) std::abort();
  }
  return 0;
}
