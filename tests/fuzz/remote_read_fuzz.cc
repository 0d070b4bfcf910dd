// Fuzzes the decoding of Prometheus remote_read requests
// (server/remote/read_request.cc): the snappy layer with the input as the
// body, and, with the first byte odd, the protobuf layer and the matchers
// (the rest of the input snappy-compressed here, so that it gets past the
// first check). No input may crash it or be taken half: it answers the
// queries or InvalidArgument.
#include <snappy.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/remote/read_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string body;
  if (data[0] & 1) {
    snappy::Compress(input.data(), input.size(), &body);
  } else {
    body = input;
  }
  absl::StatusOr<std::vector<canopy::ReadQuery>> queries =
      canopy::ParseReadRequest(body);
  if (!queries.ok()) {
    if (queries.status().code() != absl::StatusCode::kInvalidArgument) {
      std::abort();
    }
    return 0;
  }
  for (const canopy::ReadQuery& q : *queries) {
    if (q.end_ms < q.start_ms) std::abort();
    for (const canopy::Matcher& m : q.matchers) {
      const bool regex = m.type == prometheus::LabelMatcher::RE ||
                         m.type == prometheus::LabelMatcher::NRE;
      if (regex && (m.re == nullptr || !m.re->ok())) std::abort();
      (void)m.Matches("host,web1,cpu");
      (void)m.Matches("");
    }
  }
  return 0;
}
