// Byte encodings for canopy's binary formats: varints, fixed-width integers
// and doubles, as snapshots, the trend store's keys and values, blocks,
// sketches and HyperLogLogs write them. One way to write each, and one to
// read it back, every read checked against the end of its input.
//
//   std::string buf;
//   canopy::PutVarint64(&buf, 300);     // ac 02
//   canopy::PutBigEndian32(&buf, 7);    // 00 00 00 07: sorts as 7 does
//   canopy::PutDouble(&buf, 0.5);       // its 8 bytes, little-endian
//   absl::string_view in = buf;
//   uint64_t n;
//   double d;
//   bool ok = canopy::GetVarint64(&in, &n);  // false on a cut varint
//   uint32_t id = canopy::DecodeBigEndian32(in.data());  // size checked
//   in.remove_prefix(4);
//   ok = ok && canopy::GetDouble(&in, &d);
//
// Conventions (those of LevelDB's util/coding.h): Put* appends to a string;
// Decode* reads at a pointer whose size the caller has checked; Get* reads
// from the front of a string_view, consumes what it read, and returns false
// (the input then unspecified) when the input is too short or malformed.
//
// Big-endian integers are for keys that must sort as their numbers do (the
// trend store's); little-endian ones for fields inside a record (doubles,
// checksums). Snapshots and trend stores on disk are written with these:
// what one writes must never change.
//
// Threads: functions of their arguments only; safe from any thread.
#ifndef CANOPY_CODING_H_
#define CANOPY_CODING_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace canopy {

// ---------------------------------------------------------------- varints

// LEB128: 7 bits a byte, least significant first, the high bit set on
// every byte but the last (1 to 10 bytes).
void PutVarint64(std::string* dst, uint64_t v);
// False on a varint cut by the end of input or longer than 64 bits.
bool GetVarint64(absl::string_view* input, uint64_t* v);
// The bytes PutVarint64 writes for `v`.
int VarintLength(uint64_t v);

// A varint length, then the bytes.
void PutLengthPrefixed(std::string* dst, absl::string_view value);
// `value` points into the input.
bool GetLengthPrefixed(absl::string_view* input, absl::string_view* value);

// Signed integers as unsigned ones whose size follows the magnitude (0, -1,
// 1, -2, 2 ... become 0, 1, 2, 3, 4 ...), for varints.
inline uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// ---------------------------------------------------------------- fixed width

inline void PutBigEndian32(std::string* dst, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  dst->append(b, 4);
}
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  PutBigEndian32(dst, static_cast<uint32_t>(v >> 32));
  PutBigEndian32(dst, static_cast<uint32_t>(v));
}
inline uint32_t DecodeBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
inline uint64_t DecodeBigEndian64(const char* p) {
  return (uint64_t{DecodeBigEndian32(p)} << 32) | DecodeBigEndian32(p + 4);
}

inline void PutLittleEndian32(std::string* dst, uint32_t v) {
  const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8),
                     static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  dst->append(b, 4);
}
inline void PutLittleEndian64(std::string* dst, uint64_t v) {
  PutLittleEndian32(dst, static_cast<uint32_t>(v));
  PutLittleEndian32(dst, static_cast<uint32_t>(v >> 32));
}
inline uint32_t DecodeLittleEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) |
         (uint32_t{u[3]} << 24);
}
inline uint64_t DecodeLittleEndian64(const char* p) {
  return uint64_t{DecodeLittleEndian32(p)} |
         (uint64_t{DecodeLittleEndian32(p + 4)} << 32);
}

// ---------------------------------------------------------------- doubles

// A double's IEEE 754 bits, and back: every value, NaNs and -0 included,
// comes back bit for bit.
inline uint64_t DoubleToBits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}
inline double BitsToDouble(uint64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// A double as the 8 bytes of its bits, little-endian.
inline void PutDouble(std::string* dst, double v) {
  PutLittleEndian64(dst, DoubleToBits(v));
}
inline double DecodeDouble(const char* p) {
  return BitsToDouble(DecodeLittleEndian64(p));
}
inline bool GetDouble(absl::string_view* input, double* v) {
  if (input->size() < 8) return false;
  *v = DecodeDouble(input->data());
  input->remove_prefix(8);
  return true;
}

}  // namespace canopy

#endif  // CANOPY_CODING_H_
