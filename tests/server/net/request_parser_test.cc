// RequestParser (server/net/request_parser.h) fed as a connection feeds it:
// bytes in whatever pieces they arrive, the rest fed again after each
// request is taken. What a request becomes is MakeRequest's
// (request_parse_test.cc); here, what the bytes of a connection become.
//
// Threads: the test's.
#include "server/net/request_parser.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "server/handlers/request.h"

namespace canopy {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// One request of a connection, or the error that ended it, as text that
// compares whole.
std::string Describe(RequestParser& parser) {
  if (parser.state() == RequestParser::State::kError) {
    return absl::StrCat("error ", HttpStatusOf(parser.error()), ": ",
                        parser.error().message());
  }
  std::string flags =
      absl::StrCat(parser.keep_alive() ? " keep-alive" : " close",
                   parser.head() ? " head" : "",
                   parser.expects_continue() ? " expects-continue" : "");
  absl::StatusOr<Request> r = parser.TakeRequest();
  if (!r.ok()) {
    return absl::StrCat("refused ", HttpStatusOf(r.status()), ": ",
                        r.status().message(), flags);
  }
  std::vector<std::string> query;
  for (const auto& [k, v] : r->query) query.push_back(k + "=" + v);
  return absl::StrCat(r->method, " ", r->path, " raw=", r->raw_path,
                      " query=", absl::StrJoin(query, "&"),
                      " type=", r->content_type, " auth=", r->authorization,
                      " last=", r->last_event_id, " body=", r->body, flags);
}

// Feeds `bytes` in pieces of the sizes `split` gives (the last piece takes
// what is left), as a connection would: what Feed leaves is fed again with
// the next piece, and again after each request. Returns each request (or
// the error) described.
template <typename Split>
std::vector<std::string> Connection(const std::string& bytes,
                                    RequestLimits limits, Split split) {
  RequestParser parser(limits);
  std::vector<std::string> out;
  std::string pending;
  size_t at = 0;
  while (at < bytes.size()) {
    size_t n = std::min(split(), bytes.size() - at);
    pending.append(bytes, at, n);
    at += n;
    while (!pending.empty()) {
      size_t used = parser.Feed(pending);
      EXPECT_LE(used, pending.size());
      pending.erase(0, used);
      if (parser.state() == RequestParser::State::kNeedMore) {
        EXPECT_TRUE(pending.empty());
        break;
      }
      out.push_back(Describe(parser));
      if (parser.state() == RequestParser::State::kError) return out;
      EXPECT_EQ(parser.Feed(pending), 0u) << "consumed before Reset()";
      parser.Reset();
    }
  }
  return out;
}

std::vector<std::string> Whole(const std::string& bytes,
                               RequestLimits limits = RequestLimits()) {
  return Connection(bytes, limits, [&] { return bytes.size(); });
}

// Whole, a byte at a time and in random pieces: all must agree.
std::vector<std::string> Parsed(const std::string& bytes,
                                RequestLimits limits = RequestLimits()) {
  std::vector<std::string> whole = Whole(bytes, limits);
  EXPECT_EQ(Connection(bytes, limits, [] { return size_t{1}; }), whole)
      << "a byte at a time";
  std::mt19937 rng(1);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Connection(bytes, limits, [&] { return size_t{1} + rng() % 9; }),
              whole)
        << "random pieces, run " << i;
  }
  return whole;
}

std::string Post(const std::string& head, const std::string& body) {
  return absl::StrCat("POST /push HTTP/1.1\r\nHost: t\r\n", head,
                      "Content-Length: ", body.size(), "\r\n\r\n", body);
}

using Out = std::vector<std::string>;

TEST(RequestParserTest, AGetIsMadeAsMakeRequestMakesIt) {
  EXPECT_EQ(Parsed("GET /api/q/web%2Chits%20now+x?key=web%2Ca&key=db&n=a+b "
                   "HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\n"
                   "Last-Event-ID: 42  \r\nContent-Type: text/plain\r\n\r\n"),
            Out{"GET /api/q/web,hits now+x raw=/api/q/web%2Chits%20now+x "
                "query=key=web,a&key=db&n=a b type=text/plain "
                "auth=Bearer s3cret last=42 body= keep-alive"});
}

TEST(RequestParserTest, HeaderNamesAnyCaseFirstOfRepeatsAndEmptyValues) {
  EXPECT_EQ(Parsed("GET / HTTP/1.1\r\ncontent-TYPE: a\r\nContent-Type: b\r\n"
                   "Expect:\r\nAuthorization:\r\nX-Other: x\r\n"
                   "LAST-EVENT-ID:\t7\r\n\r\n"),
            Out{"GET / raw=/ query= type=a auth= last=7 body= keep-alive"});
}

TEST(RequestParserTest, PipelinedRequestsComeOneAtATime) {
  std::string bytes = "GET /a HTTP/1.1\r\nHost: t\r\n\r\n" +
                      Post("", R"({"a": 1})") +
                      "HEAD /c?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(Parsed(bytes),
            (Out{"GET /a raw=/a query= type= auth= last= body= keep-alive",
                 "POST /push raw=/push query= type= auth= last= "
                 "body={\"a\": 1} keep-alive",
                 "HEAD /c raw=/c query=x=1 type= auth= last= body= close "
                 "head"}));
  // Feed stops at the end of each request.
  RequestParser parser;
  EXPECT_EQ(parser.Feed(bytes), 28u);
  EXPECT_EQ(parser.state(), RequestParser::State::kComplete);
}

TEST(RequestParserTest, KeepAliveFollowsTheVersionAndConnection) {
  auto keep = [](const std::string& version, const std::string& connection) {
    Out out =
        Whole(absl::StrCat("GET / ", version, "\r\n", connection, "\r\n"));
    return out.size() == 1 && absl::EndsWith(out[0], " keep-alive");
  };
  EXPECT_TRUE(keep("HTTP/1.1", ""));
  EXPECT_FALSE(keep("HTTP/1.1", "Connection: close\r\n"));
  EXPECT_FALSE(keep("HTTP/1.1", "Connection: Close\r\n"));
  EXPECT_FALSE(keep("HTTP/1.0", ""));
  EXPECT_TRUE(keep("HTTP/1.0", "Connection: keep-alive\r\n"));
  EXPECT_FALSE(keep("HTTP/1.0", "Connection: close\r\n"));
}

TEST(RequestParserTest, ExpectContinueIsKnownWithTheHeadersBeforeTheBody) {
  const std::string body(2000, 'x');
  std::string bytes = Post("Expect: 100-continue\r\n", body);
  size_t head = bytes.size() - body.size();
  RequestParser parser;
  EXPECT_EQ(parser.Feed(bytes.substr(0, head - 1)), head - 1);
  EXPECT_FALSE(parser.headers_complete());
  EXPECT_FALSE(parser.expects_continue());
  EXPECT_EQ(parser.Feed(bytes.substr(head - 1, 1)), 1u);
  EXPECT_EQ(parser.state(), RequestParser::State::kNeedMore);
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_TRUE(parser.expects_continue());
  EXPECT_EQ(parser.Feed(bytes.substr(head)), body.size());
  EXPECT_EQ(parser.state(), RequestParser::State::kComplete);
  absl::StatusOr<Request> r = parser.TakeRequest();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, body);
  // Case does not matter; another expectation is ignored.
  EXPECT_TRUE(absl::StrContains(
      Whole(Post("Expect: 100-Continue\r\n", "{}"))[0], "expects-continue"));
  EXPECT_FALSE(absl::StrContains(Whole(Post("Expect: x\r\n", "{}"))[0],
                                 "expects-continue"));
  // Never from an HTTP/1.0 client.
  EXPECT_FALSE(absl::StrContains(
      Whole("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")[0],
      "expects-continue"));
  // Reset forgets it.
  parser.Reset();
  EXPECT_FALSE(parser.expects_continue());
  EXPECT_FALSE(parser.headers_complete());
}

TEST(RequestParserTest, AChunkedBodyIsJoinedAndItsTrailerIgnored) {
  EXPECT_EQ(Parsed("POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Type: application/json\r\n\r\n"
                   "3\r\n{\"a\r\n5;ext=1\r\n\": 1}\r\n0\r\n"
                   "Authorization: late\r\n\r\n"
                   "GET /next HTTP/1.1\r\n\r\n"),
            (Out{"POST /push raw=/push query= type=application/json auth= "
                 "last= body={\"a\": 1} keep-alive",
                 "GET /next raw=/next query= type= auth= last= body= "
                 "keep-alive"}));
}

TEST(RequestParserTest, AFormBodysFieldsFollowTheQuery) {
  EXPECT_EQ(Parsed(Post("Content-Type: application/x-www-form-urlencoded\r\n",
                        "key=a%2Cb&text=hello+world")),
            Out{"POST /push raw=/push query=key=a,b&text=hello world "
                "type=application/x-www-form-urlencoded auth= last= "
                "body=key=a%2Cb&text=hello+world keep-alive"});
  // curl -d '{...}': JSON.
  EXPECT_EQ(
      Parsed(Post("Content-Type: application/x-www-form-urlencoded\r\n", "{}")),
      Out{"POST /push raw=/push query= type=application/json auth= "
          "last= body={} keep-alive"});
}

TEST(RequestParserTest, RefusedRequestsLeaveTheConnectionGoing) {
  EXPECT_EQ(
      Parsed("GET /a%00b HTTP/1.1\r\n\r\nGET /get?ke%00y=1 HTTP/1.1\r\n\r\n"
             "GET /get?key HTTP/1.1\r\n\r\nPATCH /x HTTP/1.1\r\n\r\n"
             "DELETE /api/views/x HTTP/1.1\r\n\r\n"),
      (Out{"refused 400: NUL byte in path keep-alive",
           "refused 400: NUL byte in a field name keep-alive",
           "refused 400: malformed query string keep-alive",
           "refused 405: method PATCH not allowed keep-alive",
           "DELETE /api/views/x raw=/api/views/x query= type= auth= last= "
           "body= keep-alive"}));
}

TEST(RequestParserTest, AbsoluteTargetsAndFragments) {
  EXPECT_EQ(Parsed("GET http://canopy:7575/get?key=a#frag HTTP/1.1\r\n\r\n"
                   "GET /p#x?y=1 HTTP/1.1\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n"),
            (Out{"GET /get raw=/get query=key=a type= auth= last= body= "
                 "keep-alive",
                 "GET /p raw=/p query= type= auth= last= body= keep-alive",
                 "OPTIONS * raw=* query= type= auth= last= body= "
                 "keep-alive"}));
}

TEST(RequestParserTest, MalformedHttpIsA400ThatEndsTheConnection) {
  for (const std::string& bytes : {
           std::string("GET / HTTP/1.1\r\nHost t\r\n\r\n"),
           std::string("GET / XTTP/1.1\r\n\r\n"),
           std::string("GET /a b HTTP/1.1\r\n\r\n"),
           std::string("FOO / HTTP/1.1\r\n\r\n"),
           std::string("GET /\0 HTTP/1.1\r\n\r\n", 20),
           std::string("POST / HTTP/1.1\r\nContent-Length: 1\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\n"),
       }) {
    Out out = Parsed(bytes + "GET / HTTP/1.1\r\n\r\n");
    ASSERT_EQ(out.size(), 1u) << bytes;
    EXPECT_TRUE(absl::StartsWith(out[0], "error 400: malformed HTTP request"))
        << out[0];
  }
  RequestParser parser;
  // Consumed up to the error.
  EXPECT_LT(parser.Feed("GET / HTTP/1.1\r\nHost t\r\n\r\n"), 25u);
  EXPECT_EQ(parser.state(), RequestParser::State::kError);
  EXPECT_FALSE(parser.keep_alive());
  EXPECT_EQ(parser.Feed("more"), 0u);
  EXPECT_EQ(parser.TakeRequest().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RequestParserTest, HeadersOverTheLimitAre400) {
  RequestLimits limits;
  limits.max_header_bytes = 100;
  const std::string start = "GET / HTTP/1.1\r\nX: ";  // 19 bytes
  auto with = [&](size_t total) {
    return start + std::string(total - start.size() - 4, 'v') + "\r\n\r\n";
  };
  EXPECT_EQ(Parsed(with(100) + with(100), limits).size(), 2u);
  EXPECT_EQ(Parsed(with(101), limits),
            Out{"error 400: request line and headers over 100 bytes"});
  // Whatever comes past the limit is never read: not even the error in it.
  EXPECT_EQ(Parsed(with(100) + "GET / HTTP/1.1\r\n" + std::string(90, 'x') +
                       "\r\n\r\n",
                   limits),
            (Out{"GET / raw=/ query= type= auth= last= body= keep-alive",
                 "error 400: request line and headers over 100 bytes"}));
  // A body does not count.
  EXPECT_EQ(Parsed(Post("", std::string(500, 'b')), limits).size(), 1u);
  RequestParser parser(limits);
  // An error inside the limit is the error found.
  EXPECT_EQ(parser.Feed(std::string(1000, 'G')), 1u);
  EXPECT_TRUE(absl::StartsWith(parser.error().message(), "malformed"));
  parser.Reset();
  EXPECT_EQ(parser.Feed(with(101)), 100u);
  EXPECT_EQ(parser.state(), RequestParser::State::kError);
  // The default is evhttp's: 64 KiB.
  EXPECT_EQ(Whole(with(64 * 1024)).size(), 1u);
  EXPECT_EQ(Whole(with(64 * 1024 + 1)),
            Out{"error 400: request line and headers over 65536 bytes"});
}

TEST(RequestParserTest, ABodyOverTheLimitIs413BeforeItIsRead) {
  RequestLimits limits;
  limits.max_body_bytes = 10;
  EXPECT_EQ(Parsed(Post("", std::string(10, 'b')), limits).size(), 1u);
  // Known from Content-Length: nothing of the body is consumed.
  std::string bytes = Post("Expect: 100-continue\r\n", std::string(11, 'b'));
  RequestParser parser(limits);
  EXPECT_EQ(parser.Feed(bytes), bytes.size() - 11 - 1);
  EXPECT_EQ(parser.state(), RequestParser::State::kError);
  EXPECT_EQ(HttpStatusOf(parser.error()), 413);
  EXPECT_EQ(parser.error().message(), "request body over 10 bytes");
  // Chunked: from each chunk's size, before its data.
  const std::string chunked =
      "POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(
      Parsed(chunked + "5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n", limits).size(),
      1u);
  EXPECT_EQ(Parsed(chunked + "5\r\n12345\r\n6\r\n678901\r\n0\r\n\r\n", limits),
            Out{"error 413: request body over 10 bytes"});
  EXPECT_EQ(Parsed(chunked + "ffffffffffff\r\n", limits),
            Out{"error 413: request body over 10 bytes"});
}

TEST(RequestParserTest, OneParserServesTheRequestsOfAConnection) {
  RequestParser parser;
  std::string get = "GET /" + std::string(200, 'p') + " HTTP/1.1\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(parser.Feed(get), get.size());
    ASSERT_EQ(parser.state(), RequestParser::State::kComplete);
    absl::StatusOr<Request> r = parser.TakeRequest();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->path.size(), 201u);
    parser.Reset();
  }
}

}  // namespace
}  // namespace canopy
