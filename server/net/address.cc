#include "server/net/address.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace canopy {

absl::Status ParseSocketAddress(absl::string_view addr, sockaddr_storage* ss,
                                socklen_t* len) {
  size_t colon = addr.rfind(':');
  int port;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address \"", addr, "\" (expected HOST:PORT)"));
  }
  std::string host(addr.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  std::memset(ss, 0, sizeof *ss);
  auto* in4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad address \"", addr, "\": the host must be an IP address"));
  }
  return absl::OkStatus();
}

std::string PeerText(const sockaddr* addr) {
  if (addr == nullptr) return "";
  char host[INET6_ADDRSTRLEN];
  if (addr->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(addr);
    if (inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host) == nullptr) {
      return "";
    }
    return absl::StrCat(host, ":", ntohs(in4->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) == nullptr) {
      return "";
    }
    return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
  }
  return "";
}

int BoundPort(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  return 0;
}

absl::StatusOr<AllowList> AllowList::Parse(absl::string_view spec) {
  AllowList list;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    part = absl::StripAsciiWhitespace(part);
    Range r;
    std::memset(&r, 0, sizeof r);
    size_t slash = part.find('/');
    std::string host(part.substr(0, slash));
    int max_prefix;
    if (inet_pton(AF_INET, host.c_str(), r.bytes) == 1) {
      r.family = AF_INET;
      max_prefix = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), r.bytes) == 1) {
      r.family = AF_INET6;
      max_prefix = 128;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --allow range \"", part, "\" (expected CIDR)"));
    }
    r.prefix = max_prefix;
    if (slash != absl::string_view::npos &&
        (!absl::SimpleAtoi(part.substr(slash + 1), &r.prefix) || r.prefix < 0 ||
         r.prefix > max_prefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --allow prefix in \"", part, "\""));
    }
    list.ranges_.push_back(r);
  }
  return list;
}

bool AllowList::Allows(const sockaddr* addr) const {
  if (ranges_.empty()) return true;
  unsigned char bytes[16];
  int family = addr->sa_family;
  if (family == AF_INET) {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr,
                4);
  } else if (family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    std::memcpy(bytes, &in6->sin6_addr, 16);
    // An IPv4-mapped address is checked as IPv4.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0,    0,
                                              0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, 12) == 0) {
      family = AF_INET;
      std::memmove(bytes, bytes + 12, 4);
    }
  } else {
    return false;
  }
  for (const Range& r : ranges_) {
    if (r.family != family) continue;
    int full = r.prefix / 8, rest = r.prefix % 8;
    if (std::memcmp(bytes, r.bytes, full) != 0) continue;
    if (rest != 0) {
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((bytes[full] & mask) != (r.bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

}  // namespace canopy
