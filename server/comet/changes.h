// The body of a comet reply: the leaves under some patterns that changed
// after a seq, with their latest values, and the removed ones as null.
//
//   size_t count = 0;
//   std::string body = canopy::ChangesJson(tree, patterns, since,
//                                          /*reset=*/false, now, &count);
//   // {"seq": S, "items": [{"web,hits": 3}, {"web,gone": null}]}
//
// With `reset` (a cursor the tree cannot honour) it lists every leaf under
// the patterns and says "reset": true.
//
// Threads: the tree's (the event-loop thread).
#ifndef CANOPY_SERVER_COMET_CHANGES_H_
#define CANOPY_SERVER_COMET_CHANGES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "canopy/key.h"
#include "canopy/tree.h"

namespace canopy {

// Returns the number of items written in `*count` (when not null). The walk
// is charged to `budget` when given: once budget->exceeded(), the body is
// incomplete and must not be sent.
std::string ChangesJson(const Tree& tree, const std::vector<Pattern>& patterns,
                        uint64_t since, bool reset, int64_t now, size_t* count,
                        QueryBudget* budget = nullptr);

}  // namespace canopy

#endif  // CANOPY_SERVER_COMET_CHANGES_H_
