// The names of the line protocols as sent ("web.hits" in StatsD and
// Graphite) and the plain ones among them, which the fast paths take: a
// plain name is a valid key once its dots are commas, with nothing to
// unescape and no tags.
//
//   std::string key;
//   const char line[] = "web.hits:1|c";
//   size_t n = canopy::ScanPlainName(line, line + sizeof line - 1, ':', &key);
//   // n == 8, key == "web,hits"
//   canopy::PlainNameToKey("web.hits", &key);  // true, key == "web,hits"
//   canopy::IsPlainName("web..hits");  // false: an empty segment
//
// Threads: functions of their arguments only; safe from any thread.
#ifndef CANOPY_LINE_NAME_H_
#define CANOPY_LINE_NAME_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace canopy {

// True if `name` is a plain dotted name: segments of ASCII letters, digits,
// '_' and '-', none empty, none over kMaxSegmentBytes, at most kMaxSegments,
// joined by '.'.
bool IsPlainName(absl::string_view name);

// The key of `name` (its dots as commas) if it is plain: true with `key`
// set; false otherwise (`key` is then unspecified). For a name a simple
// scanner (ScanSimpleStatsdLine, ScanSimpleGraphiteLine) has delimited.
bool PlainNameToKey(absl::string_view name, std::string* key);

// The length of the plain dotted name at `p` (before `end`). The name ends
// at the first byte that is not part of one, which must be `stop`. The name
// goes to `key` with its dots as commas. 0 when the name is not plain (`key`
// is then unspecified), and such a line takes its protocol's full parser.
size_t ScanPlainName(const char* p, const char* end, char stop,
                     std::string* key);

}  // namespace canopy

#endif  // CANOPY_LINE_NAME_H_
