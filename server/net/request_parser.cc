#include "server/net/request_parser.h"

#include <http_parser.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/net/request_parse.h"

namespace canopy {
namespace {

// A body is reserved from its Content-Length up to this; past it, it grows
// as it arrives (a client announcing a large body it never sends should not
// cost its memory at once).
constexpr size_t kMaxReserve = 1 << 20;

// The headers kept, by bit in seen_.
enum : uint8_t {
  kContentType = 1 << 0,
  kAuthorization = 1 << 1,
  kLastEventId = 1 << 2,
  kExpect = 1 << 3,
};

RequestParser* Self(http_parser* p) {
  return static_cast<RequestParser*>(p->data);
}

absl::string_view Trimmed(const std::string& value) {
  return absl::StripTrailingAsciiWhitespace(value);
}

}  // namespace

RequestParser::RequestParser(RequestLimits limits)
    : limits_{std::max<size_t>(limits.max_header_bytes, 1),
              limits.max_body_bytes},
      parser_(std::make_unique<http_parser>()) {
  Reset();
}

RequestParser::~RequestParser() = default;

void RequestParser::Reset() {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
  state_ = State::kNeedMore;
  error_ = absl::OkStatus();
  header_bytes_ = 0;
  url_.clear();
  body_.clear();
  field_.clear();
  in_value_ = false;
  value_ = nullptr;
  content_type_.clear();
  authorization_.clear();
  last_event_id_.clear();
  expect_.clear();
  seen_ = 0;
  headers_complete_ = false;
  expects_continue_ = false;
  head_ = false;
  keep_alive_ = false;
}

size_t RequestParser::Feed(absl::string_view bytes) {
  // The callbacks of every parser: constant once made.
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = &RequestParser::OnUrl;
    s.on_header_field = &RequestParser::OnHeaderField;
    s.on_header_value = &RequestParser::OnHeaderValue;
    s.on_headers_complete = &RequestParser::OnHeadersComplete;
    s.on_body = &RequestParser::OnBody;
    s.on_chunk_header = &RequestParser::OnChunkHeader;
    s.on_message_complete = &RequestParser::OnMessageComplete;
    return s;
  }();
  size_t used = 0;
  while (state_ == State::kNeedMore && used < bytes.size()) {
    absl::string_view rest = bytes.substr(used);
    // Until the headers are complete, never more than their limit allows:
    // then running out of room is exact, however the bytes were split.
    const bool in_headers = !headers_complete_;
    if (in_headers) {
      rest = rest.substr(0, limits_.max_header_bytes - header_bytes_);
    }
    size_t n =
        http_parser_execute(parser_.get(), &settings, rest.data(), rest.size());
    used += n;
    if (in_headers && !headers_complete_) header_bytes_ += n;
    http_errno e = HTTP_PARSER_ERRNO(parser_.get());
    if (e == HPE_PAUSED) {  // OnMessageComplete
      state_ = State::kComplete;
    } else if (e != HPE_OK) {
      state_ = State::kError;
      keep_alive_ = false;
      // A callback that refused says why; otherwise the library does.
      if (error_.ok()) {
        error_ =
            e == HPE_HEADER_OVERFLOW
                ? absl::InvalidArgumentError(
                      "request line and headers too large")
                : absl::InvalidArgumentError(absl::StrCat(
                      "malformed HTTP request: ", http_errno_description(e)));
      }
    } else if (!headers_complete_ &&
               header_bytes_ >= limits_.max_header_bytes) {
      state_ = State::kError;
      error_ = absl::InvalidArgumentError(
          absl::StrCat("request line and headers over ",
                       limits_.max_header_bytes, " bytes"));
    } else if (n < rest.size()) {
      // Not expected of the library without a pause or an error.
      state_ = State::kError;
      error_ = absl::InvalidArgumentError("malformed HTTP request");
    }
  }
  return used;
}

bool RequestParser::get() const {
  return state_ == State::kComplete && parser_->method == HTTP_GET;
}

absl::StatusOr<Request> RequestParser::TakeRequest() {
  if (state_ != State::kComplete) {
    return absl::FailedPreconditionError("no complete request");
  }
  const bool connect = parser_->method == HTTP_CONNECT;
  http_parser_url u;
  http_parser_url_init(&u);
  // The library's offsets are 16 bits.
  if (url_.size() > std::numeric_limits<uint16_t>::max() ||
      http_parser_parse_url(url_.data(), url_.size(), connect, &u) != 0) {
    return absl::InvalidArgumentError("malformed request target");
  }
  auto field = [&](http_parser_url_fields f) {
    if ((u.field_set & (1 << f)) == 0) return absl::string_view();
    return absl::string_view(url_).substr(u.field_data[f].off,
                                          u.field_data[f].len);
  };
  RequestHeaders headers;
  headers.content_type = Trimmed(content_type_);
  headers.authorization = Trimmed(authorization_);
  headers.last_event_id = Trimmed(last_event_id_);
  return MakeRequest(http_method_str(static_cast<http_method>(parser_->method)),
                     field(UF_PATH), field(UF_QUERY), headers,
                     std::move(body_));
}

void RequestParser::ChooseValue() {
  struct Kept {
    absl::string_view name;
    uint8_t bit;
    std::string RequestParser::*value;
  };
  static constexpr Kept kKept[] = {
      {"Content-Type", kContentType, &RequestParser::content_type_},
      {"Authorization", kAuthorization, &RequestParser::authorization_},
      {"Last-Event-ID", kLastEventId, &RequestParser::last_event_id_},
      {"Expect", kExpect, &RequestParser::expect_},
  };
  value_ = nullptr;
  for (const Kept& k : kKept) {
    if (absl::EqualsIgnoreCase(field_, k.name)) {
      // The first of repeated fields wins, as evhttp_find_header finds it.
      if ((seen_ & k.bit) == 0) {
        seen_ |= k.bit;
        value_ = &(this->*k.value);
      }
      return;
    }
  }
}

bool RequestParser::BodyTooLarge(uint64_t more) {
  if (more <= limits_.max_body_bytes - body_.size()) return false;
  error_ = absl::OutOfRangeError(
      absl::StrCat("request body over ", limits_.max_body_bytes, " bytes"));
  return true;
}

int RequestParser::OnUrl(http_parser* p, const char* at, size_t n) {
  Self(p)->url_.append(at, n);
  return 0;
}

int RequestParser::OnHeaderField(http_parser* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->headers_complete_) return 0;  // a chunked body's trailer
  if (self->in_value_) {
    self->field_.clear();
    self->in_value_ = false;
  }
  self->field_.append(at, n);
  return 0;
}

int RequestParser::OnHeaderValue(http_parser* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->headers_complete_) return 0;
  if (!self->in_value_) {
    self->in_value_ = true;
    self->ChooseValue();
  }
  if (self->value_ != nullptr) self->value_->append(at, n);
  return 0;
}

int RequestParser::OnHeadersComplete(http_parser* p) {
  RequestParser* self = Self(p);
  self->headers_complete_ = true;
  self->head_ = p->method == HTTP_HEAD;
  // Never to an HTTP/1.0 client (RFC 9110, 10.1.1).
  self->expects_continue_ =
      (p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1)) &&
      absl::EqualsIgnoreCase(Trimmed(self->expect_), "100-continue");
  // Without Content-Length the library leaves it at its maximum.
  if ((p->flags & F_CONTENTLENGTH) != 0) {
    if (self->BodyTooLarge(p->content_length)) return -1;
    self->body_.reserve(std::min<uint64_t>(p->content_length, kMaxReserve));
  }
  return 0;
}

int RequestParser::OnChunkHeader(http_parser* p) {
  // The chunk's size, before its data.
  return Self(p)->BodyTooLarge(p->content_length) ? -1 : 0;
}

int RequestParser::OnBody(http_parser* p, const char* at, size_t n) {
  RequestParser* self = Self(p);
  if (self->BodyTooLarge(n)) return -1;
  self->body_.append(at, n);
  return 0;
}

int RequestParser::OnMessageComplete(http_parser* p) {
  RequestParser* self = Self(p);
  self->keep_alive_ = http_should_keep_alive(p) != 0;
  // Feed() stops here: what follows is the next request.
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace canopy
