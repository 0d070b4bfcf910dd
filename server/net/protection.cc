// Protected mode: which doors refuse other machines, and the start-up lines.
// See server/net/protection.h. Built before the server starts; read by the
// event-loop thread.
#include "server/net/protection.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace canopy {

bool IsLoopback(const sockaddr* addr) {
  if (addr == nullptr || addr->sa_family == AF_UNSPEC) return true;
  if (addr->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(addr);
    return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
  }
  if (addr->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  if (addr->sa_family == AF_UNIX) return true;
  return false;
}

bool IsLoopbackAddress(absl::string_view host_port) {
  sockaddr_storage ss;
  socklen_t len;
  if (!ParseSocketAddress(host_port, &ss, &len).ok()) return false;
  return IsLoopback(reinterpret_cast<const sockaddr*>(&ss));
}

absl::StatusOr<Protection> Protection::From(const ServerOptions& options) {
  Protection p;
  absl::StatusOr<AllowList> allow = AllowList::Parse(options.allow);
  if (!allow.ok()) return allow.status();
  p.allow_ = std::move(*allow);
  struct DoorSpec {
    const char* name;
    const std::string& address;
    bool has_key;  // a token or --allow tells friend from foe
    bool* protects;
  };
  const DoorSpec doors[] = {
      {"http", options.http, !options.write_token.empty(), &p.http_},
      {"udp", options.udp, !p.allow_.empty(), &p.udp_},
      {"tcp", options.tcp, !p.allow_.empty(), &p.tcp_},
  };
  for (const DoorSpec& d : doors) {
    if (d.address == "off" || d.has_key || IsLoopbackAddress(d.address)) {
      continue;
    }
    std::string named = absl::StrCat(d.name, " ", d.address);
    if (options.protected_mode) {
      *d.protects = true;
      p.protected_.push_back(std::move(named));
    } else {
      // --allow limits HTTP writes only in protected mode, so without a
      // token HTTP is open to all even with --allow.
      p.open_.push_back(std::move(named));
    }
  }
  return p;
}

bool Protection::Protects(Door door) const {
  switch (door) {
    case Door::kHttp:
      return http_;
    case Door::kUdp:
      return udp_;
    case Door::kTcp:
      return tcp_;
  }
  return false;
}

bool Protection::Admits(Door door, const sockaddr* peer) const {
  if (!allow_.empty()) return allow_.Allows(peer);
  return !Protects(door) || IsLoopback(peer);
}

bool Protection::AdmitsHttpWrite(const sockaddr* peer) const {
  if (!http_ || IsLoopback(peer)) return true;
  return !allow_.empty() && allow_.Allows(peer);
}

absl::Status Protection::Refusal() {
  return absl::PermissionDeniedError(
      "canopyd is in protected mode: it takes writes only from this machine "
      "because --http is reachable from others without --write_token; set "
      "--write_token=SECRET (or --allow=CIDR,... for these clients, or "
      "--protected_mode=false)");
}

std::vector<Protection::Line> Protection::StartupLines() const {
  std::vector<Line> lines;
  if (!protected_.empty()) {
    lines.push_back(
        {false, absl::StrCat(
                    "protected mode: ", absl::StrJoin(protected_, ", "),
                    " take writes only from this machine; for others set "
                    "--write_token "
                    "(HTTP) or --allow=CIDR,... (or --protected_mode=false)")});
  }
  for (const std::string& door : open_) {
    lines.push_back(
        {true, absl::StrCat(door,
                            " takes writes from any machine that reaches it "
                            "(no token, no --allow, --protected_mode=false)")});
  }
  return lines;
}

}  // namespace canopy
