// The parser of Squid's native access.log format. See log_formats.h.
//
// Threads: the parser is immutable; any thread may use it.
#include <memory>

#include "pipes/log_formats.h"
#include "pipes/log_values.h"

namespace canopy {
namespace {

using log_internal::ColumnError;
using log_internal::IsDash;
using log_internal::kMaxEpoch;
using log_internal::ParseSeconds;
using log_internal::ParseUint;
using log_internal::PathOf;

class SquidParser : public LogParser {
 public:
  // time elapsed remotehost code/status bytes method URL rfc931
  // peerstatus/peerhost type, separated by runs of spaces.
  absl::Status ParseLine(absl::string_view line, LogRecord* r,
                         size_t* column) const override {
    *r = LogRecord();
    absl::string_view f[10];
    size_t at[10];
    size_t n = 0;
    size_t pos = 0;
    while (n < 10) {
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
        ++pos;
      }
      if (pos >= line.size()) break;
      size_t end = pos;
      while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
      at[n] = pos;
      f[n++] = line.substr(pos, end - pos);
      pos = end;
    }
    auto fail = [&](size_t i, absl::string_view what) {
      *column = i < n ? at[i] + 1 : line.size() + 1;
      return ColumnError(*column, what, i < n ? f[i] : absl::string_view());
    };
    if (n < 7) return fail(n, "a Squid line has at least 7 fields");
    double t, elapsed_ms;
    if (!ParseSeconds(f[0], &t) || t >= kMaxEpoch) return fail(0, "bad time");
    r->time = static_cast<int64_t>(t);
    if (!ParseSeconds(f[1], &elapsed_ms)) return fail(1, "bad elapsed");
    r->has_request_time = true;
    r->request_time = elapsed_ms / 1000;
    r->remote_addr = f[2];
    const size_t slash = f[3].find('/');
    int64_t status;
    if (slash == absl::string_view::npos ||
        !ParseUint(f[3].substr(slash + 1), &status) || status > 999) {
      return fail(3, "bad code/status");
    }
    r->status = static_cast<int>(status);
    if (!ParseUint(f[4], &r->bytes)) return fail(4, "bad bytes");
    r->method = f[5];
    const absl::string_view url = f[6];
    r->target = url;
    const size_t scheme = url.find("://");
    absl::string_view authority;
    if (scheme != absl::string_view::npos) {
      authority = url.substr(scheme + 3);
      const size_t p = authority.find('/');
      r->path = p == absl::string_view::npos ? absl::string_view("/")
                                             : PathOf(authority.substr(p));
      authority = authority.substr(0, p);
    } else if (!url.empty() && url[0] == '/') {
      r->path = PathOf(url);
    } else {
      authority = url;  // CONNECT host:port
    }
    const size_t at_sign = authority.rfind('@');
    if (at_sign != absl::string_view::npos) {
      authority.remove_prefix(at_sign + 1);
    }
    if (!authority.empty() && authority[0] != '[') {
      authority = authority.substr(0, authority.find(':'));
    }
    r->host = authority;
    if (n > 7 && !IsDash(f[7])) r->remote_user = f[7];
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<LogParser> NewSquidParser() {
  return std::make_unique<SquidParser>();
}

}  // namespace canopy
