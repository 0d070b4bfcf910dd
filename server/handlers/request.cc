#include "server/handlers/request.h"

#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace canopy {
namespace {

constexpr char kPositionPayload[] = "canopy.position";

}  // namespace

Response JsonResponse(JsonOut& out) {
  Response r;
  r.body = out.Take();
  return r;
}

TextPosition PositionInMessage(absl::string_view message) {
  // "line 6, column 59: ..." as the parsers write it.
  TextPosition p;
  if (!absl::ConsumePrefix(&message, "line ")) return p;
  size_t comma = message.find(", column ");
  if (comma == absl::string_view::npos) return p;
  size_t colon = message.find(':', comma);
  if (!absl::SimpleAtoi(message.substr(0, comma), &p.line) ||
      !absl::SimpleAtoi(
          message.substr(comma + 9, colon == absl::string_view::npos
                                        ? absl::string_view::npos
                                        : colon - comma - 9),
          &p.column)) {
    return TextPosition();
  }
  return p;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes as evhttp_uridecode decodes them (a '%' not followed by two
// hex digits stays as it is), but binary-safe: a %00 stays in the result.
std::string Unescape(absl::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    if (s[i] == '+' && plus_as_space) {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               (hi = HexValue(s[i + 1])) >= 0 &&
               (lo = HexValue(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string PercentDecode(absl::string_view s) { return Unescape(s, false); }

std::string FormDecode(absl::string_view s) { return Unescape(s, true); }

// ---------------------------------------------------------------- Request

std::vector<std::string> Request::Params(absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::string Request::Param(absl::string_view name,
                           absl::string_view fallback) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::string(fallback);
}

bool Request::HasParam(absl::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------- errors

absl::Status WithPosition(absl::Status status, TextPosition where) {
  status.SetPayload(kPositionPayload,
                    absl::Cord(absl::StrCat(where.line, ":", where.column)));
  return status;
}

TextPosition PositionOf(const absl::Status& status) {
  TextPosition p;
  absl::optional<absl::Cord> payload = status.GetPayload(kPositionPayload);
  if (!payload) return p;
  std::vector<std::string> parts = absl::StrSplit(std::string(*payload), ':');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &p.line) ||
      !absl::SimpleAtoi(parts[1], &p.column)) {
    return TextPosition();
  }
  return p;
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kOutOfRange:
      return 413;
    case absl::StatusCode::kResourceExhausted:
      return 507;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 405;
    default:
      return 500;
  }
}

Response ErrorResponse(const absl::Status& status) {
  JsonOut out;
  out.w.StartObject();
  out.Key("error");
  out.String(status.message());
  TextPosition p = PositionOf(status);
  if (p.line > 0) {
    out.Key("line");
    out.w.Uint64(p.line);
    out.Key("column");
    out.w.Uint64(p.column);
  }
  out.w.EndObject();
  Response r = JsonResponse(out);
  r.status = HttpStatusOf(status);
  return r;
}

absl::StatusOr<std::vector<Pattern>> PatternsOf(const Request& request) {
  std::vector<Pattern> out;
  for (const std::string& k : request.Params("key")) {
    absl::StatusOr<Pattern> p = Pattern::Parse(k);
    if (!p.ok()) return p.status();
    out.push_back(std::move(*p));
  }
  if (out.empty()) out.push_back(Pattern::All());
  if (out.size() > 64) {
    return absl::InvalidArgumentError("at most 64 key= parameters");
  }
  return out;
}

absl::StatusOr<size_t> LimitOf(const Request& request, size_t otherwise) {
  if (!request.HasParam("limit")) return otherwise;
  size_t limit = 0;
  if (!absl::SimpleAtoi(request.Param("limit"), &limit) || limit == 0) {
    return absl::InvalidArgumentError("limit must be a positive integer");
  }
  return limit;
}

absl::Status QueryRefused(const QueryBudget& budget, HandlerContext& ctx) {
  if (ctx.stats != nullptr) ++ctx.stats->queries_refused;
  return budget.Refusal();
}

}  // namespace canopy
