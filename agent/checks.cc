// The agent's checks. See agent/checks.h.
//
// Threads: SetChecks() and Collect() run on the caller's thread (the
// agent's collecting thread); Run() and the rounds on the runner's worker
// thread, which also starts one short-lived thread per round for the URL
// fetches (joined before the round ends). libcurl's process-wide loading
// is agent/url_fetch.cc's.
#include "agent/checks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/proc_parse.h"
#include "rapidjson/document.h"

namespace canopy {
namespace agent {
namespace {

bool NeedsCurl(const std::vector<Check>& checks) {
  return std::any_of(checks.begin(), checks.end(), [](const Check& c) {
    return c.type == Check::Type::kUrl || c.type == Check::Type::kNginx;
  });
}

bool ParseHostPort(absl::string_view s, std::string* host, int* port) {
  absl::string_view p = s;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == absl::string_view::npos || close + 1 >= s.size() ||
        s[close + 1] != ':') {
      return false;
    }
    *host = std::string(s.substr(1, close - 1));
    p = s.substr(close + 2);
  } else if (size_t colon = s.rfind(':'); colon != absl::string_view::npos) {
    *host = std::string(s.substr(0, colon));
    p = s.substr(colon + 1);
  }
  return absl::SimpleAtoi(p, port) && *port > 0 && *port < 65536 &&
         !host->empty();
}

const char* ReasonOf(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "conn-refused";
    case ETIMEDOUT:
      return "timeout";
    case EHOSTUNREACH:
      return "host-unreach";
    case ENETUNREACH:
      return "net-unreach";
    default:
      return "error";
  }
}

PortResult FromErrno(int err) {
  if (err == 0) return {"open", "syn-ack"};
  if (err == ECONNREFUSED) return {"closed", "conn-refused"};
  return {"filtered", ReasonOf(err)};
}

bool NumberAfter(absl::string_view text, absl::string_view label,
                 int64_t* out) {
  size_t at = text.find(label);
  if (at == absl::string_view::npos) return false;
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(text.substr(at + label.size()));
  size_t end = 0;
  while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9') ++end;
  return absl::SimpleAtoi(rest.substr(0, end), out);
}

}  // namespace

absl::StatusOr<std::vector<Check>> ChecksFromFlags(
    const std::vector<std::string>& ports, const std::vector<std::string>& urls,
    const std::string& nginx_status, absl::Duration timeout) {
  std::vector<Check> out;
  for (const std::string& p : ports) {
    if (p.empty()) continue;
    Check c;
    c.type = Check::Type::kPort;
    c.timeout = timeout;
    if (!absl::SimpleAtoi(p, &c.port)) {
      if (!ParseHostPort(p, &c.host, &c.port)) c.port = 0;
    }
    if (c.port <= 0 || c.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--check_port=", p, ": expected PORT or HOST:PORT (1-65535)"));
    }
    out.push_back(std::move(c));
  }
  for (const std::string& u : urls) {
    if (u.empty()) continue;
    size_t eq = u.find('=');
    Check c;
    c.type = Check::Type::kUrl;
    c.timeout = timeout;
    if (eq != std::string::npos) {
      c.name = u.substr(0, eq);
      c.url = u.substr(eq + 1);
    }
    if (c.name.empty() || SafeSegment(c.name) != c.name ||
        !(absl::StartsWith(c.url, "http://") ||
          absl::StartsWith(c.url, "https://"))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--check_url=", u,
                       ": expected NAME=http://... (NAME one key segment)"));
    }
    out.push_back(std::move(c));
  }
  if (!nginx_status.empty()) {
    if (!absl::StartsWith(nginx_status, "http://") &&
        !absl::StartsWith(nginx_status, "https://")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nginx_status=", nginx_status, ": expected http://..."));
    }
    Check c;
    c.type = Check::Type::kNginx;
    c.url = nginx_status;
    c.timeout = timeout;
    out.push_back(std::move(c));
  }
  return out;
}

std::string ServiceName(int port) {
  servent se;
  servent* found = nullptr;
  char buf[1024];
  if (getservbyport_r(htons(static_cast<uint16_t>(port)), "tcp", &se, buf,
                      sizeof buf, &found) == 0 &&
      found != nullptr && found->s_name != nullptr) {
    return SafeSegment(found->s_name);
  }
  return "unknown";
}

std::vector<PortResult> CheckPorts(const std::vector<Check>& ports,
                                   const std::atomic<bool>* stop) {
  std::vector<PortResult> out(ports.size());
  std::vector<pollfd> fds;
  std::vector<size_t> index;  // fds[i] is the check index[i]
  std::vector<absl::Time> deadline;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < ports.size(); ++i) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* ai = nullptr;
    std::string service = absl::StrCat(ports[i].port);
    if (getaddrinfo(ports[i].host.c_str(), service.c_str(), &hints, &ai) != 0 ||
        ai == nullptr) {
      out[i] = {"filtered", "no-address"};
      continue;
    }
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      freeaddrinfo(ai);
      out[i] = {"filtered", "error"};
      continue;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    freeaddrinfo(ai);
    if (err == EINPROGRESS) {
      fds.push_back({fd, POLLOUT, 0});
      index.push_back(i);
      deadline.push_back(start + ports[i].timeout);
      continue;
    }
    out[i] = FromErrno(err);
    close(fd);
  }
  size_t pending = fds.size();
  while (pending > 0) {
    absl::Time now = absl::Now();
    absl::Time next = absl::InfiniteFuture();
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].fd < 0) continue;
      if (deadline[k] <= now) {
        out[index[k]] = {"filtered", "timeout"};
        close(fds[k].fd);
        fds[k].fd = -1;
        --pending;
        continue;
      }
      next = std::min(next, deadline[k]);
    }
    if (pending == 0) break;
    if (stop && stop->load()) break;
    int ms = static_cast<int>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(next - now) + 1, 1, 100));
    int n = poll(fds.data(), fds.size(), ms);
    if (n < 0 && errno != EINTR) break;
    for (size_t k = 0; n > 0 && k < fds.size(); ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fds[k].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
      }
      out[index[k]] = FromErrno(err);
      close(fds[k].fd);
      fds[k].fd = -1;
      --pending;
    }
  }
  for (size_t k = 0; k < fds.size(); ++k) {
    if (fds[k].fd >= 0) {
      out[index[k]] = {"filtered", "aborted"};
      close(fds[k].fd);
    }
  }
  return out;
}

bool ParseNginxStatus(absl::string_view text, NginxStatus* out) {
  NginxStatus s;
  if (!NumberAfter(text, "Active connections:", &s.active) ||
      !NumberAfter(text, "Reading:", &s.reading) ||
      !NumberAfter(text, "Writing:", &s.writing) ||
      !NumberAfter(text, "Waiting:", &s.waiting)) {
    return false;
  }
  size_t at = text.find("requests");
  if (at == absl::string_view::npos) return false;
  std::vector<absl::string_view> nums = absl::StrSplit(
      text.substr(at + 8), absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
  if (nums.size() < 3 || !absl::SimpleAtoi(nums[0], &s.accepts) ||
      !absl::SimpleAtoi(nums[1], &s.handled) ||
      !absl::SimpleAtoi(nums[2], &s.requests)) {
    return false;
  }
  *out = s;
  return true;
}

CheckRunner::CheckRunner(ErrorLog* log) : log_(log) {
  thread_ = std::thread([this] { Run(); });
}

CheckRunner::~CheckRunner() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  abort_ = true;
  thread_.join();
}

void CheckRunner::SetChecks(std::vector<Check> checks) {
  if (NeedsCurl(checks)) {
    // The first URL or nginx check loads libcurl (outside the lock: it can
    // take a few ms); a failure is logged here and each round reports it
    // again, at most once a minute.
    if (absl::Status curl = LoadLibcurl(); !curl.ok()) {
      log_->Report("libcurl", curl.message());
    }
  }
  MutexLock lock(&mu_);
  if (checks == checks_) return;
  checks_ = std::move(checks);
  ++generation_;
  latest_.clear();
}

void CheckRunner::Collect(rapidjson::Value* host, JsonAlloc& a) {
  std::string latest;
  {
    MutexLock lock(&mu_);
    if (!checks_.empty()) wanted_ = true;
    latest = latest_;
  }
  if (latest.empty()) return;
  rapidjson::Document d;
  d.Parse(latest.c_str());
  if (!d.HasParseError()) MergeInto(*host, d, a);
}

void CheckRunner::Run() {
  while (true) {
    std::vector<Check> checks;
    uint64_t generation;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || wanted_;
      });
      if (stop_) return;
      wanted_ = false;
      checks = checks_;
      generation = generation_;
    }
    std::string json = RunRound(checks);
    MutexLock lock(&mu_);
    if (generation == generation_) latest_ = std::move(json);
  }
}

std::string CheckRunner::RunRound(const std::vector<Check>& checks) {
  std::vector<Check> ports;
  std::vector<const Check*> fetches;
  std::vector<UrlRequest> requests;
  for (const Check& c : checks) {
    if (c.type == Check::Type::kPort) {
      ports.push_back(c);
    } else {
      fetches.push_back(&c);
      requests.push_back(
          {c.url, c.timeout, c.type == Check::Type::kNginx, false, 0});
    }
  }
  // Ports and URLs side by side: the round takes the longest timeout, not
  // the sum.
  std::vector<UrlResult> fetched;
  std::thread fetcher;
  if (!requests.empty()) {
    fetcher = std::thread([&] { fetched = FetchUrls(requests, &abort_); });
  }
  std::vector<PortResult> port_results = CheckPorts(ports, &abort_);
  if (fetcher.joinable()) fetcher.join();
  // Without libcurl every fetch fails for the same reason: one log line
  // (kind "libcurl", at most once a minute), not one per check.
  const absl::Status curl = requests.empty() ? absl::OkStatus() : LoadLibcurl();
  const bool no_curl = !curl.ok();
  if (no_curl) log_->Report("libcurl", curl.message());

  rapidjson::Document d;
  d.SetObject();
  JsonAlloc& a = d.GetAllocator();
  if (!ports.empty()) {
    rapidjson::Value& p = Child(d, "port", a);
    SetText(p, "defaultaction", "last", a);
    for (size_t i = 0; i < ports.size(); ++i) {
      rapidjson::Value& one = Child(p, absl::StrCat(ports[i].port), a);
      SetText(one, "state", port_results[i].state, a);
      SetText(one, "reason", port_results[i].reason, a);
      SetText(one, "service", ServiceName(ports[i].port), a);
    }
  }
  for (size_t i = 0; i < fetches.size(); ++i) {
    const Check& c = *fetches[i];
    const UrlResult& r = fetched[i];
    if (c.type == Check::Type::kUrl) {
      if (r.status == 0 && !no_curl) {
        log_->Report(
            absl::StrCat("url ", c.name),
            absl::StrCat("check url ", c.name, " (", c.url, "): ", r.error));
      }
      rapidjson::Value& u = Child(d, "url", a);
      SetText(u, "defaultaction", "last", a);
      rapidjson::Value& one = Child(u, c.name, a);
      SetInt(one, "status", r.status, a);
      SetNumber(one, "ttfb_ms", r.ttfb_ms, a);
      SetNumber(one, "total_ms", r.total_ms, a);
      SetInt(one, "bytes", r.bytes, a);
      continue;
    }
    NginxStatus s;
    std::string why;
    if (r.status == 0) {
      why = r.error;
    } else if (r.status != 200) {
      why = absl::StrCat("HTTP status ", r.status);
    } else if (!ParseNginxStatus(r.body, &s)) {
      why = "not a stub_status page";
    }
    if (!why.empty()) {
      if (no_curl) continue;
      log_->Report("nginx",
                   absl::StrCat("nginx stub_status (", c.url, "): ", why));
      continue;
    }
    rapidjson::Value& n = Child(d, "nginx", a);
    SetText(n, "defaultaction", "last", a);
    SetInt(n, "active", s.active, a);
    SetInt(n, "accepts", s.accepts, a);
    SetInt(n, "handled", s.handled, a);
    SetInt(n, "requests", s.requests, a);
    SetInt(n, "reading", s.reading, a);
    SetInt(n, "writing", s.writing, a);
    SetInt(n, "waiting", s.waiting, a);
  }
  return ToJson(d);
}

}  // namespace agent
}  // namespace canopy
