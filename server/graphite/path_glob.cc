// Graphite path globs (path_glob.h): splitting, brace expansion, fnmatch.
// Pure; any thread.
#include "server/graphite/path_glob.h"

#include <fnmatch.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace canopy {
namespace graphite {
namespace {

// Expands the first {...} of `s` (and recursively the rest) into `out`.
absl::Status Expand(const std::string& s, std::vector<std::string>* out) {
  size_t open = s.find('{');
  if (open == std::string::npos) {
    if (out->size() >= kMaxAlternatives) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad path: more than ", kMaxAlternatives, " {...} alternatives"));
    }
    out->push_back(s);
    return absl::OkStatus();
  }
  int depth = 0;
  size_t close = std::string::npos;
  std::vector<size_t> commas;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') {
      ++depth;
    } else if (s[i] == '}') {
      if (--depth == 0) {
        close = i;
        break;
      }
    } else if (s[i] == ',' && depth == 1) {
      commas.push_back(i);
    }
  }
  if (close == std::string::npos) {
    return absl::InvalidArgumentError("bad path: a '{' without its '}'");
  }
  std::string head = s.substr(0, open), tail = s.substr(close + 1);
  size_t from = open + 1;
  commas.push_back(close);
  for (size_t c : commas) {
    if (absl::Status st =
            Expand(absl::StrCat(head, s.substr(from, c - from), tail), out);
        !st.ok()) {
      return st;
    }
    from = c + 1;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PathGlob> PathGlob::Parse(absl::string_view dotted) {
  PathGlob g;
  if (dotted.empty()) return absl::InvalidArgumentError("bad path: empty");
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : dotted) {
    if (c == '{') ++depth;
    if (c == '}' && depth > 0) --depth;
    if (c == '.' && depth == 0) {
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(std::move(cur));
  if (parts.size() > kMaxSegments) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad path \"", dotted.substr(0, 80), "\": more than ",
                     kMaxSegments, " segments"));
  }
  for (std::string& p : parts) {
    if (p.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad path \"", dotted.substr(0, 80), "\": an empty segment"));
    }
    Segment s;
    s.literal = p.find_first_of("*?[{") == std::string::npos;
    if (!s.literal) {
      if (absl::Status st = Expand(p, &s.alternatives); !st.ok()) return st;
    }
    s.text = std::move(p);
    g.segments_.push_back(std::move(s));
  }
  return g;
}

bool PathGlob::SegmentMatches(size_t i, absl::string_view s) const {
  const Segment& g = segments_[i];
  if (g.literal) return g.text == s;
  std::string seg(s);  // fnmatch needs NUL-terminated text
  for (const std::string& alt : g.alternatives) {
    if (fnmatch(alt.c_str(), seg.c_str(), 0) == 0) return true;
  }
  return false;
}

bool PathGlob::Matches(absl::Span<const absl::string_view> segments) const {
  if (segments.size() != segments_.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!SegmentMatches(i, segments[i])) return false;
  }
  return true;
}

std::vector<std::string> PathGlob::FixedPrefix() const {
  std::vector<std::string> out;
  for (const Segment& s : segments_) {
    if (!s.literal) break;
    out.push_back(s.text);
  }
  return out;
}

Pattern PathGlob::Coarse() const {
  std::vector<std::string> parts;
  bool fixed = true;
  for (const Segment& s : segments_) {
    fixed = fixed && s.literal && ValidateSegment(s.text).ok() &&
            s.text != "*" && s.text != "**";
    parts.push_back(fixed ? s.text : "*");
  }
  absl::StatusOr<Pattern> p = Pattern::Parse(absl::StrJoin(parts, ","));
  return p.ok() ? *p : Pattern::All();
}

PathGlob PathGlob::Parent() const {
  PathGlob g = *this;
  if (!g.segments_.empty()) g.segments_.pop_back();
  return g;
}

absl::string_view PathGlob::LiteralLast() const {
  if (segments_.empty() || !segments_.back().literal) return "";
  return segments_.back().text;
}

std::string KeyToDotted(absl::string_view key) {
  return absl::StrReplaceAll(key, {{",", "."}});
}

}  // namespace graphite
}  // namespace canopy
