#include "canopy/statsd.h"

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
using text::NumberStatus;
using text::ParseNumber;
using text::Quote;

using Failure = LineFailure<StatsdReason>;

using dotted_name::Tag;

// Appends DogStatsD tags ("env:prod,region:eu") to `key` as segments, in
// order of tag name then value. `offset` is where the tags start in the line.
bool AppendDogStatsdTags(absl::string_view tags, size_t offset, size_t depth,
                         std::vector<Tag>* scratch, std::string* key,
                         Failure* f) {
  scratch->clear();
  size_t start = 0;
  while (start <= tags.size()) {
    size_t comma = tags.find(',', start);
    if (comma == absl::string_view::npos) comma = tags.size();
    const absl::string_view tag = tags.substr(start, comma - start);
    if (!tag.empty()) {
      const size_t colon = tag.find(':');
      if (colon == 0) {
        *f = {StatsdReason::kBadTags, offset + start,
              absl::StrCat("tag ", Quote(tag), " has no name")};
        return false;
      }
      if (absl::Status s = ValidateSegment(tag); !s.ok()) {
        *f = {StatsdReason::kBadTags, offset + start,
              absl::StrCat("bad tag ", Quote(tag), ": ", s.message())};
        return false;
      }
      if (colon == absl::string_view::npos) {
        scratch->emplace_back(tag, absl::string_view());
      } else {
        scratch->emplace_back(tag.substr(0, colon), tag.substr(colon + 1));
      }
    }
    start = comma + 1;
  }
  std::string why;
  if (!dotted_name::AppendTags(scratch, depth, "name", key, &why)) {
    *f = {StatsdReason::kBadTags, offset, std::move(why)};
    return false;
  }
  return true;
}

bool ParseType(absl::string_view text, StatsdType* type) {
  if (text == "c") {
    *type = StatsdType::kCounter;
  } else if (text == "g") {
    *type = StatsdType::kGauge;
  } else if (text == "ms") {
    *type = StatsdType::kTimer;
  } else if (text == "h") {
    *type = StatsdType::kHistogram;
  } else if (text == "s") {
    *type = StatsdType::kSet;
  } else {
    return false;
  }
  return true;
}

// Parses one trimmed, non-empty line into `r`.
bool ParseLine(absl::string_view line, std::vector<Tag>* tags_scratch,
               StatsdRecord* r, Failure* f) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) {
    *f = {StatsdReason::kNoValue, line.size(),
          absl::StrCat("no ':' and value after name ", Quote(line))};
    return false;
  }
  const absl::string_view name = line.substr(0, colon);
  size_t pos = colon + 1;
  size_t bar = line.find('|', pos);
  const absl::string_view value_text =
      line.substr(pos, bar == absl::string_view::npos ? absl::string_view::npos
                                                      : bar - pos);
  if (value_text.empty()) {
    *f = {StatsdReason::kNoValue, pos, "no value after ':'"};
    return false;
  }
  const size_t value_offset = pos;
  if (bar == absl::string_view::npos) {
    *f = {StatsdReason::kBadType, line.size(),
          "no type: expected '|' and one of c, g, ms, h, s"};
    return false;
  }

  // The fields after the value: the type, then optional @rate, #tags, c:id.
  absl::string_view tags_text;
  size_t tags_offset = 0;
  bool have_rate = false, have_tags = false, have_container = false;
  r->sample_rate = 1;
  for (int field = 0; bar != absl::string_view::npos; ++field) {
    pos = bar + 1;
    bar = line.find('|', pos);
    const absl::string_view text = line.substr(
        pos,
        bar == absl::string_view::npos ? absl::string_view::npos : bar - pos);
    if (field == 0) {
      if (!ParseType(text, &r->type)) {
        *f = {StatsdReason::kBadType, pos,
              absl::StrCat("bad type ", Quote(text),
                           ": expected one of c, g, ms, h, s")};
        return false;
      }
      continue;
    }
    if (!text.empty() && text[0] == '@' && !have_rate) {
      have_rate = true;
      double rate = 0;
      if (ParseNumber(text.substr(1), &rate) != NumberStatus::kOk ||
          !(rate > 0 && rate <= 1)) {
        *f = {StatsdReason::kBadRate, pos,
              absl::StrCat("bad sample rate ", Quote(text),
                           ": expected @ and a number in (0, 1]")};
        return false;
      }
      r->sample_rate = rate;
    } else if (!text.empty() && text[0] == '#' && !have_tags) {
      have_tags = true;
      tags_text = text.substr(1);
      tags_offset = pos + 1;
    } else if (absl::StartsWith(text, "c:") && !have_container) {
      have_container = true;
    } else {
      *f = {StatsdReason::kBadField, pos,
            absl::StrCat("unknown or repeated field ", Quote(text))};
      return false;
    }
  }

  r->relative = false;
  r->set_member.clear();
  if (r->type == StatsdType::kSet) {
    r->value = 0;
    r->set_member.assign(value_text.data(), value_text.size());
  } else {
    if (!text::ParseValue(value_text, value_offset, &r->value, f)) {
      return false;
    }
    r->relative = r->type == StatsdType::kGauge &&
                  (value_text[0] == '+' || value_text[0] == '-');
  }

  if (name.empty()) {
    *f = {StatsdReason::kBadName, 0, "empty name"};
    return false;
  }
  size_t depth = 0;
  std::string why;
  if (!dotted_name::NameToKey(name, "name", &r->key, &depth, &why)) {
    *f = {StatsdReason::kBadName, 0, std::move(why)};
    return false;
  }
  if (have_tags && !AppendDogStatsdTags(tags_text, tags_offset, depth,
                                        tags_scratch, &r->key, f)) {
    return false;
  }
  return true;
}

}  // namespace

absl::string_view StatsdTypeName(StatsdType type) {
  switch (type) {
    case StatsdType::kCounter:
      return "c";
    case StatsdType::kGauge:
      return "g";
    case StatsdType::kTimer:
      return "ms";
    case StatsdType::kHistogram:
      return "h";
    case StatsdType::kSet:
      return "s";
  }
  return "?";
}

absl::string_view StatsdReasonName(StatsdReason reason) {
  switch (reason) {
    case StatsdReason::kNoValue:
      return "no_value";
    case StatsdReason::kBadValue:
      return "bad_value";
    case StatsdReason::kNotFinite:
      return "not_finite";
    case StatsdReason::kBadType:
      return "bad_type";
    case StatsdReason::kBadRate:
      return "bad_rate";
    case StatsdReason::kBadName:
      return "bad_name";
    case StatsdReason::kBadTags:
      return "bad_tags";
    case StatsdReason::kBadField:
      return "bad_field";
    case StatsdReason::kTooLong:
      return "too_long";
  }
  return "unknown";
}

StatsdCounts ParseStatsd(absl::string_view buffer,
                         absl::FunctionRef<void(const StatsdRecord&)> on_record,
                         absl::FunctionRef<void(const StatsdError&)> on_error,
                         const StatsdOptions& options) {
  std::vector<Tag> tags_scratch;
  return ParseLines<StatsdRecord>(
      buffer, options, StatsdReason::kTooLong,
      [&](absl::string_view line, StatsdRecord* r, Failure* f) {
        return ParseLine(line, &tags_scratch, r, f);
      },
      on_record, on_error);
}

bool LooksLikeStatsd(absl::string_view line) {
  size_t start = 0;
  while (start < line.size() && IsBlank(line[start])) ++start;
  line.remove_prefix(start);
  size_t end = 0;
  while (end < line.size() && !IsBlank(line[end]) && line[end] != '\n') ++end;
  const absl::string_view first = line.substr(0, end);
  const size_t colon = first.find(':');
  return colon != absl::string_view::npos &&
         first.find('|', colon) != absl::string_view::npos;
}

size_t ScanSimpleStatsdLine(absl::string_view buffer, SimpleStatsdLine* line) {
  const char* const begin = buffer.data();
  const char* const end = begin + buffer.size();
  const size_t name = text::FindPlainNameEnd(begin, end, ':');
  if (name == 0) return 0;
  const char* const value = begin + name + 1;
  double v = 0;
  const size_t value_len = text::ScanPlainDecimal(value, end, &v);
  if (value_len == 0) return 0;
  const char* p = value + value_len;
  if (p == end || *p != '|' || ++p == end) return 0;
  StatsdType type;
  switch (*p++) {
    case 'c':
      type = StatsdType::kCounter;
      break;
    case 'g':
      type = StatsdType::kGauge;
      break;
    case 'h':
      type = StatsdType::kHistogram;
      break;
    case 'm':
      if (p == end || *p++ != 's') return 0;
      type = StatsdType::kTimer;
      break;
    default:
      return 0;
  }
  double rate = 1;
  if (p + 1 < end && p[0] == '|' && p[1] == '@') {
    p += 2;
    const size_t rate_len = text::ScanPlainDecimal(p, end, &rate);
    if (rate_len == 0 || !(rate > 0 && rate <= 1)) return 0;
    p += rate_len;
  }
  p = text::EndOfSimpleLine(p, end);
  if (p == nullptr) return 0;
  line->name = absl::string_view(begin, name);
  line->value = v;
  line->type = type;
  line->relative =
      type == StatsdType::kGauge && (value[0] == '+' || value[0] == '-');
  line->sample_rate = rate;
  return static_cast<size_t>(p - begin);
}

size_t ParseSimpleStatsdLine(absl::string_view buffer, StatsdRecord* r) {
  SimpleStatsdLine line;
  const size_t used = ScanSimpleStatsdLine(buffer, &line);
  if (used == 0) return 0;
  if (!PlainNameToKey(line.name, &r->key)) return 0;
  r->value = line.value;
  r->type = line.type;
  r->relative = line.relative;
  r->sample_rate = line.sample_rate;
  r->set_member.clear();
  return used;
}

}  // namespace canopy
