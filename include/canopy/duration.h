// Durations as users write them in flags and queries: "90s", "5m", "1h",
// "2d", "1w", "1y" (a whole positive number and one unit).
//
//   int64_t s;
//   canopy::ParseDuration("10m", &s);  // true, s == 600
#ifndef CANOPY_DURATION_H_
#define CANOPY_DURATION_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace canopy {

// False (and *seconds unchanged) for anything else.
bool ParseDuration(absl::string_view text, int64_t* seconds);

}  // namespace canopy

#endif  // CANOPY_DURATION_H_
