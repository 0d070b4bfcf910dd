// LogParser: the named formats, and the line loop every format shares. The
// formats themselves are in nginx_format.cc and squid_format.cc. See
// canopy/pipe.h.
//
// Threads: a LogParser is immutable once created; Parse() may run on any
// number of threads at once.
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "canopy/pipe.h"
#include "pipes/log_formats.h"

namespace canopy {

absl::StatusOr<std::unique_ptr<LogParser>> LogParser::Create(
    absl::string_view format) {
  format = absl::StripAsciiWhitespace(format);
  if (format == "squid") return NewSquidParser();
  if (format.empty() || format == "combined" || format == "nginx") {
    format =
        "$remote_addr $remote_ident $remote_user [$time_local] \"$request\" "
        "$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";
  } else if (format == "common") {
    format =
        "$remote_addr $remote_ident $remote_user [$time_local] \"$request\" "
        "$status $body_bytes_sent";
  } else if (format.find('$') == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log format '", absl::CHexEscape(format.substr(0, 80)),
        "': use combined, common, squid or an nginx log_format string"));
  }
  return CompileNginxFormat(format);
}

LogCounts LogParser::Parse(
    absl::string_view buffer,
    absl::FunctionRef<void(const LogRecord&)> on_record,
    absl::FunctionRef<void(const LogError&)> on_error) const {
  LogCounts counts;
  LogRecord record;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < buffer.size()) {
    const void* nl = memchr(buffer.data() + pos, '\n', buffer.size() - pos);
    const size_t end =
        nl ? static_cast<const char*>(nl) - buffer.data() : buffer.size();
    absl::string_view line = buffer.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    LogError error;
    if (line.size() > kMaxLineBytes) {
      error.column = kMaxLineBytes + 1;
      error.status = absl::InvalidArgumentError(
          absl::StrCat("column ", error.column, ": line longer than ",
                       kMaxLineBytes, " bytes"));
    } else {
      absl::Status s = ParseLine(line, &record, &error.column);
      if (s.ok()) {
        ++counts.records;
        on_record(record);
        continue;
      }
      error.status = std::move(s);
    }
    error.line = line_no;
    error.status = absl::InvalidArgumentError(
        absl::StrCat("line ", line_no, ", ", error.status.message()));
    ++counts.errors;
    on_error(error);
  }
  return counts;
}

}  // namespace canopy
