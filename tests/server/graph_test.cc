// Server-drawn charts (cairo) and named views.
#include <cairo.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/handlers/graph_render.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

TrendResult Sample() {
  TrendResult r;
  r.step = 60;
  TrendSeries a{"web,hits", {}}, b{"web,errors", {}};
  for (int i = 0; i < 60; ++i) {
    a.points.emplace_back(1700000000 + i * 60, 100 + 50 * std::sin(i / 5.0));
    b.points.emplace_back(1700000000 + i * 60, 10 + i % 7);
  }
  r.series = {a, b};
  return r;
}

struct Reader {
  const std::string* data;
  size_t pos = 0;
};

cairo_status_t ReadPng(void* closure, unsigned char* out, unsigned int n) {
  Reader* r = static_cast<Reader*>(closure);
  if (r->pos + n > r->data->size()) return CAIRO_STATUS_READ_ERROR;
  std::memcpy(out, r->data->data() + r->pos, n);
  r->pos += n;
  return CAIRO_STATUS_SUCCESS;
}

GraphOptions Options(GraphOptions::Format f) {
  GraphOptions o;
  o.format = f;
  o.width = 640;
  o.height = 240;
  o.from = 1700000000;
  o.to = 1700000000 + 3600;
  o.title = "web";
  return o;
}

TEST(GraphTest, PngDecodesWithTheAskedSizeAndIsNotBlank) {
  for (GraphOptions::Style style :
       {GraphOptions::kLine, GraphOptions::kBar, GraphOptions::kArea}) {
    GraphOptions o = Options(GraphOptions::kPng);
    o.style = style;
    absl::StatusOr<std::string> png =
        RenderGraph(Sample(), {{1700001800, "deploy"}}, o);
    ASSERT_TRUE(png.ok()) << png.status();
    Reader reader{&*png};
    cairo_surface_t* img =
        cairo_image_surface_create_from_png_stream(&ReadPng, &reader);
    ASSERT_EQ(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    EXPECT_EQ(cairo_image_surface_get_width(img), 640);
    EXPECT_EQ(cairo_image_surface_get_height(img), 240);
    // Count the pixels of the first series' blue: a drawn line has many.
    cairo_surface_flush(img);
    const unsigned char* data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    int colored = 0, non_white = 0;
    for (int y = 0; y < 240; ++y) {
      const uint32_t* row =
          reinterpret_cast<const uint32_t*>(data + y * stride);
      for (int x = 0; x < 640; ++x) {
        uint32_t p = row[x];
        int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
        if (p != 0xffffffff) ++non_white;
        if (b > 150 && r < 120 && g < 160) ++colored;
      }
    }
    cairo_surface_destroy(img);
    EXPECT_GT(non_white, 2000) << "style " << style;
    EXPECT_GT(colored, 300) << "style " << style;
  }
}

TEST(GraphTest, SvgAndPdfAndDarkTheme) {
  GraphOptions o = Options(GraphOptions::kSvg);
  o.dark = true;
  absl::StatusOr<std::string> svg = RenderGraph(Sample(), {}, o);
  ASSERT_TRUE(svg.ok());
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  EXPECT_NE(svg->find("width=\"640\""), std::string::npos);
  o.format = GraphOptions::kPdf;
  absl::StatusOr<std::string> pdf = RenderGraph(Sample(), {}, o);
  ASSERT_TRUE(pdf.ok());
  EXPECT_EQ(pdf->substr(0, 5), "%PDF-");
  // No data still draws a chart that says so.
  EXPECT_TRUE(RenderGraph(TrendResult(), {}, Options(GraphOptions::kPng)).ok());
  GraphOptions tiny = Options(GraphOptions::kPng);
  tiny.width = 5;
  EXPECT_FALSE(RenderGraph(Sample(), {}, tiny).ok());
}

// What a chart says: the texts it drew, by role.
std::vector<std::string> TextsOf(const std::vector<GraphText>& texts,
                                 GraphText::Role role) {
  std::vector<std::string> out;
  for (const GraphText& t : texts) {
    if (t.role == role) out.push_back(t.text);
  }
  return out;
}

// No text runs into another, nor past the chart's edges.
void ExpectNoOverlap(const std::vector<GraphText>& texts, double w, double h) {
  for (size_t i = 0; i < texts.size(); ++i) {
    const GraphText& a = texts[i];
    EXPECT_GE(a.x, 0) << a.text;
    EXPECT_LE(a.x + a.width, w) << a.text;
    EXPECT_GE(a.y, 0) << a.text;
    EXPECT_LE(a.y + a.height, h) << a.text;
    for (size_t j = i + 1; j < texts.size(); ++j) {
      const GraphText& b = texts[j];
      if (a.role == GraphText::kMarker || b.role == GraphText::kMarker) {
        continue;  // drawn over the plot on purpose
      }
      const bool apart = a.x + a.width <= b.x || b.x + b.width <= a.x ||
                         a.y + a.height <= b.y || b.y + b.height <= a.y;
      EXPECT_TRUE(apart) << "\"" << a.text << "\" and \"" << b.text << "\"";
    }
  }
}

TrendResult Series(const std::vector<std::string>& keys, double base) {
  TrendResult r;
  r.step = 60;
  for (size_t i = 0; i < keys.size(); ++i) {
    TrendSeries s{keys[i], {}};
    for (int k = 0; k < 60; ++k) {
      s.points.emplace_back(1700000000 + k * 60,
                            base * (i + 1) * (1.2 + std::sin(k / 7.0)));
    }
    r.series.push_back(s);
  }
  return r;
}

TEST(GraphTest, ValueLabelsAreRoundFiguresWithTheUnit) {
  GraphOptions o = Options(GraphOptions::kSvg);
  o.unit = "bytes";
  std::vector<GraphText> texts;
  // Figures like 94.18 MiB in the data; round ticks on the axis.
  ASSERT_TRUE(
      RenderGraph(Series({"mem,used"}, 41.09 * 1048576), {}, o, &texts).ok());
  const std::vector<std::string> labels =
      TextsOf(texts, GraphText::kValueLabel);
  ASSERT_GE(labels.size(), 3u);
  const std::regex round(R"(0 B|(\d+) (B|KiB|MiB|GiB))");
  for (const std::string& l : labels) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, round)) << l;
  }
  EXPECT_EQ(labels.front(), "0 B");
  ExpectNoOverlap(texts, o.width, o.height);
  // Negative figures, no unit: whole steps.
  TrendResult r;
  r.step = 60;
  r.series.push_back({"x", {{1700000000, -3.014}, {1700000060, 94.18}}});
  o.unit = "";
  ASSERT_TRUE(RenderGraph(r, {}, o, &texts).ok());
  for (const std::string& l : TextsOf(texts, GraphText::kValueLabel)) {
    EXPECT_TRUE(std::regex_match(l, std::regex(R"(-?\d+)"))) << l;
  }
}

TEST(GraphTest, TimeLabelsAreOnA24HourClockClearOfTheValueLabels) {
  GraphOptions o = Options(GraphOptions::kSvg);
  o.from = 1700000000;  // 22:13:20 UTC
  o.to = o.from + 3 * 3600;
  o.unit = "percent";
  std::vector<GraphText> texts;
  ASSERT_TRUE(RenderGraph(Series({"cpu"}, 20), {}, o, &texts).ok());
  const std::vector<std::string> times = TextsOf(texts, GraphText::kTimeLabel);
  ASSERT_GE(times.size(), 3u);
  EXPECT_EQ(times.front(), "22:30");
  for (const std::string& t : times) {
    EXPECT_TRUE(std::regex_match(t, std::regex(R"(\d\d:\d\d|\d\d-\d\d)"))) << t;
  }
  ExpectNoOverlap(texts, o.width, o.height);
}

TEST(GraphTest, TheLegendShowsEverySeriesInAsManyRowsAsItNeeds) {
  std::vector<std::string> keys;
  for (const char* k : {"user", "nice", "system", "idle", "iowait", "irq",
                        "softirq", "steal"}) {
    keys.push_back(absl::StrCat("host,web-frontend-01,cpu,", k));
  }
  for (int width : {640, 300}) {
    GraphOptions o = Options(GraphOptions::kPng);
    o.width = width;
    o.title = "host,web-frontend-01,cpu";
    o.unit = "percent";
    std::vector<GraphText> texts;
    ASSERT_TRUE(RenderGraph(Series(keys, 3), {}, o, &texts).ok());
    std::vector<std::string> legend = TextsOf(texts, GraphText::kLegend);
    // Each entry, by the segments that tell the series apart.
    std::vector<std::string> want = {"user",   "nice", "system",  "idle",
                                     "iowait", "irq",  "softirq", "steal"};
    EXPECT_EQ(legend, want) << width;
    ExpectNoOverlap(texts, o.width, o.height);
  }
  // More series than room: smaller type, then "+N more"; nothing cut.
  keys.clear();
  for (int i = 0; i < 60; ++i) keys.push_back(absl::StrCat("disk,sd", i));
  GraphOptions o = Options(GraphOptions::kPng);
  o.width = 320;
  o.height = 160;
  std::vector<GraphText> texts;
  ASSERT_TRUE(RenderGraph(Series(keys, 1), {}, o, &texts).ok());
  std::vector<std::string> legend = TextsOf(texts, GraphText::kLegend);
  ASSERT_GE(legend.size(), 2u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(legend.back(), m, std::regex(R"(\+(\d+) more)")))
      << legend.back();
  EXPECT_EQ(legend.size() - 1 + std::stoul(m[1]), keys.size());
  ExpectNoOverlap(texts, o.width, o.height);
}

TEST(GraphTest, AreasStackEachSeriesOnTheOnesBefore) {
  // Two flat series, 10 and 30: stacked, the second is a band from 10 to
  // 40, above the first (0 to 10) and three times as tall.
  TrendResult r;
  r.step = 60;
  TrendSeries a{"a", {}}, b{"b", {}};
  for (int k = 0; k < 60; ++k) {
    a.points.emplace_back(1700000000 + k * 60, 10);
    b.points.emplace_back(1700000000 + k * 60, 30);
  }
  r.series = {a, b};
  GraphOptions o = Options(GraphOptions::kPng);
  o.style = GraphOptions::kArea;
  o.title.clear();
  absl::StatusOr<std::string> png = RenderGraph(r, {}, o);
  ASSERT_TRUE(png.ok());
  Reader reader{&*png};
  cairo_surface_t* img =
      cairo_image_surface_create_from_png_stream(&ReadPng, &reader);
  ASSERT_EQ(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
  cairo_surface_flush(img);
  const unsigned char* data = cairo_image_surface_get_data(img);
  const int stride = cairo_image_surface_get_stride(img);
  // Down the middle column: the first series' blue, the second's orange.
  const int x = 320;
  int blue_top = 1 << 30, blue_bottom = -1, orange_top = 1 << 30,
      orange_bottom = -1;
  for (int y = 0; y < 240; ++y) {
    const uint32_t p = reinterpret_cast<const uint32_t*>(data + y * stride)[x];
    const int red = (p >> 16) & 0xff, blue = p & 0xff;
    if (blue > red + 40) {
      blue_top = std::min(blue_top, y);
      blue_bottom = std::max(blue_bottom, y);
    } else if (red > blue + 40) {
      orange_top = std::min(orange_top, y);
      orange_bottom = std::max(orange_bottom, y);
    }
  }
  cairo_surface_destroy(img);
  ASSERT_GE(blue_bottom, 0);
  ASSERT_GE(orange_bottom, 0);
  // Orange wholly above blue (y grows downwards), touching it.
  EXPECT_LT(orange_bottom, blue_top + 2);
  EXPECT_GE(orange_bottom, blue_top - 2);
  const double blue_h = blue_bottom - blue_top + 1;
  const double orange_h = orange_bottom - orange_top + 1;
  EXPECT_NEAR(orange_h / blue_h, 3.0, 0.35) << blue_h << " " << orange_h;
}

TEST(GraphTest, AnyUnitAndMarkerTextIsDrawnAsItIs) {
  GraphOptions o = Options(GraphOptions::kSvg);
  o.unit = "<b>&amp;\"";
  std::vector<GraphText> texts;
  const std::string cut_in_a_character =
      std::string("d\xc3\xa9ploy ") + std::string(60, 'x') + "\xc3";
  absl::StatusOr<std::string> svg = RenderGraph(
      Series({"t"}, 5), {{1700001800, cut_in_a_character}}, o, &texts);
  ASSERT_TRUE(svg.ok()) << svg.status();
  const std::vector<std::string> labels =
      TextsOf(texts, GraphText::kValueLabel);
  ASSERT_FALSE(labels.empty());
  EXPECT_NE(labels.back().find(" <b>&amp;\""), std::string::npos)
      << labels.back();
  // The SVG draws glyphs: no text of ours is markup in it.
  EXPECT_EQ(svg->find("<b>"), std::string::npos);
  // Every text is valid UTF-8 (cairo refuses anything else).
  for (const GraphText& t : texts) EXPECT_TRUE(IsValidUtf8(t.text)) << t.text;
}

// The texts of a PDF as pdftotext reads them (poppler-utils, in
// scripts/deps.sh): what a reader of the chart sees.
std::string PdfText(const std::string& pdf) {
  const std::string dir = testing::MakeTempDir();
  const std::string in = dir + "/chart.pdf", out = dir + "/chart.txt";
  {
    std::ofstream f(in, std::ios::binary);
    f << pdf;
  }
  std::string text;
  if (std::system(("pdftotext " + in + " " + out).c_str()) == 0) {
    std::ifstream f(out);
    text.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::filesystem::remove_all(dir);
  return text;
}

bool HavePdfToText() {
  return std::system("command -v pdftotext >/dev/null 2>&1") == 0;
}

TEST(GraphTest, ThePdfReadsTheLabelsAndEveryLegendEntry) {
  if (!HavePdfToText()) GTEST_SKIP() << "pdftotext not installed";
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(absl::StrCat("host,h1,net,eth", i, ",rx_bytes"));
  }
  GraphOptions o = Options(GraphOptions::kPdf);
  o.title = "host,h1,net";
  o.unit = "bytes/s";
  o.style = GraphOptions::kArea;
  absl::StatusOr<std::string> pdf = RenderGraph(Series(keys, 5e5), {}, o);
  ASSERT_TRUE(pdf.ok());
  const std::string text = PdfText(*pdf);
  for (int i = 0; i < 8; ++i) {
    EXPECT_NE(text.find(absl::StrCat("eth", i, ",rx_bytes")), std::string::npos)
        << i << "\n"
        << text;
  }
  EXPECT_NE(text.find("MiB/s"), std::string::npos) << text;
  EXPECT_NE(text.find("0 B/s"), std::string::npos) << text;
}

class GraphServerTest : public ::testing::Test {
 protected:
  void Start(std::string dir = "") {
    auto s = testing::ServerProcess::Start({}, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  HttpReply Do(const std::string& method, const std::string& target,
               const std::string& body = "") {
    auto r = server_->Client().Request(method, target, body);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : HttpReply();
  }
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(GraphServerTest, GraphEndpointAnswersImages) {
  Start();
  Do("POST", "/push", R"({"g": {"a": 1}})");
  HttpReply png = Do("GET", "/graph/g.png?from=-1h&width=300&height=120");
  EXPECT_EQ(png.status, 200);
  EXPECT_EQ(png.Header("content-type"), "image/png");
  EXPECT_EQ(png.body.substr(1, 3), "PNG");
  EXPECT_EQ(
      Do("GET", "/graph/g.svg?style=area&theme=dark").Header("content-type"),
      "image/svg+xml");
  EXPECT_EQ(Do("GET", "/graph/g.gif").status, 400);
  EXPECT_EQ(Do("GET", "/graph/g.png?style=pie").status, 400);
  EXPECT_EQ(Do("GET", "/graph/g.png?width=99999").status, 400);
}

TEST_F(GraphServerTest, TheChartsAxisCarriesTheLeafsUnit) {
  if (!HavePdfToText()) GTEST_SKIP() << "pdftotext not installed";
  Start();
  const int64_t now = time(nullptr);
  const int64_t base = now - now % 60 - 3600;  // an hour ago, on a minute
  for (int i = 0; i < 30; ++i) {
    HttpReply r = Do("POST", "/push",
                     absl::StrCat(R"({"time": )", base + i * 60,
                                  R"(, "app": {"unit": "bytes", "heap": )",
                                  (100 + i) * 1048576.0, R"(, "stack": )",
                                  5e6 + i * 1e5, "}}"));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  const std::string range =
      absl::StrCat("from=", base, "&to=", base + 1800, "&step=60");
  ASSERT_TRUE(testing::WaitFor([&] {
    return Do("GET", "/trend?key=app,*&" + range).body.find("app,stack") !=
           std::string::npos;
  }));
  HttpReply pdf =
      Do("GET", "/graph/app,*.pdf?style=area&width=640&height=260&" + range);
  ASSERT_EQ(pdf.status, 200) << pdf.body;
  const std::string text = PdfText(pdf.body);
  EXPECT_NE(text.find("MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("heap"), std::string::npos) << text;
  EXPECT_NE(text.find("stack"), std::string::npos) << text;
  // Counted, the samples have no unit of bytes.
  pdf = Do("GET", "/graph/app,*.pdf?fn=count&" + range);
  EXPECT_EQ(PdfText(pdf.body).find("MiB"), std::string::npos);
}

TEST_F(GraphServerTest, ViewsSurviveARestart) {
  std::string dir = testing::MakeTempDir();
  Start(dir);
  EXPECT_EQ(
      Do("PUT", "/api/views/web", R"({"title": "Web", "keys": ["web,**"]})")
          .status,
      200);
  HttpReply bad = Do("PUT", "/api/views/web", R"({"keys": "web"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("keys"), std::string::npos);
  server_.reset();
  Start(dir);
  HttpReply all = Do("GET", "/api/views");
  rapidjson::Document d;
  d.Parse(all.body.c_str());
  ASSERT_EQ(d["views"].Size(), 1u);
  EXPECT_STREQ(d["views"][0]["title"].GetString(), "Web");
  EXPECT_EQ(Do("GET", "/api/views/web").status, 200);
  EXPECT_EQ(Do("DELETE", "/api/views/web").status, 200);
  EXPECT_EQ(Do("GET", "/api/views/web").status, 404);
  server_.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace canopy
