// The heads of replies (server/net/response_write.h), byte for byte, and
// read back by libhttp-parser as a client would read them.
//
// Threads: the test's.
#include "server/net/response_write.h"

#include <http_parser.h>

#include <string>

#include "gtest/gtest.h"
#include "server/handlers/request.h"

namespace canopy {
namespace {

std::string Head(const Response& r, bool keep_alive, bool* kept = nullptr) {
  std::string out = "(before)";
  bool k = AppendResponseHead(r, keep_alive, &out);
  if (kept != nullptr) *kept = k;
  EXPECT_EQ(out.substr(0, 8), "(before)") << "appends";
  return out.substr(8);
}

// What a client reads of head + body: status, body and whether it keeps
// the connection.
struct ClientView {
  bool ok = false;
  int status = 0;
  std::string body;
  bool keep_alive = false;
};

ClientView Read(const std::string& bytes) {
  ClientView v;
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_body = [](http_parser* p, const char* at, size_t n) {
    static_cast<ClientView*>(p->data)->body.append(at, n);
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    ClientView* v = static_cast<ClientView*>(p->data);
    v->ok = true;
    v->status = p->status_code;
    v->keep_alive = http_should_keep_alive(p) != 0;
    return 0;
  };
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &v;
  http_parser_execute(&p, &s, bytes.data(), bytes.size());
  if (HTTP_PARSER_ERRNO(&p) != HPE_OK) v.ok = false;
  return v;
}

TEST(ResponseWriteTest, AResponsesHeadByteForByte) {
  Response r;
  r.body = R"({"ok":true})";
  bool kept = false;
  EXPECT_EQ(Head(r, true, &kept),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 11\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");
  EXPECT_TRUE(kept);
  r.status = 302;
  r.content_type = "text/plain; charset=utf-8";
  r.body.clear();
  r.headers = {{"Location", "/realtime/"}, {"Cache-Control", "no-cache"}};
  EXPECT_EQ(Head(r, false, &kept),
            "HTTP/1.1 302 Found\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 0\r\n"
            "Connection: close\r\n"
            "Location: /realtime/\r\n"
            "Cache-Control: no-cache\r\n"
            "\r\n");
  EXPECT_FALSE(kept);
}

TEST(ResponseWriteTest, AClientReadsHeadAndBody) {
  Response r;
  r.status = 404;
  r.body = std::string("no such\0thing\n", 14);
  ClientView v = Read(Head(r, true) + r.body);
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.status, 404);
  EXPECT_EQ(v.body, r.body);
  EXPECT_TRUE(v.keep_alive);
  EXPECT_FALSE(Read(Head(r, false) + r.body).keep_alive);
  // Two replies on one connection, back to back.
  std::string two = Head(r, true) + r.body + Head(r, true) + r.body;
  EXPECT_TRUE(Read(two).ok);
}

TEST(ResponseWriteTest, AConnectionCloseHeaderClosesAndFramingIsOurs) {
  Response r = ErrorResponse(absl::UnavailableError("too many connections"));
  r.headers = {{"Connection", "close"},
               {"Content-Length", "999"},
               {"transfer-encoding", "chunked"},
               {"X-Canopy", "yes"}};
  bool kept = true;
  std::string head = Head(r, true, &kept);
  EXPECT_FALSE(kept);
  EXPECT_EQ(head,
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: " +
                std::to_string(r.body.size()) +
                "\r\n"
                "Connection: close\r\n"
                "X-Canopy: yes\r\n"
                "\r\n");
  ClientView v = Read(head + r.body);
  EXPECT_EQ(v.body, r.body);
  EXPECT_FALSE(v.keep_alive);
}

TEST(ResponseWriteTest, HeadersWithLineBreaksAreLeftOut) {
  Response r;
  r.content_type = "text/plain\r\nX-Evil: 1";
  r.headers = {{"Location", "/a\r\nSet-Cookie: x=1"},
               {"X-Ok", "fine"},
               {"Bad\nName", "v"},
               {"", "empty name"}};
  EXPECT_EQ(Head(r, true),
            "HTTP/1.1 200 OK\r\n"
            "Content-Length: 0\r\n"
            "Connection: keep-alive\r\n"
            "X-Ok: fine\r\n"
            "\r\n");
}

TEST(ResponseWriteTest, ReasonPhrasesOfTheCodesCanopyUses) {
  EXPECT_STREQ(ReasonPhrase(200), "OK");
  EXPECT_STREQ(ReasonPhrase(302), "Found");
  EXPECT_STREQ(ReasonPhrase(400), "Bad Request");
  EXPECT_STREQ(ReasonPhrase(401), "Unauthorized");
  EXPECT_STREQ(ReasonPhrase(403), "Forbidden");
  EXPECT_STREQ(ReasonPhrase(404), "Not Found");
  EXPECT_STREQ(ReasonPhrase(405), "Method Not Allowed");
  EXPECT_STREQ(ReasonPhrase(413), "Payload Too Large");
  EXPECT_STREQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(ReasonPhrase(500), "Internal Server Error");
  EXPECT_STREQ(ReasonPhrase(503), "Service Unavailable");
  EXPECT_STREQ(ReasonPhrase(507), "Insufficient Storage");
  // Others by their class.
  EXPECT_STREQ(ReasonPhrase(299), "OK");
  EXPECT_STREQ(ReasonPhrase(399), "Redirect");
  EXPECT_STREQ(ReasonPhrase(418), "Error");
}

TEST(ResponseWriteTest, StreamAndContinueHeads) {
  std::string out = "x";
  AppendStreamHead(&out);
  EXPECT_EQ(out,
            "xHTTP/1.1 200 OK\r\n"
            "Content-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n"
            "X-Accel-Buffering: no\r\n"
            "Connection: close\r\n"
            "\r\n");
  // A client reads the events until the connection closes.
  std::string events = out.substr(1) + "id: 1\ndata: {}\n\n";
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_body = [](http_parser* p, const char* at, size_t n) {
    static_cast<std::string*>(p->data)->append(at, n);
    return 0;
  };
  std::string body;
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &body;
  EXPECT_EQ(http_parser_execute(&p, &s, events.data(), events.size()),
            events.size());
  EXPECT_EQ(body, "id: 1\ndata: {}\n\n");
  EXPECT_EQ(kContinueHead, "HTTP/1.1 100 Continue\r\n\r\n");
}

}  // namespace
}  // namespace canopy
