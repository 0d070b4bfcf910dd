// Pieces shared by the load generators in tools/bench: a loopback-only
// address, non-blocking keep-alive sockets, a server's RSS and CPU time from
// /proc, and an incremental HTTP/1.1 reply reader, small enough to drive
// thousands of connections from one epoll thread without a library in the way.
//
//   absl::StatusOr<bench::Address> addr =
//   bench::LoopbackAddress("127.0.0.1:7575"); int fd =
//   bench::ConnectNonBlocking(*addr);   // -1 on error, errno set
//   bench::ReplyReader reader;
//   reader.Feed(bytes);                          // as they arrive
//   if (reader.done()) { reader.status(); reader.body(); reader.Reset(); }
//
// Everything here is thread-compatible; the benchmarks are single-threaded.
#ifndef CANOPY_TOOLS_BENCH_LOOPBACK_H_
#define CANOPY_TOOLS_BENCH_LOOPBACK_H_

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "canopy/http_client.h"

namespace canopy {
namespace bench {

struct Address {
  sockaddr_in sin;
  std::string host;
  int port;
};

// Parses "http://127.0.0.1:PORT" or "127.0.0.1:PORT" and refuses anything
// that is not on 127.0.0.0/8: the benchmarks never leave the machine.
inline absl::StatusOr<Address> LoopbackAddress(absl::string_view server) {
  absl::StatusOr<HttpClient> client = HttpClient::FromUrl(server);
  if (!client.ok()) return client.status();
  Address a;
  a.host = client->host() == "localhost" ? "127.0.0.1" : client->host();
  a.port = client->port();
  std::memset(&a.sin, 0, sizeof a.sin);
  a.sin.sin_family = AF_INET;
  a.sin.sin_port = htons(static_cast<uint16_t>(a.port));
  if (inet_pton(AF_INET, a.host.c_str(), &a.sin.sin_addr) != 1 ||
      (ntohl(a.sin.sin_addr.s_addr) >> 24) != 127) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server must be a 127.x.x.x address, not ", a.host));
  }
  return a;
}

// A non-blocking TCP socket connecting to `addr` (connect may be in
// progress: wait for EPOLLOUT). -1 on error with errno set.
inline int ConnectNonBlocking(const Address& addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr.sin),
              sizeof addr.sin) != 0 &&
      errno != EINPROGRESS) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// Raises the soft limit on open files to the hard limit; returns the limit.
inline rlim_t RaiseFdLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

// VmRSS of a process in bytes, from /proc/PID/status; 0 if unknown.
inline int64_t RssBytes(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      v = absl::StripAsciiWhitespace(v);
      absl::ConsumeSuffix(&v, "kB");
      int64_t kb = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &kb)) {
        return kb * 1024;
      }
    }
  }
  return 0;
}

// A process's user and system CPU time so far in ms, from /proc/PID/stat
// (clock-tick resolution); 0 if unknown.
inline double ProcessCpuMs(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ');
  // Fields 14 and 15 of stat(5), utime and stime; fields[0] is field 3.
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) * 1000.0 / sysconf(_SC_CLK_TCK);
}

// A process's CPU time so far in ms, summed over its threads from
// /proc/PID/task/*/schedstat (nanoseconds; needs CONFIG_SCHED_INFO), or
// from /proc/PID/stat (clock ticks, of threads alive or exited) if that is
// missing. Threads that exited between two readings are lost from the
// first, so use it across spans where the thread set does not change.
inline double ServerCpuMs(int pid) {
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  double ns = 0;
  bool any = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(absl::StrCat(dir, "/", e->d_name, "/schedstat"));
    double run_ns = 0;
    if (in >> run_ns) {
      ns += run_ns;
      any = true;
    }
  }
  closedir(d);
  return any ? ns / 1e6 : ProcessCpuMs(pid);
}

inline double SumCpuMs(const std::vector<int>& pids) {
  double ms = 0;
  for (int p : pids) ms += ServerCpuMs(p);
  return ms;
}

// The value at fraction `p` (0..1) of sorted `v`; 0 for an empty vector.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// Reads one HTTP/1.1 reply at a time from bytes fed as they arrive:
// Content-Length or chunked bodies. Not pipelined: one reply in flight.
class ReplyReader {
 public:
  // Appends bytes; returns false on a reply it cannot parse.
  bool Feed(absl::string_view data) {
    buf_.append(data.data(), data.size());
    return Advance();
  }

  bool done() const { return state_ == State::kDone; }
  int status() const { return status_; }
  const std::string& body() const { return body_; }
  // True if the server said it will close the connection after this reply.
  bool closing() const { return closing_; }

  // Forgets the finished reply; keeps any bytes of the next one.
  void Reset() {
    state_ = State::kHead;
    status_ = 0;
    content_length_ = -1;
    chunked_ = false;
    closing_ = false;
    body_.clear();
  }

 private:
  enum class State { kHead, kBody, kChunkSize, kChunkData, kTrailer, kDone };

  bool Advance() {
    while (true) {
      switch (state_) {
        case State::kHead: {
          size_t end = buf_.find("\r\n\r\n");
          if (end == std::string::npos) return true;
          if (!ParseHead(absl::string_view(buf_).substr(0, end))) return false;
          buf_.erase(0, end + 4);
          state_ = chunked_ ? State::kChunkSize : State::kBody;
          if (!chunked_ && content_length_ < 0) return false;  // read to close
          break;
        }
        case State::kBody:
          if (buf_.size() < static_cast<size_t>(content_length_)) return true;
          body_.assign(buf_, 0, content_length_);
          buf_.erase(0, content_length_);
          state_ = State::kDone;
          return true;
        case State::kChunkSize: {
          size_t eol = buf_.find("\r\n");
          if (eol == std::string::npos) return true;
          absl::string_view size_text = absl::string_view(buf_).substr(0, eol);
          size_text = size_text.substr(0, size_text.find(';'));
          uint64_t size = 0;
          if (!absl::SimpleHexAtoi(size_text, &size)) return false;
          buf_.erase(0, eol + 2);
          chunk_left_ = size;
          state_ = size == 0 ? State::kTrailer : State::kChunkData;
          break;
        }
        case State::kChunkData:
          if (buf_.size() < chunk_left_ + 2) return true;
          body_.append(buf_, 0, chunk_left_);
          buf_.erase(0, chunk_left_ + 2);
          state_ = State::kChunkSize;
          break;
        case State::kTrailer: {
          size_t eol = buf_.find("\r\n");
          if (eol == std::string::npos) return true;
          buf_.erase(0, eol + 2);
          if (eol == 0) {
            state_ = State::kDone;
            return true;
          }
          break;
        }
        case State::kDone:
          return true;
      }
    }
  }

  bool ParseHead(absl::string_view head) {
    size_t eol = head.find("\r\n");
    absl::string_view status_line = head.substr(0, eol);
    if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
        !absl::SimpleAtoi(status_line.substr(9, 3), &status_)) {
      return false;
    }
    closing_ = absl::StartsWith(status_line, "HTTP/1.0");
    while (eol != absl::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      absl::string_view line = head.substr(0, eol);
      size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      absl::string_view name = line.substr(0, colon);
      absl::string_view value =
          absl::StripAsciiWhitespace(line.substr(colon + 1));
      if (absl::EqualsIgnoreCase(name, "content-length")) {
        if (!absl::SimpleAtoi(value, &content_length_)) return false;
      } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
        chunked_ = absl::StrContains(absl::AsciiStrToLower(value), "chunked");
      } else if (absl::EqualsIgnoreCase(name, "connection")) {
        if (absl::EqualsIgnoreCase(value, "close")) closing_ = true;
        if (absl::EqualsIgnoreCase(value, "keep-alive")) closing_ = false;
      }
    }
    return true;
  }

  State state_ = State::kHead;
  std::string buf_;
  std::string body_;
  int status_ = 0;
  int64_t content_length_ = -1;
  uint64_t chunk_left_ = 0;
  bool chunked_ = false;
  bool closing_ = false;
};

}  // namespace bench
}  // namespace canopy

#endif  // CANOPY_TOOLS_BENCH_LOOPBACK_H_
