// Fuzzes the StatsD parser: any bytes must parse without crashing, and every
// record it delivers must satisfy the contract in statsd.h.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "canopy/key.h"
#include "canopy/statsd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  canopy::StatsdOptions options;
  options.max_line_bytes = 4096;
  const canopy::StatsdCounts counts = canopy::ParseStatsd(
      input,
      [](const canopy::StatsdRecord& r) {
        if (!canopy::SplitKey(r.key).ok() || r.key.empty()) std::abort();
        if (!std::isfinite(r.value)) std::abort();
        if (!(r.sample_rate > 0 && r.sample_rate <= 1)) std::abort();
        if (r.relative && r.type != canopy::StatsdType::kGauge) std::abort();
        if (r.type == canopy::StatsdType::kSet && r.set_member.empty()) {
          std::abort();
        }
      },
      [](const canopy::StatsdError& e) {
        if (e.line == 0 || e.column == 0 || e.status.ok()) std::abort();
      },
      options);
  if (counts.records + counts.errors > size) std::abort();
  canopy::LooksLikeStatsd(input);
  return 0;
}
