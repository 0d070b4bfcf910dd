// The line loop of canopy's line protocols (StatsD, Graphite): a buffer cut
// into lines, with their numbers and where their text starts, and what
// every line parser shares (its options, its counts, the shape of its
// errors).
//
//   canopy::ForEachLine(
//       "a:1|c\r\n\n  b:2|c", /*max_line_bytes=*/16 * 1024,
//       [](const canopy::Line& line) {
//         // line 1: "a:1|c" (lead 0); line 3: "b:2|c" (lead 2)
//       },
//       [](size_t number) { /* line `number` was too long */ });
//
// Threads: functions of their arguments only; safe from any thread.
#ifndef CANOPY_LINES_H_
#define CANOPY_LINES_H_

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace canopy {

// One line of a buffer, as a line parser sees it.
struct Line {
  absl::string_view text;  // never empty; no newline, "\r" or outer blanks
  size_t number = 0;       // 1-based, counting empty lines too
  size_t lead = 0;         // blanks cut from the front: text[0] is at
                           // (0-based) byte `lead` of the raw line
};

// Calls `on_line` for each line of `buffer` in order. Lines end at '\n'
// (the last may end at the end of the buffer); a "\r" before the '\n', and
// spaces and tabs at either end, are not part of the text; lines left empty
// are skipped (but numbered). A line longer than `max_line_bytes` (counted
// before anything is cut) goes to `on_too_long` with its number instead.
void ForEachLine(absl::string_view buffer, size_t max_line_bytes,
                 absl::FunctionRef<void(const Line&)> on_line,
                 absl::FunctionRef<void(size_t number)> on_too_long);

// The options every line parser takes.
struct LineOptions {
  // Longer lines are rejected whole. A legal key is at most 8 KiB.
  size_t max_line_bytes = 16 * 1024;
};

// What a line parser did with a buffer.
struct LineCounts {
  size_t records = 0;  // calls to on_record
  size_t errors = 0;   // calls to on_error
};

// A bad line, as a line parser reports it; `Reason` is its protocol's enum.
template <typename Reason>
struct LineError {
  Reason reason;
  size_t line;    // 1-based line number within the buffer
  size_t column;  // 1-based byte offset of the offending part in the line
  // InvalidArgument: "line L, column C: <what>" (LineErrorStatus), quoting
  // at most 80 bytes of the input.
  absl::Status status;
};

// InvalidArgument "line L, column C: <what>".
absl::Status LineErrorStatus(size_t line, size_t column,
                             absl::string_view what);

// Why a line parser refused a line: `offset` is 0-based within Line::text.
template <typename Reason>
struct LineFailure {
  Reason reason;
  size_t offset = 0;
  std::string what;
};

// A line parser's loop: `parse_line(absl::string_view text, Record* r,
// LineFailure<Reason>* f)` is called with each line's text and returns true
// with `r` filled, which goes to `on_record`, or false with `f` filled, which
// goes to `on_error` with its line and column; a line longer than
// options.max_line_bytes goes there as `too_long`. The record is reused
// from line to line.
template <typename Record, typename Reason, typename ParseLineFn>
LineCounts ParseLines(
    absl::string_view buffer, const LineOptions& options, Reason too_long,
    ParseLineFn parse_line, absl::FunctionRef<void(const Record&)> on_record,
    absl::FunctionRef<void(const LineError<Reason>&)> on_error) {
  LineCounts counts;
  auto report = [&](Reason reason, size_t line, size_t column,
                    absl::string_view what) {
    ++counts.errors;
    on_error(LineError<Reason>{reason, line, column,
                               LineErrorStatus(line, column, what)});
  };
  Record record;
  ForEachLine(
      buffer, options.max_line_bytes,
      [&](const Line& line) {
        LineFailure<Reason> f;
        if (parse_line(line.text, &record, &f)) {
          ++counts.records;
          on_record(record);
        } else {
          report(f.reason, line.number, line.lead + f.offset + 1, f.what);
        }
      },
      [&](size_t number) {
        report(too_long, number, options.max_line_bytes + 1,
               absl::StrCat("line longer than ", options.max_line_bytes,
                            " bytes"));
      });
  return counts;
}

}  // namespace canopy

#endif  // CANOPY_LINES_H_
