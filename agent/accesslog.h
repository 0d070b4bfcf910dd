// The agent's access-log module: follows log files (like tail -F) and runs
// their lines through the log pipes (canopy/pipe.h) locally; what the pipes
// write is aggregated over the interval and pushed with the agent's other
// figures, under the same keys the server's POST /push accesslog= writes.
//
//   absl::StatusOr<std::vector<AccessLogSpec>> specs =
//       ParseAccessLogSpecs("/var/log/nginx/access.log,prefix=web");
//   auto logs = AccessLogSet::Create(*specs, &log);
//   ...every interval:
//   for (std::string& p : (*logs)->TakePieces(now, kMaxPiece))
//     pieces.push_back(std::move(p));
//
// Following: every 250 ms each file is read to its end on a thread of its
// own. A file renamed away (another inode under its name) is read to its
// end, then the new file from its start; a file that shrank (copy-truncate)
// is read again from its start; a file that is missing is waited for (and
// read from its start when it appears). An existing file is read from its
// end at start (the lines already there were pushed before, or belong to
// the past), unless the spec says from=start. Lines over 64 KiB are
// skipped, as are lines the format does not match; memory is bounded.
//
// What is pushed, per interval (each piece a top-level JSON object whose
// "defaultaction" applies to the keys it names, dated with "time"):
//   add     {"web,hits": 120, "web,status,200": 97, ...}: the interval's sums
//   timer   {"web,request_time": [12, 3.5, ...]}: the samples (at most
//           max_samples per key and interval; the rest are dropped)
//   set     {"traffic,<domain>,visitors": [...]}: each member as a number
//           (the JSON push has no set members): a 64-bit hash of it written
//           as a six-digit mantissa and an exponent, "123456e-123", whose
//           text canopyd's HyperLogLog sees: ~5·10^8 distinct values, so
//           distinct counts stay within the HLL's error (at most
//           max_members per key and interval)
//   others  (plug-ins: last, avg, max, min) as arrays of samples.
// A key a pipe stops writing (a URL that left the top K) is not removed from
// the server (the JSON push cannot); it stops growing.
//
// Thread-safe: TakePieces may be called from any thread.
#ifndef CANOPY_AGENT_ACCESSLOG_H_
#define CANOPY_AGENT_ACCESSLOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/log.h"

namespace canopy {
namespace agent {

struct AccessLogSpec {
  std::string path;
  std::string format = "combined";  // as canopy pipe --format
  std::string prefix = "web";
  bool from_start = false;  // read an existing file from its start
};

// "PATH[,format=F][,prefix=P][,from=start|end]", several separated by ';'.
// F and P may hold commas ("prefix=web,eu", an nginx log_format); each
// value runs to the next ",format=", ",prefix=" or ",from=".
absl::StatusOr<std::vector<AccessLogSpec>> ParseAccessLogSpecs(
    absl::string_view text);

// The number a set member is pushed as (see above).
std::string SetMemberNumber(absl::string_view member);

struct AccessLogOptions {
  absl::Duration poll = absl::Milliseconds(250);
  size_t max_samples = 100000;  // per timer key and interval
  size_t max_members = 100000;  // per set key and interval
  std::string regexes_path;     // uap-core's regexes.yaml; "" = default
};

class AccessLogSet {
 public:
  // Checks every spec (format, prefix, the user-agent regexes) and starts
  // following. The ua pipe is left out, with a log line, when regexes.yaml
  // is missing.
  static absl::StatusOr<std::unique_ptr<AccessLogSet>> Create(
      const std::vector<AccessLogSpec>& specs, ErrorLog* log,
      AccessLogOptions options = {});
  ~AccessLogSet();  // Stop()s

  // Reads every file one last time and stops following; TakePieces still
  // answers what was read.
  void Stop();

  // The updates since the last call as JSON objects of at most `max_bytes`
  // each (a single sample larger than that is dropped); none if nothing
  // happened. `time`: epoch seconds for "time".
  std::vector<std::string> TakePieces(double time, size_t max_bytes);

  // Totals since the start, for tests and the log.
  struct Counts {
    uint64_t lines = 0;      // parsed and counted
    uint64_t skipped = 0;    // refused by the format, or too long
    uint64_t dropped = 0;    // timer samples or set members over the caps
    uint64_t reopened = 0;   // rotations (a new file under the name)
    uint64_t truncated = 0;  // copy-truncate rewinds
  };
  Counts counts() const;

  class Follower;  // internal: one file and its thread

 private:
  AccessLogSet() = default;
  std::vector<std::unique_ptr<Follower>> followers_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_ACCESSLOG_H_
