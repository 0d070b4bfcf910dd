// MakeRequest (server/net/request_parse.h): the one way a Request is made,
// as plain data. The evhttp adapter's test (http_adapter_test.cc) checks the
// same through real evhttp; the incremental parser's (request_parser_test.cc)
// through the bytes of a connection.
//
// Threads: the test's.
#include "server/net/request_parse.h"

#include <event2/http.h>

#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/handlers/request.h"

namespace canopy {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Request Made(absl::string_view method, absl::string_view path,
             absl::string_view query, const RequestHeaders& headers = {},
             std::string body = "") {
  absl::StatusOr<Request> r =
      MakeRequest(method, path, query, headers, std::move(body));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : Request();
}

absl::Status Refusal(absl::string_view method, absl::string_view path,
                     absl::string_view query, absl::string_view content_type,
                     std::string body) {
  RequestHeaders headers;
  headers.content_type = content_type;
  return MakeRequest(method, path, query, headers, std::move(body)).status();
}

TEST(MakeRequestTest, PathIsDecodedWithPlusKeptAndRawPathAsSent) {
  Request r = Made("GET", "/api/q/web%2Chits%20now+x", "");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/api/q/web,hits now+x");
  EXPECT_EQ(r.raw_path, "/api/q/web%2Chits%20now+x");
  EXPECT_TRUE(r.query.empty());
  // A '%' without two hex digits stays; an empty path reads as "/".
  EXPECT_EQ(Made("GET", "/a%zz%4", "").path, "/a%zz%4");
  EXPECT_EQ(Made("GET", "/%41", "").path, "/A");
  EXPECT_EQ(Made("GET", "", "").path, "/");
  EXPECT_EQ(Made("GET", "", "").raw_path, "/");
}

TEST(MakeRequestTest, QueryKeepsRepeatsInOrderAndTakesPlusAsSpace) {
  Request r =
      Made("GET", "/get", "key=web%2Ca&key=db&note=two+words%21&empty=");
  EXPECT_EQ(r.query, (Fields{{"key", "web,a"},
                             {"key", "db"},
                             {"note", "two words!"},
                             {"empty", ""}}));
  EXPECT_EQ(Made("GET", "/get", "a=1&").query, (Fields{{"a", "1"}}));
  EXPECT_EQ(Made("GET", "/get", "&&a=1&&b=x=y").query,
            (Fields{{"a", "1"}, {"b", "x=y"}}));
}

TEST(MakeRequestTest, AMalformedQueryStringIsRefused) {
  for (const char* query : {"key", "a=1&b", "=1"}) {
    absl::Status s = Refusal("GET", "/get", query, "", "");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_EQ(s.message(), "malformed query string");
  }
}

TEST(MakeRequestTest, HeadersAreCarried) {
  RequestHeaders headers;
  headers.content_type = "text/plain";
  headers.authorization = "Bearer s3cret";
  headers.last_event_id = "42";
  Request r = Made("POST", "/push", "", headers, "a 1\n");
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.authorization, "Bearer s3cret");
  EXPECT_EQ(r.last_event_id, "42");
  EXPECT_EQ(r.body, "a 1\n");
}

TEST(MakeRequestTest, AFormBodysFieldsFollowTheQuery) {
  RequestHeaders headers;
  headers.content_type = "application/x-www-form-urlencoded";
  Request r =
      Made("POST", "/push", "x=1", headers, "key=a%2Cb&text=hello+world");
  EXPECT_EQ(r.body, "key=a%2Cb&text=hello+world");
  EXPECT_EQ(r.content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(r.query,
            (Fields{{"x", "1"}, {"key", "a,b"}, {"text", "hello world"}}));
  // With a charset too.
  headers.content_type = "application/x-www-form-urlencoded; charset=utf-8";
  EXPECT_EQ(Made("POST", "/push", "", headers, "a=1").query,
            (Fields{{"a", "1"}}));
  EXPECT_EQ(
      Refusal("POST", "/push", "", "application/x-www-form-urlencoded", "a=1&b")
          .message(),
      "malformed query string");
}

TEST(MakeRequestTest, AJsonBodyWithAFormContentTypeIsTakenAsJson) {
  RequestHeaders headers;
  headers.content_type = "application/x-www-form-urlencoded";
  for (const std::string body : {R"({"a": 1})", "\n [{\"a\": 1}]"}) {
    Request r = Made("POST", "/push", "", headers, body);
    EXPECT_EQ(r.content_type, "application/json") << body;
    EXPECT_EQ(r.body, body);
    EXPECT_TRUE(r.query.empty()) << body;
  }
  // Another type is left alone.
  headers.content_type = "text/plain";
  EXPECT_EQ(Made("POST", "/push", "", headers, "{").content_type, "text/plain");
}

TEST(MakeRequestTest, NulBytesInThePathAFieldNameOrAFormBodyAreRefused) {
  EXPECT_EQ(Refusal("GET", "/api/q/a%00b", "", "", "").message(),
            "NUL byte in path");
  EXPECT_EQ(Refusal("GET", "/get", "ke%00y=1", "", "").message(),
            "NUL byte in a field name");
  EXPECT_EQ(Refusal("POST", "/push", "", "application/x-www-form-urlencoded",
                    "ke%00y=1")
                .message(),
            "NUL byte in a field name");
  EXPECT_EQ(Refusal("POST", "/push", "", "application/x-www-form-urlencoded",
                    std::string("a=1\0", 4))
                .message(),
            "NUL byte in form body");
  // A NUL in a value is kept (a log line of binary garbage); in a body that
  // is not a form, too.
  EXPECT_EQ(Made("GET", "/get", "k=a%00b").query,
            (Fields{{"k", std::string("a\0b", 3)}}));
  EXPECT_EQ(Made("POST", "/push", "", {}, std::string("a\0", 2)).body,
            std::string("a\0", 2));
}

TEST(MakeRequestTest, OnlyTheMethodsCanopyServesAreMade) {
  for (const char* m : {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    EXPECT_EQ(Made(m, "/", "").method, m);
  }
  for (const char* m : {"PATCH", "TRACE", "CONNECT", "get", ""}) {
    absl::Status s = Refusal(m, "/", "", "", "");
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << m;
    EXPECT_EQ(HttpStatusOf(s), 405) << m;
  }
}

// PercentDecode is evhttp_uridecode(s, 0) (but binary-safe), FormDecode
// evhttp_uridecode(s, 1): checked on random strings of the bytes that
// matter.
TEST(MakeRequestTest, DecodingIsEvhttpsOnRandomStrings) {
  const std::string alphabet = "%+aF09gZ/?#&= \x7f\xff";
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (size_t n = rng() % 12; n > 0; --n) s.push_back(alphabet[rng() % 16]);
    for (int plus : {0, 1}) {
      size_t len = 0;
      char* d = evhttp_uridecode(s.c_str(), plus, &len);
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(plus ? FormDecode(s) : PercentDecode(s), std::string(d, len))
          << s << " plus " << plus;
      free(d);
    }
  }
}

}  // namespace
}  // namespace canopy
