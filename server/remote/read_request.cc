// See server/remote/read_request.h.
#include "server/remote/read_request.h"

#include <snappy.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace canopy {

absl::StatusOr<std::vector<ReadQuery>> ParseReadRequest(
    absl::string_view body) {
  // The declared length is checked before anything is allocated: five
  // bytes may claim four gigabytes.
  size_t length = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &length) ||
      length > kMaxReadRequestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote_read: the body is not snappy-compressed (send a "
                     "snappy-compressed protobuf ReadRequest of at most ",
                     kMaxReadRequestBytes, " bytes)"));
  }
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
    return absl::InvalidArgumentError(
        "remote_read: the body is not snappy-compressed (send a "
        "snappy-compressed protobuf ReadRequest)");
  }
  prometheus::ReadRequest req;
  if (!req.ParseFromString(raw)) {
    return absl::InvalidArgumentError(
        "remote_read: the body is not a protobuf ReadRequest");
  }
  if (!req.accepted_response_types().empty() &&
      std::find(req.accepted_response_types().begin(),
                req.accepted_response_types().end(),
                prometheus::ReadRequest::SAMPLES) ==
          req.accepted_response_types().end()) {
    return absl::InvalidArgumentError(
        "remote_read: only the SAMPLES response type is served");
  }
  std::vector<ReadQuery> out;
  for (const prometheus::Query& q : req.queries()) {
    ReadQuery rq;
    rq.start_ms = q.start_timestamp_ms();
    rq.end_ms = q.end_timestamp_ms();
    if (rq.end_ms < rq.start_ms) {
      return absl::InvalidArgumentError(
          "remote_read: a query ends before it starts");
    }
    for (const prometheus::LabelMatcher& lm : q.matchers()) {
      Matcher m;
      // proto3 keeps enum numbers it does not know: refuse them, or
      // Matches() would read a regular expression never compiled.
      if (!prometheus::LabelMatcher::Type_IsValid(lm.type())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "remote_read: unknown matcher type ", static_cast<int>(lm.type()),
            " for ", lm.name().substr(0, 50)));
      }
      m.type = lm.type();
      m.name = lm.name();
      m.value = lm.value();
      if (m.type == prometheus::LabelMatcher::RE ||
          m.type == prometheus::LabelMatcher::NRE) {
        RE2::Options options;
        options.set_log_errors(false);
        m.re = std::make_shared<RE2>(m.value, options);
        if (!m.re->ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("remote_read: bad regular expression for ",
                           m.name.substr(0, 50), ": ", m.re->error()));
        }
      }
      rq.matchers.push_back(std::move(m));
    }
    out.push_back(std::move(rq));
  }
  return out;
}

}  // namespace canopy
