// Keys and patterns: how canopy names a node in its tree.
//
// A key is a path of segments joined by commas, such as "host,web1,cpu,user".
// A segment is 1-255 bytes of well-formed UTF-8 with no comma and no control
// character; a key has at most 32 segments. The empty key names the root.
//
//   absl::StatusOr<KeySegments> key = SplitKey("br,ie,7");
//   // key->size() == 3, (*key)[2] == "7"
//
// A pattern selects nodes. In a pattern an empty segment or "*" matches any
// one segment, a "*" inside a segment is a glob ("web*"), and "**" as a whole
// segment matches any number of segments (zero included).
//
//   absl::StatusOr<Pattern> p = Pattern::Parse("host,web*,cpu");
//   p->Matches({"host", "web1", "cpu"});   // true
//
// Cost: matching runs the pattern as a set of positions advanced one
// segment at a time (Start, Step), never by backtracking, so a key of n
// segments costs at most n x the pattern's length in segment comparisons,
// and a walk of the tree (Tree::Collect) at most nodes visited x the
// pattern's length, however many "**" the pattern holds.
//
// Everything here is a pure function of its arguments and thread-compatible.
#ifndef CANOPY_KEY_H_
#define CANOPY_KEY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace canopy {

inline constexpr size_t kMaxSegments = 32;
inline constexpr size_t kMaxSegmentBytes = 255;

// The segments of a key. The views point into the string that was split.
using KeySegments = std::vector<absl::string_view>;

// OK if `segment` may be one segment of a key; otherwise InvalidArgument
// saying what is wrong with it.
absl::Status ValidateSegment(absl::string_view segment);

// Splits `key` on commas and validates every segment and the depth. The empty
// string is the root and yields no segments. Errors name the key.
absl::StatusOr<KeySegments> SplitKey(absl::string_view key);

// Appends the segments of `key` to `out` after validating them; `depth` is
// the number of segments already above them (for the depth limit).
absl::Status AppendKey(absl::string_view key, size_t depth, KeySegments* out);

// Joins segments with commas.
std::string JoinKey(absl::Span<const absl::string_view> segments);

// True if `s` is well-formed UTF-8 (no surrogate, no overlong form).
bool IsValidUtf8(absl::string_view s);

// `s` with each byte that does not start a well-formed UTF-8 sequence
// replaced by U+FFFD: for echoing input that was refused for it.
std::string RepairUtf8(absl::string_view s);

// Converts a StatsD or Graphite name ("web.hits") into a key ("web,hits").
// Commas already in the name are kept as separators too.
std::string DottedToKey(absl::string_view name);

// A compiled pattern. Copyable; holds its own copy of the text.
class Pattern {
 public:
  enum class Kind { kLiteral, kAnyOne, kGlob, kAnyDepth };
  struct Segment {
    Kind kind;
    std::string text;  // the literal or the glob; empty otherwise
  };

  // Parses a pattern. Literal segments follow the key rules; "**" may appear
  // at most 4 times (a limit from when matching backtracked; the cost no
  // longer depends on it).
  static absl::StatusOr<Pattern> Parse(absl::string_view text);

  // The pattern that matches the whole tree.
  static Pattern All();

  // True if the node named by `segments` is selected by this pattern.
  bool Matches(absl::Span<const absl::string_view> segments) const;

  // True if the node named by `segments` or one of its ancestors is
  // matched: the key lies in a subtree the pattern selects (what Collect
  // reads), as for a removed key or a stored series.
  bool Selects(absl::Span<const absl::string_view> segments) const;

  // Matching one segment at a time, for walks down the tree. A State is the
  // set of pattern positions reached by the segments seen so far (bit i:
  // the first i pattern segments matched them, "**" closed over); 0 means
  // nothing below can match. Each Step costs at most the pattern's length.
  //
  //   Pattern::State s = p.Start();            // the root
  //   s = p.Step(s, "host");                   // the node "host"
  //   if (p.Accepts(s)) { /* "host" is matched */ }
  using State = uint64_t;
  State Start() const;
  State Step(State state, absl::string_view segment) const;
  bool Accepts(State state) const { return (state >> segments_.size()) & 1; }
  // When the only position `state` may advance from is a literal segment,
  // that segment's text (the one child worth looking up); else nullptr.
  const std::string* OnlyLiteral(State state) const;

  const std::vector<Segment>& segments() const { return segments_; }
  const std::string& text() const { return text_; }

  // The leading literal segments: the deepest node every match lies under.
  std::vector<absl::string_view> FixedPrefix() const;

  // True if the pattern is only literal segments.
  bool IsLiteral() const;

 private:
  // Adds to `state` the positions "**" reaches without a segment.
  State Close(State state) const;

  std::string text_;
  std::vector<Segment> segments_;
};

// Matches one segment against a glob where '*' matches any run of bytes.
bool GlobMatch(absl::string_view glob, absl::string_view s);

}  // namespace canopy

#endif  // CANOPY_KEY_H_
