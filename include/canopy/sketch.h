// Sketch: a mergeable quantile sketch for timers (DDSketch, Masson et al.,
// VLDB 2019).
//
// A timer leaf, a trend window and an interior node each keep one Sketch; the
// percentiles of a merged window or of a subtree come from merging sketches,
// never from averaging percentiles.
//
//   Sketch s;                       // relative accuracy 1%
//   for (double ms : {12.0, 15.0, 250.0}) s.Add(ms);
//   s.Add(40.0, /*weight=*/10);     // "40|ms|@0.1" stands for 10 samples
//   s.Quantile(0.99);               // within 1% of the true p99
//   std::string bytes;
//   s.Serialize(&bytes);            // for LevelDB
//   absl::StatusOr<Sketch> back = Sketch::Deserialize(bytes);
//
// Accuracy: a value v lands in bucket i = ceil(log_gamma(|v|)), gamma =
// (1 + alpha) / (1 - alpha), and the bucket reports 2 gamma^i / (gamma + 1).
// Every quantile is therefore within relative error alpha of a value of the
// data whose rank is the requested one (the DDSketch guarantee), for positive
// and negative values alike. alpha is 1% unless given. Quantile(0) and
// Quantile(1) are the exact min and max, and no answer leaves [min, max].
//
// Zero: exact zeros and subnormal magnitudes (below DBL_MIN) share one zero
// bucket and report 0.
//
// Memory: buckets are stored sparsely, one 16-byte entry per non-empty bucket,
// so a sketch of a few samples costs about a hundred bytes. Each sign keeps at
// most kMaxBuckets (2048) buckets; past that the buckets of smallest magnitude
// are collapsed into the lowest kept one. At alpha = 1%, 2048 buckets span
// values from x to about 6e17 x, so real data never collapses (the span
// narrows with alpha: a factor of about 60 at alpha = 0.1%); if it does,
// only the quantiles that fall among the collapsed small magnitudes lose
// accuracy (they read high) and the tails keep alpha.
//
// A Sketch is a value type: copyable, movable, thread-compatible (const
// methods may be called concurrently; anything else needs external locking).
#ifndef CANOPY_SKETCH_H_
#define CANOPY_SKETCH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

class Sketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  // Accepted range for the relative accuracy.
  static constexpr double kMinRelativeAccuracy = 1e-4;
  static constexpr double kMaxRelativeAccuracy = 0.5;
  // Buckets kept per sign (positive, negative) before collapsing.
  static constexpr size_t kMaxBuckets = 2048;

  // `relative_accuracy` (alpha) is clamped into [kMinRelativeAccuracy,
  // kMaxRelativeAccuracy].
  explicit Sketch(double relative_accuracy = kDefaultRelativeAccuracy);

  // Adds `value` counted `weight` times. A StatsD sample rate r becomes
  // weight 1/r. Non-finite values and weights that are not finite and
  // positive are ignored (the parsers reject them before they get here).
  void Add(double value, double weight = 1);

  // Hints the CPU to load what an Add will touch (batch ingest).
  void Prefetch() const {
    __builtin_prefetch(unfolded_.data() + unfolded_.size());
  }

  // Adds every sample of `other`. Fails with InvalidArgument, changing
  // nothing, if the two sketches have different relative accuracies.
  absl::Status Merge(const Sketch& other);

  // The value at quantile `q` (clamped into [0, 1]); NaN when empty.
  double Quantile(double q) const;

  // Total weight added; the number of samples when every weight is 1.
  double count() const { return count_; }
  // Sum of value * weight, held at +-DBL_MAX when finite terms overflow (a
  // sketch read back from bytes written before may hold a non-finite one).
  double sum() const { return sum_; }
  // Exact extremes; +inf and -inf when empty.
  double min() const { return min_; }
  double max() const { return max_; }
  bool empty() const { return count_ <= 0; }
  double relative_accuracy() const { return alpha_; }

  // Number of non-empty buckets (zero bucket included); for memory tests.
  size_t bucket_count() const;

  // Forgets every sample, keeping the accuracy.
  void Clear();

  // Appends a compact binary form to `out`: a version byte, alpha, min, max
  // and sum as 8-byte doubles, then the non-empty buckets as delta-encoded
  // varint indexes and varint counts (8-byte doubles only when a weight made
  // a count fractional). The format is stable: it is stored in LevelDB.
  void Serialize(std::string* out) const;

  // Parses what Serialize wrote. Any other input, including truncated,
  // trailing or inconsistent bytes, gives InvalidArgument; never crashes.
  static absl::StatusOr<Sketch> Deserialize(absl::string_view bytes);

 private:
  struct Bucket {
    int32_t index;
    double count;
  };
  // Buckets of one sign, sorted by ascending index (ascending magnitude).
  using Store = std::vector<Bucket>;

  // The bucket of a magnitude: ceil(log_gamma(magnitude)), from a table
  // for whole magnitudes at the default accuracy.
  int32_t IndexOf(double magnitude) const;
  int32_t LogIndexOf(double magnitude) const;
  double ValueOf(int32_t index) const;
  static void AddToStore(Store* store, int32_t index, double count);
  static void Collapse(Store* store);

  // Counts the buckets of unfolded_ into the stores. Everything that reads
  // the stores calls it first; the stores are mutable for that.
  void Fold() const;

  double alpha_;
  double log_gamma_;  // ln((1 + alpha) / (1 - alpha))
  double count_ = 0;
  double sum_ = 0;
  double min_;
  double max_;
  double zero_count_ = 0;
  mutable Store positive_;
  mutable Store negative_;  // indexed by magnitude
  // Samples of weight 1 whose bucket is known and not counted yet, as
  // (index << 1) | negative. A busy timer's store spans hundreds of
  // buckets (KBs): a sample lands in a random one, a cache miss per
  // sample when many timers are busy. Appending here touches the one line
  // at the end; the buckets are counted kMaxUnfolded at a time.
  static constexpr size_t kMaxUnfolded = 128;
  mutable std::vector<int32_t> unfolded_;
};

}  // namespace canopy

#endif  // CANOPY_SKETCH_H_
