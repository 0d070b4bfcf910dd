// Protected mode, as Redis has it: a canopyd listening on an address other
// machines can reach, with nothing to tell friend from foe, takes writes
// only from this machine until --write_token, --allow or
// --protected_mode=false says otherwise.
//
//   HTTP (writes: POST, PUT, DELETE): protected when --http is not a
//     loopback address and --write_token is empty. A write from another
//     machine then gets 403 naming the flags to set, unless --allow lists it.
//   UDP, TCP: protected when the address is not loopback and --allow is
//     empty. Datagrams and connections from other machines are dropped and
//     counted as rejected "denied" (/metrics), as --allow counts them.
//
// Start-up says so in one line, and names every listener that takes writes
// from any machine (--protected_mode=false without a token or --allow).
//
//   absl::StatusOr<Protection> p = Protection::From(options);
//   if (!p->AdmitsHttpWrite(peer)) ... 403 with p->Refusal()
//   if (!p->Admits(Door::kUdp, peer)) ++rejected["udp"]["denied"];
//
// Plain values: built before the server starts, then only read (by the
// event-loop thread, which runs handlers and the listeners).
#ifndef CANOPY_SERVER_NET_PROTECTION_H_
#define CANOPY_SERVER_NET_PROTECTION_H_

#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/net/address.h"
#include "server/options.h"

namespace canopy {

enum class Door { kHttp, kUdp, kTcp };

// Whether a peer is this machine: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104.
// An unknown address (AF_UNSPEC: a request made in a test) counts as this
// machine.
bool IsLoopback(const sockaddr* addr);

// Whether a listen address ("127.0.0.1:7575", "[::1]:0", "localhost:1")
// can be reached only from this machine.
bool IsLoopbackAddress(absl::string_view host_port);

class Protection {
 public:
  // Protection for the options; an error if --allow does not parse.
  static absl::StatusOr<Protection> From(const ServerOptions& options);

  // Whether the door is protected (refuses other machines).
  bool Protects(Door door) const;

  // Whether a datagram or connection (UDP, TCP) from `peer` is let in: by
  // --allow when it is set, else any peer unless protected.
  bool Admits(Door door, const sockaddr* peer) const;
  // Whether an HTTP write from `peer` is let in (the token is Authorize's).
  bool AdmitsHttpWrite(const sockaddr* peer) const;

  // The error of a refused HTTP write: PermissionDenied (403), naming the
  // flags that let other machines write.
  static absl::Status Refusal();

  // What start-up logs: one line for protected mode (if any door is), and
  // a warning per door that takes writes from any machine.
  struct Line {
    bool warning;
    std::string text;
  };
  std::vector<Line> StartupLines() const;

 private:
  AllowList allow_;
  bool http_ = false, udp_ = false, tcp_ = false;  // protected
  std::vector<std::string> open_;                  // "http 0.0.0.0:7575" ...
  std::vector<std::string> protected_;  // the same, for protected doors
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_PROTECTION_H_
