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

namespace {

// The length of the well-formed UTF-8 sequence at p (before end), or 0 if
// the bytes there are not one (a stray byte, a truncated sequence, an
// overlong form, a surrogate, a value past U+10FFFF).
size_t Utf8SequenceAt(const unsigned char* p, const unsigned char* end) {
  unsigned char c = *p;
  if (c < 0x80) return 1;
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
    return 0;
  }
  if (end - p <= n) return 0;
  for (int i = 1; i <= n; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
      (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return static_cast<size_t>(n) + 1;
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    size_t n = Utf8SequenceAt(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::string RepairUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    size_t n = Utf8SequenceAt(p, end);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return out;
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

// Positions 0..kMaxSegments must fit in a State.
static_assert(kMaxSegments + 1 <= 64, "Pattern::State is 64 bits");

Pattern::State Pattern::Close(State state) const {
  // Ascending: "**,**" reaches past both in one pass.
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (((state >> i) & 1) && segments_[i].kind == Kind::kAnyDepth) {
      state |= State{1} << (i + 1);
    }
  }
  return state;
}

Pattern::State Pattern::Start() const { return Close(1); }

Pattern::State Pattern::Step(State state, absl::string_view segment) const {
  State next = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (((state >> i) & 1) == 0) continue;
    const Segment& p = segments_[i];
    switch (p.kind) {
      case Kind::kAnyDepth:
        next |= State{1} << i;  // "**" takes this segment and stays
        break;
      case Kind::kAnyOne:
        next |= State{1} << (i + 1);
        break;
      case Kind::kLiteral:
        if (p.text == segment) next |= State{1} << (i + 1);
        break;
      case Kind::kGlob:
        if (GlobMatch(p.text, segment)) next |= State{1} << (i + 1);
        break;
    }
  }
  return next == 0 ? 0 : Close(next);
}

const std::string* Pattern::OnlyLiteral(State state) const {
  // Without an active "**" every active position is at the same depth: one.
  state &= ~(State{1} << segments_.size());
  if (state == 0 || (state & (state - 1)) != 0) return nullptr;
  const Segment& p = segments_[__builtin_ctzll(state)];
  return p.kind == Kind::kLiteral ? &p.text : nullptr;
}

bool Pattern::Matches(absl::Span<const absl::string_view> segments) const {
  State s = Start();
  for (absl::string_view seg : segments) {
    s = Step(s, seg);
    if (s == 0) return false;
  }
  return Accepts(s);
}

bool Pattern::Selects(absl::Span<const absl::string_view> segments) const {
  State s = Start();
  if (Accepts(s)) return true;
  for (absl::string_view seg : segments) {
    s = Step(s, seg);
    if (s == 0) return false;
    if (Accepts(s)) return true;
  }
  return false;
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
