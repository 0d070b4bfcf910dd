// The one way a JSON push enters the tree, whatever brought it (an HTTP
// body, a UDP datagram, a TCP line): parsed whole (ParseJsonPush), applied
// whole (Tree::Apply), and its fate told so that each caller counts it.
//
//   canopy::JsonApplied r = canopy::ApplyJsonPush(&tree, body, now);
//   canopy::CountJsonPush(r, "udp", &stats);
//   if (!r.status.ok()) { /* r.reason, r.where */ }
//
// Nothing is applied unless all of it is: a push that does not parse, or
// that would take the tree past --max_nodes, changes nothing.
//
// Threads: the caller's, which must own the tree (the event-loop thread).
#ifndef CANOPY_SERVER_INGEST_JSON_INGEST_H_
#define CANOPY_SERVER_INGEST_JSON_INGEST_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/json_push.h"
#include "canopy/tree.h"
#include "server/ingest/forwarder.h"
#include "server/stats.h"

namespace canopy {

struct JsonApplied {
  absl::Status status;      // OK, or why nothing was applied
  size_t leaves = 0;        // leaves written
  size_t overflowed = 0;    // samples refused: they would overflow
  const char* reason = "";  // when refused: "json" or "max_nodes"
  TextPosition where;       // of a parse error
};

// With a `forwarder` (a node of a cluster), the parts of the push that
// other nodes own go to them and only the rest is applied here; `leaves`
// counts the whole push.
JsonApplied ApplyJsonPush(Tree* tree, absl::string_view text, int64_t now,
                          Forwarder* forwarder = nullptr);

// Adds `r` to the counters of `protocol` ("http", "udp", "tcp"): its leaves
// accepted, or one reject under its reason; samples the tree refused as
// overflowing (Tree::overflow_refused) count as rejects "overflow".
void CountJsonPush(const JsonApplied& r, absl::string_view protocol,
                   Stats* stats);

// Whether `s` opens like a JSON tree ('{' or '[' after blanks): the
// datagrams and lines that go to ApplyJsonPush rather than the line parsers.
bool StartsJson(absl::string_view s);

}  // namespace canopy

#endif  // CANOPY_SERVER_INGEST_JSON_INGEST_H_
