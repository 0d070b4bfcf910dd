// canopy-comet-floor: the least a long-poll server can do on this machine, to
// measure canopyd and nginx + nchan against. It answers canopy-pull-fanout
// as nchan (--target=nchan) and as canopyd (--target=canopy, with
// --changes_per_second for the steady mode), and nothing else:
//   GET /sub/...        parked until the next publish;
//   POST /pub/...       its body is sent to every parked request as a 200;
//   GET /nchan_status   "subscribers: N";
//   GET /get?...        {"seq":N,"items":[]};
//   GET /metrics        "canopy_waiters N";
//   GET /pull?...since=S  answered at once with the last change if S is
//                       behind it, else parked until the next;
//   POST /push          the next seq; {"seq":N,"items":[{BODY'S KEY: 1}]}
//                       goes to every parked request (the key is not read:
//                       the items are a fixed "floor" key).
// Each of --threads threads owns an epoll loop and a SO_REUSEPORT listener;
// a publish is handed to the other threads through an eventfd. A delivery is
// one write() of a reply built once per publish: no parsing beyond finding
// the request line and the end of the head, no allocation per request, no
// timers, no keep-alive bookkeeping. What is left is the kernel's TCP path
// and the loop: a floor, not a server (benchmarks only, loopback only).
//
// With --relay, a POST /pub/... is first written as it came to each of the
// other floor processes listed (connected at start): the floor of one
// change reaching waiters held by several processes, as a cluster's edges
// hold them (tools/bench/cluster_fanout.sh).
//
//   canopy-comet-floor --port=8090 --threads=2
//   canopy-comet-floor --port=8091 --relay=8092,8093
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

ABSL_FLAG(int, port, 8090, "the loopback port to listen on");
ABSL_FLAG(int, threads, 1, "event loops, each with its own listener");
ABSL_FLAG(std::vector<std::string>, relay, {},
          "loopback ports of other floor processes each publish is sent to");

namespace {

std::atomic<int64_t> g_parked{0};

// Connections to the --relay floors, made before the first request.
std::vector<int> g_relays;

// The last change published by /push, for a /pull that is behind it.
std::mutex g_last_mu;
int64_t g_seq = 0;                          // guarded by g_last_mu
std::shared_ptr<const std::string> g_last;  // guarded by g_last_mu

std::shared_ptr<const std::string> JsonReply(const std::string& body) {
  return std::make_shared<const std::string>(
      absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Content-Length: ",
                   body.size(), "\r\n\r\n", body));
}

// The since= of a /pull request line, or -1.
int64_t SinceOf(absl::string_view head) {
  const size_t at = head.find("since=");
  if (at == absl::string_view::npos) return -1;
  size_t end = at + 6;
  while (end < head.size() && head[end] >= '0' && head[end] <= '9') ++end;
  int64_t v = -1;
  (void)absl::SimpleAtoi(head.substr(at + 6, end - at - 6), &v);
  return v;
}

struct Conn {
  int fd = -1;
  std::string in;  // bytes of the request not yet complete
  bool parked = false;
  bool listed = false;  // in its loop's parked_
  int64_t since = -1;   // a /pull's cursor: delivered only what is newer
};

class Loop;
std::vector<std::unique_ptr<Loop>> g_loops;

class Loop {
 public:
  explicit Loop(int port) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    listen_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(listen_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_, 4096) != 0) {
      std::fprintf(stderr, "canopy-comet-floor: port %d: %s\n", port,
                   std::strerror(errno));
      std::exit(1);
    }
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    Watch(listen_, nullptr);
    Watch(wake_, &wake_tag_);
  }

  // Any thread: deliver REPLY to this loop's parked requests.
  void Publish(std::shared_ptr<const std::string> reply, int64_t seq) {
    {
      std::lock_guard<std::mutex> l(mu_);
      pending_ = std::move(reply);
      pending_seq_ = seq;
    }
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }

  void Run() {
    epoll_event events[512];
    for (;;) {
      const int n = epoll_wait(epoll_, events, 512, -1);
      for (int i = 0; i < n; ++i) {
        void* p = events[i].data.ptr;
        if (p == nullptr) {
          Accept();
        } else if (p == &wake_tag_) {
          uint64_t v;
          (void)!read(wake_, &v, sizeof v);
          std::shared_ptr<const std::string> reply;
          int64_t seq;
          {
            std::lock_guard<std::mutex> l(mu_);
            reply = std::move(pending_);
            seq = pending_seq_;
          }
          if (reply) Deliver(*reply, seq);
        } else {
          Read(static_cast<Conn*>(p));
        }
      }
      // Closed connections are freed after the batch that may name them,
      // once no parked_ list holds them.
      std::vector<Conn*> keep;
      for (Conn* c : closed_) {
        if (c->listed) {
          keep.push_back(c);
        } else {
          delete c;
        }
      }
      closed_.swap(keep);
    }
  }

 private:
  void Watch(int fd, void* tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Accept() {
    for (;;) {
      const int fd =
          accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Conn* c = new Conn;
      c->fd = fd;
      Watch(fd, c);
    }
  }

  void Close(Conn* c) {
    if (c->parked) {
      g_parked.fetch_sub(1);
      c->parked = false;  // left in parked_: Deliver skips it
    }
    close(c->fd);
    c->fd = -1;
    closed_.push_back(c);
  }

  void Send(Conn* c, absl::string_view bytes) {
    if (send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(bytes.size())) {
      Close(c);
    }
  }

  void Read(Conn* c) {
    char buf[4096];
    const ssize_t n = read(c->fd, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EAGAIN) return;
      Close(c);
      return;
    }
    c->in.append(buf, n);
    for (;;) {
      const size_t head_end = c->in.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      const absl::string_view head(c->in.data(), head_end);
      size_t body = 0;
      const size_t cl = head.find("Content-Length: ");
      if (cl != absl::string_view::npos) {
        const size_t eol = head.find("\r\n", cl);
        (void)absl::SimpleAtoi(head.substr(cl + 16, eol - cl - 16), &body);
      }
      const size_t total = head_end + 4 + body;
      if (c->in.size() < total) return;
      const std::string message = c->in.substr(head_end + 4, body);
      const bool sub = absl::StartsWith(head, "GET /sub/");
      const bool pub = absl::StartsWith(head, "POST /pub/");
      const bool status = absl::StartsWith(head, "GET /nchan_status");
      const bool pull = absl::StartsWith(head, "GET /pull?");
      const bool push = absl::StartsWith(head, "POST /push");
      const int64_t since = pull ? SinceOf(head) : -1;
      const bool get = absl::StartsWith(head, "GET /get?");
      const bool metrics = absl::StartsWith(head, "GET /metrics");
      // A publish as it came, for the --relay floors.
      const std::string again =
          pub && !g_relays.empty() ? c->in.substr(0, total) : std::string();
      c->in.erase(0, total);
      std::shared_ptr<const std::string> behind;
      if (pull) {
        std::lock_guard<std::mutex> l(g_last_mu);
        if (since < g_seq && g_last) behind = g_last;
      }
      if (behind) {
        Send(c, *behind);
      } else if (sub || pull) {
        c->parked = true;
        c->since = since;
        if (!c->listed) parked_.push_back(c);
        c->listed = true;
        g_parked.fetch_add(1);
      } else if (pub) {
        // The other processes first: their deliveries overlap this one's.
        for (int fd : g_relays) {
          (void)!send(fd, again.data(), again.size(), MSG_NOSIGNAL);
        }
        Send(c, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        auto reply = JsonReply(message);
        for (auto& loop : g_loops) {
          loop->Publish(reply, std::numeric_limits<int64_t>::max());
        }
      } else if (push) {
        std::shared_ptr<const std::string> reply;
        int64_t seq;
        {
          std::lock_guard<std::mutex> l(g_last_mu);
          seq = ++g_seq;
          reply = JsonReply(
              absl::StrCat("{\"seq\":", g_seq, ",\"items\":[{\"floor\":1}]}"));
          g_last = reply;
        }
        Send(c, *JsonReply("{\"accepted\":1}"));
        for (auto& loop : g_loops) loop->Publish(reply, seq);
      } else if (get) {
        std::lock_guard<std::mutex> l(g_last_mu);
        Send(c, *JsonReply(absl::StrCat("{\"seq\":", g_seq, ",\"items\":[]}")));
      } else if (metrics) {
        const std::string text =
            absl::StrCat("canopy_waiters ", g_parked.load(), "\n");
        Send(c, absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", text.size(),
                             "\r\n\r\n", text));
      } else if (status) {
        const std::string text =
            absl::StrCat("subscribers: ", g_parked.load(), "\n");
        Send(c, absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", text.size(),
                             "\r\n\r\n", text));
      } else {
        Send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      }
      if (c->fd < 0) return;
    }
  }

  void Deliver(const std::string& reply, int64_t seq) {
    std::vector<Conn*> now;
    now.swap(parked_);
    for (Conn* c : now) {
      if (c->fd >= 0 && c->parked && c->since >= seq) {
        parked_.push_back(c);  // it has this change already
        continue;
      }
      c->listed = false;
      if (c->fd < 0 || !c->parked) continue;
      c->parked = false;
      g_parked.fetch_sub(1);
      Send(c, reply);
    }
  }

  int epoll_ = -1;
  int listen_ = -1;
  int wake_ = -1;
  int wake_tag_ = 0;
  std::mutex mu_;
  std::shared_ptr<const std::string> pending_;  // guarded by mu_
  int64_t pending_seq_ = 0;                     // guarded by mu_
  std::vector<Conn*> parked_;
  std::vector<Conn*> closed_;  // freed at the end of a batch
};

// A blocking connection to a floor on `port`, tried for up to 10 s.
int ConnectRelay(const std::string& port_text) {
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port <= 0 || port > 65535) {
    std::fprintf(stderr, "canopy-comet-floor: --relay: bad port %s\n",
                 port_text.c_str());
    std::exit(2);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    close(fd);
    usleep(100000);
  }
  std::fprintf(stderr, "canopy-comet-floor: --relay: port %d: %s\n", port,
               std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the floor of long-poll fan-out on this machine (benchmarks only)");
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  for (const std::string& port : absl::GetFlag(FLAGS_relay)) {
    g_relays.push_back(ConnectRelay(port));
  }
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  for (int i = 0; i < threads; ++i) {
    g_loops.push_back(std::make_unique<Loop>(absl::GetFlag(FLAGS_port)));
  }
  std::vector<std::thread> running;
  for (int i = 1; i < threads; ++i) {
    running.emplace_back([i] { g_loops[i]->Run(); });
  }
  g_loops[0]->Run();
}
