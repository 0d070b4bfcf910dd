// The line loop the StatsD and Graphite parsers share (include/canopy/lines.h).
//
// Threads: functions of their arguments only; safe from any thread.
#include "canopy/lines.h"

#include "absl/strings/str_cat.h"
#include "core/text.h"

namespace canopy {

void ForEachLine(absl::string_view buffer, size_t max_line_bytes,
                 absl::FunctionRef<void(const Line&)> on_line,
                 absl::FunctionRef<void(size_t number)> on_too_long) {
  Line line;
  size_t pos = 0;
  while (pos < buffer.size()) {
    size_t end = buffer.find('\n', pos);
    if (end == absl::string_view::npos) end = buffer.size();
    absl::string_view text = buffer.substr(pos, end - pos);
    pos = end + 1;
    ++line.number;
    if (text.size() > max_line_bytes) {
      on_too_long(line.number);
      continue;
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    size_t lead = 0;
    while (lead < text.size() && text::IsBlank(text[lead])) ++lead;
    text.remove_prefix(lead);
    while (!text.empty() && text::IsBlank(text.back())) text.remove_suffix(1);
    if (text.empty()) continue;
    line.text = text;
    line.lead = lead;
    on_line(line);
  }
}

absl::Status LineErrorStatus(size_t line, size_t column,
                             absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", line, ", column ", column, ": ", what));
}

}  // namespace canopy
