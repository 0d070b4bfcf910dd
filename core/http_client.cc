#include "canopy/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::StatusOr<int> Connect(const std::string& host, int port) {
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  int err = 0;
  for (struct addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      freeaddrinfo(res);
      return fd;
    }
    err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  return absl::UnavailableError(absl::StrCat("cannot connect to ", host, ":",
                                             port, ": ", std::strerror(err)));
}

// Reads what is there, waiting up to the deadline. 0 bytes means closed.
absl::StatusOr<size_t> ReadSome(
    int fd, char* buf, size_t n,
    std::chrono::steady_clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return absl::DeadlineExceededError("timed out");
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return absl::UnavailableError(std::strerror(errno));
    if (rc == 0) continue;
    ssize_t got = read(fd, buf, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return absl::UnavailableError(std::strerror(errno));
    return static_cast<size_t>(got);
  }
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Reads a reply: head, then body by Content-Length, chunked coding or close.
// Body bytes go to `on_data` as they are decoded.
absl::StatusOr<HttpReply> ReadReply(
    int fd, std::chrono::steady_clock::time_point deadline,
    const std::function<bool(absl::string_view)>* on_data) {
  HttpReply reply;
  std::string buf;
  char tmp[65536];
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    absl::StatusOr<size_t> n = ReadSome(fd, tmp, sizeof tmp, deadline);
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::UnavailableError("connection closed early");
    buf.append(tmp, *n);
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(buf).substr(0, head_end), "\r\n");
  std::vector<absl::string_view> status_line =
      absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 ||
      !absl::SimpleAtoi(status_line[1], &reply.status)) {
    return absl::DataLossError("bad status line");
  }
  long long content_length = -1;
  bool chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (name == "content-length" && !absl::SimpleAtoi(value, &content_length)) {
      return absl::DataLossError("bad Content-Length");
    }
    if (name == "transfer-encoding" &&
        absl::AsciiStrToLower(value).find("chunked") != std::string::npos) {
      chunked = true;
    }
    reply.headers.emplace_back(std::move(name), std::move(value));
  }
  std::string rest = buf.substr(head_end + 4);
  auto deliver = [&](absl::string_view data) -> bool {
    if (on_data != nullptr) return (*on_data)(data);
    reply.body.append(data.data(), data.size());
    return true;
  };
  auto more = [&]() -> absl::StatusOr<bool> {
    absl::StatusOr<size_t> n = ReadSome(fd, tmp, sizeof tmp, deadline);
    if (!n.ok()) return n.status();
    if (*n == 0) return false;
    rest.append(tmp, *n);
    return true;
  };
  if (chunked) {
    while (true) {
      size_t eol;
      while ((eol = rest.find("\r\n")) == std::string::npos) {
        absl::StatusOr<bool> ok = more();
        if (!ok.ok()) return ok.status();
        if (!*ok) return absl::DataLossError("chunked body cut short");
      }
      unsigned long long size = 0;
      std::string size_text = rest.substr(0, eol);
      size_t semi = size_text.find(';');
      if (semi != std::string::npos) size_text.resize(semi);
      if (!absl::SimpleHexAtoi(size_text, &size)) {
        return absl::DataLossError("bad chunk size");
      }
      rest.erase(0, eol + 2);
      if (size == 0) break;
      while (rest.size() < size + 2) {
        absl::StatusOr<bool> ok = more();
        if (!ok.ok()) return ok.status();
        if (!*ok) return absl::DataLossError("chunked body cut short");
      }
      if (!deliver(absl::string_view(rest).substr(0, size))) return reply;
      rest.erase(0, size + 2);
    }
  } else if (content_length >= 0) {
    while (rest.size() < static_cast<size_t>(content_length)) {
      absl::StatusOr<bool> ok = more();
      if (!ok.ok()) return ok.status();
      if (!*ok) return absl::DataLossError("body cut short");
    }
    deliver(absl::string_view(rest).substr(0, content_length));
  } else {
    while (true) {
      if (!rest.empty()) {
        if (!deliver(rest)) return reply;
        rest.clear();
      }
      absl::StatusOr<bool> ok = more();
      if (!ok.ok()) return ok.status();
      if (!*ok) break;
    }
  }
  return reply;
}

std::string BuildRequest(absl::string_view method, absl::string_view target,
                         absl::string_view host, absl::string_view body,
                         const HttpHeaders& headers, bool has_body) {
  std::string req =
      absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", host,
                   "\r\nConnection: close\r\n");
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&req, name, ": ", value, "\r\n");
  }
  if (has_body) absl::StrAppend(&req, "Content-Length: ", body.size(), "\r\n");
  absl::StrAppend(&req, "\r\n", body);
  return req;
}

// One request on a connection of its own: connects, sends `request`,
// reads the reply (handing the body to `on_data` as it comes, if set),
// all within `timeout` seconds.
absl::StatusOr<HttpReply> Exchange(
    const std::string& host, int port, double timeout,
    absl::string_view request,
    const std::function<bool(absl::string_view)>* on_data) {
  auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  absl::StatusOr<int> fd = Connect(host, port);
  if (!fd.ok()) return fd.status();
  Fd owner(*fd);
  if (absl::Status s = WriteAll(*fd, request); !s.ok()) return s;
  return ReadReply(*fd, deadline, on_data);
}

}  // namespace

std::string HttpReply::Header(absl::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

absl::StatusOr<HttpClient> HttpClient::FromUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (absl::StartsWith(rest, "http://")) rest.remove_prefix(7);
  size_t slash = rest.find('/');
  if (slash != absl::string_view::npos) rest = rest.substr(0, slash);
  int port = 7575;
  std::string host(rest);
  size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos) {
    host = std::string(rest.substr(0, colon));
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port <= 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad server address \"", url, "\""));
    }
  }
  if (host.empty()) host = "127.0.0.1";
  return HttpClient(host, port);
}

absl::StatusOr<HttpReply> HttpClient::Request(
    absl::string_view method, absl::string_view target, absl::string_view body,
    const HttpHeaders& headers) const {
  bool has_body = !body.empty() || method == "POST" || method == "PUT";
  return Exchange(host_, port_, timeout_,
                  BuildRequest(method, target, host_, body, headers, has_body),
                  nullptr);
}

absl::StatusOr<int> HttpClient::Stream(
    absl::string_view target, const HttpHeaders& headers,
    const std::function<bool(absl::string_view)>& on_data) const {
  absl::StatusOr<HttpReply> r = Exchange(
      host_, port_, timeout_,
      BuildRequest("GET", target, host_, "", headers, false), &on_data);
  if (!r.ok()) return r.status();
  return r->status;
}

std::string UrlEncode(absl::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~' || c == ',' || c == '*') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace canopy
