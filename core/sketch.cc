#include "canopy/sketch.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "canopy/coding.h"

namespace canopy {
namespace {

constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kFlagFractionalCounts = 1;
// Largest count written as a varint: every integer up to it is a double.
constexpr double kMaxVarintCount = 9007199254740992.0;  // 2^53

// Reads one byte; false at the end.
bool GetByte(absl::string_view* in, uint8_t* b) {
  if (in->empty()) return false;
  *b = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  return true;
}

bool IsIntegralCount(double c) {
  return c >= 0 && c <= kMaxVarintCount && std::floor(c) == c;
}

// a + b, held at +-DBL_MAX when finite terms overflow; a non-finite term
// (a stored sum that overflowed before this rule) passes through.
double SaturatingSum(double a, double b) {
  const double sum = a + b;
  if (!std::isfinite(a) || !std::isfinite(b)) return sum;
  return std::clamp(sum, -DBL_MAX, DBL_MAX);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("bad sketch: ", what));
}

}  // namespace

Sketch::Sketch(double relative_accuracy)
    : alpha_(std::clamp(std::isnan(relative_accuracy) ? kDefaultRelativeAccuracy
                                                      : relative_accuracy,
                        kMinRelativeAccuracy, kMaxRelativeAccuracy)),
      log_gamma_(std::log((1 + alpha_) / (1 - alpha_))),
      min_(std::numeric_limits<double>::infinity()),
      max_(-std::numeric_limits<double>::infinity()) {}

namespace {

// Timers are mostly whole milliseconds: the buckets of the integers up to
// kWholeIndexes at the default accuracy, computed once by the formula, so
// that a whole value needs no logarithm.
constexpr int kWholeIndexes = 4096;

}  // namespace

int32_t Sketch::IndexOf(double magnitude) const {
  static const std::array<int32_t, kWholeIndexes + 1>* const whole = [] {
    auto* table = new std::array<int32_t, kWholeIndexes + 1>();
    const Sketch s;
    for (int v = 1; v <= kWholeIndexes; ++v) (*table)[v] = s.LogIndexOf(v);
    return table;
  }();
  if (alpha_ == kDefaultRelativeAccuracy && magnitude <= kWholeIndexes) {
    const int v = static_cast<int>(magnitude);
    if (v == magnitude && v > 0) return (*whole)[v];
  }
  return LogIndexOf(magnitude);
}

int32_t Sketch::LogIndexOf(double magnitude) const {
  return static_cast<int32_t>(std::ceil(std::log(magnitude) / log_gamma_));
}

double Sketch::ValueOf(int32_t index) const {
  // The middle of (gamma^(i-1), gamma^i] in relative terms.
  const double gamma = std::exp(log_gamma_);
  return std::exp(index * log_gamma_) * (2 / (1 + gamma));
}

void Sketch::AddToStore(Store* store, int32_t index, double count) {
  // A busy store holds every bucket of its range: the bucket is then at its
  // distance from the first, found without a search.
  if (!store->empty()) {
    const int64_t at = int64_t{index} - store->front().index;
    if (at >= 0 && at < static_cast<int64_t>(store->size()) &&
        (*store)[at].index == index) {
      (*store)[at].count += count;
      return;
    }
  }
  auto it =
      std::lower_bound(store->begin(), store->end(), index,
                       [](const Bucket& b, int32_t i) { return b.index < i; });
  if (it != store->end() && it->index == index) {
    it->count += count;
    return;
  }
  store->insert(it, Bucket{index, count});
  if (store->size() > kMaxBuckets) Collapse(store);
}

void Sketch::Collapse(Store* store) {
  if (store->size() <= kMaxBuckets) return;
  const size_t drop = store->size() - kMaxBuckets;
  double folded = 0;
  for (size_t i = 0; i < drop; ++i) folded += (*store)[i].count;
  (*store)[drop].count += folded;
  store->erase(store->begin(), store->begin() + drop);
}

void Sketch::Add(double value, double weight) {
  if (!std::isfinite(value) || !std::isfinite(weight) || !(weight > 0)) return;
  const double magnitude = std::fabs(value);
  if (magnitude < DBL_MIN) {
    zero_count_ += weight;
  } else if (weight == 1) {
    const uint32_t index = static_cast<uint32_t>(IndexOf(magnitude));
    unfolded_.push_back(static_cast<int32_t>((index << 1) | (value < 0)));
    if (unfolded_.size() >= kMaxUnfolded) Fold();
  } else if (value > 0) {
    AddToStore(&positive_, IndexOf(magnitude), weight);
  } else {
    AddToStore(&negative_, IndexOf(magnitude), weight);
  }
  count_ += weight;
  sum_ = SaturatingSum(sum_, value * weight);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Sketch::Fold() const {
  for (const int32_t e : unfolded_) {
    // An arithmetic shift gives the index back, sign and all.
    AddToStore((e & 1) ? &negative_ : &positive_, e >> 1, 1);
  }
  unfolded_.clear();
}

absl::Status Sketch::Merge(const Sketch& other) {
  if (other.alpha_ != alpha_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge sketches of relative accuracy ", alpha_,
                     " and ", other.alpha_));
  }
  if (other.empty()) return absl::OkStatus();
  Fold();
  other.Fold();
  if (&other == this) {
    const Sketch copy = other;
    return Merge(copy);
  }
  auto merge_store = [](Store* into, const Store& from) {
    if (from.empty()) return;
    Store merged;
    merged.reserve(into->size() + from.size());
    auto a = into->begin();
    auto b = from.begin();
    while (a != into->end() || b != from.end()) {
      if (b == from.end() || (a != into->end() && a->index < b->index)) {
        merged.push_back(*a++);
      } else if (a == into->end() || b->index < a->index) {
        merged.push_back(*b++);
      } else {
        merged.push_back(Bucket{a->index, a->count + b->count});
        ++a;
        ++b;
      }
    }
    Collapse(&merged);
    *into = std::move(merged);
  };
  merge_store(&positive_, other.positive_);
  merge_store(&negative_, other.negative_);
  zero_count_ += other.zero_count_;
  count_ += other.count_;
  sum_ = SaturatingSum(sum_, other.sum_);
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  return absl::OkStatus();
}

double Sketch::Quantile(double q) const {
  if (empty()) return std::numeric_limits<double>::quiet_NaN();
  if (std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  if (q <= 0) return min_;
  if (q >= 1) return max_;
  Fold();
  auto clamp = [this](double v) { return std::clamp(v, min_, max_); };
  // Nearest rank, as StatsD's upper_N and Prometheus' summaries read it: the
  // smallest value with at least q·n of the (weighted) samples at or below
  // it. So p99 of 3 samples is the largest, and p50 of 4 the second. The
  // tolerance keeps q·n = 7.000000000000001 (0.07 × 100) at rank 7.
  const double rank = q * count_ * (1 - 1e-12);
  double seen = 0;
  // Ascending values: negatives from the largest magnitude down, zero, then
  // positives from the smallest magnitude up.
  for (auto it = negative_.rbegin(); it != negative_.rend(); ++it) {
    seen += it->count;
    if (seen >= rank) return clamp(-ValueOf(it->index));
  }
  seen += zero_count_;
  if (seen >= rank) return clamp(0);
  for (const Bucket& b : positive_) {
    seen += b.count;
    if (seen >= rank) return clamp(ValueOf(b.index));
  }
  return max_;  // rounding left the rank just past the last bucket
}

size_t Sketch::bucket_count() const {
  Fold();
  return positive_.size() + negative_.size() + (zero_count_ > 0 ? 1 : 0);
}

void Sketch::Clear() { *this = Sketch(alpha_); }

void Sketch::Serialize(std::string* out) const {
  Fold();
  bool integral = IsIntegralCount(zero_count_);
  for (const Store* store : {&positive_, &negative_}) {
    for (const Bucket& b : *store)
      integral = integral && IsIntegralCount(b.count);
  }
  auto put_count = [&](double c) {
    if (integral) {
      PutVarint64(out, static_cast<uint64_t>(c));
    } else {
      PutDouble(out, c);
    }
  };
  out->push_back(static_cast<char>(kFormatVersion));
  out->push_back(static_cast<char>(integral ? 0 : kFlagFractionalCounts));
  PutDouble(out, alpha_);
  PutDouble(out, min_);
  PutDouble(out, max_);
  PutDouble(out, sum_);
  put_count(zero_count_);
  for (const Store* store : {&positive_, &negative_}) {
    PutVarint64(out, store->size());
    int64_t previous = 0;
    for (size_t i = 0; i < store->size(); ++i) {
      const Bucket& b = (*store)[i];
      if (i == 0) {
        PutVarint64(out, ZigZagEncode64(b.index));
      } else {
        PutVarint64(out, static_cast<uint64_t>(b.index - previous - 1));
      }
      previous = b.index;
      put_count(b.count);
    }
  }
}

absl::StatusOr<Sketch> Sketch::Deserialize(absl::string_view bytes) {
  absl::string_view in = bytes;
  uint8_t version, flags;
  if (!GetByte(&in, &version)) return Corrupt("empty");
  if (version != kFormatVersion) {
    return Corrupt(absl::StrCat("unknown version ", version));
  }
  if (!GetByte(&in, &flags)) return Corrupt("truncated");
  if ((flags & ~kFlagFractionalCounts) != 0) return Corrupt("unknown flags");
  const bool fractional = (flags & kFlagFractionalCounts) != 0;
  double alpha, min, max, sum;
  if (!GetDouble(&in, &alpha) || !GetDouble(&in, &min) ||
      !GetDouble(&in, &max) || !GetDouble(&in, &sum)) {
    return Corrupt("truncated");
  }
  if (!(alpha >= kMinRelativeAccuracy && alpha <= kMaxRelativeAccuracy)) {
    return Corrupt("relative accuracy out of range");
  }
  Sketch s(alpha);
  auto get_count = [&](double* c) {
    if (fractional) {
      return GetDouble(&in, c) && std::isfinite(*c) && *c >= 0;
    }
    uint64_t v;
    if (!GetVarint64(&in, &v) || v > static_cast<uint64_t>(kMaxVarintCount)) {
      return false;
    }
    *c = static_cast<double>(v);
    return true;
  };
  if (!get_count(&s.zero_count_)) return Corrupt("bad zero count");
  double total = s.zero_count_;
  const int64_t lowest = s.IndexOf(DBL_MIN);
  const int64_t highest = s.IndexOf(DBL_MAX);
  for (Store* store : {&s.positive_, &s.negative_}) {
    uint64_t n;
    if (!GetVarint64(&in, &n)) return Corrupt("truncated");
    if (n > kMaxBuckets) return Corrupt("too many buckets");
    store->reserve(n);
    int64_t index = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t v;
      if (!GetVarint64(&in, &v)) return Corrupt("truncated");
      if (i == 0) {
        index = ZigZagDecode64(v);
      } else {
        if (v > static_cast<uint64_t>(highest - lowest)) {
          return Corrupt("bucket index out of range");
        }
        index += static_cast<int64_t>(v) + 1;
      }
      if (index < lowest || index > highest) {
        return Corrupt("bucket index out of range");
      }
      double c;
      if (!get_count(&c) || !(c > 0)) return Corrupt("bad bucket count");
      store->push_back(Bucket{static_cast<int32_t>(index), c});
      total += c;
    }
  }
  if (!in.empty()) return Corrupt("trailing bytes");
  if (!std::isfinite(total)) return Corrupt("count overflows");
  if (total > 0) {
    // The sum may be anything: finite values sum to +inf, then meet -inf.
    if (!std::isfinite(min) || !std::isfinite(max) || min > max) {
      return Corrupt("bad min or max");
    }
    s.count_ = total;
    s.min_ = min;
    s.max_ = max;
    s.sum_ = sum;
  }
  return s;
}

}  // namespace canopy
