// A leaf's live value as JSON, the one way every reply writes it: a number,
// a text, null when there is none, or a timer's window as an object
// (count, mean, min, max, p50, p90, p99).
//
//   canopy::JsonOut out;
//   canopy::WriteLive(out, node->Live(action, now, step));
//
// Pure; runs on whichever thread owns the value it is given.
#ifndef CANOPY_SERVER_LIVE_JSON_H_
#define CANOPY_SERVER_LIVE_JSON_H_

#include "canopy/tree.h"
#include "server/json_out.h"

namespace canopy {

void WriteLive(JsonOut& out, const LiveValue& v);

}  // namespace canopy

#endif  // CANOPY_SERVER_LIVE_JSON_H_
