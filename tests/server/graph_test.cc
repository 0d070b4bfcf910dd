// Server-drawn charts (cairo) and named views.
#include <cairo.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

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
