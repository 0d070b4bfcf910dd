#include "canopy/number_text.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_format.h"

namespace canopy {

std::string NumberText(double d) {
  if (std::isfinite(d) && d == std::trunc(d) &&
      std::fabs(d) <= 9007199254740992.0) {
    return absl::StrFormat("%.0f", d);
  }
  for (int precision = 1; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, d);
    if (std::strtod(text.c_str(), nullptr) == d) return text;
  }
  return absl::StrFormat("%.17g", d);
}

}  // namespace canopy
