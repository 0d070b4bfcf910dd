// Fuzzes the StatsD parser: any bytes must parse without crashing, and every
// record it delivers must satisfy the contract in statsd.h. The fast path
// (ParseSimpleStatsdLine) must agree with the full parser on every line it
// takes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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

  canopy::StatsdRecord fast;
  const size_t used = canopy::ParseSimpleStatsdLine(input, &fast);
  if (used > 0) {
    if (used > size) std::abort();
    int records = 0;
    canopy::ParseStatsd(
        input.substr(0, used),
        [&](const canopy::StatsdRecord& r) {
          ++records;
          if (r.key != fast.key || r.type != fast.type ||
              r.relative != fast.relative ||
              r.sample_rate != fast.sample_rate ||
              r.set_member != fast.set_member ||
              std::memcmp(&r.value, &fast.value, sizeof r.value) != 0) {
            std::abort();
          }
        },
        [](const canopy::StatsdError&) { std::abort(); });
    if (records != 1) std::abort();
  }
  return 0;
}
