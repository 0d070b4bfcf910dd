// SeriesDict: the trend store's packed key -> id dictionary.
#include "server/trend/series_dict.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(SeriesDictTest, FindsWhatWasInsertedAcrossChunks) {
  SeriesDict dict;
  // Enough keys to fill several 1 MiB chunks, with ids in order and a gap.
  constexpr uint32_t kN = 200000;
  for (uint32_t i = 1; i <= kN; ++i) {
    dict.Insert(absl::StrCat("host,web-", i, ",cpu,user"),
                i < 1000 ? i : i + 5);
  }
  EXPECT_EQ(dict.size(), kN);
  for (uint32_t i = 1; i <= kN; ++i) {
    ASSERT_EQ(dict.Find(absl::StrCat("host,web-", i, ",cpu,user")),
              i < 1000 ? i : i + 5);
  }
  EXPECT_EQ(dict.Find("host,web-0,cpu,user"), 0u);
  EXPECT_EQ(dict.Find(""), 0u);
  // Packed: far less than a hash map of std::string keys (~70 B and up).
  EXPECT_LT(dict.bytes() / kN, 50u);
}

TEST(SeriesDictTest, EraseForgetsOnlyThatSeries) {
  SeriesDict dict;
  dict.Insert("a", 1);
  dict.Insert("b", 2);
  dict.Erase(1);
  dict.Erase(9);  // never there: nothing happens
  EXPECT_EQ(dict.Find("a"), 0u);
  EXPECT_EQ(dict.Find("b"), 2u);
  EXPECT_EQ(dict.size(), 1u);
  dict.Insert("a", 3);  // made again (a write that failed is retried)
  EXPECT_EQ(dict.Find("a"), 3u);
}

TEST(SeriesDictTest, LongestKeysFit) {
  SeriesDict dict;
  std::string longest(8191, 'k');  // 32 segments of 255 bytes and commas
  std::string huge(70000, 'h');    // more than a chunk's worth is fine too
  dict.Insert(longest, 1);
  dict.Insert(huge.substr(0, 65535), 2);
  EXPECT_EQ(dict.Find(longest), 1u);
  EXPECT_EQ(dict.Find(huge.substr(0, 65535)), 2u);
  EXPECT_EQ(dict.Find(huge.substr(0, 65534)), 0u);
}

}  // namespace
}  // namespace canopy
