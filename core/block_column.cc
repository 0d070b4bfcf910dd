// The integer and value columns of a trend block's bit stream (see
// core/block_column.h for the codes, include/canopy/block.h for the format).
// Pure functions: thread-safe.
#include "core/block_column.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/numeric/bits.h"
#include "canopy/coding.h"

namespace canopy {
namespace block_column {
namespace {

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

// The number of bits needed to write `v` (0 for 0).
int Width(uint64_t v) { return v == 0 ? 0 : 64 - absl::countl_zero(v); }

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

}  // namespace

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
    uint64_t word;
    if (in->Peek(&word)) {
      // The prefix and the value in one load when they fit in 57 bits.
      const int prefix = (word >> 63) == 0 ? 1 : 2;
      const int width = static_cast<int>(prefix == 1        ? w[0]
                                         : (word >> 62) & 1 ? w[2]
                                                            : w[1]);
      if (prefix + width <= 57) {
        xs->push_back(width == 0 ? 0 : (word << prefix) >> (64 - width));
        in->Skip(prefix + width);
        continue;
      }
    }
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

}  // namespace block_column
}  // namespace canopy
