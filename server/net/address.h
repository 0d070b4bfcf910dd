// Socket addresses and source ranges, as canopyd's flags give them:
// "HOST:PORT" for --http/--udp/--tcp and CIDR lists for --allow.
//
//   sockaddr_storage ss;
//   socklen_t len;
//   absl::Status s = canopy::ParseSocketAddress("127.0.0.1:8125", &ss, &len);
//   auto allow = canopy::AllowList::Parse("10.0.0.0/8,::1");
//   if (!allow->Allows(peer)) ...
//
// Pure values; thread-compatible.
#ifndef CANOPY_SERVER_NET_ADDRESS_H_
#define CANOPY_SERVER_NET_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

// Source address ranges (--allow=CIDR,...). Empty allows everyone.
class AllowList {
 public:
  static absl::StatusOr<AllowList> Parse(absl::string_view spec);
  bool Allows(const sockaddr* addr) const;
  bool empty() const { return ranges_.empty(); }

 private:
  struct Range {
    int family;
    unsigned char bytes[16];
    int prefix;
  };
  std::vector<Range> ranges_;
};

// "HOST:PORT" ("[::1]:PORT" for IPv6; HOST an IP address or localhost;
// port 0 picks a free one) as a socket address.
absl::Status ParseSocketAddress(absl::string_view addr, sockaddr_storage* ss,
                                socklen_t* len);

// "10.0.0.5:4711" or "[::1]:4711" for a peer's address; "" when it is
// null or neither IPv4 nor IPv6.
std::string PeerText(const sockaddr* addr);

// The local port a bound socket listens on (0 if it cannot be read).
int BoundPort(int fd);

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_ADDRESS_H_
