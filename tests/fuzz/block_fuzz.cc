// Fuzzes the trend block codec. The first byte picks the target:
//   0: DecodeBlock on arbitrary bytes (almost always a checksum mismatch);
//   1: the same bytes with a valid checksum appended, so that the structural
//      checks behind it are reached; whatever decodes must re-encode to a
//      block that decodes to the same windows;
//   2: windows derived from the bytes must come back bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "canopy/block.h"

namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

bool Same(const canopy::WindowRecord& a, const canopy::WindowRecord& b) {
  return a.start == b.start && Bits(a.count) == Bits(b.count) &&
         Bits(a.sum) == Bits(b.sum) && Bits(a.min) == Bits(b.min) &&
         Bits(a.max) == Bits(b.max) && Bits(a.last) == Bits(b.last) &&
         a.blob == b.blob;
}

[[noreturn]] void Fail(const char* why) {
  std::fprintf(stderr, "block_fuzz: %s\n", why);
  std::abort();
}

void Print(const char* what, const canopy::WindowRecord& w) {
  std::fprintf(stderr,
               "  %s: start %lld, bits of count %016llx sum %016llx min %016llx"
               " max %016llx last %016llx, blob %zu bytes\n",
               what, static_cast<long long>(w.start),
               static_cast<unsigned long long>(Bits(w.count)),
               static_cast<unsigned long long>(Bits(w.sum)),
               static_cast<unsigned long long>(Bits(w.min)),
               static_cast<unsigned long long>(Bits(w.max)),
               static_cast<unsigned long long>(Bits(w.last)), w.blob.size());
}

void CheckRoundTrip(int64_t step,
                    const std::vector<canopy::WindowRecord>& windows) {
  canopy::BlockWriter w(step);
  for (const canopy::WindowRecord& r : windows) {
    if (!w.Append(r).ok()) Fail("Append refused a valid window");
  }
  const std::string block = w.Finish();
  absl::StatusOr<std::vector<canopy::WindowRecord>> back =
      canopy::DecodeBlock(block);
  if (!back.ok()) Fail(std::string(back.status().message()).c_str());
  if (back->size() != windows.size()) Fail("window count differs");
  for (size_t i = 0; i < windows.size(); ++i) {
    if (!Same(windows[i], (*back)[i])) {
      std::fprintf(stderr, "window %zu of %zu differs\n", i, windows.size());
      Print("wrote", windows[i]);
      Print("read ", (*back)[i]);
      Fail("round trip changed a window");
    }
  }
  absl::StatusOr<canopy::BlockInfo> info = canopy::PeekBlock(block);
  if (!info.ok() || info->count != windows.size() || info->step != step) {
    Fail("PeekBlock disagrees with the writer");
  }
}

void FuzzDecode(absl::string_view bytes) {
  absl::StatusOr<canopy::BlockInfo> info = canopy::PeekBlock(bytes);
  absl::StatusOr<std::vector<canopy::WindowRecord>> windows =
      canopy::DecodeBlock(bytes);
  if (!windows.ok()) return;
  if (!info.ok() || info->count != windows->size()) {
    Fail("PeekBlock disagrees with DecodeBlock");
  }
  if (!windows->empty() && (info->first_start != windows->front().start ||
                            info->last_start != windows->back().start)) {
    Fail("PeekBlock's starts disagree with DecodeBlock");
  }
  CheckRoundTrip(info->step, *windows);
}

// Pulls fixed-size values off the front of the input, zeros when it runs out.
class Source {
 public:
  explicit Source(absl::string_view bytes) : bytes_(bytes) {}
  bool empty() const { return bytes_.empty(); }
  uint64_t Take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && !bytes_.empty(); ++i) {
      v = (v << 8) | static_cast<uint8_t>(bytes_[0]);
      bytes_.remove_prefix(1);
    }
    return v;
  }

 private:
  absl::string_view bytes_;
};

void FuzzEncode(absl::string_view bytes) {
  Source in(bytes);
  static constexpr int64_t kSteps[] = {1, 10, 60, 3600, 86400, 7};
  const int64_t step = kSteps[in.Take(1) % 6];
  int64_t start = static_cast<int64_t>(in.Take(4)) * step;
  std::vector<canopy::WindowRecord> windows;
  double prev = 0;
  while (!in.empty() && windows.size() < canopy::BlockWriter::kMaxWindows) {
    const uint64_t op = in.Take(1);
    if (!windows.empty()) {
      const int64_t gap =
          (op & 0x80) ? 1 + static_cast<int64_t>(in.Take(2)) : 1;
      start += gap * step;
    }
    // A value: a decimal near the previous one, a repeat, or raw bits.
    auto value = [&]() -> double {
      switch (in.Take(1) % 4) {
        case 0:
          return prev;
        case 1:
          return prev + static_cast<int8_t>(in.Take(1)) / 100.0;
        case 2:
          return static_cast<double>(static_cast<int16_t>(in.Take(2)));
        default: {
          const uint64_t b = in.Take(8);
          double v;
          std::memcpy(&v, &b, sizeof v);
          return v;
        }
      }
    };
    canopy::WindowRecord w;
    w.start = start;
    w.last = prev = value();
    if (op & 1) {
      w.count = 1;
      w.sum = w.min = w.max = w.last;
    } else {
      w.count = value();
      w.sum = value();
      w.min = (op & 2) ? w.last : value();
      w.max = (op & 4) ? w.last : value();
    }
    if (op & 8) w.blob.assign(1 + in.Take(1) % 16, static_cast<char>(op));
    windows.push_back(std::move(w));
  }
  CheckRoundTrip(step, windows);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzDecode(rest);
      break;
    case 1: {
      std::string forged(rest);
      const uint32_t crc = canopy::BlockChecksum(forged);
      for (int i = 0; i < 4; ++i) {
        forged.push_back(static_cast<char>(crc >> (8 * i)));
      }
      FuzzDecode(forged);
      break;
    }
    default:
      FuzzEncode(rest);
      break;
  }
  return 0;
}
