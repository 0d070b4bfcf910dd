#include "server/handlers/graph_render.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace canopy {
namespace {

struct Rgb {
  double r, g, b;
};

constexpr Rgb kPalette[] = {{0.18, 0.45, 0.85}, {0.90, 0.45, 0.10},
                            {0.20, 0.65, 0.30}, {0.80, 0.20, 0.25},
                            {0.55, 0.35, 0.75}, {0.10, 0.65, 0.70},
                            {0.75, 0.60, 0.10}, {0.45, 0.45, 0.45}};

cairo_status_t Append(void* closure, const unsigned char* data,
                      unsigned int length) {
  static_cast<std::string*>(closure)->append(
      reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

std::string NiceNumber(double v) {
  double a = std::fabs(v);
  if (a >= 1e9) return absl::StrFormat("%.3gG", v / 1e9);
  if (a >= 1e6) return absl::StrFormat("%.3gM", v / 1e6);
  if (a >= 1e4) return absl::StrFormat("%.3gk", v / 1e3);
  return absl::StrFormat("%.4g", v);
}

std::string TimeLabel(int64_t t, int64_t span) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  if (span <= 2 * 86400) {
    strftime(buf, sizeof buf, "%H:%M", &tm);
  } else if (span <= 90 * 86400) {
    strftime(buf, sizeof buf, "%m-%d", &tm);
  } else {
    strftime(buf, sizeof buf, "%Y-%m", &tm);
  }
  return buf;
}

void Draw(cairo_t* cr, const TrendResult& result,
          const std::vector<GraphMarker>& markers, const GraphOptions& o) {
  const double w = o.width, h = o.height;
  const Rgb bg = o.dark ? Rgb{0.11, 0.12, 0.14} : Rgb{1, 1, 1};
  const Rgb fg = o.dark ? Rgb{0.85, 0.86, 0.88} : Rgb{0.15, 0.15, 0.15};
  const Rgb grid = o.dark ? Rgb{0.25, 0.26, 0.29} : Rgb{0.88, 0.88, 0.88};
  cairo_set_source_rgb(cr, bg.r, bg.g, bg.b);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 11);

  const double left = 58, right = 14, top = 26, bottom = 24;
  const double pw = std::max(10.0, w - left - right);
  const double ph = std::max(10.0, h - top - bottom);

  double lo = INFINITY, hi = -INFINITY;
  for (const TrendSeries& s : result.series) {
    for (const auto& [t, v] : s.points) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  bool empty = !(lo <= hi);
  if (empty) {
    lo = 0;
    hi = 1;
  }
  if (o.style != GraphOptions::kLine) lo = std::min(lo, 0.0);
  if (hi - lo < 1e-12) {
    hi += std::max(1.0, std::fabs(hi) * 0.1);
    lo -= std::max(1.0, std::fabs(lo) * 0.1);
  }
  double pad = (hi - lo) * 0.05;
  hi += pad;
  if (lo != 0) lo -= pad;
  const double from = static_cast<double>(o.from);
  const double span = std::max<double>(1, static_cast<double>(o.to - o.from));
  auto X = [&](double t) { return left + (t - from) / span * pw; };
  auto Y = [&](double v) { return top + (hi - v) / (hi - lo) * ph; };

  // Grid and labels.
  cairo_set_line_width(cr, 1);
  for (int i = 0; i <= 4; ++i) {
    double v = lo + (hi - lo) * i / 4;
    double y = std::round(Y(v)) + 0.5;
    cairo_set_source_rgb(cr, grid.r, grid.g, grid.b);
    cairo_move_to(cr, left, y);
    cairo_line_to(cr, left + pw, y);
    cairo_stroke(cr);
    std::string label = NiceNumber(v);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, label.c_str(), &ext);
    cairo_set_source_rgb(cr, fg.r, fg.g, fg.b);
    cairo_move_to(cr, left - 6 - ext.width, y + 4);
    cairo_show_text(cr, label.c_str());
  }
  for (int i = 0; i <= 5; ++i) {
    double t = from + span * i / 5;
    double x = std::round(X(t)) + 0.5;
    cairo_set_source_rgb(cr, grid.r, grid.g, grid.b);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, top + ph);
    cairo_stroke(cr);
    std::string label = TimeLabel(static_cast<int64_t>(t), o.to - o.from);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, label.c_str(), &ext);
    cairo_set_source_rgb(cr, fg.r, fg.g, fg.b);
    cairo_move_to(cr, std::min(x - ext.width / 2, w - ext.width - 2),
                  top + ph + 16);
    cairo_show_text(cr, label.c_str());
  }

  // Series.
  cairo_save(cr);
  cairo_rectangle(cr, left, top, pw, ph);
  cairo_clip(cr);
  const double step_px = result.step > 0 ? result.step / span * pw : 2;
  for (size_t i = 0; i < result.series.size(); ++i) {
    const Rgb c = kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
    const auto& pts = result.series[i].points;
    if (pts.empty()) continue;
    if (o.style == GraphOptions::kBar) {
      double bw = std::max(1.0, step_px * 0.8 / result.series.size());
      cairo_set_source_rgb(cr, c.r, c.g, c.b);
      for (const auto& [t, v] : pts) {
        double x = X(static_cast<double>(t)) + bw * i;
        cairo_rectangle(cr, x, Y(std::max(v, 0.0)), bw, std::fabs(Y(v) - Y(0)));
      }
      cairo_fill(cr);
      continue;
    }
    cairo_new_path(cr);
    bool started = false;
    int64_t prev_t = 0;
    // A gap wider than two steps and than a twentieth of the range breaks
    // the line (sparse data at a fine step still draws as a line).
    const double max_gap = std::max(2.0 * result.step, span / 20);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    for (size_t k = 0; k < pts.size(); ++k) {
      const auto& [t, v] = pts[k];
      double x = X(static_cast<double>(t) + result.step / 2.0), y = Y(v);
      bool alone = (k == 0 || t - pts[k - 1].first > max_gap) &&
                   (k + 1 == pts.size() || pts[k + 1].first - t > max_gap);
      if (alone) {
        // A lone point is a dot.
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, 2, 0, 2 * M_PI);
        cairo_fill(cr);
      }
      if (!started || static_cast<double>(t - prev_t) > max_gap) {
        if (started && o.style == GraphOptions::kLine) {
          cairo_set_line_width(cr, 1.6);
          cairo_stroke(cr);
        }
        cairo_move_to(cr, x, y);
        started = true;
      } else {
        cairo_line_to(cr, x, y);
      }
      prev_t = t;
    }
    if (o.style == GraphOptions::kArea) {
      double x_last =
          X(static_cast<double>(pts.back().first) + result.step / 2.0);
      double x_first =
          X(static_cast<double>(pts.front().first) + result.step / 2.0);
      cairo_line_to(cr, x_last, Y(0));
      cairo_line_to(cr, x_first, Y(0));
      cairo_close_path(cr);
      cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.35);
      cairo_fill_preserve(cr);
    }
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 1.6);
    cairo_stroke(cr);
  }
  // Markers: dashed verticals with their text.
  const double dash[] = {4, 3};
  for (const GraphMarker& m : markers) {
    if (m.time < o.from || m.time > o.to) continue;
    double x = std::round(X(static_cast<double>(m.time))) + 0.5;
    cairo_set_source_rgb(cr, 0.85, 0.25, 0.25);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, top + ph);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_move_to(cr, x + 3, top + 12);
    cairo_show_text(cr, m.text.substr(0, 40).c_str());
  }
  cairo_restore(cr);

  // Title and legend.
  cairo_set_source_rgb(cr, fg.r, fg.g, fg.b);
  cairo_set_font_size(cr, 12);
  double x = left;
  if (!o.title.empty()) {
    cairo_move_to(cr, x, 16);
    cairo_show_text(cr, o.title.substr(0, 80).c_str());
    cairo_text_extents_t ext;
    cairo_text_extents(cr, o.title.substr(0, 80).c_str(), &ext);
    x += ext.x_advance + 14;
  }
  cairo_set_font_size(cr, 11);
  for (size_t i = 0; i < result.series.size() && i < 8 && x < w - 40; ++i) {
    const Rgb c = kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_rectangle(cr, x, 8, 10, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, fg.r, fg.g, fg.b);
    std::string name = result.series[i].key.substr(0, 40);
    cairo_move_to(cr, x + 14, 17);
    cairo_show_text(cr, name.c_str());
    cairo_text_extents_t ext;
    cairo_text_extents(cr, name.c_str(), &ext);
    x += 14 + ext.x_advance + 12;
  }
  if (empty) {
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, fg.r, fg.g, fg.b);
    cairo_move_to(cr, left + pw / 2 - 24, top + ph / 2);
    cairo_show_text(cr, "no data");
  }
}

}  // namespace

const char* GraphContentType(GraphOptions::Format format) {
  switch (format) {
    case GraphOptions::kPng:
      return "image/png";
    case GraphOptions::kPdf:
      return "application/pdf";
    default:
      return "image/svg+xml";
  }
}

absl::StatusOr<std::string> RenderGraph(const TrendResult& result,
                                        const std::vector<GraphMarker>& markers,
                                        const GraphOptions& o) {
  if (o.width < 100 || o.width > 4000 || o.height < 60 || o.height > 4000) {
    return absl::InvalidArgumentError(
        "width must be 100 to 4000 and height 60 to 4000 pixels");
  }
  std::string out;
  cairo_surface_t* surface = nullptr;
  switch (o.format) {
    case GraphOptions::kSvg:
      surface =
          cairo_svg_surface_create_for_stream(&Append, &out, o.width, o.height);
      break;
    case GraphOptions::kPdf:
      surface =
          cairo_pdf_surface_create_for_stream(&Append, &out, o.width, o.height);
      break;
    case GraphOptions::kPng:
      surface =
          cairo_image_surface_create(CAIRO_FORMAT_ARGB32, o.width, o.height);
      break;
  }
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    return absl::InternalError("cannot create the drawing surface");
  }
  cairo_t* cr = cairo_create(surface);
  Draw(cr, result, markers, o);
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  if (o.format == GraphOptions::kPng && status == CAIRO_STATUS_SUCCESS) {
    status = cairo_surface_write_to_png_stream(surface, &Append, &out);
  }
  cairo_surface_finish(surface);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("drawing failed: ", cairo_status_to_string(status)));
  }
  return out;
}

}  // namespace canopy
