// Varints (LEB128, 7 bits a byte) for libcanopy's binary formats: blocks,
// sketches, HyperLogLogs and snapshots. Internal: not in include/canopy.
#ifndef CANOPY_CORE_VARINT_H_
#define CANOPY_CORE_VARINT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace canopy {
namespace varint {

inline void Put(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads one varint from the front of `in`; false on a cut or overlong one.
inline bool Get(absl::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return false;
    const uint8_t b = static_cast<uint8_t>((*in)[0]);
    in->remove_prefix(1);
    if (shift == 63 && b > 1) return false;
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace varint
}  // namespace canopy

#endif  // CANOPY_CORE_VARINT_H_
