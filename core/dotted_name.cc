// Keys from dotted names and tags, for the StatsD and Graphite parsers (see
// core/dotted_name.h). Pure functions: thread-safe.
#include "core/dotted_name.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "core/text.h"

namespace canopy {
namespace dotted_name {

bool NameToKey(absl::string_view name, absl::string_view noun, std::string* key,
               size_t* depth, std::string* why) {
  key->assign(name.data(), name.size());
  for (char& c : *key) {
    if (c == '.') c = ',';
  }
  *depth = 0;
  size_t start = 0;
  while (true) {
    const size_t comma = key->find(',', start);
    const absl::string_view seg = absl::string_view(*key).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    if (absl::Status s = ValidateSegment(seg); !s.ok()) {
      *why =
          absl::StrCat("bad ", noun, " ", text::Quote(name), ": ", s.message());
      return false;
    }
    if (++*depth > kMaxSegments) {
      *why = absl::StrCat("bad ", noun, " ", text::Quote(name),
                          ": deeper than ", kMaxSegments, " segments");
      return false;
    }
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

bool AppendTags(std::vector<Tag>* tags, size_t depth, absl::string_view noun,
                std::string* key, std::string* why) {
  std::sort(tags->begin(), tags->end());
  tags->erase(std::unique(tags->begin(), tags->end()), tags->end());
  if (depth + tags->size() > kMaxSegments) {
    *why = absl::StrCat(noun, " and tags make more than ", kMaxSegments,
                        " segments");
    return false;
  }
  for (const Tag& t : *tags) {
    key->push_back(',');
    key->append(t.first.data(), t.first.size());
    if (t.second.data() != nullptr) {
      key->push_back(':');
      key->append(t.second.data(), t.second.size());
    }
  }
  return true;
}

}  // namespace dotted_name
}  // namespace canopy
