#include "agent/spool.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace canopy {
namespace agent {

namespace fs = std::filesystem;

Spool::Spool(std::string dir, uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

std::string Spool::PathOf(uint64_t id) const {
  return absl::StrFormat("%s/%020d.json", dir_, id);
}

absl::Status Spool::Open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create --spool_dir=", dir_, ": ", ec.message()));
  }
  std::vector<std::pair<uint64_t, uint64_t>> found;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    absl::string_view n = name;
    uint64_t id;
    if (absl::EndsWith(n, ".tmp")) {
      fs::remove(e.path(), ec);
      continue;
    }
    if (!absl::ConsumeSuffix(&n, ".json") || !absl::SimpleAtoi(n, &id))
      continue;
    found.emplace_back(id, e.file_size(ec));
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot read --spool_dir=", dir_, ": ", ec.message()));
  }
  std::sort(found.begin(), found.end());
  records_.assign(found.begin(), found.end());
  uint64_t total = 0;
  for (auto& r : records_) total += r.second;
  bytes_ = total;
  if (!records_.empty()) next_id_ = records_.back().first + 1;
  while (bytes_ > max_bytes_ && !records_.empty()) DropFront();
  return absl::OkStatus();
}

void Spool::DropFront() {
  std::error_code ec;
  fs::remove(PathOf(records_.front().first), ec);
  bytes_ -= records_.front().second;
  records_.pop_front();
  ++dropped_;
}

absl::Status Spool::Push(absl::string_view record) {
  if (record.size() > max_bytes_) {
    ++dropped_;
    return absl::ResourceExhaustedError("record larger than --spool_max_bytes");
  }
  while (!records_.empty() && bytes_ + record.size() > max_bytes_) DropFront();
  uint64_t id = next_id_++;
  std::string path = PathOf(id);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(record.data(), static_cast<std::streamsize>(record.size()));
    if (!f) {
      ++dropped_;
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    ++dropped_;
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp));
  }
  records_.emplace_back(id, record.size());
  bytes_ += record.size();
  return absl::OkStatus();
}

bool Spool::Front(std::string* record) {
  while (!records_.empty()) {
    std::ifstream f(PathOf(records_.front().first), std::ios::binary);
    if (f) {
      record->assign(std::istreambuf_iterator<char>(f),
                     std::istreambuf_iterator<char>());
      return true;
    }
    DropFront();  // removed behind our back: nothing to send
  }
  return false;
}

void Spool::PopFront() {
  if (records_.empty()) return;
  std::error_code ec;
  fs::remove(PathOf(records_.front().first), ec);
  bytes_ -= records_.front().second;
  records_.pop_front();
}

}  // namespace agent
}  // namespace canopy
