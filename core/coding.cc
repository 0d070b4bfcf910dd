// Varints and length-prefixed bytes (include/canopy/coding.h); the
// fixed-width encodings are inline in the header.
//
// Threads: functions of their arguments only; safe from any thread.
#include "canopy/coding.h"

namespace canopy {

void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}

bool GetVarint64(absl::string_view* input, uint64_t* v) {
  uint64_t result = 0;
  const char* p = input->data();
  const char* const end = p + input->size();
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(*p++);
    if (shift == 63 && b > 1) return false;  // more than 64 bits
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      input->remove_prefix(p - input->data());
      return true;
    }
  }
  return false;
}

int VarintLength(uint64_t v) {
  int n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

void PutLengthPrefixed(std::string* dst, absl::string_view value) {
  PutVarint64(dst, value.size());
  dst->append(value.data(), value.size());
}

bool GetLengthPrefixed(absl::string_view* input, absl::string_view* value) {
  absl::string_view in = *input;
  uint64_t n;
  if (!GetVarint64(&in, &n) || n > in.size()) return false;
  *value = in.substr(0, n);
  in.remove_prefix(n);
  *input = in;
  return true;
}

}  // namespace canopy
