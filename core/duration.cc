#include "canopy/duration.h"

#include "absl/strings/numbers.h"

namespace canopy {

bool ParseDuration(absl::string_view text, int64_t* seconds) {
  if (text.empty()) return false;
  int64_t unit;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    case 'y':
      unit = 365 * 86400;
      break;
    default:
      return false;
  }
  int64_t n;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) || n <= 0 ||
      n > (int64_t{1} << 40)) {
    return false;
  }
  *seconds = n * unit;
  return true;
}

}  // namespace canopy
