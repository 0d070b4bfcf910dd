#include "core/text.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/line_name.h"

namespace canopy {
namespace text {

// Quotes at most 80 bytes of untrusted input for an error message.
std::string Quote(absl::string_view text) {
  constexpr size_t kShown = 80;
  std::string out = "\"";
  for (char c : text.substr(0, kShown)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  if (text.size() > kShown) out += "...";
  out.push_back('"');
  return out;
}

// Parses the whole of `text` as a decimal number: [+-] digits [. digits]
// [e [+-] digits], with digits on at least one side of the point.
NumberStatus ParseNumber(absl::string_view text, double* out) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (absl::EqualsIgnoreCase(text, "nan") ||
      absl::EqualsIgnoreCase(text, "inf") ||
      absl::EqualsIgnoreCase(text, "infinity")) {
    return NumberStatus::kNotFinite;
  }
  size_t i = 0;
  const size_t n = text.size();
  auto digit = [&](size_t k) { return k < n && absl::ascii_isdigit(text[k]); };
  // Decimal order of the leading significant digit: tells an overflow from
  // an underflow when the conversion reports a range error.
  int64_t order = 0;
  bool seen_nonzero = false;
  size_t digits = 0;
  for (; digit(i); ++i, ++digits) {
    if (text[i] != '0') seen_nonzero = true;
    if (seen_nonzero) ++order;
  }
  if (i < n && text[i] == '.') {
    ++i;
    for (; digit(i); ++i, ++digits) {
      if (text[i] != '0') seen_nonzero = true;
      if (!seen_nonzero) --order;
    }
  }
  if (digits == 0) return NumberStatus::kBad;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    if (!digit(i)) return NumberStatus::kBad;
    int64_t exponent = 0;
    for (; digit(i); ++i) {
      exponent = std::min<int64_t>(exponent * 10 + (text[i] - '0'), 1000000);
    }
    order += exp_negative ? -exponent : exponent;
  }
  if (i != n) return NumberStatus::kBad;
  double v = 0;
  const absl::from_chars_result r =
      absl::from_chars(text.data(), text.data() + n, v);
  if (r.ec == std::errc::result_out_of_range) {
    if (order > 0) return NumberStatus::kNotFinite;
    v = 0;  // underflow
  } else if (r.ec != std::errc() || r.ptr != text.data() + n) {
    return NumberStatus::kBad;
  }
  if (!std::isfinite(v)) return NumberStatus::kNotFinite;
  *out = negative ? -v : v;
  return NumberStatus::kOk;
}

namespace {

// Bytes of a plain name segment: [A-Za-z0-9_-].
struct PlainTable {
  bool plain[256] = {};
  constexpr PlainTable() {
    for (int c = '0'; c <= '9'; ++c) plain[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) plain[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) plain[c] = true;
    plain[static_cast<int>('_')] = true;
    plain[static_cast<int>('-')] = true;
  }
};
constexpr PlainTable kPlain;

constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

}  // namespace

size_t FindPlainNameEnd(const char* p, const char* end, char stop) {
  // Longer than any legal name: the scan stops there.
  constexpr size_t kLongest = kMaxSegments * (kMaxSegmentBytes + 1);
  const size_t room = std::min<size_t>(end - p, kLongest);
#if defined(__SSE2__)
  // Most names end within sixteen bytes: one compare, no call.
  if (room >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const uint32_t hit = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(stop))));
    if (hit != 0) return static_cast<size_t>(__builtin_ctz(hit));
  }
#endif
  const char* at = static_cast<const char*>(std::memchr(p, stop, room));
  return at == nullptr ? 0 : static_cast<size_t>(at - p);
}

#if defined(__SSE2__)
namespace {

// Which of 16 bytes are plain ([A-Za-z0-9_-]), and which are dots, as
// bit masks.
inline void ClassifySixteen(const char* p, uint32_t* plain, uint32_t* dots) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  auto in = [](__m128i x, char lo, char hi) {
    // Bytes from 0x80 up compare as negative: never in an ASCII range.
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(lo - 1)),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(hi + 1)));
  };
  // (c | 0x20) in [a-z] is exactly c in [A-Za-z].
  const __m128i letters = in(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i ok =
      _mm_or_si128(_mm_or_si128(letters, in(v, '0', '9')),
                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')),
                                _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
  *plain = static_cast<uint32_t>(_mm_movemask_epi8(ok));
  *dots = static_cast<uint32_t>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))));
}

}  // namespace
#endif

}  // namespace text

// ---------------------------------------------------------------- plain names
// (public: canopy/line_name.h)

bool IsPlainName(absl::string_view name) {
  const size_t n = name.size();
#if defined(__SSE2__)
  // The usual name (up to 64 bytes) sixteen bytes at a time, its dots as a
  // mask: no segment can then be too long, and empty segments are dots at
  // either end or side by side.
  if (n > 0 && n <= 64) {
    uint64_t dots = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      uint32_t plain, dot;
      text::ClassifySixteen(name.data() + i, &plain, &dot);
      if ((plain | dot) != 0xffff) return false;
      dots |= uint64_t{dot} << i;
    }
    for (; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(name[i]);
      if (c == '.') {
        dots |= uint64_t{1} << i;
      } else if (!text::kPlain.plain[c]) {
        return false;
      }
    }
    if ((dots & 1) || ((dots >> (n - 1)) & 1) || (dots & (dots >> 1))) {
      return false;
    }
    return static_cast<size_t>(__builtin_popcountll(dots)) < kMaxSegments;
  }
#endif
  size_t segment = 0, segments = 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (text::kPlain.plain[c]) continue;
    if (c != '.' || i == segment || i - segment > kMaxSegmentBytes ||
        ++segments > kMaxSegments) {
      return false;
    }
    segment = i + 1;
  }
  return n != segment && n - segment <= kMaxSegmentBytes;
}

bool PlainNameToKey(absl::string_view name, std::string* key) {
  if (!IsPlainName(name)) return false;
  key->assign(name.data(), name.size());
  std::replace(key->begin(), key->end(), '.', ',');
  return true;
}

size_t ScanPlainName(const char* p, const char* end, char stop,
                     std::string* key) {
  const size_t n = text::FindPlainNameEnd(p, end, stop);
  if (n == 0 || !PlainNameToKey(absl::string_view(p, n), key)) return 0;
  return n;
}

namespace text {

size_t ScanPlainDecimal(const char* p, const char* end, double* out) {
  const char* const start = p;
  bool negative = false;
  if (p < end && (*p == '+' || *p == '-')) negative = *p++ == '-';
  uint64_t mantissa = 0;
  int digits = 0, fraction = 0;
  const char* first = p;
  for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) {
    mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
  }
  if (p == first) return 0;  // ".5" and the like: the full parser
  if (p < end && *p == '.') {
    const char* f = ++p;
    for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    }
    fraction = static_cast<int>(p - f);
    if (fraction == 0) return 0;  // "1.": the full parser
  }
  if (digits > 15) return 0;
  if (p < end && (*p == 'e' || *p == 'E')) return 0;
  const double whole = static_cast<double>(mantissa);
  const double v = fraction == 0 ? whole : whole / kPow10[fraction];
  *out = negative ? -v : v;
  return static_cast<size_t>(p - start);
}

}  // namespace text
}  // namespace canopy
