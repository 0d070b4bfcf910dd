// The nginx log_format compiler and the parser it makes. See log_formats.h.
//
// A format compiles into a list of tokens, literal text and variables, that
// must alternate. A variable's value runs to the first occurrence of the
// literal after it; inside double quotes a backslash escapes the next byte
// (Apache writes \" in a quoted field; nginx writes \x22, which needs
// nothing special). The last variable runs to the next space if it is a
// number, an address or a host, else to the end of the line. Text after the
// last literal is ignored, so the combined format also reads lines with
// extra fields appended.
//
// Threads: a compiled parser is immutable; any thread may use it.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pipes/log_formats.h"
#include "pipes/log_values.h"

namespace canopy {
namespace {

using log_internal::ColumnError;
using log_internal::IsDash;
using log_internal::kMaxEpoch;
using log_internal::ParseIso8601;
using log_internal::ParseSeconds;
using log_internal::ParseTimeLocal;
using log_internal::ParseUint;
using log_internal::ParseUpstream;
using log_internal::PathOf;
using log_internal::SplitRequest;

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
          return ColumnError(*column, absl::StrCat("expected '", t.text, "'"),
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
          return ColumnError(*column,
                             absl::StrCat("no '", tokens_[i + 1].text,
                                          "' after $", FieldName(i)),
                             line.substr(pos));
        }
      } else if (end == absl::string_view::npos) {
        end = IsWord(t.field) ? std::min(line.find(' ', pos), line.size())
                              : line.size();
      }
      const absl::string_view value = line.substr(pos, end - pos);
      if (!Assign(t.field, value, r)) {
        *column = pos + 1;
        return ColumnError(*column, absl::StrCat("bad $", FieldName(i)), value);
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

}  // namespace

absl::StatusOr<std::unique_ptr<LogParser>> CompileNginxFormat(
    absl::string_view format) {
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

}  // namespace canopy
