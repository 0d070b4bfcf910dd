// Black-box test harness: starts the real canopyd on free loopback ports with
// a temporary data directory, and stops it with SIGTERM.
//
//   auto server = canopy::testing::ServerProcess::Start({"--max_nodes=100"});
//   ASSERT_TRUE(server.ok()) << server.status();
//   canopy::HttpClient http = (*server)->Client();
//   auto reply = http.Request("GET", "/healthz");
#ifndef CANOPY_TESTS_SERVER_HARNESS_H_
#define CANOPY_TESTS_SERVER_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "canopy/http_client.h"

namespace canopy {
namespace testing {

// The path of a built program ("canopyd", "canopy"): $CANOPY_BIN_DIR/bin/NAME.
std::string BinPath(const std::string& name);

// Polls `condition` every few milliseconds until it holds or `deadline`
// passes; returns whether it held. Tests wait on what they can observe
// (a reply, a file, a counter), never for a fixed time.
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration deadline = absl::Seconds(10));

// The first executable `name` on $PATH, /usr/sbin or /usr/local/sbin; ""
// (for the real peers tests start: nats-server, prometheus, collectd).
std::string FindProgram(const std::string& name);

// A loopback TCP port free at the moment of asking.
int FreePort();

// A fresh empty directory under $TEST_TMPDIR or /tmp, removed by the caller.
std::string MakeTempDir();

// Starts argv[0] with `argv`; the child's stdin, stdout and stderr become
// `in`, `out` and `err` (-1 keeps the test's own). Returns the pid, or -1.
// The child only calls dup2 and execv: everything is prepared before fork(),
// because a test with threads (responders, servers) may hold the allocator's
// lock at that moment, and a child that allocates would wait on it forever.
pid_t Spawn(const std::vector<std::string>& argv, int in = -1, int out = -1,
            int err = -1);

// A TCP connection to 127.0.0.1:`port` (-1 on failure); `rcvbuf`, when not
// 0, is the receive buffer, set before connecting so that the window is
// small from the start.
int ConnectLoopback(int port, int rcvbuf = 0);

// What a program printed and how it ended.
struct ProgramResult {
  int exit_code = -1;  // or 128 + the signal that ended it
  std::string out, err;
};

// Runs the built program `name` with `args` to its end, capturing stdout
// and stderr.
ProgramResult RunProgram(const std::string& name,
                         const std::vector<std::string>& args);

class ServerProcess {
 public:
  // Starts canopyd with --http=127.0.0.1:0 (and udp/tcp on port 0), a fresh
  // data dir (unless `data_dir` is given) and `flags`; waits until it
  // listens.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      std::vector<std::string> flags = {}, std::string data_dir = "");
  ~ServerProcess();

  int http_port() const { return http_port_; }
  int udp_port() const { return udp_port_; }
  int tcp_port() const { return tcp_port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  HttpClient Client(double timeout_seconds = 30) const {
    return HttpClient("127.0.0.1", http_port_, timeout_seconds);
  }

  // A figure of GET /metrics (a line "NAME VALUE", no labels), or -1.
  double Metric(const std::string& name) const;

  // Sends SIGTERM and waits; returns the exit code (or 128+signal).
  int Stop();
  // Sends SIGKILL and waits.
  void Kill();

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int http_port_ = 0;
  int udp_port_ = 0;
  int tcp_port_ = 0;
  std::string data_dir_;
  bool own_dir_ = false;
};

}  // namespace testing
}  // namespace canopy

#endif  // CANOPY_TESTS_SERVER_HARNESS_H_
