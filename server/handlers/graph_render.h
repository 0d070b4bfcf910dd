// Charts drawn by the server (GET /graph/<key>.svg|.png|.pdf) with cairo,
// for mail, wikis and terminals.
//
//   canopy::GraphOptions o;
//   o.format = canopy::GraphOptions::kPng;
//   absl::StatusOr<std::string> png = canopy::RenderGraph(result, markers, o);
//
// Pure: bytes in (a trend result), bytes out. Thread-compatible; canopyd
// renders on its trend thread so that the event loop does not.
#ifndef CANOPY_SERVER_HANDLERS_GRAPH_RENDER_H_
#define CANOPY_SERVER_HANDLERS_GRAPH_RENDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "canopy/tree.h"
#include "server/trend/store.h"

namespace canopy {

struct GraphOptions {
  enum Format { kSvg, kPng, kPdf };
  Format format = kSvg;
  enum Style { kLine, kBar, kArea };
  Style style = kLine;
  bool dark = false;
  int width = 800;
  int height = 300;
  int64_t from = 0;
  int64_t to = 0;
  std::string title;
};

struct GraphMarker {
  int64_t time;
  std::string text;
};

absl::StatusOr<std::string> RenderGraph(const TrendResult& result,
                                        const std::vector<GraphMarker>& markers,
                                        const GraphOptions& options);

// The content type of a format.
const char* GraphContentType(GraphOptions::Format format);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_GRAPH_RENDER_H_
