// The disk benchmark (see agent/bench_kinds.h), in ctx.dir on the data
// disk, on one file that has no name: O_TMPFILE where the file system has
// it, else mkstemp() and unlink() at once, so that nothing is left behind
// however the agent ends.
//
//   fsync_ms    median of up to 50 rounds of a 4 KiB write + fdatasync
//               (at most 30 % of the budget)
//   write_mbps  1 MiB sequential writes for at most 35 % of the budget and
//               64 MiB (or a quarter of the free space), then fdatasync,
//               all timed
//   read_mbps   the same bytes read back sequentially after
//               posix_fadvise(POSIX_FADV_DONTNEED) drops them from the page
//               cache (O_DIRECT is not used: tmpfs, overlayfs and some
//               others refuse it, and DONTNEED on clean pages is enough to
//               read from the device); at most 30 % of the budget
//
// MB are 10^6 bytes. A full disk (ENOSPC), a read-only one (EROFS) or any
// failed call gives an error naming the call and no figures.
//
// Threads: runs on the caller's thread.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/bench_kinds.h"

namespace canopy {
namespace agent {
namespace {

constexpr size_t kBlock = 1 << 20;
constexpr uint64_t kMaxFile = 64ull << 20;

absl::Status Errno(absl::string_view what) {
  int e = errno;
  std::string m = absl::StrCat("disk: ", what, ": ", std::strerror(e));
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(m);
  return absl::UnavailableError(m);
}

// A file in `dir` with no name; -1 and errno on failure.
int OpenNameless(const std::string& dir) {
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -1;
  std::string path = absl::StrCat(dir, "/", kBenchFilePrefix, "disk-XXXXXX");
  fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) unlink(path.c_str());
  return fd;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

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

}  // namespace

absl::StatusOr<BenchFigures> RunDiskBench(const BenchContext& ctx) {
  Fd fd(OpenNameless(ctx.dir));
  if (fd.get() < 0)
    return Errno(absl::StrCat("cannot create a file in ", ctx.dir));
  struct statvfs vfs;
  if (fstatvfs(fd.get(), &vfs) != 0) return Errno("fstatvfs");
  const uint64_t free_bytes =
      static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
  const uint64_t max_file = std::min<uint64_t>(kMaxFile, free_bytes / 4);
  if (max_file < 4 * kBlock) {
    return absl::ResourceExhaustedError(
        absl::StrCat("disk: ", ctx.dir, " has only ", free_bytes >> 20,
                     " MiB free (the benchmark needs 16 MiB)"));
  }
  std::vector<char> block(kBlock);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (char& c : block) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }

  // fsync latency.
  std::vector<double> syncs;
  const absl::Time sync_until = absl::Now() + ctx.budget * 0.3;
  while (syncs.size() < 50 && (syncs.empty() || absl::Now() < sync_until)) {
    if (ctx.stopped()) return absl::CancelledError("disk: stopped");
    absl::Time t = absl::Now();
    if (pwrite(fd.get(), block.data(), 4096,
               static_cast<off_t>(syncs.size() * 4096)) != 4096) {
      return Errno("write");
    }
    if (fdatasync(fd.get()) != 0) return Errno("fdatasync");
    syncs.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
  }
  std::sort(syncs.begin(), syncs.end());
  const double fsync_ms = syncs[syncs.size() / 2];

  // Sequential write.
  if (ftruncate(fd.get(), 0) != 0 || lseek(fd.get(), 0, SEEK_SET) != 0) {
    return Errno("truncate");
  }
  uint64_t written = 0;
  absl::Time t0 = absl::Now();
  const absl::Time write_until = t0 + ctx.budget * 0.35;
  while (written < max_file && (written == 0 || absl::Now() < write_until)) {
    if (ctx.stopped()) return absl::CancelledError("disk: stopped");
    if (!WriteAll(fd.get(), block.data(), kBlock)) return Errno("write");
    written += kBlock;
  }
  if (fdatasync(fd.get()) != 0) return Errno("fdatasync");
  const double write_s = absl::ToDoubleSeconds(absl::Now() - t0);

  // Sequential read, from the disk rather than the page cache.
  if (posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED) != 0 ||
      posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL) != 0) {
    return Errno("posix_fadvise");
  }
  uint64_t read_bytes = 0;
  absl::Time t1 = absl::Now();
  const absl::Time read_until = t1 + ctx.budget * 0.3;
  while (read_bytes < written &&
         (read_bytes == 0 || absl::Now() < read_until)) {
    if (ctx.stopped()) return absl::CancelledError("disk: stopped");
    ssize_t r =
        pread(fd.get(), block.data(), kBlock, static_cast<off_t>(read_bytes));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("read");
    if (r == 0) break;
    read_bytes += static_cast<uint64_t>(r);
  }
  const double read_s = absl::ToDoubleSeconds(absl::Now() - t1);
  if (write_s <= 0 || read_s <= 0 || read_bytes == 0) {
    return absl::InternalError("disk: nothing measured");
  }
  return BenchFigures{
      {"fsync_ms", fsync_ms, kLowerIsBetter, true},
      {"write_mbps", written / write_s / 1e6, kHigherIsBetter, true},
      {"read_mbps", read_bytes / read_s / 1e6, kHigherIsBetter, true},
  };
}

}  // namespace agent
}  // namespace canopy
