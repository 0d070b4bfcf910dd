#include "canopy/hll.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"
#include "canopy/coding.h"

namespace canopy {
namespace {

constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kSparse = 0;
constexpr uint8_t kDense = 1;
constexpr int kRegisterBits = 6;  // register values are at most 61

// sigma and tau from Ertl (2017), section 4: the corrections for empty and
// saturated registers.
double Sigma(double x) {
  if (x == 1) return std::numeric_limits<double>::infinity();
  double y = 1, z = x, previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (z != previous);
  return z;
}

double Tau(double x) {
  if (x == 0 || x == 1) return 0;
  double y = 1, z = 1 - x, previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z != previous);
  return z / 3;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("bad hll: ", what));
}

}  // namespace

uint64_t HllHash(absl::string_view data) {
  // MurmurHash64A by Austin Appleby (public domain).
  constexpr uint64_t kMul = 0xc6a4a7935bd1e995ULL;
  constexpr int kShift = 47;
  constexpr uint64_t kSeed = 0x63616e6f7079ULL;  // "canopy"
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  uint64_t h = kSeed ^ (n * kMul);
  const unsigned char* end = p + (n & ~size_t{7});
  for (; p != end; p += 8) {
    uint64_t k = DecodeLittleEndian64(reinterpret_cast<const char*>(p));
    k *= kMul;
    k ^= k >> kShift;
    k *= kMul;
    h ^= k;
    h *= kMul;
  }
  switch (n & 7) {
    case 7:
      h ^= static_cast<uint64_t>(p[6]) << 48;
      [[fallthrough]];
    case 6:
      h ^= static_cast<uint64_t>(p[5]) << 40;
      [[fallthrough]];
    case 5:
      h ^= static_cast<uint64_t>(p[4]) << 32;
      [[fallthrough]];
    case 4:
      h ^= static_cast<uint64_t>(p[3]) << 24;
      [[fallthrough]];
    case 3:
      h ^= static_cast<uint64_t>(p[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint64_t>(p[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint64_t>(p[0]);
      h *= kMul;
  }
  h ^= h >> kShift;
  h *= kMul;
  h ^= h >> kShift;
  return h;
}

Hll::Hll(int precision)
    : precision_(std::clamp(precision, kMinPrecision, kMaxPrecision)) {}

size_t Hll::sparse_limit() const { return (size_t{1} << precision_) / 16; }

double Hll::standard_error() const {
  return 1.04 / std::sqrt(static_cast<double>(size_t{1} << precision_));
}

void Hll::AddToRegisters(uint64_t hash) {
  const int q = 64 - precision_;
  const uint64_t index = hash >> q;
  const uint64_t rest = hash << precision_;
  const uint8_t rank = rest == 0
                           ? static_cast<uint8_t>(q + 1)
                           : static_cast<uint8_t>(absl::countl_zero(rest) + 1);
  uint8_t& r = registers_[index];
  if (rank > r) r = rank;
}

void Hll::ToDense() {
  registers_.assign(size_t{1} << precision_, 0);
  for (uint64_t h : sparse_) AddToRegisters(h);
  sparse_.clear();
  sparse_.shrink_to_fit();
}

void Hll::AddHash(uint64_t hash) {
  if (!is_sparse()) {
    AddToRegisters(hash);
    return;
  }
  auto it = std::lower_bound(sparse_.begin(), sparse_.end(), hash);
  if (it != sparse_.end() && *it == hash) return;
  sparse_.insert(it, hash);
  if (sparse_.size() > sparse_limit()) ToDense();
}

absl::Status Hll::Merge(const Hll& other) {
  if (other.precision_ != precision_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge HyperLogLogs of precision ", precision_,
                     " and ", other.precision_));
  }
  if (&other == this) return absl::OkStatus();
  if (other.is_sparse()) {
    if (is_sparse()) {
      std::vector<uint64_t> merged;
      merged.reserve(sparse_.size() + other.sparse_.size());
      std::set_union(sparse_.begin(), sparse_.end(), other.sparse_.begin(),
                     other.sparse_.end(), std::back_inserter(merged));
      sparse_ = std::move(merged);
      if (sparse_.size() > sparse_limit()) ToDense();
    } else {
      for (uint64_t h : other.sparse_) AddToRegisters(h);
    }
    return absl::OkStatus();
  }
  if (is_sparse()) ToDense();
  for (size_t i = 0; i < registers_.size(); ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
  return absl::OkStatus();
}

double Hll::Estimate() const {
  if (is_sparse()) return static_cast<double>(sparse_.size());
  const int q = 64 - precision_;
  const double m = static_cast<double>(registers_.size());
  std::vector<int> histogram(q + 2, 0);
  for (uint8_t r : registers_) ++histogram[r];
  double z = m * Tau((m - histogram[q + 1]) / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * Sigma(histogram[0] / m);
  constexpr double kAlphaInf = 0.721347520444481703680;  // 1 / (2 ln 2)
  // Every register saturated (z == 0) means "more than a 64-bit hash can
  // tell apart": answer 2^64 rather than infinity.
  constexpr double kMaxEstimate = 18446744073709551616.0;
  return std::min(kAlphaInf * m * m / z, kMaxEstimate);
}

void Hll::Clear() { *this = Hll(precision_); }

void Hll::Serialize(std::string* out) const {
  out->push_back(static_cast<char>(kFormatVersion));
  out->push_back(static_cast<char>(precision_));
  if (is_sparse()) {
    out->push_back(static_cast<char>(kSparse));
    PutVarint64(out, sparse_.size());
    uint64_t previous = 0;
    for (uint64_t h : sparse_) {
      PutVarint64(out, h - previous);
      previous = h;
    }
    return;
  }
  out->push_back(static_cast<char>(kDense));
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t r : registers_) {
    acc |= static_cast<uint32_t>(r) << bits;
    bits += kRegisterBits;
    while (bits >= 8) {
      out->push_back(static_cast<char>(acc & 0xff));
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out->push_back(static_cast<char>(acc & 0xff));
}

absl::StatusOr<Hll> Hll::Deserialize(absl::string_view bytes) {
  if (bytes.size() < 3) return Corrupt("truncated");
  if (static_cast<uint8_t>(bytes[0]) != kFormatVersion) {
    return Corrupt("unknown version");
  }
  const int precision = static_cast<uint8_t>(bytes[1]);
  if (precision < kMinPrecision || precision > kMaxPrecision) {
    return Corrupt("precision out of range");
  }
  const uint8_t form = static_cast<uint8_t>(bytes[2]);
  bytes.remove_prefix(3);
  Hll h(precision);
  if (form == kSparse) {
    uint64_t n;
    if (!GetVarint64(&bytes, &n)) return Corrupt("truncated");
    if (n > h.sparse_limit()) return Corrupt("too many sparse hashes");
    h.sparse_.reserve(n);
    uint64_t value = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t delta;
      if (!GetVarint64(&bytes, &delta)) return Corrupt("truncated");
      if (i > 0 && delta == 0) return Corrupt("hashes not increasing");
      if (delta > std::numeric_limits<uint64_t>::max() - value) {
        return Corrupt("hash overflows");
      }
      value += delta;
      h.sparse_.push_back(value);
    }
    if (!bytes.empty()) return Corrupt("trailing bytes");
    return h;
  }
  if (form != kDense) return Corrupt("unknown representation");
  const size_t m = size_t{1} << precision;
  if (bytes.size() != (m * kRegisterBits + 7) / 8) {
    return Corrupt("wrong register block size");
  }
  h.registers_.assign(m, 0);
  const int max_rank = 64 - precision + 1;
  uint32_t acc = 0;
  int bits = 0;
  size_t next = 0;
  for (size_t i = 0; i < m; ++i) {
    while (bits < kRegisterBits) {
      acc |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[next++])) << bits;
      bits += 8;
    }
    const uint8_t r = acc & ((1u << kRegisterBits) - 1);
    acc >>= kRegisterBits;
    bits -= kRegisterBits;
    if (r > max_rank) return Corrupt("register out of range");
    h.registers_[i] = r;
  }
  return h;
}

}  // namespace canopy
