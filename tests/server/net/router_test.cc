// The route table as plain data: which handler a path and method reach,
// what the tokens guard, and the errors for the rest; no socket.
#include "server/net/router.h"

#include <ctime>
#include <string>
#include <variant>

#include "gtest/gtest.h"
#include "server/handlers/handlers.h"

namespace canopy {
namespace {

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : tree_(Tree::Options()) {}

  absl::StatusOr<Outcome> Send(const std::string& method,
                               const std::string& path,
                               const std::string& authorization = "") {
    Request r;
    r.method = method;
    r.path = path;
    r.raw_path = path;
    r.authorization = authorization;
    if (method == "POST") {
      r.content_type = "application/json";
      r.body = R"({"a": 1})";
    }
    HandlerContext ctx;
    ctx.tree = &tree_;
    ctx.stats = &stats_;
    ctx.options = &options_;
    ctx.now = time(nullptr);
    ctx.history = true;
    return Dispatch(r, ctx);
  }

  int Code(const absl::StatusOr<Outcome>& out) {
    if (!out.ok()) return HttpStatusOf(out.status());
    if (auto* r = std::get_if<Response>(&*out)) return r->status;
    return 0;
  }

  Tree tree_;
  Stats stats_;
  ServerOptions options_;
};

TEST_F(RouterTest, EachPathReachesItsHandler) {
  EXPECT_EQ(Code(Send("POST", "/push")), 200);
  EXPECT_EQ(tree_.leaf_count(), 1u);
  EXPECT_EQ(Code(Send("POST", "/push/")), 200);
  EXPECT_EQ(Code(Send("GET", "/get")), 200);
  EXPECT_EQ(Code(Send("GET", "/get/")), 200);
  EXPECT_EQ(Code(Send("HEAD", "/get")), 200);
  EXPECT_EQ(Code(Send("GET", "/api/q/a.json")), 200);
  EXPECT_EQ(Code(Send("GET", "/metrics")), 200);
  EXPECT_EQ(Code(Send("GET", "/healthz")), 200);
  EXPECT_EQ(Code(Send("GET", "/")), 302);
  EXPECT_EQ(Code(Send("GET", "/realtime/")), 200);
  absl::StatusOr<Outcome> pull = Send("GET", "/pull");
  ASSERT_TRUE(pull.ok());
  EXPECT_TRUE(std::holds_alternative<Hold>(*pull));
  absl::StatusOr<Outcome> stream = Send("GET", "/stream/");
  ASSERT_TRUE(stream.ok());
  EXPECT_TRUE(std::get<Hold>(*stream).stream);
  absl::StatusOr<Outcome> trend = Send("GET", "/trend");
  ASSERT_FALSE(trend.ok());  // reached, and it needs a key=
  EXPECT_EQ(trend.status().message(), "/trend needs at least one key=");
  absl::StatusOr<Outcome> graph = Send("GET", "/graph/a.svg");
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_TRUE(std::holds_alternative<Deferred>(*graph));
  EXPECT_EQ(Code(Send("DELETE", "/api/q/a")), 200);
  EXPECT_EQ(tree_.leaf_count(), 0u);
}

TEST_F(RouterTest, WrongMethodsAndUnknownPaths) {
  absl::StatusOr<Outcome> wrong = Send("GET", "/push");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(HttpStatusOf(wrong.status()), 405);
  EXPECT_EQ(wrong.status().message(), "GET is not allowed on /push (use POST)");
  absl::StatusOr<Outcome> put = Send("PUT", "/api/q/a");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().message(), "PUT is not allowed on /api/q/a (use GET)");
  absl::StatusOr<Outcome> none = Send("GET", "/nowhere");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(HttpStatusOf(none.status()), 404);
  EXPECT_EQ(none.status().message(), "no such endpoint: /nowhere");
  // Pages are for GET only.
  EXPECT_EQ(Code(Send("POST", "/realtime/")), 404);
}

TEST_F(RouterTest, TokensGuardReadsAndWrites) {
  options_.write_token = "w";
  options_.read_token = "r";
  EXPECT_EQ(Code(Send("POST", "/push")), 401);
  EXPECT_EQ(Code(Send("POST", "/push", "Bearer r")), 403);
  EXPECT_EQ(Code(Send("POST", "/push", "Bearer w")), 200);
  EXPECT_EQ(Code(Send("GET", "/get")), 401);
  EXPECT_EQ(Code(Send("GET", "/get", "Bearer r")), 200);
  EXPECT_EQ(Code(Send("GET", "/healthz")), 200);  // always open
  EXPECT_EQ(stats_.rejected["http"]["auth"], 3u);

  Request by_param;
  by_param.method = "GET";
  by_param.path = "/get";
  by_param.query = {{"token", "r"}};
  EXPECT_TRUE(Authorize(by_param, options_, /*write=*/false).ok());
  EXPECT_FALSE(Authorize(by_param, options_, /*write=*/true).ok());
}

// Grafana posts /render and /metrics/find as forms: they read, so the read
// token opens them and the write token is not needed.
TEST_F(RouterTest, GraphitePostsAreReads) {
  options_.write_token = "w";
  options_.read_token = "r";
  EXPECT_EQ(Code(Send("POST", "/render")), 401);
  absl::StatusOr<Outcome> render = Send("POST", "/render", "Bearer r");
  ASSERT_TRUE(render.ok()) << render.status();
  EXPECT_TRUE(std::holds_alternative<Deferred>(*render));
  absl::StatusOr<Outcome> find = Send("POST", "/metrics/find", "Bearer r");
  EXPECT_EQ(Code(find), 400);  // no query=: the route served it
  EXPECT_EQ(Code(Send("GET", "/version", "Bearer r")), 200);
  EXPECT_EQ(Code(Send("GET", "/functions", "Bearer r")), 200);
  EXPECT_EQ(Code(Send("GET", "/tags/autoComplete/tags", "Bearer r")), 200);
  // Only those: a POST elsewhere still needs the write token.
  EXPECT_EQ(Code(Send("POST", "/push", "Bearer r")), 403);
}

}  // namespace
}  // namespace canopy
