// The page built into canopyd, served when the built pages (web/, found
// through --web_dir) are missing: /realtime/ lists the leaves under a
// pattern from /get and follows /pull, flashing what changes.
//
// Constant data; any thread.
#ifndef CANOPY_SERVER_HANDLERS_BUILTIN_PAGE_H_
#define CANOPY_SERVER_HANDLERS_BUILTIN_PAGE_H_

#include "absl/strings/string_view.h"

namespace canopy {

struct WebAsset {
  absl::string_view path;
  absl::string_view content_type;
  absl::string_view body;
};

// The asset served at `path`, or nullptr.
const WebAsset* FindWebAsset(absl::string_view path);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_BUILTIN_PAGE_H_
