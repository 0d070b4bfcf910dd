// PreadEnv (pread_env.h): a leveldb::EnvWrapper over Env::Default() whose
// random-access files hold one descriptor and read with pread.
#include "server/trend/pread_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "leveldb/env.h"
#include "leveldb/slice.h"
#include "leveldb/status.h"

namespace canopy {
namespace {

leveldb::Status FileError(const std::string& name, int error) {
  if (error == ENOENT) return leveldb::Status::NotFound(name, strerror(error));
  return leveldb::Status::IOError(name, strerror(error));
}

class PreadFile final : public leveldb::RandomAccessFile {
 public:
  PreadFile(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
  ~PreadFile() override { ::close(fd_); }

  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    ssize_t got;
    do {
      got = ::pread(fd_, scratch, n, static_cast<off_t>(offset));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      *result = leveldb::Slice(scratch, 0);
      return FileError(name_, errno);
    }
    *result = leveldb::Slice(scratch, static_cast<size_t>(got));
    return leveldb::Status::OK();
  }

 private:
  const std::string name_;
  const int fd_;
};

class Env final : public leveldb::EnvWrapper {
 public:
  Env() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  leveldb::Status NewRandomAccessFile(
      const std::string& name, leveldb::RandomAccessFile** file) override {
    *file = nullptr;
    int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FileError(name, errno);
    *file = new PreadFile(name, fd);
    return leveldb::Status::OK();
  }
};

}  // namespace

leveldb::Env* PreadEnv() {
  static Env* const env = new Env;
  return env;
}

}  // namespace canopy
