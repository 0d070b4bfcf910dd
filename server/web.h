// The pages canopyd serves itself. Until the full web UI lands (web/), this
// is one live page: /realtime/ lists the leaves under a pattern from /get and
// follows /pull, flashing what changes.
#ifndef CANOPY_SERVER_WEB_H_
#define CANOPY_SERVER_WEB_H_

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

#endif  // CANOPY_SERVER_WEB_H_
