// A Prometheus remote_read request, decoded: the body's snappy and protobuf
// layers taken off and checked, its queries' label matchers compiled (RE2,
// anchored as in Prometheus). Pure: no store, no sockets; the handler
// (server/handlers/remote_read.cc) answers the queries from the trend store.
//
//   absl::StatusOr<std::vector<ReadQuery>> queries = ParseReadRequest(body);
//   if (!queries.ok()) return 400 with queries.status().message();
//
// Thread-compatible.
#ifndef CANOPY_SERVER_REMOTE_READ_REQUEST_H_
#define CANOPY_SERVER_REMOTE_READ_REQUEST_H_

#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/prometheus_remote.pb.h"

namespace canopy {

// The largest ReadRequest taken, uncompressed: its declared length is
// checked before anything is allocated.
inline constexpr size_t kMaxReadRequestBytes = 16 << 20;

struct Matcher {
  prometheus::LabelMatcher::Type type;
  std::string name;
  std::string value;
  std::shared_ptr<RE2> re;  // =~ and !~

  bool Matches(absl::string_view v) const {
    switch (type) {
      case prometheus::LabelMatcher::EQ:
        return v == value;
      case prometheus::LabelMatcher::NEQ:
        return v != value;
      case prometheus::LabelMatcher::RE:
        return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re);
      default:
        return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re);
    }
  }
};

struct ReadQuery {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<Matcher> matchers;
};

// The queries of a snappy-compressed protobuf ReadRequest, or
// InvalidArgument saying what is wrong with it (not snappy, not a
// ReadRequest, no SAMPLES response type accepted, a query ending before it
// starts, a bad regular expression).
absl::StatusOr<std::vector<ReadQuery>> ParseReadRequest(absl::string_view body);

}  // namespace canopy

#endif  // CANOPY_SERVER_REMOTE_READ_REQUEST_H_
