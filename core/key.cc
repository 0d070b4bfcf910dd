#include "canopy/key.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace canopy {
namespace {

// Shortens a key for an error message so that a hostile 1 MB key does not
// come back in full.
std::string Quote(absl::string_view key) {
  constexpr size_t kShown = 80;
  std::string out;
  out.reserve(kShown + 8);
  for (char c : key.substr(0, kShown)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  if (key.size() > kShown) out += "...";
  return absl::StrCat("\"", out, "\"");
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

absl::Status ValidateSegment(absl::string_view segment) {
  if (segment.empty()) {
    return absl::InvalidArgumentError("empty segment");
  }
  if (segment.size() > kMaxSegmentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment longer than ", kMaxSegmentBytes, " bytes"));
  }
  for (char c : segment) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError("control character in segment");
    }
    if (c == ',') return absl::InvalidArgumentError("comma in segment");
  }
  if (!IsValidUtf8(segment)) {
    return absl::InvalidArgumentError("segment is not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status AppendKey(absl::string_view key, size_t depth, KeySegments* out) {
  if (key.empty()) {
    return absl::InvalidArgumentError("empty key");
  }
  for (absl::string_view seg : absl::StrSplit(key, ',')) {
    if (absl::Status s = ValidateSegment(seg); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad key ", Quote(key), ": ", s.message()));
    }
    if (++depth > kMaxSegments) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad key ", Quote(key), ": deeper than ", kMaxSegments, " segments"));
    }
    out->push_back(seg);
  }
  return absl::OkStatus();
}

absl::StatusOr<KeySegments> SplitKey(absl::string_view key) {
  KeySegments out;
  if (key.empty()) return out;
  if (absl::Status s = AppendKey(key, 0, &out); !s.ok()) return s;
  return out;
}

std::string JoinKey(absl::Span<const absl::string_view> segments) {
  return absl::StrJoin(segments, ",");
}

std::string DottedToKey(absl::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '.') c = ',';
  }
  return out;
}

bool GlobMatch(absl::string_view glob, absl::string_view s) {
  // Iterative wildcard match with one backtrack point: linear in practice.
  size_t g = 0, i = 0, star = absl::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = i;
    } else if (g < glob.size() && glob[g] == s[i]) {
      ++g;
      ++i;
    } else if (star != absl::string_view::npos) {
      g = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

absl::StatusOr<Pattern> Pattern::Parse(absl::string_view text) {
  Pattern p;
  p.text_ = std::string(text);
  if (text.empty()) return p;  // the root
  int any_depth = 0;
  for (absl::string_view seg : absl::StrSplit(text, ',')) {
    Segment s;
    if (seg.empty() || seg == "*") {
      s.kind = Kind::kAnyOne;
    } else if (seg == "**") {
      s.kind = Kind::kAnyDepth;
      if (++any_depth > 4) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad pattern ", Quote(text), ": more than 4 '**'"));
      }
    } else {
      if (absl::Status st = ValidateSegment(seg); !st.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad pattern ", Quote(text), ": ", st.message()));
      }
      s.kind = seg.find('*') == absl::string_view::npos ? Kind::kLiteral
                                                        : Kind::kGlob;
      s.text = std::string(seg);
    }
    p.segments_.push_back(std::move(s));
    if (p.segments_.size() > kMaxSegments) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad pattern ", Quote(text), ": deeper than ",
                       kMaxSegments, " segments"));
    }
  }
  return p;
}

Pattern Pattern::All() { return Pattern(); }

namespace {

bool MatchFrom(const std::vector<Pattern::Segment>& pat, size_t pi,
               absl::Span<const absl::string_view> segs, size_t si) {
  while (pi < pat.size()) {
    const Pattern::Segment& p = pat[pi];
    if (p.kind == Pattern::Kind::kAnyDepth) {
      for (size_t k = si; k <= segs.size(); ++k) {
        if (MatchFrom(pat, pi + 1, segs, k)) return true;
      }
      return false;
    }
    if (si >= segs.size()) return false;
    switch (p.kind) {
      case Pattern::Kind::kLiteral:
        if (p.text != segs[si]) return false;
        break;
      case Pattern::Kind::kGlob:
        if (!GlobMatch(p.text, segs[si])) return false;
        break;
      default:
        break;
    }
    ++pi;
    ++si;
  }
  return si == segs.size();
}

}  // namespace

bool Pattern::Matches(absl::Span<const absl::string_view> segments) const {
  return MatchFrom(segments_, 0, segments, 0);
}

std::vector<absl::string_view> Pattern::FixedPrefix() const {
  std::vector<absl::string_view> out;
  for (const Segment& s : segments_) {
    if (s.kind != Kind::kLiteral) break;
    out.push_back(s.text);
  }
  return out;
}

bool Pattern::IsLiteral() const {
  for (const Segment& s : segments_) {
    if (s.kind != Kind::kLiteral) return false;
  }
  return true;
}

}  // namespace canopy
