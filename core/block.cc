#include "canopy/block.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"
#include "canopy/coding.h"

namespace canopy {
namespace {

constexpr uint8_t kFormatVersion = 1;

// Shape bits: which fields of a window are implied rather than stored.
constexpr uint64_t kMinIsLast = 1;
constexpr uint64_t kMaxIsLast = 2;
constexpr uint64_t kSumIsCountTimesLast = 4;
constexpr uint64_t kHasBlob = 8;
constexpr uint64_t kImpliedBits =
    kMinIsLast | kMaxIsLast | kSumIsCountTimesLast;

// Value column codes.
constexpr uint64_t kXorColumn = 0;
constexpr uint64_t kDecimalDelta = 1;
constexpr uint64_t kDecimalOffset = 2;

// Decimal columns: values m / 10^d with |m| <= 2^53 and d <= kMaxDecimals,
// where every 10^d is exact in a double.
constexpr int kMaxDecimals = 15;
constexpr int64_t kMaxDecimalInt = int64_t{1} << 53;
constexpr double kPow10[kMaxDecimals + 1] = {1e0,  1e1,  1e2,  1e3, 1e4,  1e5,
                                             1e6,  1e7,  1e8,  1e9, 1e10, 1e11,
                                             1e12, 1e13, 1e14, 1e15};

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("corrupt block: ", what));
}

bool Same(double a, double b) { return DoubleToBits(a) == DoubleToBits(b); }

// The number of bits needed to write `v` (0 for 0).
int Width(uint64_t v) { return v == 0 ? 0 : 64 - absl::countl_zero(v); }

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

// Writes bits most significant first into whole bytes.
class BitWriter {
 public:
  // Writes the low `n` bits of `v`, 0 <= n <= 64.
  void Write(uint64_t v, int n) {
    while (n > 0) {
      const int take = std::min(n, 8 - fill_);
      const uint64_t chunk = (v >> (n - take)) & ((1u << take) - 1);
      cur_ |= static_cast<uint8_t>(chunk << (8 - fill_ - take));
      fill_ += take;
      n -= take;
      if (fill_ == 8) {
        bytes_.push_back(static_cast<char>(cur_));
        cur_ = 0;
        fill_ = 0;
      }
    }
  }

  void Append(const BitWriter& other) {
    for (char c : other.bytes_) Write(static_cast<uint8_t>(c), 8);
    Write(other.cur_ >> (8 - other.fill_), other.fill_);
  }

  size_t bit_count() const { return bytes_.size() * 8 + fill_; }

  // The bytes written, the last one padded with zero bits.
  std::string Finish() && {
    if (fill_ > 0) bytes_.push_back(static_cast<char>(cur_));
    return std::move(bytes_);
  }

 private:
  std::string bytes_;
  uint8_t cur_ = 0;
  int fill_ = 0;  // bits used in cur_
};

// Reads what BitWriter wrote. Reading past the end fails and stays failed.
class BitReader {
 public:
  explicit BitReader(absl::string_view bytes) : bytes_(bytes) {}

  bool Read(int n, uint64_t* v) {
    uint64_t r = 0;
    if (static_cast<uint64_t>(n) > remaining()) return false;
    while (n > 0) {
      const int avail = 8 - bit_;
      const int take = std::min(n, avail);
      const uint8_t byte = static_cast<uint8_t>(bytes_[pos_]);
      r = (r << take) | ((byte >> (avail - take)) & ((1u << take) - 1));
      bit_ += take;
      n -= take;
      if (bit_ == 8) {
        ++pos_;
        bit_ = 0;
      }
    }
    *v = r;
    return true;
  }

  uint64_t remaining() const { return (bytes_.size() - pos_) * 8 - bit_; }

 private:
  absl::string_view bytes_;
  size_t pos_ = 0;
  int bit_ = 0;  // bits consumed in bytes_[pos_]
};

// Writes a width (7 bits) and then `v` in that many bits.
void WriteSized(uint64_t v, BitWriter* out) {
  const int w = Width(v);
  out->Write(w, 7);
  out->Write(v, w);
}

bool ReadSized(BitReader* in, uint64_t* v) {
  uint64_t w;
  if (!in->Read(7, &w) || w > 64) return false;
  return in->Read(static_cast<int>(w), v);
}

// Integer column: bit 0 = one constant (written sized), bit 1 = a prefix
// code with three bucket widths w1 <= w2 <= w3 (7 bits each): '0' + w1 bits,
// '10' + w2 bits, '11' + w3 bits. Nothing at all for an empty column.
void EncodeInts(const std::vector<uint64_t>& xs, BitWriter* out) {
  if (xs.empty()) return;
  if (std::all_of(xs.begin(), xs.end(),
                  [&](uint64_t x) { return x == xs[0]; })) {
    out->Write(0, 1);
    WriteSized(xs[0], out);
    return;
  }
  // at_most[w]: how many values fit in w bits. Only widths that occur are
  // worth a bucket (besides 0, which makes '0' alone mean zero).
  std::array<uint64_t, 65> at_most{};
  std::array<int, 66> widths;
  int distinct = 0;
  int w3 = 0;
  for (uint64_t x : xs) {
    ++at_most[Width(x)];
    w3 = std::max(w3, Width(x));
  }
  widths[distinct++] = 0;
  for (int w = 1; w <= 64; ++w) {
    if (at_most[w] > 0) widths[distinct++] = w;
    at_most[w] += at_most[w - 1];
  }
  const uint64_t n = xs.size();
  uint64_t best = std::numeric_limits<uint64_t>::max();
  int w1 = 0, w2 = 0;
  for (int i = 0; i < distinct; ++i) {
    for (int j = i; j < distinct; ++j) {
      const int a = widths[i], b = widths[j];
      const uint64_t cost = at_most[a] * (1 + a) +
                            (at_most[b] - at_most[a]) * (2 + b) +
                            (n - at_most[b]) * (2 + w3);
      if (cost < best) {
        best = cost;
        w1 = a;
        w2 = b;
      }
    }
  }
  out->Write(1, 1);
  out->Write(w1, 7);
  out->Write(w2, 7);
  out->Write(w3, 7);
  for (uint64_t x : xs) {
    const int w = Width(x);
    if (w <= w1) {
      out->Write(0, 1);
      out->Write(x, w1);
    } else if (w <= w2) {
      out->Write(2, 2);
      out->Write(x, w2);
    } else {
      out->Write(3, 2);
      out->Write(x, w3);
    }
  }
}

bool DecodeInts(BitReader* in, size_t n, std::vector<uint64_t>* xs) {
  xs->clear();
  if (n == 0) return true;
  uint64_t mode;
  if (!in->Read(1, &mode)) return false;
  if (mode == 0) {
    uint64_t v;
    if (!ReadSized(in, &v)) return false;
    xs->assign(n, v);
    return true;
  }
  uint64_t w[3];
  for (uint64_t& x : w) {
    if (!in->Read(7, &x) || x > 64) return false;
  }
  if (w[0] > w[1] || w[1] > w[2]) return false;
  // Each value takes at least one bit: a short stream fails before the
  // vector grows past the input.
  if (n > in->remaining()) return false;
  xs->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t bit, x;
    if (!in->Read(1, &bit)) return false;
    int width = static_cast<int>(w[0]);
    if (bit == 1) {
      if (!in->Read(1, &bit)) return false;
      width = static_cast<int>(bit == 0 ? w[1] : w[2]);
    }
    if (!in->Read(width, &x)) return false;
    xs->push_back(x);
  }
  return true;
}

// Gorilla's XOR code: the first value in 64 bits, then per value '0' for a
// repeat, '10' + the meaningful bits in the previous window, or '11' + 6 bits
// of leading zeros + 6 bits of (length - 1) + the meaningful bits.
void EncodeXor(const std::vector<double>& vs, BitWriter* out) {
  uint64_t prev = DoubleToBits(vs[0]);
  out->Write(prev, 64);
  int lead = -1, len = 0;  // the current window; none yet
  for (size_t i = 1; i < vs.size(); ++i) {
    const uint64_t cur = DoubleToBits(vs[i]);
    const uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      out->Write(0, 1);
      continue;
    }
    const int l = absl::countl_zero(x);
    const int t = absl::countr_zero(x);
    if (lead >= 0 && l >= lead && t >= 64 - lead - len) {
      out->Write(2, 2);
      out->Write(x >> (64 - lead - len), len);
      continue;
    }
    lead = l;
    len = 64 - l - t;
    out->Write(3, 2);
    out->Write(lead, 6);
    out->Write(len - 1, 6);
    out->Write(x >> t, len);
  }
}

bool DecodeXor(BitReader* in, size_t n, std::vector<double>* vs) {
  uint64_t prev;
  if (!in->Read(64, &prev)) return false;
  // Each later value takes at least one bit.
  if (n - 1 > in->remaining()) return false;
  vs->reserve(n);
  vs->push_back(BitsToDouble(prev));
  int lead = -1, len = 0;
  for (size_t i = 1; i < n; ++i) {
    uint64_t bit;
    if (!in->Read(1, &bit)) return false;
    if (bit == 1) {
      if (!in->Read(1, &bit)) return false;
      if (bit == 1) {
        uint64_t l, m;
        if (!in->Read(6, &l) || !in->Read(6, &m)) return false;
        if (l + m + 1 > 64) return false;
        lead = static_cast<int>(l);
        len = static_cast<int>(m) + 1;
      } else if (lead < 0) {
        return false;
      }
      uint64_t meaningful;
      if (!in->Read(len, &meaningful)) return false;
      prev ^= meaningful << (64 - lead - len);
    }
    vs->push_back(BitsToDouble(prev));
  }
  return true;
}

// The integer m with v == m / 10^d exactly, if there is one in range.
bool ToDecimal(double v, int d, int64_t* m) {
  const double t = v * kPow10[d];
  if (!(std::fabs(t) <= static_cast<double>(kMaxDecimalInt))) return false;
  *m = std::llround(t);
  return Same(static_cast<double>(*m) / kPow10[d], v);
}

// The fewest decimals that represent every value exactly; -1 if none does.
int FindDecimals(const std::vector<double>& vs, std::vector<int64_t>* ms) {
  ms->resize(vs.size());
  for (int d = 0; d <= kMaxDecimals; ++d) {
    size_t i = 0;
    while (i < vs.size() && ToDecimal(vs[i], d, &(*ms)[i])) ++i;
    if (i == vs.size()) return d;
  }
  return -1;
}

// Value column: 2 bits of code, then the XOR code, or 4 bits of decimals,
// the first (delta) or smallest (offset) integer zigzagged and sized, and the
// integer column of zigzagged deltas or of offsets. Nothing for an empty
// column.
void EncodeValues(const std::vector<double>& vs, BitWriter* out) {
  if (vs.empty()) return;
  BitWriter best;
  best.Write(kXorColumn, 2);
  EncodeXor(vs, &best);
  std::vector<int64_t> ms;
  const int d = FindDecimals(vs, &ms);
  if (d >= 0) {
    std::vector<uint64_t> xs;
    xs.reserve(ms.size());
    BitWriter delta;
    delta.Write(kDecimalDelta, 2);
    delta.Write(d, 4);
    WriteSized(ZigZagEncode64(ms[0]), &delta);
    for (size_t i = 1; i < ms.size(); ++i) {
      xs.push_back(ZigZagEncode64(ms[i] - ms[i - 1]));
    }
    EncodeInts(xs, &delta);
    if (delta.bit_count() < best.bit_count()) best = std::move(delta);

    const int64_t base = *std::min_element(ms.begin(), ms.end());
    xs.clear();
    for (int64_t m : ms) xs.push_back(static_cast<uint64_t>(m - base));
    BitWriter offset;
    offset.Write(kDecimalOffset, 2);
    offset.Write(d, 4);
    WriteSized(ZigZagEncode64(base), &offset);
    EncodeInts(xs, &offset);
    if (offset.bit_count() < best.bit_count()) best = std::move(offset);
  }
  out->Append(best);
}

bool DecodeValues(BitReader* in, size_t n, std::vector<double>* vs) {
  vs->clear();
  if (n == 0) return true;
  uint64_t code;
  if (!in->Read(2, &code)) return false;
  if (code == kXorColumn) return DecodeXor(in, n, vs);
  if (code != kDecimalDelta && code != kDecimalOffset) return false;
  uint64_t d, first;
  if (!in->Read(4, &d) || d > kMaxDecimals || !ReadSized(in, &first)) {
    return false;
  }
  const int64_t m0 = ZigZagDecode64(first);
  if (m0 < -kMaxDecimalInt || m0 > kMaxDecimalInt) return false;
  std::vector<uint64_t> xs;
  if (!DecodeInts(in, code == kDecimalDelta ? n - 1 : n, &xs)) return false;
  vs->reserve(n);
  const double p = kPow10[d];
  if (code == kDecimalDelta) {
    int64_t m = m0;
    vs->push_back(static_cast<double>(m) / p);
    for (uint64_t x : xs) {
      const int64_t delta = ZigZagDecode64(x);
      if (delta < -2 * kMaxDecimalInt || delta > 2 * kMaxDecimalInt) {
        return false;
      }
      m += delta;
      if (m < -kMaxDecimalInt || m > kMaxDecimalInt) return false;
      vs->push_back(static_cast<double>(m) / p);
    }
  } else {
    for (uint64_t x : xs) {
      if (x > static_cast<uint64_t>(2 * kMaxDecimalInt)) return false;
      const int64_t m = m0 + static_cast<int64_t>(x);
      if (m > kMaxDecimalInt) return false;
      vs->push_back(static_cast<double>(m) / p);
    }
  }
  return true;
}

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

uint32_t BlockChecksum(absl::string_view bytes) {
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
