// The columns inside a trend block's bit stream: the bit writer and reader,
// the integer column (one constant, or a three-bucket prefix code) and the
// value column (Gorilla's XOR code, or decimal integers as deltas or
// offsets, whichever is smaller). core/block.cc frames them into a block
// (header, shapes, blobs, checksum); the format is described in
// include/canopy/block.h.
//
// Internal to libcanopy: not part of include/canopy. Pure functions and value
// types: thread-compatible.
#ifndef CANOPY_CORE_BLOCK_COLUMN_H_
#define CANOPY_CORE_BLOCK_COLUMN_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "canopy/coding.h"

namespace canopy {
namespace block_column {

// Bit-for-bit equality: -0.0 != 0.0, and a NaN equals only the same NaN.
inline bool Same(double a, double b) {
  return DoubleToBits(a) == DoubleToBits(b);
}

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

  // Reads `n` bits, 0 <= n <= 64, into the low bits of `v`.
  bool Read(int n, uint64_t* v) {
    if (static_cast<uint64_t>(n) > remaining()) return false;
    const size_t byte = bit_ >> 3;
    const int skip = static_cast<int>(bit_ & 7);
    if (n > 0 && skip + n <= 64 && byte + 8 <= bytes_.size()) {
      // One big-endian load holds them all (the common case).
      const uint64_t word = DecodeBigEndian64(bytes_.data() + byte);
      *v = (word << skip) >> (64 - n);
    } else {
      uint64_t r = 0;
      for (int i = 0; i < n; ++i) {
        const size_t b = bit_ + static_cast<size_t>(i);
        r = (r << 1) |
            ((static_cast<uint8_t>(bytes_[b >> 3]) >> (7 - (b & 7))) & 1u);
      }
      *v = r;
    }
    bit_ += static_cast<size_t>(n);
    return true;
  }

  // The next bits left-aligned in `*word`, at least 57 of them valid; false
  // near the end of the stream (then Read bit by bit).
  bool Peek(uint64_t* word) const {
    const size_t byte = bit_ >> 3;
    if (byte + 8 > bytes_.size()) return false;
    *word = DecodeBigEndian64(bytes_.data() + byte) << (bit_ & 7);
    return true;
  }
  // Skips `n` bits that Peek showed.
  void Skip(int n) { bit_ += static_cast<size_t>(n); }

  uint64_t remaining() const { return bytes_.size() * 8 - bit_; }

 private:
  absl::string_view bytes_;
  size_t bit_ = 0;  // bits consumed
};

// Integer column: bit 0 = one constant (a 7-bit width, then the value in
// that many bits), bit 1 = a prefix code with three bucket widths w1 <= w2 <=
// w3 (7 bits each): '0' + w1 bits, '10' + w2 bits, '11' + w3 bits, the widths
// chosen to minimise the column. Nothing at all for an empty column.
void EncodeInts(const std::vector<uint64_t>& xs, BitWriter* out);

// Reads an integer column of `n` values into `xs`; false if the stream is
// short or inconsistent.
bool DecodeInts(BitReader* in, size_t n, std::vector<uint64_t>* xs);

// Value column: 2 bits of code, then Gorilla's XOR code, or, when every
// value is exactly m / 10^d (|m| <= 2^53, d <= 15), 4 bits of d, the first
// (delta) or smallest (offset) m zigzagged and sized, and the integer column
// of zigzagged deltas or of offsets; whichever is smallest. Doubles
// round-trip bit for bit. Nothing for an empty column.
void EncodeValues(const std::vector<double>& vs, BitWriter* out);

// Reads a value column of `n` values into `vs`; false if the stream is
// short or inconsistent.
bool DecodeValues(BitReader* in, size_t n, std::vector<double>* vs);

}  // namespace block_column
}  // namespace canopy

#endif  // CANOPY_CORE_BLOCK_COLUMN_H_
