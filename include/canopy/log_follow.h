// Following a log file like tail -F: the one reader behind canopy-agent's
// --access_log and `canopy pipe` (replay and --follow).
//
//   class Lines : public canopy::LogFollower::Sink {
//     void Line(absl::string_view line) override { ... }
//   };
//   canopy::LogFollower log("/var/log/nginx/access.log");
//   if (log.Open().ok()) log.SkipToEnd();  // only what is written from now
//   Lines lines;
//   while (running) {                      // every 250 ms or so
//     log.Read(&lines);                    // what was written since
//     log.CheckRotation(&lines);           // a new file, or a truncated one
//   }
//   log.Flush(&lines);                     // a last line without its '\n'
//
// Read() hands every complete line to the sink, without its '\n'. A line
// longer than Options::max_line is skipped whole (counted in too_long), so
// memory stays bounded whatever the input. CheckRotation() looks at the
// name: another file under it (renamed away and recreated, or ours deleted)
// has the old file drained, its unended last line flushed, and the new file
// read from its start; a file that shrank (copy-truncate) is read again from
// its start (a partial line is lost). A file that is not there yet is waited
// for: each CheckRotation tries to open it.
//
// "-" is stdin: read as it is, never reopened; Read's `wait_ms` lets a
// caller that also follows files wait for stdin a bounded time.
//
// Threads: thread-compatible; one thread uses a LogFollower at a time.
#ifndef CANOPY_LOG_FOLLOW_H_
#define CANOPY_LOG_FOLLOW_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace canopy {

class LogFollower {
 public:
  // Where the lines go.
  class Sink {
   public:
    virtual ~Sink() = default;
    // A complete line, without its '\n' (a '\r' before it is kept).
    virtual void Line(absl::string_view line) = 0;
    // Asked before each read: true stops reading (the sink's consumer
    // failed); Read then returns with the rest left unread.
    virtual bool Stopped() const { return false; }
  };

  struct Options {
    // Longer lines are skipped whole and counted.
    size_t max_line = 64 * 1024;
    // Refuse FIFOs and devices: a reader that must never block (a thread
    // that stops on request) cannot wait in read() for a writer.
    bool regular_files_only = false;
  };

  struct Counts {
    uint64_t too_long = 0;   // lines over max_line, skipped
    uint64_t reopened = 0;   // files opened by CheckRotation (a new file)
    uint64_t truncated = 0;  // rewinds after a copy-truncate
  };

  explicit LogFollower(std::string path) : LogFollower(std::move(path), {}) {}
  LogFollower(std::string path, Options options);
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  const std::string& path() const { return path_; }
  bool is_stdin() const { return path_ == "-"; }
  // The last read found the end (for stdin: it was closed).
  bool at_eof() const { return eof_; }
  const Counts& counts() const { return counts_; }

  // Opens the file (again), to be read from its start. NotFound if it
  // cannot be opened, InvalidArgument if it is not a file.
  absl::Status Open();

  // The data already in the open file is not read.
  void SkipToEnd();

  // Reads what there is now, to its end, handing each complete line to
  // `sink`. With `wait_ms` >= 0, first waits that long for data (for stdin
  // while following files). A signal that interrupts the read or the wait
  // ends it early (OK): the caller reads again if it goes on. DataLoss on a
  // read error.
  absl::Status Read(Sink* sink, int wait_ms = -1);

  // For following: reopens a rotated file (after draining the old one), or
  // rewinds a truncated one, and reads. Nothing for stdin.
  absl::Status CheckRotation(Sink* sink);

  // Hands over the last line when it has no '\n'.
  void Flush(Sink* sink);

 private:
  void Split(absl::string_view data, Sink* sink);

  const std::string path_;
  const Options options_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  bool eof_ = false;
  std::string buffer_;     // what read() fills
  std::string partial_;    // a line not yet ended
  bool skipping_ = false;  // inside a line over max_line
  Counts counts_;
};

}  // namespace canopy

#endif  // CANOPY_LOG_FOLLOW_H_
