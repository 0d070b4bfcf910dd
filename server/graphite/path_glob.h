// Graphite paths and their globs over canopy's keys: "host.web1.cpu.user"
// names the key "host,web1,cpu,user" (the dots of the Graphite line
// protocol become commas, as DottedToKey does for ingest), and a glob may
// use in any segment '*' (any run of bytes), '?' (one byte), '[...]' (a
// class, '[!...]' or '[^...]' negated) and '{a,b}' (alternatives).
//
//   absl::StatusOr<PathGlob> g = PathGlob::Parse("host.{web1,db*}.cpu.?ser");
//   g->Matches(*SplitKey("host,web1,cpu,user"));  // true
//   g->FixedPrefix();                             // {"host"}
//   KeyToDotted("host,web1,cpu,user");            // "host.web1.cpu.user"
//
// A glob matches a key of exactly its depth (Graphite's leaves); find
// (find.cc) asks for the nodes at that depth instead. A segment matches by
// fnmatch(3) once its braces are expanded (at most kMaxAlternatives per
// segment). A key segment holding a '.' (pushed as JSON) reads back with
// the dot, which a Graphite path cannot tell from a separator.
//
// Pure; any thread.
#ifndef CANOPY_SERVER_GRAPHITE_PATH_GLOB_H_
#define CANOPY_SERVER_GRAPHITE_PATH_GLOB_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "canopy/key.h"

namespace canopy {
namespace graphite {

inline constexpr size_t kMaxAlternatives = 256;

class PathGlob {
 public:
  static absl::StatusOr<PathGlob> Parse(absl::string_view dotted);

  size_t depth() const { return segments_.size(); }
  // True if `segments` has exactly depth() segments, each matching.
  bool Matches(absl::Span<const absl::string_view> segments) const;
  // True if segment `i` of the glob matches `s`.
  bool SegmentMatches(size_t i, absl::string_view s) const;
  // The leading segments without a glob character.
  std::vector<std::string> FixedPrefix() const;
  // A canopy Pattern selecting at least every match (the fixed prefix, then
  // "*" per segment): what the trend store's Query narrows by.
  Pattern Coarse() const;
  // The glob without its last segment (depth() - 1 segments).
  PathGlob Parent() const;
  // The last segment as written, if it is literal; "" otherwise.
  absl::string_view LiteralLast() const;

 private:
  struct Segment {
    bool literal = true;
    std::string text;                       // as written
    std::vector<std::string> alternatives;  // fnmatch patterns
  };
  std::vector<Segment> segments_;
};

// "host,web1" -> "host.web1".
std::string KeyToDotted(absl::string_view key);

}  // namespace graphite
}  // namespace canopy

#endif  // CANOPY_SERVER_GRAPHITE_PATH_GLOB_H_
