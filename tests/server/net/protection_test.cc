// Protected mode (server/net/protection.h): which peers each door lets in,
// decided on plain addresses (a test has no peer but loopback), the 403 of
// a refused HTTP write through the route table, and the start-up line of
// the real canopyd bound to 0.0.0.0.
#include "server/net/protection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/handlers/handlers.h"
#include "server/net/router.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

sockaddr_storage Peer(const std::string& ip) {
  sockaddr_storage ss = {};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(4711);
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr), 1) << ip;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(4711);
  }
  return ss;
}

const sockaddr* Addr(const sockaddr_storage& ss) {
  return reinterpret_cast<const sockaddr*>(&ss);
}

TEST(ProtectionTest, LoopbackPeersAndAddresses) {
  for (const char* ip : {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopback(Addr(Peer(ip)))) << ip;
  }
  for (const char* ip : {"10.0.0.1", "192.168.1.2", "0.0.0.0",
                         "::ffff:10.1.2.3", "2001:db8::1", "::"}) {
    EXPECT_FALSE(IsLoopback(Addr(Peer(ip)))) << ip;
  }
  sockaddr_storage unknown = {};
  EXPECT_TRUE(IsLoopback(Addr(unknown)));  // a request made in a test
  EXPECT_EQ(PeerText(Addr(Peer("10.0.0.1"))), "10.0.0.1:4711");
  EXPECT_EQ(PeerText(Addr(Peer("::1"))), "[::1]:4711");

  for (const char* a : {"127.0.0.1:7575", "localhost:0", "[::1]:1"}) {
    EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  }
  for (const char* a : {"0.0.0.0:7575", "[::]:7575", "10.1.2.3:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(a)) << a;
  }
}

TEST(ProtectionTest, DefaultsOnLoopbackProtectNothingAndSayNothing) {
  ServerOptions o;  // 127.0.0.1 everywhere
  absl::StatusOr<Protection> p = Protection::From(o);
  ASSERT_TRUE(p.ok());
  for (Door d : {Door::kHttp, Door::kUdp, Door::kTcp}) {
    EXPECT_FALSE(p->Protects(d));
    EXPECT_TRUE(p->Admits(d, Addr(Peer("10.0.0.1"))));
  }
  EXPECT_TRUE(p->StartupLines().empty());
}

TEST(ProtectionTest, PublicAddressesTakeWritesOnlyFromThisMachine) {
  ServerOptions o;
  o.http = "0.0.0.0:7575";
  o.udp = "0.0.0.0:8125";
  o.tcp = "[::]:2003";
  absl::StatusOr<Protection> p = Protection::From(o);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Protects(Door::kHttp));
  EXPECT_FALSE(p->AdmitsHttpWrite(Addr(Peer("10.0.0.1"))));
  EXPECT_FALSE(p->AdmitsHttpWrite(Addr(Peer("::ffff:192.168.0.9"))));
  EXPECT_TRUE(p->AdmitsHttpWrite(Addr(Peer("127.0.0.1"))));
  EXPECT_TRUE(p->AdmitsHttpWrite(Addr(Peer("::1"))));
  for (Door d : {Door::kUdp, Door::kTcp}) {
    EXPECT_FALSE(p->Admits(d, Addr(Peer("10.0.0.1"))));
    EXPECT_TRUE(p->Admits(d, Addr(Peer("127.0.0.1"))));
  }
  ASSERT_EQ(p->StartupLines().size(), 1u);
  EXPECT_FALSE(p->StartupLines()[0].warning);
  EXPECT_EQ(p->StartupLines()[0].text,
            "protected mode: http 0.0.0.0:7575, udp 0.0.0.0:8125, tcp "
            "[::]:2003 take writes only from this machine; for others set "
            "--write_token (HTTP) or --allow=CIDR,... (or "
            "--protected_mode=false)");
}

TEST(ProtectionTest, TokenAllowAndProtectedModeFalseLetOthersIn) {
  ServerOptions o;
  o.http = "0.0.0.0:7575";
  o.udp = "0.0.0.0:8125";
  o.tcp = "off";

  ServerOptions token = o;
  token.write_token = "s3cret";
  absl::StatusOr<Protection> p = Protection::From(token);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Protects(Door::kHttp));  // the token decides
  EXPECT_TRUE(p->AdmitsHttpWrite(Addr(Peer("10.0.0.1"))));
  EXPECT_TRUE(p->Protects(Door::kUdp));  // UDP has no token

  ServerOptions allow = o;
  allow.allow = "10.0.0.0/8";
  p = Protection::From(allow);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->AdmitsHttpWrite(Addr(Peer("10.9.8.7"))));
  EXPECT_FALSE(p->AdmitsHttpWrite(Addr(Peer("192.168.0.1"))));
  EXPECT_TRUE(p->Admits(Door::kUdp, Addr(Peer("10.9.8.7"))));
  EXPECT_FALSE(p->Admits(Door::kUdp, Addr(Peer("192.168.0.1"))));
  EXPECT_FALSE(p->Protects(Door::kUdp));  // --allow decides
  ASSERT_EQ(p->StartupLines().size(), 1u);
  EXPECT_TRUE(absl::StartsWith(p->StartupLines()[0].text,
                               "protected mode: http 0.0.0.0:7575 take"));

  ServerOptions open = o;
  open.protected_mode = false;
  p = Protection::From(open);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->AdmitsHttpWrite(Addr(Peer("10.0.0.1"))));
  EXPECT_TRUE(p->Admits(Door::kUdp, Addr(Peer("10.0.0.1"))));
  std::vector<Protection::Line> lines = p->StartupLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].warning);
  EXPECT_EQ(lines[0].text,
            "http 0.0.0.0:7575 takes writes from any machine that reaches it "
            "(no token, no --allow, --protected_mode=false)");
  EXPECT_TRUE(absl::StartsWith(lines[1].text, "udp 0.0.0.0:8125 takes"));

  ServerOptions bad = o;
  bad.allow = "10.0.0.0/99";
  EXPECT_FALSE(Protection::From(bad).ok());
}

// A write from another machine through the route table: 403 naming the
// flag, counted; reads and this machine's writes go through.
TEST(ProtectionTest, RefusedHttpWriteIs403NamingTheFlag) {
  Tree tree{Tree::Options()};
  Stats stats;
  ServerOptions options;
  options.http = "0.0.0.0:7575";
  absl::StatusOr<Protection> protection = Protection::From(options);
  ASSERT_TRUE(protection.ok());
  auto send = [&](const std::string& method, const std::string& ip) {
    Request r;
    r.method = method;
    r.path = method == "POST" ? "/push" : "/get";
    r.raw_path = r.path;
    r.content_type = "application/json";
    if (method == "POST") r.body = R"({"a": 1})";
    r.peer = Peer(ip);
    HandlerContext ctx;
    ctx.tree = &tree;
    ctx.stats = &stats;
    ctx.options = &options;
    ctx.now = time(nullptr);
    ctx.protection = &*protection;
    return Dispatch(r, ctx);
  };
  absl::StatusOr<Outcome> refused = send("POST", "10.0.0.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(HttpStatusOf(refused.status()), 403);
  EXPECT_TRUE(
      absl::StrContains(refused.status().message(), "--write_token=SECRET"))
      << refused.status();
  EXPECT_EQ(tree.leaf_count(), 0u);
  EXPECT_EQ(stats.rejected["http"]["denied"], 1u);
  EXPECT_TRUE(send("GET", "10.0.0.1").ok());
  EXPECT_TRUE(send("POST", "127.0.0.1").ok());
  EXPECT_EQ(tree.leaf_count(), 1u);
}

// The real canopyd on 0.0.0.0 says so in one line at start, and takes this
// machine's writes.
TEST(ProtectionTest, CanopydSaysSoAtStart) {
  std::string dir = testing::MakeTempDir();
  for (bool protect : {true, false}) {
    std::string log = dir + (protect ? "/on.log" : "/off.log");
    std::string ready = dir + (protect ? "/on.ready" : "/off.ready");
    int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(err, 0);
    pid_t pid = testing::Spawn(
        {testing::BinPath("canopyd"), "--http=0.0.0.0:0", "--udp=0.0.0.0:0",
         "--tcp=off", "--history=false",
         absl::StrCat("--protected_mode=", protect ? "true" : "false"),
         "--data_dir=" + dir + (protect ? "/on" : "/off"),
         "--ready_file=" + ready},
        -1, -1, err);
    close(err);
    ASSERT_GT(pid, 0);
    std::string ports;
    ASSERT_TRUE(testing::WaitFor([&] {
      std::ifstream f(ready);
      return static_cast<bool>(std::getline(f, ports));
    }));
    int http_port = 0;
    sscanf(ports.c_str(), "http=%d", &http_port);
    HttpClient client("127.0.0.1", http_port, 10);
    absl::StatusOr<HttpReply> push = client.Request(
        "POST", "/push", R"({"a": 1})", {{"Content-Type", "application/json"}});
    ASSERT_TRUE(push.ok()) << push.status();
    EXPECT_EQ(push->status, 200) << push->body;  // loopback: let in
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    std::ifstream f(log);
    std::stringstream text;
    text << f.rdbuf();
    const std::string out = text.str();
    if (protect) {
      EXPECT_TRUE(absl::StrContains(
          out,
          " INFO canopyd protected mode: http 0.0.0.0:0, udp 0.0.0.0:0 take "
          "writes only from this machine; for others set --write_token"))
          << out;
      EXPECT_FALSE(absl::StrContains(out, "WARN")) << out;
    } else {
      EXPECT_FALSE(absl::StrContains(out, "protected mode")) << out;
      EXPECT_TRUE(absl::StrContains(
          out, " WARN canopyd http 0.0.0.0:0 takes writes from any machine"))
          << out;
      EXPECT_TRUE(absl::StrContains(
          out, " WARN canopyd udp 0.0.0.0:0 takes writes from any machine"))
          << out;
    }
  }
  std::string rm = "rm -rf '" + dir + "'";
  ASSERT_EQ(system(rm.c_str()), 0);
}

}  // namespace
}  // namespace canopy
