// Comet on several workers, black-box: the real canopyd with
// --comet_threads=4, clients over real loopback sockets spread over every
// worker (the kernel spreads connections by SO_REUSEPORT).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace {

constexpr int kWorkers = 4;

int Connect(int port, int rcvbuf = 0) {
  return testing::ConnectLoopback(port, rcvbuf);
}

bool SendAll(int fd, const std::string& bytes) {
  return write(fd, bytes.data(), bytes.size()) ==
         static_cast<ssize_t>(bytes.size());
}

// One keep-alive connection that asks and reads one reply at a time (the
// way the pages and `canopy watch` poll).
class KeepAlive {
 public:
  explicit KeepAlive(int port) : fd_(Connect(port)) {}
  ~KeepAlive() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool Send(const std::string& target) {
    return SendAll(
        fd_, absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  // The next reply's status and body; status 0 when the connection closed
  // or nothing came within `seconds`.
  std::pair<int, std::string> Read(int seconds = 30) {
    const absl::Time deadline = absl::Now() + absl::Seconds(seconds);
    while (true) {
      size_t end = in_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t at = in_.find("Content-Length: ");
        size_t length = 0;
        if (at != std::string::npos && at < end) {
          length = std::stoul(in_.substr(at + 16));
        }
        if (in_.size() >= end + 4 + length) {
          int status = std::stoi(in_.substr(9, 3));
          std::string body = in_.substr(end + 4, length);
          in_.erase(0, end + 4 + length);
          return {status, body};
        }
      }
      const int left =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      pollfd p = {fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) != 1) return {0, ""};
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return {0, ""};
      in_.append(buf, static_cast<size_t>(n));
    }
  }
  // A /pull of `key` from `since`: its seq, and its items added to `*held`
  // ("null" for a removal); -1 on anything but a 200.
  int64_t Pull(const std::string& key, uint64_t since, int timeout,
               std::map<std::string, std::string>* held) {
    if (!Send(absl::StrCat("/pull?key=", key, "&since=", since,
                           "&timeout=", timeout))) {
      return -1;
    }
    auto [status, body] = Read(timeout + 30);
    if (status != 200) return -1;
    rapidjson::Document d;
    d.Parse(body.c_str());
    if (!d.IsObject()) return -1;
    for (const auto& item : d["items"].GetArray()) {
      for (const auto& m : item.GetObject()) {
        (*held)[m.name.GetString()] =
            m.value.IsNull() ? "null" : std::to_string(m.value.GetInt());
      }
    }
    last_items_ = d["items"].Size();
    return static_cast<int64_t>(d["seq"].GetUint64());
  }
  size_t last_items() const { return last_items_; }

 private:
  int fd_;
  std::string in_;
  size_t last_items_ = 0;
};

class WorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing::ServerProcess::Start(
        {absl::StrCat("--comet_threads=", kWorkers), "--history=false"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  double WorkerMetric(const std::string& name, int worker) {
    return server_->Metric(absl::StrCat(name, "{worker=\"", worker, "\"}"));
  }

  bool EveryWorkerHas(const std::string& name) {
    for (int i = 0; i < kWorkers; ++i) {
      if (WorkerMetric(name, i) <= 0) return false;
    }
    return true;
  }

  std::unique_ptr<testing::ServerProcess> server_;
};

// A burst of 10 000 pushes while clients on every worker poll: each client
// ends holding every key's final value (no update lost between polls).
TEST_F(WorkersTest, PollingClientsOnEveryWorkerEndWithEveryFinalValue) {
  constexpr int kKeys = 10;
  constexpr int kPushes = 10000;
  constexpr int kClients = 24;
  std::atomic<bool> pushed{false};
  std::atomic<int> done{0};
  std::vector<std::map<std::string, std::string>> held(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient http = server_->Client(20);
      uint64_t since = 0;
      while (true) {
        // Each poll is a new connection: the polls of one client land on
        // every worker.
        auto r = http.Request(
            "GET", absl::StrCat("/pull?key=burst&since=", since, "&timeout=2"));
        if (!r.ok() || r->status != 200) continue;
        rapidjson::Document d;
        d.Parse(r->body.c_str());
        if (!d.IsObject()) continue;
        since = d["seq"].GetUint64();
        for (const auto& item : d["items"].GetArray()) {
          for (const auto& m : item.GetObject()) {
            held[c][m.name.GetString()] =
                m.value.IsNull() ? "null" : std::to_string(m.value.GetInt());
          }
        }
        // Done once the burst is over and this client has caught up.
        if (pushed.load() && d["items"].Size() == 0) break;
      }
      ++done;
    });
  }
  ASSERT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_waiters") >= kClients / 2; }));
  HttpClient pusher = server_->Client();
  std::map<std::string, std::string> want;
  for (int i = 0; i < kPushes; ++i) {
    std::string key = absl::StrCat("k", i % kKeys);
    auto r =
        pusher.Request("POST", "/push",
                       absl::StrCat(R"({"burst": {")", key, R"(": )", i, "}}"),
                       {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok() && r->status == 200);
    want[absl::StrCat("burst,", key)] = std::to_string(i);
  }
  pushed = true;
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(held[c], want) << "client " << c;
  // Every worker took part.
  EXPECT_TRUE(EveryWorkerHas("canopy_worker_requests_total"));
  EXPECT_TRUE(EveryWorkerHas("canopy_worker_deliveries_total"));
}

// The same burst with each client polling again on its one keep-alive
// connection, from the seq of its last reply: the worker parks those polls
// itself (its waiter kept between polls, a change meanwhile held for the
// next poll or, past one, answered by the tree from the cursor), and every
// client still ends with every final value.
TEST_F(WorkersTest, KeepAliveClientsPollingAgainEndWithEveryFinalValue) {
  constexpr int kKeys = 10;
  constexpr int kPushes = 10000;
  constexpr int kClients = 24;
  std::atomic<bool> pushed{false};
  std::vector<std::map<std::string, std::string>> held(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      KeepAlive conn(server_->http_port());
      int64_t since = 0;
      while (true) {
        int64_t seq = conn.Pull("keep", since, 2, &held[c]);
        if (seq < 0) {  // closed: a new connection, from the same cursor
          conn.~KeepAlive();
          new (&conn) KeepAlive(server_->http_port());
          continue;
        }
        since = seq;
        if (pushed.load() && conn.last_items() == 0) break;
      }
    });
  }
  ASSERT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_waiters") >= kClients / 2; }));
  HttpClient pusher = server_->Client();
  std::map<std::string, std::string> want;
  for (int i = 0; i < kPushes; ++i) {
    std::string key = absl::StrCat("k", i % kKeys);
    auto r = pusher.Request(
        "POST", "/push", absl::StrCat(R"({"keep": {")", key, R"(": )", i, "}}"),
        {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok() && r->status == 200);
    want[absl::StrCat("keep,", key)] = std::to_string(i);
  }
  pushed = true;
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(held[c], want) << "client " << c;
  // The clients are gone: so are their waiters, parked or between polls.
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_watch_lists") == 0; }));
  EXPECT_EQ(server_->Metric("canopy_waiters"), 0);
}

// One client's polls on one connection, step by step: a kept waiter is
// parked again by its worker, counted as a waiter while parked and not
// between polls, gets a change made between polls at once, times out with
// its seq, is let go when the connection asks something else, and is freed
// when its client hangs up.
TEST_F(WorkersTest, AKeptWaiterBetweenPollsLosesNothing) {
  HttpClient http = server_->Client();
  auto push = [&](const std::string& body) {
    auto r = http.Request("POST", "/push", body,
                          {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok() && r->status == 200);
  };
  push(R"({"kw": {"a": 1}})");
  std::map<std::string, std::string> held;
  KeepAlive conn(server_->http_port());
  // A first poll from 0 answers at once with everything.
  int64_t seq = conn.Pull("kw", 0, 30, &held);
  ASSERT_GT(seq, 0);
  // Parked by the tree, answered by a change.
  ASSERT_TRUE(
      conn.Send(absl::StrCat("/pull?key=kw&since=", seq, "&timeout=30")));
  ASSERT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 1; }));
  push(R"({"kw": {"a": 2}})");
  auto [status, body] = conn.Read();
  ASSERT_EQ(status, 200);
  EXPECT_NE(body.find(R"("kw,a":2)"), std::string::npos) << body;
  rapidjson::Document d;
  d.Parse(body.c_str());
  seq = static_cast<int64_t>(d["seq"].GetUint64());
  // Between polls: not a parked waiter, but still watching.
  EXPECT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 0; }));
  EXPECT_EQ(server_->Metric("canopy_watch_lists"), 1);
  // A change between polls is the next poll's answer, at once.
  push(R"({"kw": {"b": 3}})");
  held.clear();
  seq = conn.Pull("kw", seq, 30, &held);
  EXPECT_EQ(held, (std::map<std::string, std::string>{{"kw,b", "3"}}));
  // Parked again by the worker, and counted.
  ASSERT_TRUE(
      conn.Send(absl::StrCat("/pull?key=kw&since=", seq, "&timeout=30")));
  ASSERT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 1; }));
  push(R"({"kw": {"a": 4}})");
  std::tie(status, body) = conn.Read();
  EXPECT_NE(body.find(R"("kw,a":4)"), std::string::npos) << body;
  d.Parse(body.c_str());
  seq = static_cast<int64_t>(d["seq"].GetUint64());
  // Several changes between polls: whatever the worker held or let go,
  // the polls that follow bring every one of them.
  push(R"({"kw": {"a": 5}})");
  push(R"({"kw": {"b": 6}})");
  {
    auto r = http.Request("DELETE", "/api/q/kw,a");
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : "");
  }
  push(R"({"kw": {"c": 7}})");
  held.clear();
  for (int i = 0; i < 10 && held.size() < 3; ++i) {
    seq = conn.Pull("kw", seq, 1, &held);
    ASSERT_GE(seq, 0);
  }
  EXPECT_EQ(held, (std::map<std::string, std::string>{
                      {"kw,a", "null"}, {"kw,b", "6"}, {"kw,c", "7"}}));
  // Timeouts, twice from the same cursor: no items, the seq unchanged.
  for (int i = 0; i < 2; ++i) {
    held.clear();
    int64_t again = conn.Pull("kw", seq, 1, &held);
    EXPECT_EQ(again, seq);
    EXPECT_TRUE(held.empty());
  }
  // Another request on the connection lets the waiter go.
  ASSERT_TRUE(conn.Send("/get?key=kw"));
  std::tie(status, body) = conn.Read();
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_watch_lists") == 0; }));
  // Parked again (by the tree), then by the worker; the client hangs up.
  held.clear();
  ASSERT_TRUE(
      conn.Send(absl::StrCat("/pull?key=kw&since=", seq, "&timeout=30")));
  ASSERT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 1; }));
  push(R"({"kw": {"c": 8}})");
  std::tie(status, body) = conn.Read();
  d.Parse(body.c_str());
  seq = static_cast<int64_t>(d["seq"].GetUint64());
  ASSERT_TRUE(
      conn.Send(absl::StrCat("/pull?key=kw&since=", seq, "&timeout=30")));
  ASSERT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 1; }));
  const double gone = server_->Metric("canopy_waiters_gone_total");
  conn.Close();
  EXPECT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 0; }));
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_watch_lists") == 0; }));
  EXPECT_EQ(server_->Metric("canopy_waiters_gone_total"), gone + 1);
}

// 2 000 parked clients hang up at once: every worker returns to zero
// waiters and zero connections within one hold interval, and still serves.
TEST_F(WorkersTest, AHangUpStormLeavesNoWaiterOnAnyWorker) {
  constexpr int kClients = 2000;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = Connect(server_->http_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, absl::StrCat("GET /pull?key=storm,", i % 7,
                                         "&timeout=120 HTTP/1.1\r\nHost: "
                                         "x\r\n\r\n")));
    fds.push_back(fd);
  }
  ASSERT_TRUE(testing::WaitFor(
      [&] { return server_->Metric("canopy_waiters") == kClients; }));
  EXPECT_TRUE(EveryWorkerHas("canopy_worker_waiters"));
  for (int fd : fds) close(fd);
  EXPECT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_waiters") == 0; },
                       absl::Seconds(5)));
  for (int i = 0; i < kWorkers; ++i) {
    EXPECT_EQ(WorkerMetric("canopy_worker_waiters", i), 0) << "worker " << i;
  }
  EXPECT_EQ(server_->Metric("canopy_watch_lists"), 0);
  EXPECT_EQ(server_->Metric("canopy_waiters_gone_total"), kClients);
  auto r = server_->Client().Request("POST", "/push", R"({"after": 1})",
                                     {{"Content-Type", "application/json"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

// A client that does not read its /stream neither holds a worker nor grows
// the server's memory without bound: past 1 MiB unsent it is offered
// nothing more, and once it reads it gets the latest values, coalesced.
TEST_F(WorkersTest, AStreamThatIsNotReadStaysBounded) {
  int fd = Connect(server_->http_port(), /*rcvbuf=*/4096);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /stream?key=flood HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(
      testing::WaitFor([&] { return server_->Metric("canopy_streams") == 1; }));
  double rss_before = server_->Metric("canopy_resident_memory_bytes");
  // 300 pushes, each changing 15 texts of 4 000 bytes: 18 MB of events.
  std::string big(4000, 'x');
  HttpClient pusher = server_->Client();
  constexpr int kPushes = 300;
  for (int i = 0; i < kPushes; ++i) {
    std::string json = R"({"flood": {)";
    for (int k = 0; k < 15; ++k) {
      absl::StrAppend(&json, k ? "," : "", "\"v", k, "\": \"", big, i, "\"");
    }
    json += "}}";
    auto r = pusher.Request("POST", "/push", json,
                            {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r.ok() && r->status == 200)
        << (r.ok() ? r->body : std::string(r.status().message()));
  }
#if !defined(__SANITIZE_ADDRESS__)
  // (Under ASan, freed memory stays in its quarantine: RSS says nothing.)
  EXPECT_LT(server_->Metric("canopy_resident_memory_bytes") - rss_before, 16e6);
#endif
  EXPECT_EQ(server_->Metric("canopy_streams"), 1);
  // Reading now, the client catches up to the last push.
  std::string last = absl::StrCat("x", kPushes - 1, "\"");
  std::string got;
  bool closed = false;
  char buf[65536];
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        pollfd p = {fd, POLLIN, 0};
        while (poll(&p, 1, 10) > 0) {
          ssize_t n = read(fd, buf, sizeof buf);
          if (n <= 0) {
            closed = true;
            return false;
          }
          got.append(buf, static_cast<size_t>(n));
          if (got.size() > (1 << 20)) got.erase(0, got.size() - (1 << 20));
        }
        return got.find(last) != std::string::npos;
      },
      absl::Seconds(20)))
      << (closed ? "closed" : "open") << ", read " << got.size() << ": "
      << got.substr(got.size() > 200 ? got.size() - 200 : 0);
  close(fd);
}

// Slow clients (one byte of a request, then nothing) on every worker do
// not slow the others' answers.
TEST_F(WorkersTest, SlowClientsDoNotHoldAWorker) {
  std::vector<int> fds;
  for (int i = 0; i < 400; ++i) {
    int fd = Connect(server_->http_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "G"));
    fds.push_back(fd);
  }
  HttpClient http = server_->Client(2);
  for (int i = 0; i < 50; ++i) {
    auto r = http.Request("GET", "/get?key=x");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
  }
  for (int fd : fds) close(fd);
}

// A connection that sends no whole request within --http_timeout (idle, or
// a slowloris a byte at a time) is closed; one that does is served.
TEST(WorkersTimeoutTest, ConnectionsWithoutAWholeRequestAreClosed) {
  auto s = testing::ServerProcess::Start(
      {"--http_timeout=1", "--comet_threads=2", "--history=false"});
  ASSERT_TRUE(s.ok()) << s.status();
  std::unique_ptr<testing::ServerProcess> server = std::move(*s);
  int idle = Connect(server->http_port());
  int slow = Connect(server->http_port());
  ASSERT_GE(idle, 0);
  ASSERT_GE(slow, 0);
  ASSERT_TRUE(SendAll(slow, "GET /get"));
  // Both are closed by the server: a read sees the end.
  for (int fd : {idle, slow}) {
    pollfd p = {fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    char c;
    EXPECT_EQ(read(fd, &c, 1), 0);
    close(fd);
  }
  double timeouts = 0;
  for (int i = 0; i < 2; ++i) {
    timeouts += server->Metric(
        absl::StrCat("canopy_worker_timeouts_total{worker=\"", i, "\"}"));
  }
  EXPECT_EQ(timeouts, 2);
  // A client that sends its request in time is answered.
  auto r = server->Client().Request("GET", "/healthz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace canopy
