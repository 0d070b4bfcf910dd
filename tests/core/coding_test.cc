// include/canopy/coding.h: round trips, edge values, the exact bytes the
// formats on disk depend on, and truncated or malformed input.
#include "canopy/coding.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(CodingTest, VarintRoundTripsEdgeValues) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 255, 300, 16383, 16384};
  for (int shift = 0; shift < 64; ++shift) {
    const uint64_t p = uint64_t{1} << shift;
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p + 1);
  }
  values.push_back(std::numeric_limits<uint64_t>::max());
  std::string buf;
  for (uint64_t v : values) {
    const size_t before = buf.size();
    PutVarint64(&buf, v);
    EXPECT_EQ(buf.size() - before, static_cast<size_t>(VarintLength(v))) << v;
  }
  absl::string_view in = buf;
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&in, &got)) << v;
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, VarintBytesAreLeb128) {
  std::string buf;
  PutVarint64(&buf, 300);
  EXPECT_EQ(buf, Bytes({0xac, 0x02}));
  buf.clear();
  PutVarint64(&buf, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(
      buf, Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  EXPECT_EQ(VarintLength(0), 1);
  EXPECT_EQ(VarintLength(127), 1);
  EXPECT_EQ(VarintLength(128), 2);
  EXPECT_EQ(VarintLength(std::numeric_limits<uint64_t>::max()), 10);
}

TEST(CodingTest, VarintRefusesTruncatedAndOverlongInput) {
  uint64_t v;
  absl::string_view empty;
  EXPECT_FALSE(GetVarint64(&empty, &v));
  std::string buf;
  PutVarint64(&buf, uint64_t{1} << 40);
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    absl::string_view in(buf.data(), cut);
    EXPECT_FALSE(GetVarint64(&in, &v)) << cut;
  }
  // 65 bits: the tenth byte may only carry the 64th bit.
  std::string over =
      Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
  absl::string_view in = over;
  EXPECT_FALSE(GetVarint64(&in, &v));
  // Eleven bytes.
  std::string eleven(10, static_cast<char>(0x80));
  eleven.push_back(0);
  in = eleven;
  EXPECT_FALSE(GetVarint64(&in, &v));
  // A varint followed by more: only the varint is consumed.
  std::string more = Bytes({0x05, 'x'});
  in = more;
  ASSERT_TRUE(GetVarint64(&in, &v));
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(in, "x");
}

TEST(CodingTest, LengthPrefixed) {
  std::string buf;
  PutLengthPrefixed(&buf, "");
  PutLengthPrefixed(&buf, "abc");
  PutLengthPrefixed(&buf, std::string(200, 'z'));
  EXPECT_EQ(buf.substr(0, 5), Bytes({0, 3, 'a', 'b', 'c'}));
  absl::string_view in = buf, s;
  ASSERT_TRUE(GetLengthPrefixed(&in, &s));
  EXPECT_EQ(s, "");
  ASSERT_TRUE(GetLengthPrefixed(&in, &s));
  EXPECT_EQ(s, "abc");
  ASSERT_TRUE(GetLengthPrefixed(&in, &s));
  EXPECT_EQ(s, std::string(200, 'z'));
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(GetLengthPrefixed(&in, &s));
  // A length past the end refuses and leaves the input alone.
  std::string cut = Bytes({4, 'a', 'b', 'c'});
  in = cut;
  EXPECT_FALSE(GetLengthPrefixed(&in, &s));
  EXPECT_EQ(in.size(), 4u);
}

TEST(CodingTest, ZigZag) {
  EXPECT_EQ(ZigZagEncode64(0), 0u);
  EXPECT_EQ(ZigZagEncode64(-1), 1u);
  EXPECT_EQ(ZigZagEncode64(1), 2u);
  EXPECT_EQ(ZigZagEncode64(-2), 3u);
  EXPECT_EQ(ZigZagEncode64(std::numeric_limits<int64_t>::max()),
            std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(ZigZagEncode64(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<uint64_t>::max());
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1} << 40,
                    -(int64_t{1} << 40), std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(v)), v);
  }
}

TEST(CodingTest, BigEndianSortsAsNumbers) {
  std::string buf;
  PutBigEndian32(&buf, 0x01020304);
  PutBigEndian64(&buf, 0x05060708090a0b0cull);
  EXPECT_EQ(buf, Bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(DecodeBigEndian32(buf.data()), 0x01020304u);
  EXPECT_EQ(DecodeBigEndian64(buf.data() + 4), 0x05060708090a0b0cull);
  const std::vector<uint64_t> sorted = {0,     1,          255,        256,
                                        65535, 1ull << 32, 1ull << 63, ~0ull};
  for (size_t i = 1; i < sorted.size(); ++i) {
    std::string a, b;
    PutBigEndian64(&a, sorted[i - 1]);
    PutBigEndian64(&b, sorted[i]);
    EXPECT_LT(a, b) << sorted[i];
    EXPECT_EQ(DecodeBigEndian64(b.data()), sorted[i]);
  }
  std::string top;
  PutBigEndian32(&top, 0xffffffffu);
  EXPECT_EQ(DecodeBigEndian32(top.data()), 0xffffffffu);
}

TEST(CodingTest, LittleEndian) {
  std::string buf;
  PutLittleEndian32(&buf, 0x01020304);
  PutLittleEndian64(&buf, 0x05060708090a0b0cull);
  EXPECT_EQ(buf, Bytes({4, 3, 2, 1, 12, 11, 10, 9, 8, 7, 6, 5}));
  EXPECT_EQ(DecodeLittleEndian32(buf.data()), 0x01020304u);
  EXPECT_EQ(DecodeLittleEndian64(buf.data() + 4), 0x05060708090a0b0cull);
  std::string top;
  PutLittleEndian64(&top, ~0ull);
  EXPECT_EQ(DecodeLittleEndian64(top.data()), ~0ull);
}

TEST(CodingTest, DoublesComeBackBitForBit) {
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           -1.5,
                           0.1,
                           1e300,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()};
  std::string buf;
  for (double v : values) PutDouble(&buf, v);
  ASSERT_EQ(buf.size(), 8 * (sizeof values / sizeof values[0]));
  absl::string_view in = buf;
  for (double v : values) {
    EXPECT_EQ(DoubleToBits(DecodeDouble(in.data())), DoubleToBits(v));
    double got;
    ASSERT_TRUE(GetDouble(&in, &got));
    EXPECT_EQ(DoubleToBits(got), DoubleToBits(v));
    EXPECT_EQ(DoubleToBits(BitsToDouble(DoubleToBits(v))), DoubleToBits(v));
  }
  EXPECT_TRUE(in.empty());
  // The bytes on disk: 1.0 is 0x3ff0000000000000, little-endian.
  std::string one;
  PutDouble(&one, 1.0);
  EXPECT_EQ(one, Bytes({0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));
  EXPECT_EQ(DoubleToBits(-0.0), 0x8000000000000000ull);
}

TEST(CodingTest, GetDoubleRefusesTruncatedInput) {
  std::string buf;
  PutDouble(&buf, 2.5);
  for (size_t cut = 0; cut < 8; ++cut) {
    absl::string_view in(buf.data(), cut);
    double v;
    EXPECT_FALSE(GetDouble(&in, &v)) << cut;
    EXPECT_EQ(in.size(), cut);
  }
}

}  // namespace
}  // namespace canopy
