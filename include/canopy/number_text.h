// A number as people and programs both read it: the shortest text that
// reads back to the same double (9.78, not 9.7799999999999994), whole
// numbers in full up to 2^53 ("40", not "4e+01"). What the JSON replies
// write, for CSV, Prometheus text and the CLI.
//
//   canopy::NumberText(9.78);    // "9.78"
//   canopy::NumberText(1e21);    // "1e+21"
//
// Pure; any thread.
#ifndef CANOPY_NUMBER_TEXT_H_
#define CANOPY_NUMBER_TEXT_H_

#include <string>

namespace canopy {

std::string NumberText(double d);

}  // namespace canopy

#endif  // CANOPY_NUMBER_TEXT_H_
