// Fuzzes RequestParser (server/net/request_parser.h) as a connection feeds
// it: any bytes, fed whole and again in arbitrary pieces (the rest fed again
// after each request, as a connection does), must give the same requests
// and errors; nothing may crash; every request taken must be within the
// limits; Feed never consumes more than it is given, and all of it while it
// needs more.
//
// Input: byte 0 picks the header limit, byte 1 the body limit, bytes 2-3 the
// pieces; the rest is what the client sent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/handlers/request.h"
#include "server/net/request_parser.h"

namespace {

using canopy::RequestParser;

void Check(bool ok) {
  if (!ok) std::abort();
}

// One request (all of it) or the error that ended the connection, as text.
std::string Describe(RequestParser& parser,
                     const canopy::RequestLimits& limits) {
  if (parser.state() == RequestParser::State::kError) {
    const int code = canopy::HttpStatusOf(parser.error());
    Check(code == 400 || code == 413);
    return absl::StrCat("error ", code, " ", parser.error().message());
  }
  Check(parser.headers_complete());
  std::string out = absl::StrCat(parser.keep_alive(), parser.head(),
                                 parser.expects_continue(), " ");
  absl::StatusOr<canopy::Request> r = parser.TakeRequest();
  if (!r.ok()) {
    const int code = canopy::HttpStatusOf(r.status());
    Check(code == 400 || code == 405);
    absl::StrAppend(&out, "refused ", code, " ", r.status().message());
    return out;
  }
  Check(r->body.size() <= limits.max_body_bytes);
  Check(r->raw_path.size() < limits.max_header_bytes);
  Check(r->path.find('\0') == std::string::npos);
  Check(parser.head() == (r->method == "HEAD"));
  absl::StrAppend(&out, r->method, "|", r->path, "|", r->raw_path, "|",
                  r->content_type, "|", r->authorization, "|", r->last_event_id,
                  "|", r->body.size(), ":", r->body);
  for (const auto& [k, v] : r->query) {
    absl::StrAppend(&out, "|", k.size(), ":", k, "=", v.size(), ":", v);
  }
  return out;
}

// Feeds `bytes` in pieces of at most `piece` bytes (all at once when 0),
// with sizes drawn from `seed`.
std::vector<std::string> Connection(absl::string_view bytes,
                                    const canopy::RequestLimits& limits,
                                    size_t piece, uint32_t seed) {
  std::mt19937 rng(seed);
  RequestParser parser(limits);
  std::vector<std::string> out;
  std::string pending;
  size_t at = 0;
  while (at < bytes.size()) {
    size_t n = piece == 0 ? bytes.size() : 1 + rng() % piece;
    n = std::min(n, bytes.size() - at);
    pending.append(bytes.data() + at, n);
    at += n;
    while (!pending.empty()) {
      const size_t used = parser.Feed(pending);
      Check(used <= pending.size());
      pending.erase(0, used);
      if (parser.state() == RequestParser::State::kNeedMore) {
        Check(pending.empty());
        break;
      }
      out.push_back(Describe(parser, limits));
      if (parser.state() == RequestParser::State::kError) return out;
      Check(parser.Feed(pending) == 0);
      parser.Reset();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  canopy::RequestLimits limits;
  limits.max_header_bytes = 16 + data[0] * 4;
  limits.max_body_bytes = data[1] * 4;
  const uint32_t seed = data[2] | (data[3] << 8);
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 4,
                                size - 4);
  const std::vector<std::string> whole = Connection(bytes, limits, 0, 0);
  Check(Connection(bytes, limits, 1, 0) == whole);
  Check(Connection(bytes, limits, 1 + seed % 61, seed) == whole);
  return 0;
}
