// canopy-fanout-push: the one change of a fan-out spread over several
// client processes (tools/bench/cluster_fanout.sh). Each client
// (canopy-pull-fanout --ready_file=...) parks its waiters on its server and
// writes its ready file; this program waits for all of them, sends one
// change, noting the wall-clock time just before it is written, writes the
// go file with that time, waits for every client's done file (the
// wall-clock time of each reply), and reckons the latencies of all the
// replies from the push: first, p50, p99 and max, the last reply of all
// being the figure. And the CPU time of the servers (--server_pid) over the
// delivery.
//
//   canopy-fanout-push --server=127.0.0.1:7601 --key=bench,fanout
//       --ready_files=r1,r2,r3 --go_file=go --done_files=d1,d2,d3
//       --end_file=end --server_pid=PID1,PID2,...
//   canopy-fanout-push --target=nchan --server=127.0.0.1:8080
//       --publish_path=/pub/ch1 ...
//
// The clients and this program read one clock (CLOCK_REALTIME, one
// machine). Prints a summary and a last line "RESULT key=value ...".
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "loopback.h"

ABSL_FLAG(std::string, target, "canopy",
          "canopy (POST /push of --key) or nchan (POST --message to "
          "--publish_path)");
ABSL_FLAG(std::string, server, "127.0.0.1:7575",
          "where the change goes (loopback only): a shard, or nginx");
ABSL_FLAG(std::string, key, "bench,fanout", "canopy: the key changed");
ABSL_FLAG(std::string, publish_path, "/pub/ch1", "nchan: the publisher");
ABSL_FLAG(std::string, message, "{\"seq\":3,\"items\":[{\"bench,fanout\":1}]}",
          "nchan: the message (default: canopyd's body for the change)");
ABSL_FLAG(std::vector<std::string>, ready_files, {},
          "the clients' --ready_file");
ABSL_FLAG(std::string, go_file, "", "the clients' --go_file");
ABSL_FLAG(std::vector<std::string>, done_files, {}, "the clients' --done_file");
ABSL_FLAG(std::string, end_file, "", "the clients' --end_file");
ABSL_FLAG(std::vector<std::string>, server_pid, {},
          "the server processes whose CPU time over the delivery is summed");
ABSL_FLAG(double, park_timeout, 600,
          "seconds to wait for every client's ready file");
ABSL_FLAG(double, deliver_timeout, 60,
          "seconds to wait for every client's done file after the push");

namespace canopy {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

void Die(const std::string& message) {
  std::fprintf(stderr, "fanout_push: %s\n", message.c_str());
  std::exit(1);
}

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits until every file exists; false past `seconds`.
bool AwaitFiles(const std::vector<std::string>& files, double seconds) {
  const Clock::time_point deadline =
      Clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  for (const std::string& f : files) {
    while (access(f.c_str(), F_OK) != 0) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return true;
}

// "name=N" from a line of words; 0 if absent.
int64_t Field(const std::string& line, absl::string_view name) {
  for (absl::string_view word : absl::StrSplit(line, ' ')) {
    int64_t v = 0;
    if (absl::ConsumePrefix(&word, name) && absl::ConsumePrefix(&word, "=") &&
        absl::SimpleAtoi(word, &v)) {
      return v;
    }
  }
  return 0;
}

void Touch(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) Die(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    Die(absl::StrCat("cannot rename ", tmp));
  }
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the one push of a fan-out over several canopy-pull-fanout clients; "
      "see tools/bench/cluster_fanout.sh");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Address> addr = LoopbackAddress(absl::GetFlag(FLAGS_server));
  if (!addr.ok()) Die(std::string(addr.status().message()));
  const bool nchan = absl::GetFlag(FLAGS_target) == "nchan";
  const std::vector<std::string> ready = absl::GetFlag(FLAGS_ready_files);
  const std::vector<std::string> done = absl::GetFlag(FLAGS_done_files);
  const std::string go = absl::GetFlag(FLAGS_go_file);
  if (ready.empty() || done.size() != ready.size() || go.empty()) {
    Die("needs --ready_files, as many --done_files, and --go_file");
  }
  std::vector<int> pids;
  for (const std::string& p : absl::GetFlag(FLAGS_server_pid)) {
    int v = 0;
    if (!absl::SimpleAtoi(p, &v) || v <= 0) Die("bad --server_pid");
    pids.push_back(v);
  }

  if (!AwaitFiles(ready, absl::GetFlag(FLAGS_park_timeout))) {
    Die("not every client parked its waiters in time");
  }
  int64_t parked = 0;
  for (const std::string& f : ready) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);
    parked += Field(line, "parked");
  }
  std::printf("%zu clients ready: %" PRId64 " waiters parked\n", ready.size(),
              parked);
  std::fflush(stdout);
  // Let the servers settle after the last waiters.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  const std::string body =
      nchan ? absl::GetFlag(FLAGS_message)
            : absl::StrCat("{\"", absl::GetFlag(FLAGS_key), "\": 1}");
  const std::string push = absl::StrCat(
      "POST ", nchan ? absl::GetFlag(FLAGS_publish_path) : "/push",
      " HTTP/1.1\r\nHost: ", addr->host, ":", addr->port,
      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
      "\r\n\r\n", body);
  const int fd = ConnectNonBlocking(*addr);
  if (fd < 0) Die(absl::StrCat("connect: ", std::strerror(errno)));
  pollfd p = {fd, POLLOUT, 0};
  if (poll(&p, 1, 5000) != 1) Die("connect timed out");
  const double cpu_before = SumCpuMs(pids);
  const int64_t push_ns = WallNs();
  if (send(fd, push.data(), push.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(push.size())) {
    Die("sending the push failed");
  }
  Touch(go, absl::StrCat(push_ns, "\n"));

  // The push's own reply, for its status.
  ReplyReader reply;
  p = {fd, POLLIN, 0};
  while (!reply.done() && poll(&p, 1, 10000) == 1) {
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0 || !reply.Feed(absl::string_view(buf, n))) break;
  }
  close(fd);
  if (!reply.done() || reply.status() / 100 != 2) {
    std::fprintf(stderr, "fanout_push: the push got HTTP %d %s\n",
                 reply.status(), reply.body().substr(0, 200).c_str());
  }

  const bool all_done =
      AwaitFiles(done, absl::GetFlag(FLAGS_deliver_timeout) + 5);
  const double server_cpu_ms = SumCpuMs(pids) - cpu_before;
  if (!absl::GetFlag(FLAGS_end_file).empty()) {
    Touch(absl::GetFlag(FLAGS_end_file), "end\n");
  }
  if (!all_done) Die("not every client finished in time");

  int64_t delivered = 0;
  int64_t failed = 0;
  std::vector<double> ms;
  for (const std::string& f : done) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);
    delivered += Field(line, "delivered");
    failed += Field(line, "failed");
    while (std::getline(in, line)) {
      int64_t ns = 0;
      if (absl::SimpleAtoi(line, &ns)) ms.push_back((ns - push_ns) / 1e6);
    }
  }
  std::sort(ms.begin(), ms.end());
  const double first = ms.empty() ? 0 : ms.front();
  const double p50 = Percentile(ms, 0.5);
  const double p99 = Percentile(ms, 0.99);
  const double max = ms.empty() ? 0 : ms.back();
  const double us_per_delivery =
      delivered > 0 ? server_cpu_ms * 1000.0 / delivered : 0;
  std::printf("delivered %" PRId64 " of %" PRId64 " (failed %" PRId64
              ")\n"
              "latency ms after the push: first %.1f  p50 %.1f  p99 %.1f  "
              "max %.1f\n"
              "servers' CPU while delivering: %.1f ms (%.1f us per delivery)\n",
              delivered, parked, failed, first, p50, p99, max, server_cpu_ms,
              us_per_delivery);
  std::printf("RESULT target=%s clients=%zu parked=%" PRId64
              " delivered=%" PRId64 " failed=%" PRId64
              " first_ms=%.2f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
              "server_cpu_ms=%.1f cpu_us_per_delivery=%.2f\n",
              nchan ? "nchan" : "canopy", ready.size(), parked, delivered,
              failed, first, p50, p99, max, server_cpu_ms, us_per_delivery);
  return delivered == parked && failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) { return canopy::bench::Main(argc, argv); }
