// Server-drawn charts with cairo: the layout (title, a legend that wraps,
// axes from graph_axis.h), the series (lines, bars, stacked areas) and the
// markers. See server/handlers/graph_render.h. Pure; the trend thread runs
// it in canopyd.
#include "server/handlers/graph_render.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/key.h"
#include "server/handlers/graph_axis.h"

namespace canopy {
namespace {

struct Rgb {
  double r, g, b;
};

constexpr Rgb kPalette[] = {{0.18, 0.45, 0.85}, {0.90, 0.45, 0.10},
                            {0.20, 0.65, 0.30}, {0.80, 0.20, 0.25},
                            {0.55, 0.35, 0.75}, {0.10, 0.65, 0.70},
                            {0.75, 0.60, 0.10}, {0.45, 0.45, 0.45},
                            {0.85, 0.40, 0.65}, {0.50, 0.60, 0.20}};

Rgb Colour(size_t i) { return kPalette[i % std::size(kPalette)]; }

cairo_status_t Append(void* closure, const unsigned char* data,
                      unsigned int length) {
  static_cast<std::string*>(closure)->append(
      reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// Text on the chart: measured, cut to fit, drawn, and recorded.
class Painter {
 public:
  Painter(cairo_t* cr, std::vector<GraphText>* texts)
      : cr_(cr), texts_(texts) {}

  void Size(double size) { cairo_set_font_size(cr_, size); }

  double Width(const std::string& s) {
    cairo_text_extents_t ext;
    cairo_text_extents(cr_, s.c_str(), &ext);
    return ext.x_advance;
  }

  // `s` as valid UTF-8 (cairo refuses anything else), cut at a character
  // boundary with "…" when it is wider than `max` pixels.
  std::string Fit(absl::string_view s, double max) {
    std::string text = IsValidUtf8(s) ? std::string(s) : RepairUtf8(s);
    if (Width(text) <= max) return text;
    std::vector<size_t> cuts;  // character boundaries
    for (size_t i = 1; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        cuts.push_back(i);
      }
    }
    size_t lo = 0, hi = cuts.size();  // the longest prefix that fits
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      if (Width(absl::StrCat(text.substr(0, cuts[mid - 1]), "\u2026")) <= max) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo == 0 ? "\u2026"
                   : absl::StrCat(text.substr(0, cuts[lo - 1]), "\u2026");
  }

  // Draws `s` (valid UTF-8) from `x` on the baseline `y`.
  void Text(GraphText::Role role, const std::string& s, double x, double y) {
    cairo_move_to(cr_, x, y);
    cairo_show_text(cr_, s.c_str());
    if (texts_ != nullptr) {
      cairo_font_extents_t font;
      cairo_font_extents(cr_, &font);
      texts_->push_back(GraphText{role, s, x, y - font.ascent, Width(s),
                                  font.ascent + font.descent});
    }
  }

 private:
  cairo_t* cr_;
  std::vector<GraphText>* texts_;
};

// The series' names in the legend: their keys without the segments all of
// them share (the title says those), each keeping one segment at least.
std::vector<std::string> LegendNames(const std::vector<TrendSeries>& series) {
  std::vector<std::vector<std::string>> segs;
  for (const TrendSeries& s : series) {
    segs.push_back(absl::StrSplit(s.key, ','));
  }
  size_t common = 0;
  if (series.size() > 1) {
    size_t shortest = SIZE_MAX;
    for (const auto& k : segs) shortest = std::min(shortest, k.size());
    while (common + 1 < shortest) {
      bool same = true;
      for (const auto& k : segs) same = same && k[common] == segs[0][common];
      if (!same) break;
      ++common;
    }
  }
  std::vector<std::string> names;
  for (const auto& k : segs) {
    names.push_back(absl::StrJoin(k.begin() + common, k.end(), ","));
  }
  return names;
}

struct LegendPlace {
  size_t series;
  std::string name;
  double x;
  int row;
};

constexpr double kSwatch = 10, kSwatchGap = 4, kEntryGap = 14;

// Lays the legend out in rows between x0 and x1, at most `max_rows`; the
// entries that do not fit are counted in *hidden.
std::vector<LegendPlace> LayOutLegend(Painter& p,
                                      const std::vector<std::string>& names,
                                      double x0, double x1, int max_rows,
                                      size_t* hidden) {
  std::vector<LegendPlace> places;
  *hidden = 0;
  double x = x0;
  int row = 0;
  const double widest = x1 - x0 - kSwatch - kSwatchGap;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name = p.Fit(names[i], widest);
    const double ew = kSwatch + kSwatchGap + p.Width(name);
    if (x > x0 && x + ew > x1) {
      ++row;
      x = x0;
    }
    if (row >= max_rows) {
      *hidden = names.size() - i;
      break;
    }
    places.push_back(LegendPlace{i, std::move(name), x, row});
    x += ew + kEntryGap;
  }
  // "+N more" after the last entry shown, in room made for it.
  while (*hidden > 0 && !places.empty()) {
    const LegendPlace& last = places.back();
    const double end = last.x + kSwatch + kSwatchGap + p.Width(last.name);
    const std::string more = absl::StrCat("+", *hidden, " more");
    if (end + kEntryGap + p.Width(more) <= x1) break;
    places.pop_back();
    ++*hidden;
  }
  return places;
}

// The series on one timeline, for stacking: every time any series has a
// point, each series' value there (0 where it has none), and the sums.
struct Stack {
  std::vector<int64_t> times;
  std::vector<std::vector<double>> top;  // top[i][k]: series 0..i summed
};

Stack StackSeries(const std::vector<TrendSeries>& series) {
  Stack s;
  for (const TrendSeries& ts : series) {
    for (const auto& [t, v] : ts.points) s.times.push_back(t);
  }
  std::sort(s.times.begin(), s.times.end());
  s.times.erase(std::unique(s.times.begin(), s.times.end()), s.times.end());
  std::vector<double> below(s.times.size(), 0);
  for (const TrendSeries& ts : series) {
    std::vector<double> top = below;
    for (const auto& [t, v] : ts.points) {
      if (!std::isfinite(v)) continue;
      const size_t k =
          std::lower_bound(s.times.begin(), s.times.end(), t) - s.times.begin();
      top[k] = below[k] + v;
    }
    s.top.push_back(top);
    below = std::move(top);
  }
  return s;
}

void Draw(cairo_t* cr, const TrendResult& result,
          const std::vector<GraphMarker>& markers, const GraphOptions& o,
          std::vector<GraphText>* texts) {
  const double w = o.width, h = o.height;
  const Rgb bg = o.dark ? Rgb{0.11, 0.12, 0.14} : Rgb{1, 1, 1};
  const Rgb fg = o.dark ? Rgb{0.85, 0.86, 0.88} : Rgb{0.15, 0.15, 0.15};
  const Rgb grid = o.dark ? Rgb{0.25, 0.26, 0.29} : Rgb{0.88, 0.88, 0.88};
  auto source = [&](const Rgb& c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); };
  source(bg);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         CAIRO_FONT_WEIGHT_NORMAL);
  Painter p(cr, texts);
  const std::vector<TrendSeries>& series = result.series;
  constexpr double kMargin = 8, kRight = 14, kBottom = 22;

  // Title, then the legend in as many rows as it needs.
  double y = kMargin;
  if (!o.title.empty()) {
    source(fg);
    p.Size(12);
    p.Text(GraphText::kTitle, p.Fit(o.title, w - 2 * kMargin), kMargin, y + 11);
    y += 17;
  }
  const std::vector<std::string> names = LegendNames(series);
  double font = 11, row_h = 15;
  size_t hidden = 0;
  std::vector<LegendPlace> legend;
  const double legend_room = std::max(row_h, (h - y) / 3);
  for (double size : {11.0, 9.0}) {
    font = size;
    row_h = size + 4;
    p.Size(font);
    legend = LayOutLegend(p, names, kMargin, w - kMargin,
                          std::max(1, static_cast<int>(legend_room / row_h)),
                          &hidden);
    if (hidden == 0) break;
  }
  int rows = 0;
  for (const LegendPlace& e : legend) {
    const Rgb c = Colour(e.series);
    const double row_top = y + e.row * row_h;
    source(c);
    cairo_rectangle(cr, e.x, row_top + (row_h - kSwatch) / 2, kSwatch, kSwatch);
    cairo_fill(cr);
    source(fg);
    p.Text(GraphText::kLegend, e.name, e.x + kSwatch + kSwatchGap,
           row_top + font);
    rows = std::max(rows, e.row + 1);
  }
  if (hidden > 0 && !legend.empty()) {
    const LegendPlace& last = legend.back();
    source(fg);
    p.Text(GraphText::kLegend, absl::StrCat("+", hidden, " more"),
           last.x + kSwatch + kSwatchGap + p.Width(last.name) + kEntryGap,
           y + last.row * row_h + font);
  }
  y += rows * row_h;
  const double top = y + 8;
  const double ph = std::max(10.0, h - top - kBottom);

  // The values' range: stacked for areas, from 0 for bars and areas.
  Stack stack;
  if (o.style == GraphOptions::kArea) stack = StackSeries(series);
  double lo = INFINITY, hi = -INFINITY;
  if (o.style == GraphOptions::kArea) {
    for (const auto& top_line : stack.top) {
      for (double v : top_line) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
  } else {
    for (const TrendSeries& s : series) {
      for (const auto& [t, v] : s.points) {
        if (!std::isfinite(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
  }
  const bool empty = !(lo <= hi);
  if (empty) {
    lo = 0;
    hi = 1;
  }
  if (o.style != GraphOptions::kLine) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  p.Size(11);
  const ValueAxis axis =
      MakeValueAxis(lo, hi, std::max(2, static_cast<int>(ph / 32) + 1), o.unit);
  double label_w = 0;
  for (const std::string& l : axis.labels) {
    label_w = std::max(label_w, p.Width(l));
  }
  const double left = std::min(std::max(30.0, label_w + 12), w / 2);
  const double pw = std::max(10.0, w - left - kRight);
  const double from = static_cast<double>(o.from);
  const double span = std::max<double>(1, static_cast<double>(o.to - o.from));
  auto X = [&](double t) { return left + (t - from) / span * pw; };
  auto Y = [&](double v) {
    return top + (axis.hi - v) / (axis.hi - axis.lo) * ph;
  };

  // The value axis: a line and a label per tick.
  cairo_set_line_width(cr, 1);
  for (size_t i = 0; i < axis.ticks.size(); ++i) {
    const double ty = std::round(Y(axis.ticks[i])) + 0.5;
    source(grid);
    cairo_move_to(cr, left, ty);
    cairo_line_to(cr, left + pw, ty);
    cairo_stroke(cr);
    const std::string label = p.Fit(axis.labels[i], left - 8);
    source(fg);
    p.Text(GraphText::kValueLabel, label, left - 6 - p.Width(label), ty + 4);
  }
  // The time axis: labels centred on their ticks, none cut by the edges
  // nor running into the one before.
  const TimeAxis times =
      MakeTimeAxis(o.from, o.to, std::max(2, static_cast<int>(pw / 70)));
  double prev_right = -INFINITY;
  for (size_t i = 0; i < times.ticks.size(); ++i) {
    const double tx = std::round(X(static_cast<double>(times.ticks[i]))) + 0.5;
    source(grid);
    cairo_move_to(cr, tx, top);
    cairo_line_to(cr, tx, top + ph);
    cairo_stroke(cr);
    const double lw = p.Width(times.labels[i]);
    const double lx = tx - lw / 2;
    if (lx < 2 || lx + lw > w - 2 || lx < prev_right + 8) continue;
    source(fg);
    p.Text(GraphText::kTimeLabel, times.labels[i], lx, top + ph + 15);
    prev_right = lx + lw;
  }

  // The series, inside the plot.
  cairo_save(cr);
  cairo_rectangle(cr, left, top, pw, ph);
  cairo_clip(cr);
  const double step_px = result.step > 0 ? result.step / span * pw : 2;
  // A gap wider than two steps and than a twentieth of the range breaks a
  // line or an area (sparse data at a fine step still draws as a line).
  const double max_gap = std::max(2.0 * result.step, span / 20);
  auto mid = [&](int64_t t) {
    return X(static_cast<double>(t) + result.step / 2.0);
  };
  if (o.style == GraphOptions::kArea) {
    // Each series a band from the sum of the ones before to its own top.
    const size_t n = stack.times.size();
    for (size_t i = 0; i < stack.top.size(); ++i) {
      const Rgb c = Colour(i);
      const std::vector<double>& upper = stack.top[i];
      const std::vector<double>* lower = i > 0 ? &stack.top[i - 1] : nullptr;
      auto base = [&](size_t k) { return lower ? (*lower)[k] : 0.0; };
      size_t a = 0;
      while (a < n) {
        size_t b = a;
        while (b + 1 < n && static_cast<double>(stack.times[b + 1] -
                                                stack.times[b]) <= max_gap) {
          ++b;
        }
        // A lone time is a bar a step wide (at least 2 pixels).
        const double pad = a == b ? std::max(1.0, step_px / 2) : 0;
        cairo_new_path(cr);
        cairo_move_to(cr, mid(stack.times[a]) - pad, Y(upper[a]));
        for (size_t k = a; k <= b; ++k) {
          cairo_line_to(cr, mid(stack.times[k]) - pad, Y(upper[k]));
        }
        if (pad > 0) cairo_line_to(cr, mid(stack.times[b]) + pad, Y(upper[b]));
        cairo_line_to(cr, mid(stack.times[b]) + pad, Y(base(b)));
        for (size_t k = b + 1; k-- > a;) {
          cairo_line_to(cr, mid(stack.times[k]) - (k == a ? pad : 0),
                        Y(base(k)));
        }
        cairo_close_path(cr);
        cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.55);
        cairo_fill(cr);
        // Its top edge, solid.
        cairo_new_path(cr);
        cairo_move_to(cr, mid(stack.times[a]) - pad, Y(upper[a]));
        for (size_t k = a; k <= b; ++k) {
          cairo_line_to(cr, mid(stack.times[k]), Y(upper[k]));
        }
        if (pad > 0) cairo_line_to(cr, mid(stack.times[b]) + pad, Y(upper[b]));
        source(c);
        cairo_set_line_width(cr, 1.4);
        cairo_stroke(cr);
        a = b + 1;
      }
    }
  } else {
    for (size_t i = 0; i < series.size(); ++i) {
      const Rgb c = Colour(i);
      const auto& pts = series[i].points;
      if (pts.empty()) continue;
      if (o.style == GraphOptions::kBar) {
        const double bw = std::max(1.0, step_px * 0.8 / series.size());
        source(c);
        for (const auto& [t, v] : pts) {
          if (!std::isfinite(v)) continue;
          const double x = X(static_cast<double>(t)) + bw * i;
          cairo_rectangle(cr, x, Y(std::max(v, 0.0)), bw,
                          std::fabs(Y(v) - Y(0)));
        }
        cairo_fill(cr);
        continue;
      }
      cairo_new_path(cr);
      bool started = false;
      int64_t prev_t = 0;
      source(c);
      cairo_set_line_width(cr, 1.6);
      for (size_t k = 0; k < pts.size(); ++k) {
        const auto& [t, v] = pts[k];
        if (!std::isfinite(v)) continue;
        const double x = mid(t), py = Y(v);
        const bool alone =
            (k == 0 || t - pts[k - 1].first > max_gap) &&
            (k + 1 == pts.size() || pts[k + 1].first - t > max_gap);
        if (alone) {
          // A lone point is a dot.
          cairo_new_sub_path(cr);
          cairo_arc(cr, x, py, 2, 0, 2 * M_PI);
          cairo_fill(cr);
        }
        if (!started || static_cast<double>(t - prev_t) > max_gap) {
          if (started) cairo_stroke(cr);
          cairo_move_to(cr, x, py);
          started = true;
        } else {
          cairo_line_to(cr, x, py);
        }
        prev_t = t;
      }
      cairo_stroke(cr);
    }
  }
  // Markers: dashed verticals with their text.
  const double dash[] = {4, 3};
  p.Size(11);
  for (const GraphMarker& m : markers) {
    if (m.time < o.from || m.time > o.to) continue;
    const double x = std::round(X(static_cast<double>(m.time))) + 0.5;
    cairo_set_source_rgb(cr, 0.85, 0.25, 0.25);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, top + ph);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    p.Text(GraphText::kMarker, p.Fit(m.text, std::max(40.0, left + pw - x - 6)),
           x + 3, top + 12);
  }
  cairo_restore(cr);

  if (empty) {
    p.Size(13);
    source(fg);
    const std::string none = "no data";
    p.Text(GraphText::kNote, none, left + (pw - p.Width(none)) / 2,
           top + ph / 2);
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
                                        const GraphOptions& o,
                                        std::vector<GraphText>* texts) {
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
  if (texts != nullptr) texts->clear();
  Draw(cr, result, markers, o, texts);
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
