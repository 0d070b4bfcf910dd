// Charts drawn by the server (GET /graph/<key>.svg|.png|.pdf) with cairo,
// for mail, wikis and terminals.
//
//   canopy::GraphOptions o;
//   o.format = canopy::GraphOptions::kPng;
//   o.unit = "bytes";  // the y axis: "0 B", "512 MiB", "1 GiB"
//   absl::StatusOr<std::string> png = canopy::RenderGraph(result, markers, o);
//
// The y axis has round steps labelled with the unit (graph_axis.h), the x
// axis clock times (24-hour, UTC); the legend wraps to as many rows as the
// series need (smaller type, then "+N more", when they would take more than
// a third of the chart); style=area stacks each series on the ones before.
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
  std::string unit;  // of the values (canopy/unit.h); "" for none
};

struct GraphMarker {
  int64_t time;
  std::string text;
};

// A piece of text the chart shows, and the box it takes (pixels, y down).
struct GraphText {
  enum Role { kTitle, kLegend, kValueLabel, kTimeLabel, kMarker, kNote };
  Role role;
  std::string text;
  double x, y, width, height;  // left, top
};

// Draws the chart. `texts`, when given, receives every text drawn (for
// tests, and for whoever wants the labels without reading the image).
absl::StatusOr<std::string> RenderGraph(
    const TrendResult& result, const std::vector<GraphMarker>& markers,
    const GraphOptions& options, std::vector<GraphText>* texts = nullptr);

// The content type of a format.
const char* GraphContentType(GraphOptions::Format format);

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_GRAPH_RENDER_H_
