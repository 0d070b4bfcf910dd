// Keys from the dotted names of the line protocols: the StatsD and Graphite
// parsers (core/statsd.cc, core/graphite.cc) turn "web.hits" into the key
// "web,hits" and their tags into trailing segments the same way, here.
// Each parser reads its own tag syntax and gives its own error reasons;
// the messages name what the protocol calls the name ("name", "path").
//
//   std::string key, why;
//   size_t depth;
//   if (!dotted_name::NameToKey("web.hits", "name", &key, &depth, &why)) ...
//   std::vector<dotted_name::Tag> tags = {{"env", "prod"}};
//   if (!dotted_name::AppendTags(&tags, depth, "name", &key, &why)) ...
//   // key == "web,hits,env:prod"
//
// Internal to libcanopy: not part of include/canopy. Pure functions:
// thread-safe.
#ifndef CANOPY_CORE_DOTTED_NAME_H_
#define CANOPY_CORE_DOTTED_NAME_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace canopy {
namespace dotted_name {

// A tag's name and value, both pointing into the line. A value whose data()
// is null is a tag without one (DogStatsD's "#debug"), written as the name
// alone.
using Tag = std::pair<absl::string_view, absl::string_view>;

// Writes `name` into `key` with '.' turned into ',' (reusing key's buffer:
// no allocation per line once warm) and sets `*depth` to its segment count.
// False, with `*why` = "bad <noun> '<name>': <reason>", if a segment is not
// valid (ValidateSegment) or there are more than kMaxSegments.
bool NameToKey(absl::string_view name, absl::string_view noun, std::string* key,
               size_t* depth, std::string* why);

// Sorts `tags` by name then value, drops repeats and appends each to `key`
// as one more segment: "name:value", or "name" for a tag without a value.
// False, with `key` unchanged and `*why` = "<noun> and tags make more than
// kMaxSegments segments", if the `depth` segments already in `key` and the
// tags are too many. The caller has checked each tag's segment.
bool AppendTags(std::vector<Tag>* tags, size_t depth, absl::string_view noun,
                std::string* key, std::string* why);

}  // namespace dotted_name
}  // namespace canopy

#endif  // CANOPY_CORE_DOTTED_NAME_H_
