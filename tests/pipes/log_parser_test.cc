// Tests for pipes/log_parser.cc: the combined, common, nginx log_format and
// Squid parsers on captured sample lines, and their errors.
#include <string>
#include <vector>

#include "canopy/pipe.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

std::unique_ptr<LogParser> Make(absl::string_view format) {
  absl::StatusOr<std::unique_ptr<LogParser>> p = LogParser::Create(format);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

LogRecord ParseOk(const LogParser& parser, absl::string_view line) {
  LogRecord r;
  size_t column = 0;
  absl::Status s = parser.ParseLine(line, &r, &column);
  EXPECT_TRUE(s.ok()) << s << " in " << line;
  return r;
}

TEST(LogParserTest, ApacheCombined) {
  auto p = Make("combined");
  // The example of Apache's log documentation.
  LogRecord r = ParseOk(
      *p,
      R"L(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)")L");
  EXPECT_EQ(r.remote_addr, "127.0.0.1");
  EXPECT_EQ(r.remote_user, "frank");
  EXPECT_EQ(r.time, 971211336);  // 2000-10-10T20:55:36Z
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/apache_pb.gif?a=1");
  EXPECT_EQ(r.path, "/apache_pb.gif");
  EXPECT_EQ(r.protocol, "HTTP/1.0");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.bytes, 2326);
  EXPECT_EQ(r.referer, "http://www.example.com/start.html");
  EXPECT_EQ(r.user_agent, "Mozilla/4.08 [en] (Win98; I ;Nav)");
  EXPECT_FALSE(r.has_request_time);
}

TEST(LogParserTest, NginxCombinedWithDashesEscapesAndExtraFields) {
  auto p = Make("");  // the default is combined
  LogRecord r = ParseOk(
      *p,
      R"L(2001:db8::1 - - [14/Nov/2023:22:13:20 +0000] "GET /q?s=\"x\" HTTP/1.1" 304 - "-" "Agent \"quoted\" v1" "extra" 0.004)L");
  EXPECT_EQ(r.remote_addr, "2001:db8::1");
  EXPECT_EQ(r.remote_user, "");
  EXPECT_EQ(r.time, 1700000000);
  EXPECT_EQ(r.path, "/q");
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.bytes, 0);
  EXPECT_EQ(r.referer, "");
  EXPECT_EQ(r.user_agent, R"L(Agent \"quoted\" v1)L");
}

TEST(LogParserTest, ScannerGarbageRequestStillParses) {
  // nginx logs TLS handshakes sent to a plain port like this, with a 400.
  auto p = Make("combined");
  LogRecord r = ParseOk(
      *p,
      R"L(192.0.2.9 - - [14/Nov/2023:22:13:20 +0000] "\x16\x03\x01\x02\x00\x01" 400 157 "-" "-")L");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.method, "");
  EXPECT_EQ(r.path, "");
  EXPECT_EQ(r.user_agent, "");
}

TEST(LogParserTest, Common) {
  auto p = Make("common");
  LogRecord r = ParseOk(
      *p,
      R"L(10.1.2.3 - - [01/Jan/2024:00:00:00 +0100] "HEAD / HTTP/1.1" 200 0)L");
  EXPECT_EQ(r.time, 1704063600);
  EXPECT_EQ(r.method, "HEAD");
  EXPECT_EQ(r.path, "/");
  EXPECT_EQ(r.bytes, 0);
}

constexpr char kCustom[] =
    R"L($remote_addr - $remote_user [$time_local] "$request" $status )L"
    R"L($body_bytes_sent "$http_referer" "$http_user_agent" $request_time )L"
    R"L($upstream_response_time $host)L";

TEST(LogParserTest, CustomLogFormat) {
  auto p = Make(kCustom);
  LogRecord r = ParseOk(
      *p,
      R"L(198.51.100.4 - bob [14/Nov/2023:23:13:20 +0100] "POST /api/v1/push HTTP/2.0" 502 157 "https://example.com/" "curl/8.4.0" 0.120 0.100, 0.015 : 0.005 api.example.com)L");
  EXPECT_EQ(r.remote_addr, "198.51.100.4");
  EXPECT_EQ(r.time, 1700000000);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v1/push");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.bytes, 157);
  EXPECT_TRUE(r.has_request_time);
  EXPECT_DOUBLE_EQ(r.request_time, 0.120);
  EXPECT_TRUE(r.has_upstream_time);
  EXPECT_NEAR(r.upstream_time, 0.120, 1e-9);
  EXPECT_EQ(r.host, "api.example.com");

  // No upstream ("-"), one upstream.
  r = ParseOk(
      *p,
      R"L(198.51.100.4 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5 "-" "-" 0.000 - www.example.com)L");
  EXPECT_TRUE(r.has_request_time);
  EXPECT_FALSE(r.has_upstream_time);
  EXPECT_EQ(r.host, "www.example.com");
}

TEST(LogParserTest, CustomOrderAndSubset) {
  auto p = Make(
      R"L($host|$status|${request_time}s|$msec|$request_uri|$remote_addr)L");
  LogRecord r = ParseOk(
      *p, "shop.example.org|201|0.5s|1700000000.123|/cart?id=3|10.0.0.1");
  EXPECT_EQ(r.host, "shop.example.org");
  EXPECT_EQ(r.status, 201);
  EXPECT_DOUBLE_EQ(r.request_time, 0.5);
  EXPECT_EQ(r.time, 1700000000);
  EXPECT_EQ(r.target, "/cart?id=3");
  EXPECT_EQ(r.path, "/cart");
  EXPECT_EQ(r.remote_addr, "10.0.0.1");

  auto iso = Make(R"L($time_iso8601 $status $request_method $uri)L");
  r = ParseOk(*iso, "2023-11-14T23:13:20+01:00 200 GET /x");
  EXPECT_EQ(r.time, 1700000000);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/x");
}

TEST(LogParserTest, BadFormats) {
  EXPECT_FALSE(LogParser::Create("apache-ish").ok());
  EXPECT_FALSE(LogParser::Create("$status$request_time").ok());
  EXPECT_FALSE(LogParser::Create("${status").ok());
  EXPECT_FALSE(LogParser::Create("a $ b").ok());
}

TEST(LogParserTest, Squid) {
  auto p = Make("squid");
  LogRecord r =
      ParseOk(*p,
              "1286536309.586    921 192.168.0.68 TCP_MISS/200 507 POST "
              "http://rcv.example.com:8080/cgi/x?y=1 - DIRECT/203.0.113.1 "
              "application/xml");
  EXPECT_EQ(r.time, 1286536309);
  EXPECT_TRUE(r.has_request_time);
  EXPECT_DOUBLE_EQ(r.request_time, 0.921);
  EXPECT_EQ(r.remote_addr, "192.168.0.68");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.bytes, 507);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.host, "rcv.example.com");
  EXPECT_EQ(r.path, "/cgi/x");

  r = ParseOk(*p,
              "1700000000.001 15 10.0.0.2 TCP_TUNNEL/200 4512 CONNECT "
              "www.example.net:443 alice HIER_DIRECT/198.51.100.1 -");
  EXPECT_EQ(r.host, "www.example.net");
  EXPECT_EQ(r.path, "");
  EXPECT_EQ(r.remote_user, "alice");
}

TEST(LogParserTest, ErrorsCarryLineAndColumn) {
  auto p = Make("combined");
  const std::string good =
      R"L(1.2.3.4 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 1 "-" "x")L";
  const std::string buffer =
      good + "\r\n\ngarbage line\n" + good + "\n" + std::string(20000, 'a') +
      "\n" +
      R"L(1.2.3.4 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" abc 1 "-" "x")L";
  std::vector<LogError> errors;
  size_t records = 0;
  LogCounts c = p->Parse(
      buffer, [&](const LogRecord& r) { ++records; },
      [&](const LogError& e) { errors.push_back(e); });
  EXPECT_EQ(c.records, 2u);
  EXPECT_EQ(records, 2u);
  ASSERT_EQ(c.errors, 3u);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].line, 3u);
  EXPECT_EQ(errors[0].column, 9u);  // "line" is $remote_ident: no " " after
  EXPECT_EQ(errors[1].line, 5u);
  EXPECT_EQ(errors[1].column, LogParser::kMaxLineBytes + 1);
  EXPECT_EQ(errors[2].line, 6u);
  EXPECT_EQ(errors[2].column, 59u);
  EXPECT_NE(errors[2].status.message().find("line 6, column 59: bad $status"),
            std::string::npos)
      << errors[2].status;
}

TEST(LogParserTest, HugeEpochIsAnError) {
  // Found by accesslog_fuzz: a time past int64 was undefined behaviour.
  auto p = Make("squid");
  LogRecord r;
  size_t column = 0;
  EXPECT_FALSE(
      p->ParseLine("12865363090000000000.5 921 1.2.3.4 TCP_MISS/200 5 GET /x -",
                   &r, &column)
          .ok());
  EXPECT_EQ(column, 1u);
  auto msec = Make("$msec $status");
  EXPECT_FALSE(msec->ParseLine("99999999999999999999 200", &r, &column).ok());
}

TEST(LogParserTest, BadTimeIsAnError) {
  auto p = Make("combined");
  LogRecord r;
  size_t column = 0;
  EXPECT_FALSE(
      p->ParseLine(
           R"L(1.2.3.4 - - [32/Foo/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 1 "-" "x")L",
           &r, &column)
          .ok());
  EXPECT_EQ(column, 14u);
}

}  // namespace
}  // namespace canopy
