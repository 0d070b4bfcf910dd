// GET /api/bench/download and POST /api/bench/upload as plain functions,
// and through the route table (Authorize: the download is a read, the
// upload a write).
#include "server/handlers/bench.h"

#include <string>
#include <variant>

#include "gtest/gtest.h"
#include "server/net/router.h"

namespace canopy {
namespace {

Request Get(const std::string& bytes) {
  Request r;
  r.method = "GET";
  r.path = "/api/bench/download";
  r.query = {{"bytes", bytes}};
  return r;
}

TEST(BenchHandlerTest, DownloadSendsTheBytesAsked) {
  HandlerContext ctx;
  for (const char* n : {"0", "1", "1000", "1048576"}) {
    absl::StatusOr<Response> r = HandleBenchDownload(Get(n), ctx);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body.size(), std::stoul(n));
    EXPECT_EQ(r->content_type, "application/octet-stream");
  }
}

TEST(BenchHandlerTest, DownloadRefusesBadOrTooLargeCounts) {
  HandlerContext ctx;
  for (std::string bad :
       {"", "-1", "abc", "1e6", "67108865", "99999999999999999999"}) {
    absl::StatusOr<Response> r = HandleBenchDownload(Get(bad), ctx);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(HttpStatusOf(r.status()), 400) << bad;
    EXPECT_NE(r.status().message().find("bytes="), std::string::npos);
  }
  EXPECT_TRUE(
      HandleBenchDownload(Get(std::to_string(kMaxBenchDownload)), ctx).ok());
}

TEST(BenchHandlerTest, UploadCountsTheBody) {
  HandlerContext ctx;
  Request r;
  r.method = "POST";
  r.path = "/api/bench/upload";
  r.body.assign(123457, 'u');
  absl::StatusOr<Response> out = HandleBenchUpload(r, ctx);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, "{\"bytes\":123457}");
}

TEST(BenchHandlerTest, RoutedWithTokens) {
  Stats stats;
  ServerOptions options;
  options.read_token = "r";
  options.write_token = "w";
  HandlerContext ctx;
  ctx.stats = &stats;
  ctx.options = &options;
  Request up;
  up.method = "POST";
  up.path = "/api/bench/upload";
  up.body = "xyz";
  EXPECT_EQ(HttpStatusOf(Dispatch(up, ctx).status()), 401);
  up.authorization = "Bearer w";
  absl::StatusOr<Outcome> ok = Dispatch(up, ctx);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(std::get<Response>(*ok).body, "{\"bytes\":3}");

  Request down = Get("10");
  EXPECT_EQ(HttpStatusOf(Dispatch(down, ctx).status()), 401);
  down.query.emplace_back("token", "r");
  absl::StatusOr<Outcome> d = Dispatch(down, ctx);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(std::get<Response>(*d).body.size(), 10u);
  down.method = "POST";
  EXPECT_FALSE(Dispatch(down, ctx).ok());  // the download is a GET
}

}  // namespace
}  // namespace canopy
