// Where an installed (or just built) canopy program finds its shared data,
// relative to its own binary so that an install is relocatable: nothing of
// the source or build tree is compiled in.
//
//   build tree:  build/bin/canopyd   build/web/      build/share/canopy/...
//   installed:   PREFIX/bin/canopyd  PREFIX/share/canopy/{web,regexes.yaml}
//
//   std::string pages = canopy::SharedPath("web");
//   std::string regexes = canopy::SharedPath("regexes.yaml");
//
// Threads: any; reads /proc/self/exe and stats files.
#ifndef CANOPY_INSTALL_DIRS_H_
#define CANOPY_INSTALL_DIRS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace canopy {

// The directory of the running program's binary ("" if unknown).
std::string ProgramDir();

// The first of <ProgramDir>/../NAME (the build tree) and
// <ProgramDir>/../share/canopy/NAME (an install) that exists; the second
// when neither does, so that an error names where it was looked for.
std::string SharedPath(absl::string_view name);

}  // namespace canopy

#endif  // CANOPY_INSTALL_DIRS_H_
