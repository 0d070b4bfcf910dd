#include "canopy/graphite.h"

#include <cmath>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/line_name.h"
#include "canopy/lines.h"
#include "core/dotted_name.h"
#include "core/text.h"

namespace canopy {
namespace {

using text::IsBlank;
using text::Quote;

// Epoch seconds: digits with an optional fraction (dropped), or "-1" (now).
bool ParseTimestamp(absl::string_view text, std::optional<int64_t>* out) {
  if (text == "-1") {
    *out = std::nullopt;
    return true;
  }
  size_t i = 0;
  int64_t seconds = 0;
  for (; i < text.size() && absl::ascii_isdigit(text[i]); ++i) {
    seconds = seconds * 10 + (text[i] - '0');
    if (seconds > kMaxGraphiteTimestamp) return false;
  }
  if (i == 0) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t fraction = i;
    for (; i < text.size() && absl::ascii_isdigit(text[i]); ++i) {
    }
    if (i == fraction) return false;
  }
  if (i != text.size()) return false;
  *out = seconds;
  return true;
}

using Failure = LineFailure<GraphiteReason>;

using dotted_name::Tag;

// Builds the key from "a.b.c;tag=value;..." into `key`.
bool BuildKey(absl::string_view path, std::vector<Tag>* tags, std::string* key,
              Failure* f) {
  const size_t semicolon = path.find(';');
  const absl::string_view name = path.substr(0, semicolon);
  size_t depth = 0;
  std::string why;
  if (!dotted_name::NameToKey(name, "path", key, &depth, &why)) {
    *f = {GraphiteReason::kBadName, 0, std::move(why)};
    return false;
  }
  if (semicolon == absl::string_view::npos) return true;

  tags->clear();
  size_t pos = semicolon + 1;
  while (true) {
    size_t end = path.find(';', pos);
    if (end == absl::string_view::npos) end = path.size();
    const absl::string_view tag = path.substr(pos, end - pos);
    const size_t eq = tag.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == tag.size()) {
      *f = {GraphiteReason::kBadTags, pos,
            absl::StrCat("bad tag ", Quote(tag), ": expected name=value")};
      return false;
    }
    const absl::string_view tag_name = tag.substr(0, eq);
    const absl::string_view tag_value = tag.substr(eq + 1);
    // The segment is "name:value"; check its parts as a segment would be.
    absl::Status s = ValidateSegment(tag_name);
    if (s.ok()) s = ValidateSegment(tag_value);
    if (s.ok() && tag.size() > kMaxSegmentBytes) {
      s = absl::InvalidArgumentError(
          absl::StrCat("segment longer than ", kMaxSegmentBytes, " bytes"));
    }
    if (!s.ok()) {
      *f = {GraphiteReason::kBadTags, pos,
            absl::StrCat("bad tag ", Quote(tag), ": ", s.message())};
      return false;
    }
    tags->emplace_back(tag_name, tag_value);
    if (end == path.size()) break;
    pos = end + 1;
  }
  if (!dotted_name::AppendTags(tags, depth, "path", key, &why)) {
    *f = {GraphiteReason::kBadTags, semicolon, std::move(why)};
    return false;
  }
  return true;
}

// Parses one trimmed, non-empty line into `r`.
bool ParseLine(absl::string_view line, std::vector<Tag>* tags,
               GraphiteRecord* r, Failure* f) {
  // Up to four fields, to tell "too many" apart.
  absl::string_view fields[4];
  size_t offsets[4];
  size_t n = 0;
  size_t i = 0;
  while (i < line.size() && n < 4) {
    const size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) ++i;
    offsets[n] = start;
    fields[n++] = line.substr(start, i - start);
    while (i < line.size() && IsBlank(line[i])) ++i;
  }
  if (n == 1) {
    *f = {GraphiteReason::kNoValue, line.size(),
          absl::StrCat("no value after path ", Quote(fields[0]))};
    return false;
  }
  if (n == 4) {
    *f = {GraphiteReason::kExtraField, offsets[3],
          absl::StrCat("unexpected field ", Quote(fields[3]),
                       " after the timestamp")};
    return false;
  }
  if (!text::ParseValue(fields[1], offsets[1], &r->value, f)) return false;
  r->timestamp = std::nullopt;
  if (n == 3 && !ParseTimestamp(fields[2], &r->timestamp)) {
    *f = {GraphiteReason::kBadTimestamp, offsets[2],
          absl::StrCat("bad timestamp ", Quote(fields[2]),
                       ": expected epoch seconds up to ", kMaxGraphiteTimestamp,
                       " or -1")};
    return false;
  }
  return BuildKey(fields[0], tags, &r->key, f);
}

}  // namespace

absl::string_view GraphiteReasonName(GraphiteReason reason) {
  switch (reason) {
    case GraphiteReason::kNoValue:
      return "no_value";
    case GraphiteReason::kBadValue:
      return "bad_value";
    case GraphiteReason::kNotFinite:
      return "not_finite";
    case GraphiteReason::kBadName:
      return "bad_name";
    case GraphiteReason::kBadTags:
      return "bad_tags";
    case GraphiteReason::kBadTimestamp:
      return "bad_timestamp";
    case GraphiteReason::kExtraField:
      return "extra_field";
    case GraphiteReason::kTooLong:
      return "too_long";
  }
  return "unknown";
}

GraphiteCounts ParseGraphite(
    absl::string_view buffer,
    absl::FunctionRef<void(const GraphiteRecord&)> on_record,
    absl::FunctionRef<void(const GraphiteError&)> on_error,
    const GraphiteOptions& options) {
  std::vector<Tag> tags;
  return ParseLines<GraphiteRecord>(
      buffer, options, GraphiteReason::kTooLong,
      [&](absl::string_view line, GraphiteRecord* r, Failure* f) {
        return ParseLine(line, &tags, r, f);
      },
      on_record, on_error);
}

size_t ScanSimpleGraphiteLine(absl::string_view buffer,
                              SimpleGraphiteLine* line) {
  const char* const begin = buffer.data();
  const char* const end = begin + buffer.size();
  const size_t name = text::FindPlainNameEnd(begin, end, ' ');
  if (name == 0) return 0;
  double v = 0;
  const char* p = begin + name + 1;
  const size_t value_len = text::ScanPlainDecimal(p, end, &v);
  if (value_len == 0) return 0;
  p += value_len;
  int64_t seconds = 0;
  const bool has_timestamp = p < end && *p == ' ';
  if (has_timestamp) {
    const char* const digits = ++p;
    for (; p < end && static_cast<unsigned>(*p - '0') < 10 && p - digits < 12;
         ++p) {
      seconds = seconds * 10 + (*p - '0');
    }
    if (p == digits || seconds > kMaxGraphiteTimestamp) return 0;
  }
  p = text::EndOfSimpleLine(p, end);
  if (p == nullptr) return 0;
  line->name = absl::string_view(begin, name);
  line->value = v;
  line->timestamp = seconds;
  line->has_timestamp = has_timestamp;
  return static_cast<size_t>(p - begin);
}

size_t ParseSimpleGraphiteLine(absl::string_view buffer, GraphiteRecord* r) {
  SimpleGraphiteLine line;
  const size_t used = ScanSimpleGraphiteLine(buffer, &line);
  if (used == 0) return 0;
  if (!PlainNameToKey(line.name, &r->key)) return 0;
  r->value = line.value;
  r->timestamp.reset();
  if (line.has_timestamp) r->timestamp = line.timestamp;
  return used;
}

}  // namespace canopy
