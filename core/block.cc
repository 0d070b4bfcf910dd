// The framing of a trend block: the header (version, step, window count,
// first start and span), the shapes that say which of a window's fields are
// implied, the order of the columns in the bit stream, the blobs and the
// checksum; BlockWriter, DecodeBlock, PeekBlock and Rollup. The columns
// themselves are coded in core/block_column.cc. The format is described in
// include/canopy/block.h.
//
// Threads: BlockWriter is thread-compatible; the free functions are
// thread-safe.
#include "canopy/block.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "canopy/coding.h"
#include "core/block_column.h"

namespace canopy {
namespace {

using block_column::BitReader;
using block_column::BitWriter;
using block_column::DecodeInts;
using block_column::DecodeValues;
using block_column::EncodeInts;
using block_column::EncodeValues;
using block_column::Same;

constexpr uint8_t kFormatVersion = 1;

// Shape bits: which fields of a window are implied rather than stored.
constexpr uint64_t kMinIsLast = 1;
constexpr uint64_t kMaxIsLast = 2;
constexpr uint64_t kSumIsCountTimesLast = 4;
constexpr uint64_t kHasBlob = 8;
constexpr uint64_t kImpliedBits =
    kMinIsLast | kMaxIsLast | kSumIsCountTimesLast;

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("corrupt block: ", what));
}

// CRC32C, reflected polynomial 0x82F63B78, one table lookup per byte.
constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint64_t ShapeOf(const WindowRecord& w) {
  uint64_t s = 0;
  if (Same(w.min, w.last)) s |= kMinIsLast;
  if (Same(w.max, w.last)) s |= kMaxIsLast;
  // Only a product that is not NaN: which operand's payload a NaN product
  // carries is up to the compiler (it may swap the operands).
  const double product = w.count * w.last;
  if (!std::isnan(product) && Same(w.sum, product)) s |= kSumIsCountTimesLast;
  if (!w.blob.empty()) s |= kHasBlob;
  return s;
}

// A value column of `windows`: `field` of every window, or only of those
// whose shape does not have the `implied_by` bit.
BitWriter EncodeField(const std::vector<WindowRecord>& windows,
                      const std::vector<uint64_t>& shapes,
                      double WindowRecord::*field, uint64_t implied_by) {
  std::vector<double> column;
  column.reserve(windows.size());
  for (size_t i = 0; i < windows.size(); ++i) {
    if ((shapes[i] & implied_by) == 0) column.push_back(windows[i].*field);
  }
  BitWriter out;
  EncodeValues(column, &out);
  return out;
}

// The header, as Finish() writes it and PeekBlock() reads it.
struct Header {
  BlockInfo info;
  int64_t first_index = 0;  // first_start / step
  uint64_t span = 0;        // (last_start - first_start) / step
};

// Checks the checksum and reads the header; leaves `rest` at the length of
// the bit stream.
absl::StatusOr<Header> ReadHeader(absl::string_view bytes,
                                  absl::string_view* rest) {
  if (bytes.size() < 1 + 4) return Corrupt("too short");
  const size_t body = bytes.size() - 4;
  const uint32_t stored = DecodeLittleEndian32(bytes.data() + body);
  if (stored != BlockChecksum(bytes.substr(0, body))) {
    return Corrupt("checksum mismatch");
  }
  absl::string_view in = bytes.substr(0, body);
  if (static_cast<uint8_t>(in[0]) != kFormatVersion) {
    return Corrupt("unknown version");
  }
  in.remove_prefix(1);
  Header h;
  uint64_t step, n;
  if (!GetVarint64(&in, &step) || !GetVarint64(&in, &n)) {
    return Corrupt("truncated header");
  }
  if (step == 0 || step > static_cast<uint64_t>(INT64_MAX)) {
    return Corrupt("bad step");
  }
  if (n > BlockWriter::kMaxWindows) return Corrupt("too many windows");
  h.info.step = static_cast<int64_t>(step);
  h.info.count = n;
  if (n > 0) {
    uint64_t first, span;
    if (!GetVarint64(&in, &first) || !GetVarint64(&in, &span)) {
      return Corrupt("truncated header");
    }
    const int64_t s = h.info.step;
    const int64_t k0 = ZigZagDecode64(first);
    if (k0 > INT64_MAX / s || k0 < INT64_MIN / s) return Corrupt("bad start");
    if ((n == 1) != (span == 0) || span < n - 1) return Corrupt("bad span");
    // k0 + span must fit: the room above k0, computed without overflow.
    const uint64_t room =
        static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(k0);
    if (span > room) return Corrupt("bad span");
    const int64_t k1 = static_cast<int64_t>(static_cast<uint64_t>(k0) + span);
    if (k1 > INT64_MAX / s) return Corrupt("bad span");
    h.first_index = k0;
    h.span = span;
    h.info.first_start = k0 * s;
    h.info.last_start = k1 * s;
  }
  *rest = in;
  return h;
}

}  // namespace

#if defined(__x86_64__)
// The same CRC32C by the SSE 4.2 instruction, eight bytes at a time: a
// history read checks every block it decodes.
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(
    absl::string_view bytes) {
  uint64_t c = 0xFFFFFFFFu;
  const char* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*p));
  return c32 ^ 0xFFFFFFFFu;
}
#endif

uint32_t BlockChecksum(absl::string_view bytes) {
#if defined(__x86_64__)
  static const bool sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) return Crc32cSse42(bytes);
#endif
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : bytes) {
    c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFu;
}

BlockWriter::BlockWriter(int64_t step) : step_(step) {}

absl::Status BlockWriter::Append(const WindowRecord& w) {
  if (step_ <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("block step must be positive, not ", step_));
  }
  if (w.start % step_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window start ", w.start, " is not a multiple of the step ", step_));
  }
  if (!windows_.empty() && w.start <= windows_.back().start) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window start ", w.start, " is not after ", windows_.back().start));
  }
  if (windows_.size() >= kMaxWindows) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a block holds at most ", kMaxWindows, " windows"));
  }
  windows_.push_back(w);
  return absl::OkStatus();
}

std::string BlockWriter::Finish() {
  const size_t n = windows_.size();
  std::string out;
  out.push_back(static_cast<char>(kFormatVersion));
  PutVarint64(&out, static_cast<uint64_t>(std::max<int64_t>(step_, 1)));
  PutVarint64(&out, n);
  BitWriter bits;
  if (n > 0) {
    const int64_t k0 = windows_.front().start / step_;
    PutVarint64(&out, ZigZagEncode64(k0));
    // Index differences as unsigned: exact even across the whole int64 range.
    auto index = [&](size_t i) {
      return static_cast<uint64_t>(windows_[i].start / step_);
    };
    PutVarint64(&out, index(n - 1) - index(0));

    std::vector<uint64_t> ints;
    ints.reserve(n);
    for (size_t i = 1; i < n; ++i) {
      ints.push_back(index(i) - index(i - 1) - 1);
    }
    EncodeInts(ints, &bits);
    std::vector<uint64_t> shapes;
    shapes.reserve(n);
    uint64_t always = kImpliedBits, sometimes = 0;
    for (const WindowRecord& w : windows_) {
      shapes.push_back(ShapeOf(w));
      always &= shapes.back();
      sometimes |= shapes.back() & kImpliedBits;
    }
    // A relation that always holds is always used, one that never holds
    // does not matter; one that holds for some windows only may cost more
    // shape bits than it saves values, so try with and without it.
    const uint64_t mixed = sometimes & ~always;
    // Each implied field's column depends on its own relation only, so each
    // is encoded at most twice (with and without it), then the cheapest set
    // of relations wins, shapes included.
    struct Implied {
      double WindowRecord::*field;
      uint64_t bit;
      BitWriter column[2];  // [0]: stored for every window; [1]: when needed
    };
    Implied implied[] = {{&WindowRecord::min, kMinIsLast, {}},
                         {&WindowRecord::max, kMaxIsLast, {}},
                         {&WindowRecord::sum, kSumIsCountTimesLast, {}}};
    for (Implied& f : implied) {
      if ((mixed & f.bit) || !(always & f.bit)) {
        f.column[0] = EncodeField(windows_, shapes, f.field, 0);
      }
      if (mixed & f.bit || always & f.bit) {
        f.column[1] = EncodeField(windows_, shapes, f.field, f.bit);
      }
    }
    uint64_t best_use = 0;
    BitWriter best_shapes;
    size_t best_bits = std::numeric_limits<size_t>::max();
    std::vector<uint64_t> used(n);
    for (uint64_t mask = 0; mask <= kImpliedBits; ++mask) {
      if ((mask & ~mixed) != 0) continue;
      const uint64_t use = always | mask;
      for (size_t i = 0; i < n; ++i) used[i] = shapes[i] & (use | kHasBlob);
      BitWriter shape_bits;
      EncodeInts(used, &shape_bits);
      size_t total = shape_bits.bit_count();
      for (const Implied& f : implied) {
        total += f.column[(use & f.bit) ? 1 : 0].bit_count();
      }
      if (total < best_bits) {
        best_use = use;
        best_shapes = std::move(shape_bits);
        best_bits = total;
      }
    }
    bits.Write(best_use, 3);
    bits.Append(best_shapes);
    bits.Append(EncodeField(windows_, shapes, &WindowRecord::count, 0));
    bits.Append(EncodeField(windows_, shapes, &WindowRecord::last, 0));
    for (const Implied& f : implied) {
      bits.Append(f.column[(best_use & f.bit) ? 1 : 0]);
    }
  }
  const std::string stream = std::move(bits).Finish();
  PutLengthPrefixed(&out, stream);
  for (const WindowRecord& w : windows_) {
    if (w.blob.empty()) continue;
    PutLengthPrefixed(&out, w.blob);
  }
  PutLittleEndian32(&out, BlockChecksum(out));
  windows_.clear();
  return out;
}

absl::StatusOr<BlockInfo> PeekBlock(absl::string_view bytes) {
  absl::string_view rest;
  absl::StatusOr<Header> h = ReadHeader(bytes, &rest);
  if (!h.ok()) return h.status();
  return h->info;
}

absl::StatusOr<std::vector<WindowRecord>> DecodeBlock(absl::string_view bytes) {
  absl::string_view in;
  absl::StatusOr<Header> h = ReadHeader(bytes, &in);
  if (!h.ok()) return h.status();
  absl::string_view stream;
  if (!GetLengthPrefixed(&in, &stream)) return Corrupt("truncated bit stream");
  BitReader bits(stream);
  const size_t n = h->info.count;
  const int64_t step = h->info.step;
  std::vector<WindowRecord> out(n);
  if (n > 0) {
    std::vector<uint64_t> ints;
    if (!DecodeInts(&bits, n - 1, &ints)) return Corrupt("bad gaps");
    int64_t k = h->first_index;
    uint64_t used = 0;
    out[0].start = k * step;
    for (size_t i = 1; i < n; ++i) {
      // The header's span bounds the sum of the gaps, so k never overflows.
      if (ints[i - 1] >= h->span - used) return Corrupt("gaps overrun span");
      used += ints[i - 1] + 1;
      k = static_cast<int64_t>(static_cast<uint64_t>(h->first_index) + used);
      out[i].start = k * step;
    }
    if (used != h->span) return Corrupt("gaps do not match span");

    uint64_t use;
    std::vector<uint64_t> shapes;
    if (!bits.Read(3, &use) || !DecodeInts(&bits, n, &shapes)) {
      return Corrupt("bad shapes");
    }
    for (uint64_t s : shapes) {
      if ((s & ~(use | kHasBlob)) != 0) return Corrupt("bad shape");
    }
    std::vector<double> column;
    auto decode = [&](double WindowRecord::*field, uint64_t implied_by) {
      size_t stored = 0;
      for (uint64_t s : shapes) stored += (s & implied_by) == 0;
      if (!DecodeValues(&bits, stored, &column)) return false;
      size_t next = 0;
      for (size_t i = 0; i < n; ++i) {
        WindowRecord& w = out[i];
        if ((shapes[i] & implied_by) == 0) {
          w.*field = column[next++];
        } else if (implied_by == kSumIsCountTimesLast) {
          w.*field = w.count * w.last;
        } else {
          w.*field = w.last;
        }
      }
      return true;
    };
    if (!decode(&WindowRecord::count, 0)) return Corrupt("bad count column");
    if (!decode(&WindowRecord::last, 0)) return Corrupt("bad last column");
    if (!decode(&WindowRecord::min, kMinIsLast)) {
      return Corrupt("bad min column");
    }
    if (!decode(&WindowRecord::max, kMaxIsLast)) {
      return Corrupt("bad max column");
    }
    if (!decode(&WindowRecord::sum, kSumIsCountTimesLast)) {
      return Corrupt("bad sum column");
    }
    for (size_t i = 0; i < n; ++i) {
      if ((shapes[i] & kHasBlob) == 0) continue;
      absl::string_view blob;
      if (!GetLengthPrefixed(&in, &blob) || blob.empty()) {
        return Corrupt("bad blob");
      }
      out[i].blob.assign(blob.data(), blob.size());
    }
  }
  // Canonical: only the padding of the last byte may be left, and it is 0.
  uint64_t pad;
  if (bits.remaining() >= 8 || !bits.Read(bits.remaining(), &pad) || pad) {
    return Corrupt("trailing bits");
  }
  if (!in.empty()) return Corrupt("trailing bytes");
  return out;
}

WindowRecord Rollup(absl::Span<const WindowRecord> finer, int64_t start) {
  WindowRecord r;
  r.start = start;
  bool any = false;
  int64_t latest = 0;
  for (const WindowRecord& w : finer) {
    if (w.count == 0) continue;
    if (!any) {
      r.min = w.min;
      r.max = w.max;
      r.last = w.last;
      latest = w.start;
      any = true;
    } else {
      r.min = std::min(r.min, w.min);
      r.max = std::max(r.max, w.max);
      if (w.start >= latest) {
        r.last = w.last;
        latest = w.start;
      }
    }
    r.count += w.count;
    r.sum += w.sum;
  }
  return r;
}

}  // namespace canopy
