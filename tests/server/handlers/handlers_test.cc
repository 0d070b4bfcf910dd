// The HTTP handlers as plain functions: a Request in, a Response (or a
// Deferred, or a Hold) out, against a real Tree and no socket.
#include "server/handlers/handlers.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/handlers/figures.h"
#include "server/handlers/view_store.h"
#include "server/ingest/line_ingest.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

class HandlersTest : public ::testing::Test {
 protected:
  HandlersTest() : tree_(Tree::Options()), lines_(&tree_, &stats_) {}

  HandlerContext Ctx() {
    HandlerContext ctx;
    ctx.tree = &tree_;
    ctx.stats = &stats_;
    ctx.options = &options_;
    ctx.now = now_;
    ctx.lines = &lines_;
    return ctx;
  }

  static Request Get(
      std::string path,
      std::vector<std::pair<std::string, std::string>> query = {}) {
    Request r;
    r.method = "GET";
    r.path = path;
    r.raw_path = path;
    r.query = std::move(query);
    return r;
  }

  static Request Post(std::string path, std::string type, std::string body) {
    Request r = Get(std::move(path));
    r.method = "POST";
    r.content_type = std::move(type);
    r.body = std::move(body);
    return r;
  }

  // Pushes `json` through HandlePush; the leaves accepted.
  size_t Push(const std::string& json) {
    HandlerContext ctx = Ctx();
    absl::StatusOr<Response> r =
        HandlePush(Post("/push", "application/json", json), ctx);
    EXPECT_TRUE(r.ok()) << r.status();
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    return d["accepted"].GetUint64();
  }

  static rapidjson::Document Json(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    EXPECT_FALSE(d.HasParseError()) << body;
    return d;
  }

  Tree tree_;
  Stats stats_;
  ServerOptions options_;
  LineIngest lines_;
  int64_t now_ = time(nullptr);
};

TEST_F(HandlersTest, PushJsonIsAppliedAndCounted) {
  EXPECT_EQ(Push(R"({"web": {"hits": 3, "bytes": 10}})"), 2u);
  EXPECT_EQ(stats_.accepted["http"], 2u);
  EXPECT_EQ(stats_.pushes, 1u);
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> r = HandleGet(Get("/get", {{"key", "web"}}), ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"seq":1,"items":[{"web,bytes":10},{"web,hits":3}]})");
}

TEST_F(HandlersTest, BadJsonChangesNothingAndSaysWhere) {
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> r = HandlePush(
      Post("/push", "application/json", "{\"a\": 1,\n \"b\": }"), ctx);
  ASSERT_FALSE(r.ok());
  Response e = ErrorResponse(r.status());
  EXPECT_EQ(e.status, 400);
  rapidjson::Document d = Json(e.body);
  EXPECT_EQ(d["line"].GetInt(), 2);
  EXPECT_GT(d["column"].GetInt(), 0);
  EXPECT_EQ(tree_.leaf_count(), 0u);
  EXPECT_EQ(stats_.rejected["http"]["json"], 1u);
}

TEST_F(HandlersTest, FormPushesAndLinesAndUnknownTypes) {
  HandlerContext ctx = Ctx();
  Request form = Post("/push", "application/x-www-form-urlencoded", "");
  form.query = {{"json", R"({"f": 1})"}};
  ASSERT_TRUE(HandlePush(form, ctx).ok());
  absl::StatusOr<Response> lines = HandlePush(
      Post("/push", "text/plain", "web.hits:2|c\nservers.a.load 0.5 1\n"), ctx);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(Json(lines->body)["accepted"].GetUint64(), 2u);
  // A bad line makes the whole text/plain body change nothing.
  size_t before = tree_.leaf_count();
  absl::StatusOr<Response> bad =
      HandlePush(Post("/push", "text/plain", "ok.line:1|c\nnot a line\n"), ctx);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(tree_.leaf_count(), before);
  absl::StatusOr<Response> odd =
      HandlePush(Post("/push", "image/png", ""), ctx);
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("unsupported Content-Type"),
            std::string::npos);
  Request empty_form = Post("/push", "application/x-www-form-urlencoded", "");
  EXPECT_FALSE(HandlePush(empty_form, ctx).ok());
}

TEST_F(HandlersTest, GetLimitsAndMergesPatterns) {
  Push(R"({"a": {"x": 1, "y": 2, "z": 3}, "b": 4})");
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> cut =
      HandleGet(Get("/get", {{"key", "a"}, {"limit", "2"}}), ctx);
  ASSERT_TRUE(cut.ok());
  rapidjson::Document d = Json(cut->body);
  EXPECT_EQ(d["items"].Size(), 2u);
  EXPECT_TRUE(d["truncated"].GetBool());
  // Overlapping patterns list a leaf once.
  absl::StatusOr<Response> both =
      HandleGet(Get("/get", {{"key", "a"}, {"key", "a,x"}, {"key", "b"}}), ctx);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(Json(both->body)["items"].Size(), 4u);
  EXPECT_FALSE(HandleGet(Get("/get", {{"limit", "0"}}), ctx).ok());
}

TEST_F(HandlersTest, UnitsAreStatedOrInferredAndABadOneChangesNothing) {
  Push(R"({"app": {"heap": 1, "q": {"depth": 2}, "unit": "bytes"},
           "host": {"h1": {"mem": {"used": 5, "percent": 1}, "load": {"1": 2},
                           "os": "Debian"}}})");
  Push(R"({"lat": [1, 2], "defaultaction": "timer"})");
  Push(R"({"app": {"q": {"unit": "jobs"}}})");
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> r =
      HandleUnits(Get("/api/units", {{"key", "app"}, {"key", "host,**"}}), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  // Stated (and inherited), inferred from the agent's keys; none for load
  // nor for a text leaf.
  EXPECT_EQ(r->body,
            R"({"units":{"app,heap":"bytes","app,q,depth":"jobs",)"
            R"("host,h1,mem,percent":"percent","host,h1,mem,used":"bytes"}})");
  // A timer without a stated unit is in ms.
  r = HandleUnits(Get("/api/units", {{"key", "lat"}}), ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"units":{"lat":"ms"}})");
  // A bad unit: 400 with the reason, and the whole push changes nothing.
  const uint64_t seq = tree_.seq();
  absl::StatusOr<Response> bad = HandlePush(
      Post(
          "/push", "application/json",
          R"({"app": {"heap": 9, "unit": "bytes"}, "z": {"unit": "a\u0001"}})"),
      ctx);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ErrorResponse(bad.status()).status, 400);
  EXPECT_NE(bad.status().message().find("control character in unit"),
            std::string::npos);
  EXPECT_EQ(tree_.seq(), seq);
  EXPECT_EQ(tree_.Find({"z"}), nullptr);
  // null removes a stated unit: the leaf falls back to inference.
  Push(R"({"app": {"unit": null}})");
  r = HandleUnits(Get("/api/units", {{"key", "app,**"}}), ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"units":{"app,q,depth":"jobs"}})");
  // The budget holds as for every tree read.
  options_.query.work = 3;
  EXPECT_EQ(
      HandleUnits(Get("/api/units", {{"key", "**"}}), ctx).status().code(),
      absl::StatusCode::kOutOfRange);
}

TEST_F(HandlersTest, QueryNestsAndDeleteRemoves) {
  Push(R"({"h": {"cpu": {"user": 2, "sys": 4}}, "defaultaction": "avg"})");
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> q = HandleQuery(Get("/api/q/h.json"), ctx);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->body, R"({"cpu":{"sys":4,"user":2}})");
  absl::StatusOr<Response> shallow =
      HandleQuery(Get("/api/q/h.json", {{"depth", "0"}}), ctx);
  ASSERT_TRUE(shallow.ok());
  EXPECT_EQ(shallow->body, "3");  // the mean of the children
  absl::StatusOr<Response> meta =
      HandleQuery(Get("/api/q/h,cpu.json", {{"meta", "1"}}), ctx);
  ASSERT_TRUE(meta.ok());
  rapidjson::Document m = Json(meta->body);
  EXPECT_STREQ(m["key"].GetString(), "h,cpu");
  EXPECT_STREQ(m["action"].GetString(), "avg");
  absl::StatusOr<Response> missing = HandleQuery(Get("/api/q/nope.json"), ctx);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(HttpStatusOf(missing.status()), 404);

  Request del = Get("/api/q/h,cpu,sys");
  del.method = "DELETE";
  absl::StatusOr<Response> gone = HandleDelete(del, ctx);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(Json(gone->body)["removed"].GetUint64(), 1u);
  EXPECT_EQ(tree_.leaf_count(), 1u);
}

TEST_F(HandlersTest, DiffAlignsTwoSubtrees) {
  Push(R"({"x": {"a": 1, "b": 2}, "y": {"b": 5, "c": 3}})");
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> r = HandleDiff(Get("/diff/x/y"), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  rapidjson::Document d = Json(r->body);
  ASSERT_EQ(d["both"].Size(), 1u);
  EXPECT_STREQ(d["both"][0]["path"].GetString(), "b");
  EXPECT_EQ(d["both"][0]["delta"].GetDouble(), 3);
  EXPECT_EQ(d["only_a"].Size(), 1u);
  EXPECT_EQ(d["only_b"].Size(), 1u);
  EXPECT_FALSE(HandleDiff(Get("/diff/x"), ctx).ok());
}

TEST_F(HandlersTest, PullAndStreamBecomeHolds) {
  HandlerContext ctx = Ctx();
  absl::StatusOr<Hold> h = HandlePull(
      Get("/pull", {{"key", "a"}, {"since", "7"}, {"timeout", "5"}}), ctx);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->stream);
  EXPECT_TRUE(h->has_since);
  EXPECT_EQ(h->since, 7u);
  EXPECT_EQ(h->timeout_seconds, 5);
  ASSERT_EQ(h->patterns.size(), 1u);

  Request stream = Get("/stream", {{"key", "a"}});
  stream.last_event_id = "42";
  absl::StatusOr<Hold> s = HandleStream(stream, ctx);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->stream);
  EXPECT_EQ(s->since, 42u);  // Last-Event-ID resumes

  EXPECT_FALSE(HandlePull(Get("/pull", {{"since", "x"}}), ctx).ok());
  EXPECT_FALSE(HandlePull(Get("/pull", {{"timeout", "100000"}}), ctx).ok());
  ctx.waiters = options_.max_waiters;
  absl::StatusOr<Hold> full = HandlePull(Get("/pull"), ctx);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(HttpStatusOf(full.status()), 503);
  EXPECT_EQ(stats_.waiters_refused, 1u);
}

TEST_F(HandlersTest, TrendIsDeferredOnlyWithHistory) {
  HandlerContext ctx = Ctx();
  Request trend = Get("/trend", {{"key", "a"}, {"from", "-1h"}});
  absl::StatusOr<Deferred> none = HandleTrend(trend, ctx);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no history"), std::string::npos);
  ctx.history = true;
  absl::StatusOr<Deferred> d = HandleTrend(trend, ctx);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(static_cast<bool>(d->work));
  EXPECT_EQ(stats_.trend_queries, 1u);
  EXPECT_FALSE(HandleTrend(Get("/trend"), ctx).ok());  // no key
  EXPECT_FALSE(
      HandleTrend(Get("/trend", {{"key", "a"}, {"fn", "median"}}), ctx).ok());
  EXPECT_FALSE(HandleGraph(Get("/graph/a.gif"), ctx).ok());
  EXPECT_FALSE(HandleGraph(Get("/graph/a.svg", {{"width", "5"}}), ctx).ok());
  EXPECT_TRUE(HandleGraph(Get("/graph/a.svg"), ctx).ok());
}

TEST_F(HandlersTest, ParseTimeTakesEpochNowAndRelative) {
  EXPECT_EQ(*ParseTime("now", 1000), 1000);
  EXPECT_EQ(*ParseTime("-1h", 10000), 10000 - 3600);
  EXPECT_EQ(*ParseTime("1700000000", 0), 1700000000);
  EXPECT_FALSE(ParseTime("yesterday", 0).ok());
  EXPECT_FALSE(ParseTime("-1x", 0).ok());
}

TEST_F(HandlersTest, MarkersUnderAPattern) {
  Push(R"({"app": {"requests": {"home": 1}, "marker": "deploy 1"}})");
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> r =
      HandleMarkers(Get("/api/markers", {{"key", "app"}}), ctx);
  ASSERT_TRUE(r.ok());
  rapidjson::Document d = Json(r->body);
  ASSERT_EQ(d["markers"].Size(), 1u);
  EXPECT_STREQ(d["markers"][0]["text"].GetString(), "deploy 1");
  EXPECT_STREQ(d["markers"][0]["key"].GetString(), "app");
}

// A marker on a node shows on the nodes under it, once, with the key of
// the node that holds it; a sibling's marker does not.
TEST_F(HandlersTest, MarkersOfAncestorsAreInherited) {
  Push(R"({"app": {"requests": {"home": 1, "api": 2, "marker": "deploy v1.4"},
                   "other": {"x": 1, "marker": "not mine"}}})");
  Push(R"({"app": {"requests": {"home": {"marker": "home only"}}}})");
  HandlerContext ctx = Ctx();
  absl::StatusOr<Response> r =
      HandleMarkers(Get("/api/markers", {{"key", "app,requests,home"}}), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  rapidjson::Document d = Json(r->body);
  ASSERT_EQ(d["markers"].Size(), 2u) << r->body;
  std::map<std::string, std::string> by_text;
  for (const auto& m : d["markers"].GetArray()) {
    by_text[m["text"].GetString()] = m["key"].GetString();
  }
  EXPECT_EQ(by_text["deploy v1.4"], "app,requests");
  EXPECT_EQ(by_text["home only"], "app,requests,home");
  EXPECT_EQ(by_text.count("not mine"), 0u);
  // Two patterns under the same ancestor: its marker comes once.
  r = HandleMarkers(Get("/api/markers", {{"key", "app,requests,home"},
                                         {"key", "app,requests,api"}}),
                    ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  d = Json(r->body);
  EXPECT_EQ(d["markers"].Size(), 2u) << r->body;
  // A key not in the tree yet still gets its ancestors' markers.
  r = HandleMarkers(Get("/api/markers", {{"key", "app,requests,new"}}), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  d = Json(r->body);
  ASSERT_EQ(d["markers"].Size(), 1u) << r->body;
  EXPECT_STREQ(d["markers"][0]["text"].GetString(), "deploy v1.4");
}

TEST_F(HandlersTest, MetricsShowTheFiguresAndLeaves) {
  Push(R"({"m": {"v": 2.5}})");
  HandlerContext ctx = Ctx();
  ctx.figures = [] {
    ServerFigures f;
    f.waiters = 17;
    f.history = true;
    f.trend_queue_full = 3;
    return f;
  };
  absl::StatusOr<Response> r =
      HandleMetrics(Get("/metrics", {{"key", "m"}}), ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->body.find("canopy_waiters 17\n"), std::string::npos);
  EXPECT_NE(r->body.find("canopy_trend_queue_full_total 3\n"),
            std::string::npos);
  EXPECT_NE(r->body.find("canopy_value{key=\"m,v\",s0=\"m\",s1=\"v\"} 2.5\n"),
            std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("canopy_leaves 1\n"), std::string::npos);
  EXPECT_EQ(r->content_type, "text/plain; version=0.0.4");
}

TEST_F(HandlersTest, PagesFromTheWebDirOrTheBuiltInPage) {
  HandlerContext ctx = Ctx();
  // No --web_dir: the live page built into the binary, and 404 otherwise.
  absl::StatusOr<Response> builtin = HandlePage(Get("/realtime/"), ctx);
  ASSERT_TRUE(builtin.ok());
  EXPECT_NE(builtin->content_type.find("text/html"), std::string::npos);
  EXPECT_FALSE(HandlePage(Get("/trend/view/"), ctx).ok());
  std::string dir = testing::MakeTempDir();
  std::filesystem::create_directories(dir + "/assets");
  {
    std::ofstream(dir + "/trend.html") << "<html>trend</html>";
    std::ofstream(dir + "/assets/app.js") << "export {}";
  }
  options_.web_dir = dir;
  absl::StatusOr<Response> page = HandlePage(Get("/trend/view/"), ctx);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->body, "<html>trend</html>");
  absl::StatusOr<Response> js = HandlePage(Get("/assets/app.js"), ctx);
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(HandlePage(Get("/assets/../trend.html"), ctx).ok());
  EXPECT_TRUE(IsPagePath("/setting/view"));
  EXPECT_FALSE(IsPagePath("/nothing"));
  absl::StatusOr<Response> root = HandleRoot(Get("/"), ctx);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->status, 302);
  // Without the overview page, / goes to the live page; with it, there.
  EXPECT_EQ(root->headers.at(0).second, "/realtime/");
  std::ofstream(dir + "/overview.html") << "<html>overview</html>";
  root = HandleRoot(Get("/"), ctx);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->headers.at(0).second, "/overview/");
  EXPECT_TRUE(IsPagePath("/overview/"));
  EXPECT_TRUE(IsPagePath("/host/web1"));
  EXPECT_FALSE(IsPagePath("/host/"));
  absl::StatusOr<Response> host = HandlePage(Get("/host/web1"), ctx);
  EXPECT_FALSE(host.ok());  // no host.html in this web dir
  std::filesystem::remove_all(dir);
}

TEST_F(HandlersTest, ViewsGoThroughTheStore) {
  std::string dir = testing::MakeTempDir();
  ViewStore views(dir + "/views.json");
  HandlerContext ctx = Ctx();
  ctx.views = &views;
  Request put = Get("/api/views/web");
  put.method = "PUT";
  put.body = R"({"title": "Web", "keys": ["web,**"]})";
  ASSERT_TRUE(HandleViews(put, ctx).ok());
  absl::StatusOr<Response> one = HandleViews(Get("/api/views/web"), ctx);
  ASSERT_TRUE(one.ok());
  EXPECT_STREQ(Json(one->body)["title"].GetString(), "Web");
  Request del = Get("/api/views/web");
  del.method = "DELETE";
  ASSERT_TRUE(HandleViews(del, ctx).ok());
  absl::StatusOr<Response> gone = HandleViews(Get("/api/views/web"), ctx);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(HttpStatusOf(gone.status()), 404);
  std::filesystem::remove_all(dir);
}

TEST(ErrorsTest, StatusesMapToHttpCodes) {
  EXPECT_EQ(HttpStatusOf(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusOf(absl::UnauthenticatedError("")), 401);
  EXPECT_EQ(HttpStatusOf(absl::PermissionDeniedError("")), 403);
  EXPECT_EQ(HttpStatusOf(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusOf(absl::UnimplementedError("")), 405);
  EXPECT_EQ(HttpStatusOf(absl::OutOfRangeError("")), 413);
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusOf(absl::ResourceExhaustedError("")), 507);
  Response r = ErrorResponse(
      WithPosition(absl::InvalidArgumentError("bad \"x\""), {3, 9}));
  EXPECT_EQ(r.body, R"({"error":"bad \"x\"","line":3,"column":9})");
  EXPECT_EQ(PercentDecode("a%2Cb%2fc+d%zz"), "a,b/c+d%zz");
}

}  // namespace
}  // namespace canopy
