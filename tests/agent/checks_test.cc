// canopy-agent's checks, black-box: ports the test opens and closes, URLs
// served by the real canopyd (/healthz answers "OK\n"), an nginx
// stub_status page served by a tiny responder thread, and targets that
// hang (the interval goes on). Plus the stub_status parser.
#include "agent/checks.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/json.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/agent/agent_util.h"
#include "tests/server/harness.h"

namespace canopy {
namespace testing {
namespace {

using Clock = std::chrono::steady_clock;

// A listening socket on 127.0.0.1; its port.
int Listen(int* fd, int backlog = 16) {
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(*fd, backlog);
  socklen_t len = sizeof a;
  getsockname(*fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A minimal HTTP responder: answers every request with `body` (status
// 200), or never answers when `hang`.
class TinyHttp {
 public:
  explicit TinyHttp(std::string body, bool hang = false)
      : body_(std::move(body)), hang_(hang) {
    port_ = Listen(&fd_);
    thread_ = std::thread([this] { Run(); });
  }
  ~TinyHttp() {
    stop_ = true;
    thread_.join();
    close(fd_);
    for (int c : held_) close(c);
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 1000) <= 0) break;
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, n);
      }
      if (hang_) {
        held_.push_back(c);
        continue;
      }
      std::string reply =
          absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
                       "Content-Length: ", body_.size(),
                       "\r\nConnection: close\r\n\r\n", body_);
      (void)!write(c, reply.data(), reply.size());
      close(c);
    }
  }
  std::string body_;
  bool hang_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

std::string Text(const rapidjson::Value* v) {
  return v && v->IsString() ? v->GetString() : "<missing>";
}

// Every leaf under `key` in canopyd's /get: numbers as JSON prints them,
// texts quoted.
std::map<std::string, std::string> GetLeaves(const HttpClient& http,
                                             const std::string& key) {
  std::map<std::string, std::string> out;
  absl::StatusOr<HttpReply> r =
      http.Request("GET", absl::StrCat("/get?key=", UrlEncode(key)));
  if (!r.ok() || r->status != 200) return out;
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  if (d.HasParseError() || !d.HasMember("items")) return out;
  for (const rapidjson::Value& item : d["items"].GetArray()) {
    for (auto& m : item.GetObject()) {
      out[m.name.GetString()] = agent::ToJson(m.value);
    }
  }
  return out;
}

std::string ServiceOf(int port) {
  servent* s = getservbyport(htons(port), "tcp");
  return s ? s->s_name : "unknown";
}

TEST(PortCheckTest, OpenAndClosedPorts) {
  int listener;
  int open_port = Listen(&listener);
  int closed_port = FreeTcpPort();
  RunResult r = RunAgentBinary(
      {"--once", "--interval=1500ms", "--host=t",
       absl::StrCat("--check_port=", open_port, ",", closed_port)});
  close(listener);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* port = Path(HostBody(d, "t"), {"port"});
  ASSERT_NE(port, nullptr) << r.out;
  std::string o = absl::StrCat(open_port), c = absl::StrCat(closed_port);
  EXPECT_EQ(Text(Path(port, {o.c_str(), "state"})), "open");
  EXPECT_EQ(Text(Path(port, {o.c_str(), "reason"})), "syn-ack");
  EXPECT_EQ(Text(Path(port, {o.c_str(), "service"})), ServiceOf(open_port));
  EXPECT_EQ(Text(Path(port, {c.c_str(), "state"})), "closed");
  EXPECT_EQ(Text(Path(port, {c.c_str(), "reason"})), "conn-refused");
  EXPECT_EQ(Text(Path(port, {"defaultaction"})), "last");
}

TEST(PortCheckTest, ServiceNamesComeFromTheServicesDatabase) {
  if (getservbyport(htons(22), "tcp") == nullptr) {
    GTEST_SKIP() << "no services database";
  }
  EXPECT_EQ(agent::ServiceName(22), "ssh");
  EXPECT_EQ(agent::ServiceName(ServiceOf(65000) == "unknown" ? 65000 : 1),
            ServiceOf(ServiceOf(65000) == "unknown" ? 65000 : 1));
}

// A listener whose accept queue is full drops further SYNs: the connect
// times out and the port reads filtered.
TEST(PortCheckTest, AFullAcceptQueueTimesOutAsFiltered) {
  int listener;
  int port = Listen(&listener, 0);
  std::vector<int> fill;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fill.push_back(c);
  }
  // The first connection is established: the queue is full.
  ASSERT_TRUE(WaitFor([&] {
    pollfd p{fill[0], POLLOUT, 0};
    int err = -1;
    socklen_t len = sizeof err;
    return poll(&p, 1, 0) == 1 &&
           getsockopt(fill[0], SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
           err == 0;
  }));
  agent::Check c;
  c.port = port;
  c.timeout = absl::Milliseconds(300);
  auto t0 = Clock::now();
  std::vector<agent::PortResult> r = agent::CheckPorts({c});
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, "filtered");
  EXPECT_EQ(r[0].reason, "timeout");
  for (int f : fill) close(f);
  close(listener);
}

// The real agent pushing to the real canopyd, which is also the checked
// server: /healthz answers 200 "OK\n" (3 bytes); a closed port answers
// status 0.
TEST(UrlCheckTest, StatusTimesAndBytesArriveInCanopyd) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  int closed = FreeTcpPort();
  AgentProcess agent(
      {absl::StrCat("--server=udp://127.0.0.1:", (*server)->udp_port()),
       "--interval=500ms", "--host=urls",
       absl::StrCat(
           "--check_url=health=http://127.0.0.1:", (*server)->http_port(),
           "/healthz,down=http://127.0.0.1:", closed, "/"),
       absl::StrCat("--check_port=", (*server)->http_port())});
  HttpClient http = (*server)->Client();
  std::map<std::string, std::string> leaves;
  const std::string k = "host,urls,";
  WaitFor(
      [&] {
        leaves = GetLeaves(http, "host,urls");
        return leaves.count(k + "url,down,status") &&
               leaves.count(k + "url,health,status") &&
               leaves.count(
                   absl::StrCat(k, "port,", (*server)->http_port(), ",state"));
      },
      absl::Seconds(15));
  auto num = [&](const std::string& key) {
    double v = -1;
    return absl::SimpleAtod(leaves[k + key], &v) ? v : -1;
  };
  EXPECT_EQ(num("url,health,status"), 200);
  EXPECT_EQ(num("url,health,bytes"), 3);
  EXPECT_GT(num("url,health,total_ms"), 0);
  EXPECT_GE(num("url,health,total_ms"), num("url,health,ttfb_ms"));
  EXPECT_EQ(num("url,down,status"), 0);
  EXPECT_EQ(leaves[absl::StrCat(k, "port,", (*server)->http_port(), ",state")],
            "\"open\"");
  EXPECT_EQ(agent.Stop(), 0);
}

TEST(UrlCheckTest, FailuresAreStatusZeroAndLoggedOnce) {
  int closed = FreeTcpPort();
  RunResult r = RunAgentBinary(
      {"--once", "--interval=1200ms", "--host=t",
       absl::StrCat("--check_url=down=http://127.0.0.1:", closed, "/x")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  EXPECT_EQ(Num(Path(HostBody(d, "t"), {"url", "down", "status"})), 0) << r.out;
  // Two rounds failed (one per interval), one line logged.
  size_t lines = 0;
  for (size_t at = 0;
       (at = r.err.find("check url down", at)) != std::string::npos; ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << r.err;
}

// A target that never answers costs its check, not the interval: the agent
// collects on time and the url is absent until a round completes.
TEST(UrlCheckTest, AHangingTargetNeverStallsTheInterval) {
  TinyHttp hang("", /*hang=*/true);
  auto t0 = Clock::now();
  RunResult r =
      RunAgentBinary({"--once", "--interval=500ms", "--host=t",
                      "--check_timeout=10s", "--check_url=slow=" + hang.url()});
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* body = HostBody(d, "t");
  ASSERT_NE(body, nullptr) << r.out;
  EXPECT_EQ(Path(body, {"url"}), nullptr);
  EXPECT_LT(Num(Path(body, {"agent", "collect_ms"})), 400);
}

TEST(UrlCheckTest, ATimeoutGivesStatusZero) {
  TinyHttp hang("", /*hang=*/true);
  RunResult r = RunAgentBinary({"--once", "--interval=1500ms", "--host=t",
                                "--check_timeout=300ms",
                                "--check_url=slow=" + hang.url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  EXPECT_EQ(Num(Path(HostBody(d, "t"), {"url", "slow", "status"})), 0) << r.out;
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
}

constexpr const char* kStub =
    "Active connections: 291 \n"
    "server accepts handled requests\n"
    " 16630948 16630947 31070465 \n"
    "Reading: 6 Writing: 179 Waiting: 106 \n";

TEST(NginxTest, StubStatusFromAServedPage) {
  TinyHttp nginx(kStub);
  RunResult r =
      RunAgentBinary({"--once", "--interval=1500ms", "--host=t",
                      "--nginx_status=" + nginx.url("/nginx_status")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  const rapidjson::Value* n = Path(HostBody(d, "t"), {"nginx"});
  ASSERT_NE(n, nullptr) << r.out << r.err;
  EXPECT_EQ(Num(Path(n, {"active"})), 291);
  EXPECT_EQ(Num(Path(n, {"accepts"})), 16630948);
  EXPECT_EQ(Num(Path(n, {"handled"})), 16630947);
  EXPECT_EQ(Num(Path(n, {"requests"})), 31070465);
  EXPECT_EQ(Num(Path(n, {"reading"})), 6);
  EXPECT_EQ(Num(Path(n, {"writing"})), 179);
  EXPECT_EQ(Num(Path(n, {"waiting"})), 106);
}

TEST(NginxTest, APageThatIsNotStubStatusIsLoggedAndSkipped) {
  TinyHttp other("<html>hello</html>");
  RunResult r = RunAgentBinary({"--once", "--interval=1500ms", "--host=t",
                                "--nginx_status=" + other.url()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document d = ParseOnce(r);
  EXPECT_EQ(Path(HostBody(d, "t"), {"nginx"}), nullptr);
  EXPECT_NE(r.err.find("not a stub_status page"), std::string::npos) << r.err;
}

TEST(NginxTest, Parser) {
  agent::NginxStatus s;
  ASSERT_TRUE(agent::ParseNginxStatus(kStub, &s));
  EXPECT_EQ(s.accepts, 16630948);
  EXPECT_EQ(s.waiting, 106);
  EXPECT_FALSE(agent::ParseNginxStatus("Active connections: 1\n", &s));
  EXPECT_FALSE(agent::ParseNginxStatus("", &s));
}

TEST(CheckFlagsTest, BadValuesSayOneLine) {
  for (const char* bad :
       {"--check_port=0", "--check_port=x", "--check_url=noequals",
        "--check_url=a,b=http://x/", "--check_url=n=ftp://x/",
        "--nginx_status=localhost/status", "--check_timeout=0s",
        "--listen=nope"}) {
    RunResult r = RunAgentBinary({bad, "--once"});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace testing
}  // namespace canopy
