// The evhttp adapter (ToRequest, SendResponse) against real evhttp on a
// loopback socket: the test binds an evhttp to 127.0.0.1:0, a client thread
// writes raw HTTP/1.1 bytes with a plain socket and reads the reply, and the
// test's thread runs the loop until the client is done (with a deadline).
// What a handler sees of a request, and what a client gets of a Response,
// is decided here.
//
// Threads: the loop and the adapter on the test's thread; the client on
// its own.
#include "server/net/http_adapter.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/handlers/request.h"

namespace canopy {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Connects to 127.0.0.1:`port`, writes `bytes` and reads until the server
// closes (or 10 s pass). Returns what was read.
std::string Exchange(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = write(fd, bytes.data() + sent, bytes.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, n);
  }
  close(fd);
  return reply;
}

// A raw HTTP reply, split.
struct RawReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower
  std::string body;

  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
};

RawReply SplitReply(const std::string& raw) {
  RawReply r;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() >= 2) r.status = std::atoi(status[1].c_str());
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    r.headers.emplace_back(
        absl::AsciiStrToLower(lines[i].substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  r.body = raw.substr(end + 4);
  return r;
}

class HttpAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = event_base_new();
    ASSERT_NE(base_, nullptr);
    http_ = evhttp_new(base_);
    ASSERT_NE(http_, nullptr);
    evhttp_bound_socket* bound =
        evhttp_bind_socket_with_handle(http_, "127.0.0.1", 0);
    ASSERT_NE(bound, nullptr);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(evhttp_bound_socket_get_fd(bound),
                          reinterpret_cast<sockaddr*>(&addr), &len),
              0);
    port_ = ntohs(addr.sin_port);
    evhttp_set_gencb(http_, &HttpAdapterTest::OnRequest, this);
    // Wakes the loop now and then, so that it sees the client finish.
    tick_ = event_new(
        base_, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
    timeval every{0, 5000};
    event_add(tick_, &every);
  }

  void TearDown() override {
    if (tick_ != nullptr) event_free(tick_);
    if (http_ != nullptr) evhttp_free(http_);
    if (base_ != nullptr) event_base_free(base_);
  }

  // Sends `bytes` as a client and runs the loop until the reply is read.
  // The request's callback stores what ToRequest made of it in seen_ and
  // answers with response_ (or a 400 when ToRequest refused it).
  std::string Send(const std::string& bytes) {
    seen_.reset();
    std::atomic<bool> done{false};
    std::string reply;
    std::thread client([&] {
      reply = Exchange(port_, bytes);
      done = true;
    });
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done && absl::Now() < deadline) {
      event_base_loop(base_, EVLOOP_ONCE);
    }
    client.join();
    EXPECT_TRUE(seen_.has_value()) << "the request callback never ran";
    return reply;
  }

  // ToRequest's reading of `bytes`, which must be accepted.
  Request Accepted(const std::string& bytes) {
    Send(bytes);
    if (!seen_.has_value()) return Request();
    EXPECT_TRUE(seen_->ok()) << seen_->status();
    return seen_->ok() ? **seen_ : Request();
  }

  // ToRequest's refusal of `bytes` (OkStatus if it was accepted).
  absl::Status Refused(const std::string& bytes) {
    RawReply reply = SplitReply(Send(bytes));
    if (!seen_.has_value()) return absl::UnknownError("no callback");
    EXPECT_EQ(reply.status, seen_->ok() ? response_.status : 400);
    return seen_->status();
  }

  static void OnRequest(evhttp_request* req, void* arg) {
    HttpAdapterTest* self = static_cast<HttpAdapterTest*>(arg);
    self->seen_ = ToRequest(req);
    if (self->seen_->ok()) {
      SendResponse(req, self->response_);
    } else {
      Response refused;
      refused.status = 400;
      refused.body = std::string(self->seen_->status().message());
      SendResponse(req, refused);
    }
  }

  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  event* tick_ = nullptr;
  int port_ = 0;
  Response response_;
  std::optional<absl::StatusOr<Request>> seen_;
};

TEST_F(HttpAdapterTest, PathIsDecodedAndRawPathKeptAsSent) {
  Request r = Accepted(
      "GET /api/q/web%2Chits%20now+x HTTP/1.1\r\nHost: t\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(r.method, "GET");
  // A '+' in a path stays a '+'.
  EXPECT_EQ(r.path, "/api/q/web,hits now+x");
  EXPECT_EQ(r.raw_path, "/api/q/web%2Chits%20now+x");
  EXPECT_TRUE(r.query.empty());
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpAdapterTest, QueryKeepsRepeatsInOrderAndTakesPlusAsSpace) {
  Request r = Accepted(
      "GET /get?key=web%2Ca&key=db&note=two+words%21&empty= HTTP/1.1\r\n"
      "Host: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.path, "/get");
  EXPECT_EQ(r.query, (Fields{{"key", "web,a"},
                             {"key", "db"},
                             {"note", "two words!"},
                             {"empty", ""}}));
  EXPECT_EQ(r.Params("key"), (std::vector<std::string>{"web,a", "db"}));
  EXPECT_EQ(r.Param("note"), "two words!");
}

TEST_F(HttpAdapterTest, AFormBodysFieldsFollowTheQuery) {
  const std::string body = "key=a%2Cb&text=hello+world";
  Request r = Accepted(
      "POST /push?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(r.query,
            (Fields{{"x", "1"}, {"key", "a,b"}, {"text", "hello world"}}));
}

// curl -d '{"a": 1}' sends JSON with a form content type.
TEST_F(HttpAdapterTest, AJsonBodyWithAFormContentTypeIsTakenAsJson) {
  for (const std::string body : {R"({"a": 1})", "\n [{\"a\": 1}]"}) {
    Request r = Accepted(
        "POST /push HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(r.content_type, "application/json") << body;
    EXPECT_EQ(r.body, body);
    EXPECT_TRUE(r.query.empty()) << body;
  }
}

TEST_F(HttpAdapterTest, AuthorizationAndLastEventIdAreRead) {
  Request r = Accepted(
      "GET /stream?key=a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
      "Authorization: Bearer s3cret\r\nLast-Event-ID: 42\r\n"
      "Content-Type: text/plain\r\n\r\n");
  EXPECT_EQ(r.authorization, "Bearer s3cret");
  EXPECT_EQ(r.last_event_id, "42");
  EXPECT_EQ(r.content_type, "text/plain");
  // Absent headers read as empty.
  r = Accepted(
      "DELETE /api/views/x HTTP/1.1\r\nHost: t\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.authorization, "");
  EXPECT_EQ(r.last_event_id, "");
}

TEST_F(HttpAdapterTest, ANulByteInThePathOrAFieldNameIsRefused) {
  absl::Status s = Refused(
      "GET /api/q/a%00b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  s = Refused(
      "GET /get?ke%00y=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  const std::string body = "ke%00y=1";
  s = Refused(
      "POST /push HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  // A NUL in a value is kept (a log line of binary garbage).
  Request r = Accepted(
      "GET /get?k=a%00b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.query, (Fields{{"k", std::string("a\0b", 3)}}));
}

TEST_F(HttpAdapterTest, AMalformedQueryStringIsRefused) {
  for (const char* query : {"key", "a=1&b", "=1"}) {
    absl::Status s =
        Refused(std::string("GET /get?") + query +
                " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << query;
  }
  // An empty field ("a=1&") is not malformed.
  Request r = Accepted(
      "GET /get?a=1& HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.query, (Fields{{"a", "1"}}));
}

TEST_F(HttpAdapterTest, SendResponseWritesStatusTypeHeadersAndBody) {
  response_.status = 404;
  response_.content_type = "text/plain; charset=utf-8";
  response_.headers = {{"Cache-Control", "no-store"}, {"X-Canopy", "yes"}};
  response_.body = std::string("no such\0thing\n", 14);  // bytes, NUL too
  RawReply reply = SplitReply(
      Send("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.Header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(reply.Header("cache-control"), "no-store");
  EXPECT_EQ(reply.Header("x-canopy"), "yes");
  EXPECT_EQ(reply.Header("content-length"), "14");
  EXPECT_EQ(reply.body, response_.body);

  response_ = Response();
  response_.body = R"({"ok":true})";
  reply = SplitReply(
      Send("GET /y HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "application/json");
  EXPECT_EQ(reply.body, R"({"ok":true})");
}

}  // namespace
}  // namespace canopy
