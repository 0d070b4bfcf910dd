// Access-log parsers: nginx log_format strings (the combined and common
// formats are two of them) and Squid's native format. See canopy/pipe.h.
//
// An nginx format compiles into a list of tokens, literal text and
// variables, that must alternate. A variable's value runs to the first
// occurrence of the literal after it; inside double quotes a backslash
// escapes the next byte (Apache writes \" in a quoted field; nginx writes
// \x22, which needs nothing special). The last variable runs to the next
// space if it is a number, an address or a host, else to the end of the
// line. Text after the last literal is ignored, so the combined format also
// reads lines with extra fields appended.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "canopy/pipe.h"

namespace canopy {
namespace {

enum class Field {
  kIgnore,
  kRemoteAddr,
  kRemoteUser,
  kTimeLocal,
  kTimeIso8601,
  kMsec,
  kRequest,
  kMethod,
  kRequestUri,
  kUri,
  kProtocol,
  kStatus,
  kBodyBytes,
  kReferer,
  kUserAgent,
  kRequestTime,
  kUpstreamTime,
  kHost,
  kForwardedFor,
};

Field FieldOf(absl::string_view name) {
  static const std::pair<absl::string_view, Field> kNames[] = {
      {"remote_addr", Field::kRemoteAddr},
      {"binary_remote_addr", Field::kIgnore},
      {"remote_user", Field::kRemoteUser},
      {"time_local", Field::kTimeLocal},
      {"time_iso8601", Field::kTimeIso8601},
      {"msec", Field::kMsec},
      {"request", Field::kRequest},
      {"request_method", Field::kMethod},
      {"request_uri", Field::kRequestUri},
      {"uri", Field::kUri},
      {"document_uri", Field::kUri},
      {"server_protocol", Field::kProtocol},
      {"status", Field::kStatus},
      {"body_bytes_sent", Field::kBodyBytes},
      {"bytes_sent", Field::kBodyBytes},
      {"http_referer", Field::kReferer},
      {"http_user_agent", Field::kUserAgent},
      {"request_time", Field::kRequestTime},
      {"upstream_response_time", Field::kUpstreamTime},
      {"host", Field::kHost},
      {"http_host", Field::kHost},
      {"server_name", Field::kHost},
      {"http_x_forwarded_for", Field::kForwardedFor},
  };
  for (const auto& [n, f] : kNames) {
    if (n == name) return f;
  }
  return Field::kIgnore;
}

// Fields whose value never holds a space.
bool IsWord(Field f) {
  switch (f) {
    case Field::kRemoteAddr:
    case Field::kMsec:
    case Field::kStatus:
    case Field::kBodyBytes:
    case Field::kRequestTime:
    case Field::kHost:
    case Field::kTimeIso8601:
    case Field::kMethod:
    case Field::kRequestUri:
    case Field::kUri:
    case Field::kProtocol:
      return true;
    default:
      return false;
  }
}

absl::Status Error(size_t column, absl::string_view what,
                   absl::string_view near = {}) {
  if (near.size() > 40) near = near.substr(0, 40);
  if (near.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": ", what));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "column ", column, ": ", what, " near '", absl::CHexEscape(near), "'"));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Epoch seconds past this (the year 5138) are refused as times.
constexpr double kMaxEpoch = 1e11;

// Non-negative integer; false on anything else (or more than 18 digits).
bool ParseUint(absl::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// "12", "0.123", ".5": non-negative decimal without exponent.
bool ParseSeconds(absl::string_view s, double* out) {
  if (s.empty() || s.size() > 24) return false;
  double v = 0;
  size_t i = 0;
  bool digits = false;
  for (; i < s.size() && IsDigit(s[i]); ++i) {
    v = v * 10 + (s[i] - '0');
    digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    double scale = 0.1;
    for (++i; i < s.size() && IsDigit(s[i]); ++i) {
      v += (s[i] - '0') * scale;
      scale *= 0.1;
      digits = true;
    }
  }
  if (i != s.size() || !digits) return false;
  *out = v;
  return true;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

int MonthOf(absl::string_view m) {
  static const char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; ++i) {
    if (m == absl::string_view(kMonths + 3 * i, 3)) return i + 1;
  }
  return 0;
}

bool ValidCivil(int y, int mo, int d, int h, int mi, int s) {
  return y >= 1970 && y < 3000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 &&
         h < 24 && mi < 60 && s <= 60;
}

// "+0200" / "-0700" / "+02:00" / "Z" at `pos`; seconds east of UTC.
bool ParseZone(absl::string_view s, size_t pos, int64_t* offset) {
  if (pos < s.size() && s[pos] == 'Z' && pos + 1 == s.size()) {
    *offset = 0;
    return true;
  }
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  const int sign = s[pos] == '-' ? -1 : 1;
  int hh, mm;
  if (!Digits(s, pos + 1, 2, &hh)) return false;
  size_t m = pos + 3;
  if (m < s.size() && s[m] == ':') ++m;
  if (!Digits(s, m, 2, &mm) || m + 2 != s.size()) return false;
  *offset = sign * (hh * 3600 + mm * 60);
  return true;
}

// "10/Oct/2000:13:55:36 -0700".
bool ParseTimeLocal(absl::string_view s, int64_t* out) {
  int d, y, h, mi, sec;
  if (s.size() != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' ||
      s[14] != ':' || s[17] != ':' || s[20] != ' ') {
    return false;
  }
  const int mo = MonthOf(s.substr(3, 3));
  int64_t zone;
  if (!Digits(s, 0, 2, &d) || !Digits(s, 7, 4, &y) || !Digits(s, 12, 2, &h) ||
      !Digits(s, 15, 2, &mi) || !Digits(s, 18, 2, &sec) || mo == 0 ||
      !ValidCivil(y, mo, d, h, mi, sec) || !ParseZone(s, 21, &zone)) {
    return false;
  }
  *out = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
  return true;
}

// "2000-10-10T13:55:36-07:00".
bool ParseIso8601(absl::string_view s, int64_t* out) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  int64_t zone;
  if (!Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &mo) || !Digits(s, 8, 2, &d) ||
      !Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) ||
      !Digits(s, 17, 2, &sec) || !ValidCivil(y, mo, d, h, mi, sec)) {
    return false;
  }
  size_t z = 19;
  if (z < s.size() && s[z] == '.') {  // fractional seconds
    for (++z; z < s.size() && IsDigit(s[z]); ++z) {
    }
  }
  if (!ParseZone(s, z, &zone)) return false;
  *out = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
  return true;
}

// The path of a request target: without query and fragment; for an
// absolute URI ("http://h/p") the part from the first '/' after the host.
absl::string_view PathOf(absl::string_view target) {
  const size_t scheme = target.find("://");
  if (scheme != absl::string_view::npos && scheme < 16 &&
      target.substr(0, 1) != "/") {
    const size_t slash = target.find('/', scheme + 3);
    if (slash == absl::string_view::npos) return "/";
    target.remove_prefix(slash);
  }
  const size_t end = target.find_first_of("?#");
  return target.substr(0, end);
}

// "METHOD TARGET PROTOCOL". Anything else (scanners send binary) leaves
// what it can.
void SplitRequest(absl::string_view request, LogRecord* r) {
  const size_t a = request.find(' ');
  if (a == absl::string_view::npos) return;
  r->method = request.substr(0, a);
  absl::string_view rest = request.substr(a + 1);
  const size_t b = rest.rfind(' ');
  if (b != absl::string_view::npos &&
      absl::StartsWith(rest.substr(b + 1), "HTTP/")) {
    r->protocol = rest.substr(b + 1);
    rest = rest.substr(0, b);
  }
  r->target = rest;
  r->path = PathOf(rest);
}

// "0.012", "0.010, 0.002 : 0.001", "-": summed; false if none is a number.
bool ParseUpstream(absl::string_view s, double* out) {
  double sum = 0;
  bool any = false;
  while (!s.empty()) {
    const size_t end = s.find_first_of(",:");
    absl::string_view part = absl::StripAsciiWhitespace(s.substr(0, end));
    double v;
    if (ParseSeconds(part, &v)) {
      sum += v;
      any = true;
    }
    if (end == absl::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  *out = sum;
  return any;
}

bool IsDash(absl::string_view s) { return s.empty() || s == "-"; }

class NginxParser : public LogParser {
 public:
  struct Token {
    bool literal;
    std::string text;  // the literal
    Field field = Field::kIgnore;
    bool quoted = false;  // a variable right after a '"'
  };

  explicit NginxParser(std::vector<Token> tokens)
      : tokens_(std::move(tokens)) {}

  absl::Status ParseLine(absl::string_view line, LogRecord* r,
                         size_t* column) const override {
    *r = LogRecord();
    size_t pos = 0;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (t.literal) {
        if (line.size() - pos < t.text.size() ||
            memcmp(line.data() + pos, t.text.data(), t.text.size()) != 0) {
          *column = pos + 1;
          return Error(*column, absl::StrCat("expected '", t.text, "'"),
                       line.substr(pos));
        }
        pos += t.text.size();
        continue;
      }
      const bool has_next = i + 1 < tokens_.size();
      size_t end = absl::string_view::npos;
      if (t.field == Field::kUpstreamTime) {
        // "0.010, 0.002 : 0.001" holds spaces whatever follows it.
        end = ScanUpstream(line, pos);
        if (has_next && line.substr(end, tokens_[i + 1].text.size()) !=
                            tokens_[i + 1].text) {
          end = absl::string_view::npos;
        }
      }
      if (end == absl::string_view::npos && has_next) {
        end = Find(line, pos, tokens_[i + 1].text, t.quoted);
        if (end == absl::string_view::npos) {
          *column = pos + 1;
          return Error(*column,
                       absl::StrCat("no '", tokens_[i + 1].text, "' after $",
                                    FieldName(i)),
                       line.substr(pos));
        }
      } else if (end == absl::string_view::npos) {
        end = IsWord(t.field) ? std::min(line.find(' ', pos), line.size())
                              : line.size();
      }
      const absl::string_view value = line.substr(pos, end - pos);
      if (!Assign(t.field, value, r)) {
        *column = pos + 1;
        return Error(*column, absl::StrCat("bad $", FieldName(i)), value);
      }
      pos = end;
    }
    return absl::OkStatus();
  }

 private:
  absl::string_view FieldName(size_t i) const { return tokens_[i].text; }

  // The end of an $upstream_response_time list starting at `pos`: words
  // joined by ", " or " : ".
  static size_t ScanUpstream(absl::string_view line, size_t pos) {
    size_t end = pos;
    while (true) {
      while (end < line.size() && line[end] != ' ') ++end;
      if (end > pos && line[end - 1] == ',' && end + 1 < line.size()) {
        ++end;  // ", "
        continue;
      }
      if (line.substr(end, 3) == " : " && end + 3 < line.size()) {
        end += 3;
        continue;
      }
      return end;
    }
  }

  // The first `lit` at or after `pos`; in a quoted field a backslash skips
  // the byte after it.
  static size_t Find(absl::string_view line, size_t pos, const std::string& lit,
                     bool quoted) {
    const char first = lit[0];
    const char* base = line.data();
    const size_t n = line.size();
    while (pos < n) {
      const void* hit = memchr(base + pos, first, n - pos);
      if (quoted) {
        const void* esc = memchr(base + pos, '\\', n - pos);
        if (esc != nullptr && (hit == nullptr || esc < hit)) {
          pos = static_cast<const char*>(esc) - base + 2;
          continue;
        }
      }
      if (hit == nullptr) return absl::string_view::npos;
      const size_t at = static_cast<const char*>(hit) - base;
      if (n - at >= lit.size() &&
          memcmp(base + at, lit.data(), lit.size()) == 0) {
        return at;
      }
      pos = at + 1;
    }
    return absl::string_view::npos;
  }

  static bool Assign(Field f, absl::string_view v, LogRecord* r) {
    switch (f) {
      case Field::kIgnore:
        return true;
      case Field::kRemoteAddr:
        r->remote_addr = v;
        return true;
      case Field::kRemoteUser:
        if (!IsDash(v)) r->remote_user = v;
        return true;
      case Field::kTimeLocal:
        return ParseTimeLocal(v, &r->time);
      case Field::kTimeIso8601:
        return ParseIso8601(v, &r->time);
      case Field::kMsec: {
        double t;
        if (!ParseSeconds(v, &t) || t >= kMaxEpoch) return false;
        r->time = static_cast<int64_t>(t);
        return true;
      }
      case Field::kRequest:
        SplitRequest(v, r);
        return true;
      case Field::kMethod:
        r->method = v;
        return true;
      case Field::kRequestUri:
        r->target = v;
        r->path = PathOf(v);
        return true;
      case Field::kUri:
        if (r->target.empty()) r->path = PathOf(v);
        return true;
      case Field::kProtocol:
        r->protocol = v;
        return true;
      case Field::kStatus: {
        if (IsDash(v)) return true;
        int64_t s;
        if (!ParseUint(v, &s) || s > 999) return false;
        r->status = static_cast<int>(s);
        return true;
      }
      case Field::kBodyBytes:
        return IsDash(v) || ParseUint(v, &r->bytes);
      case Field::kReferer:
        if (!IsDash(v)) r->referer = v;
        return true;
      case Field::kUserAgent:
        if (!IsDash(v)) r->user_agent = v;
        return true;
      case Field::kRequestTime:
        if (IsDash(v)) return true;
        r->has_request_time = ParseSeconds(v, &r->request_time);
        return r->has_request_time;
      case Field::kUpstreamTime:
        r->has_upstream_time = ParseUpstream(v, &r->upstream_time);
        return true;
      case Field::kHost:
        if (!IsDash(v)) r->host = v;
        return true;
      case Field::kForwardedFor:
        if (!IsDash(v)) r->forwarded_for = v;
        return true;
    }
    return true;
  }

  std::vector<Token> tokens_;
};

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
      return Error(*column, what, i < n ? f[i] : absl::string_view());
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

absl::StatusOr<std::unique_ptr<LogParser>> LogParser::Create(
    absl::string_view format) {
  format = absl::StripAsciiWhitespace(format);
  if (format == "squid") return std::unique_ptr<LogParser>(new SquidParser());
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
  std::vector<NginxParser::Token> tokens;
  size_t vars = 0;
  size_t i = 0;
  while (i < format.size()) {
    if (format[i] == '$') {
      size_t b = i + 1, e;
      const bool braced = b < format.size() && format[b] == '{';
      if (braced) {
        e = format.find('}', b);
        if (e == absl::string_view::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat("log format: unclosed '${' at column ", i + 1));
        }
        ++b;
      } else {
        e = b;
        while (e < format.size() &&
               (absl::ascii_isalnum(format[e]) || format[e] == '_')) {
          ++e;
        }
      }
      if (e == b) {
        return absl::InvalidArgumentError(
            absl::StrCat("log format: '$' without a name at column ", i + 1));
      }
      if (!tokens.empty() && !tokens.back().literal) {
        return absl::InvalidArgumentError(
            absl::StrCat("log format: $", tokens.back().text, " and $",
                         format.substr(b, e - b),
                         " have nothing between them (column ", i + 1, ")"));
      }
      NginxParser::Token t;
      t.literal = false;
      t.text = std::string(format.substr(b, e - b));
      t.field = FieldOf(t.text);
      t.quoted = !tokens.empty() && !tokens.back().text.empty() &&
                 tokens.back().text.back() == '"';
      tokens.push_back(std::move(t));
      ++vars;
      i = braced ? e + 1 : e;
    } else {
      const size_t e = std::min(format.find('$', i), format.size());
      NginxParser::Token t;
      t.literal = true;
      t.text = std::string(format.substr(i, e - i));
      tokens.push_back(std::move(t));
      i = e;
    }
  }
  if (vars == 0) {
    return absl::InvalidArgumentError("log format: no $variable");
  }
  return std::unique_ptr<LogParser>(new NginxParser(std::move(tokens)));
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
