// A number as people and programs both read it: the shortest text that
// reads back to the same double (9.78, not 9.7799999999999994), whole
// numbers in full up to 2^53 ("40", not "4e+01"), otherwise as printf's %g
// with that many digits. What the JSON replies write, for CSV, Prometheus
// text and the CLI.
//
//   canopy::NumberText(9.78);    // "9.78"
//   canopy::NumberText(1e21);    // "1e+21"
//   char buf[canopy::kNumberTextMax];
//   char* end = canopy::NumberTextTo(buf, 0.25);  // "0.25", no allocation
//
// Pure; any thread.
#ifndef CANOPY_NUMBER_TEXT_H_
#define CANOPY_NUMBER_TEXT_H_

#include <cstddef>
#include <string>

namespace canopy {

// The longest text NumberTextTo writes ("-2.2250738585072014e-308" is 24).
constexpr size_t kNumberTextMax = 32;

// Writes the text of `d` at `buf` (kNumberTextMax bytes), no terminating
// NUL; returns the end. NaN and infinities as "nan", "-inf", "inf".
char* NumberTextTo(char* buf, double d);

std::string NumberText(double d);

}  // namespace canopy

#endif  // CANOPY_NUMBER_TEXT_H_
