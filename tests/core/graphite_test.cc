#include "canopy/graphite.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

struct Result {
  std::vector<GraphiteRecord> records;
  std::vector<GraphiteError> errors;
  GraphiteCounts counts;
};

Result Parse(absl::string_view input, GraphiteOptions options = {}) {
  Result r;
  r.counts = ParseGraphite(
      input, [&](const GraphiteRecord& rec) { r.records.push_back(rec); },
      [&](const GraphiteError& e) { r.errors.push_back(e); }, options);
  EXPECT_EQ(r.counts.records, r.records.size());
  EXPECT_EQ(r.counts.errors, r.errors.size());
  return r;
}

GraphiteRecord One(absl::string_view line) {
  Result r = Parse(line);
  EXPECT_EQ(r.records.size(), 1u) << line;
  for (const GraphiteError& e : r.errors) {
    ADD_FAILURE() << line << ": " << e.status;
  }
  return r.records.empty() ? GraphiteRecord() : r.records[0];
}

GraphiteError Bad(absl::string_view line) {
  Result r = Parse(line);
  EXPECT_TRUE(r.records.empty()) << line << " -> " << r.records[0].key;
  EXPECT_EQ(r.errors.size(), 1u) << line;
  if (r.errors.empty())
    return GraphiteError{GraphiteReason::kNoValue, 0, 0, {}};
  EXPECT_EQ(r.errors[0].status.code(), absl::StatusCode::kInvalidArgument);
  return r.errors[0];
}

TEST(GraphiteTest, PathValueTimestamp) {
  GraphiteRecord r = One("web.hits 3 1700000000");
  EXPECT_EQ(r.key, "web,hits");
  EXPECT_EQ(r.value, 3);
  ASSERT_TRUE(r.timestamp.has_value());
  EXPECT_EQ(*r.timestamp, 1700000000);
}

TEST(GraphiteTest, MissingOrMinusOneTimestampMeansNow) {
  EXPECT_FALSE(One("a.b 1").timestamp.has_value());
  EXPECT_FALSE(One("a.b 1 -1").timestamp.has_value());
  EXPECT_EQ(*One("a.b 1 0").timestamp, 0);
  EXPECT_EQ(*One("a.b 1 1700000000.75").timestamp, 1700000000);
  EXPECT_EQ(*One("a.b 1 253402300799").timestamp, kMaxGraphiteTimestamp);
}

TEST(GraphiteTest, SpacesAndTabs) {
  GraphiteRecord r = One("  a.b\t\t-2.5 \t 1700000000 \t\r");
  EXPECT_EQ(r.key, "a,b");
  EXPECT_EQ(r.value, -2.5);
  EXPECT_EQ(*r.timestamp, 1700000000);
}

TEST(GraphiteTest, NumberForms) {
  EXPECT_EQ(One("a 1e3").value, 1000);
  EXPECT_EQ(One("a -5").value, -5);
  EXPECT_EQ(One("a .5").value, 0.5);
  EXPECT_EQ(One("a +7").value, 7);
  EXPECT_EQ(One("a 0.00").value, 0);
}

TEST(GraphiteTest, TagsBecomeSortedSegments) {
  EXPECT_EQ(One("cpu.load;host=web1;dc=eu 0.5").key,
            "cpu,load,dc:eu,host:web1");
  EXPECT_EQ(One("cpu.load;dc=eu;host=web1 0.5").key,
            "cpu,load,dc:eu,host:web1");
  EXPECT_EQ(One("m;v=1.4 1").key, "m,v:1.4");
  for (const char* line :
       {"m;x 1", "m;=1 1", "m;x= 1", "m; 1", "m;a=1; 1", "m;a=\x01 1"}) {
    EXPECT_EQ(Bad(line).reason, GraphiteReason::kBadTags) << line;
  }
  std::string many = "m";
  for (int i = 0; i < 32; ++i) absl::StrAppend(&many, ";k", i, "=v");
  EXPECT_EQ(Bad(absl::StrCat(many, " 1")).reason, GraphiteReason::kBadTags);
}

TEST(GraphiteTest, EveryRejectReason) {
  struct Case {
    const char* line;
    GraphiteReason reason;
    size_t column;
  } cases[] = {
      {"web.hits", GraphiteReason::kNoValue, 9},
      {"web.hits   ", GraphiteReason::kNoValue, 9},
      {"web.hits abc", GraphiteReason::kBadValue, 10},
      {"web.hits 1,5", GraphiteReason::kBadValue, 10},
      {"web.hits 0x1f", GraphiteReason::kBadValue, 10},
      {"web.hits nan", GraphiteReason::kNotFinite, 10},
      {"web.hits -Inf 1700000000", GraphiteReason::kNotFinite, 10},
      {"web.hits 1e400", GraphiteReason::kNotFinite, 10},
      {"web..hits 1", GraphiteReason::kBadName, 1},
      {"web.hits. 1", GraphiteReason::kBadName, 1},
      {"web\x7f.hits 1", GraphiteReason::kBadName, 1},
      {"m;bad 1", GraphiteReason::kBadTags, 3},
      {"web.hits 1 yesterday", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 -2", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 1.", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 1e9", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 nan", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 253402300800", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 99999999999999999999999", GraphiteReason::kBadTimestamp, 12},
      {"web.hits 1 1700000000 extra", GraphiteReason::kExtraField, 23},
  };
  for (const Case& c : cases) {
    GraphiteError e = Bad(c.line);
    EXPECT_EQ(e.reason, c.reason) << c.line << ": " << e.status;
    EXPECT_EQ(e.line, 1u) << c.line;
    EXPECT_EQ(e.column, c.column) << c.line << ": " << e.status;
    EXPECT_TRUE(absl::StartsWith(
        e.status.message(), absl::StrCat("line 1, column ", c.column, ": ")))
        << e.status;
  }
  std::string deep = "s";
  for (int i = 0; i < 32; ++i) deep += ".s";
  EXPECT_EQ(Bad(absl::StrCat(deep, " 1")).reason, GraphiteReason::kBadName);
  EXPECT_EQ(GraphiteReasonName(GraphiteReason::kBadTimestamp), "bad_timestamp");
  EXPECT_EQ(GraphiteReasonName(GraphiteReason::kExtraField), "extra_field");
}

TEST(GraphiteTest, GoodLinesNextToBadOnes) {
  Result r = Parse(
      "a.b 1 1700000000\n"
      "a.c nan 1700000000\r\n"
      "\n"
      "a.d 2\r\n"
      "garbage\n"
      "a.e 3 -1");
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0].key, "a,b");
  EXPECT_EQ(r.records[1].key, "a,d");
  EXPECT_EQ(r.records[2].key, "a,e");
  EXPECT_FALSE(r.records[1].timestamp.has_value());
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[0].reason, GraphiteReason::kNotFinite);
  EXPECT_EQ(r.errors[1].line, 5u);
  EXPECT_EQ(r.errors[1].reason, GraphiteReason::kNoValue);
}

TEST(GraphiteTest, BinaryGarbage) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) {
    garbage.push_back(static_cast<char>((i * 104729 + 7) % 256));
  }
  Result r = Parse(garbage);
  for (const GraphiteRecord& rec : r.records) EXPECT_FALSE(rec.key.empty());
  EXPECT_GT(r.errors.size(), 0u);
  const std::string nul("a\0b 1\na 1\0\nok 1", 15);
  Result n = Parse(nul);
  ASSERT_EQ(n.records.size(), 1u);
  EXPECT_EQ(n.records[0].key, "ok");
  ASSERT_EQ(n.errors.size(), 2u);
  EXPECT_EQ(n.errors[0].reason, GraphiteReason::kBadName);
  EXPECT_EQ(n.errors[1].reason, GraphiteReason::kBadValue);
}

TEST(GraphiteTest, HundredKilobyteLine) {
  const std::string huge = absl::StrCat(std::string(100 * 1024, 'a'), " 1");
  Result r = Parse(absl::StrCat("x 1\n", huge, "\ny 2"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, GraphiteReason::kTooLong);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_LT(r.errors[0].status.message().size(), 200u);
  ASSERT_EQ(r.records.size(), 2u);
  GraphiteOptions big;
  big.max_line_bytes = 200 * 1024;
  Result name = Parse(huge, big);
  ASSERT_EQ(name.errors.size(), 1u);
  EXPECT_EQ(name.errors[0].reason, GraphiteReason::kBadName);
  EXPECT_LT(name.errors[0].status.message().size(), 200u);
}

TEST(GraphiteTest, EmptyInputs) {
  for (const char* input : {"", "\n", "\r\n\r\n", " \t \n"}) {
    Result r = Parse(input);
    EXPECT_TRUE(r.records.empty());
    EXPECT_TRUE(r.errors.empty());
  }
}

// The fast path takes the common lines and gives what the full parser
// gives; everything else it leaves (0) to the full parser.
TEST(GraphiteTest, SimpleLinesAgreeWithTheFullParser) {
  for (const char* line : {"a 1", "a.b.c 12.5 1700000000\n",
                           "x_y-z.Q9 -3 0\r\n", "web.hits 0.25 253402300799",
                           "n 123456789012345 17\nb 2 3", "z -0 5"}) {
    SCOPED_TRACE(line);
    GraphiteRecord fast;
    const size_t used = ParseSimpleGraphiteLine(line, &fast);
    ASSERT_GT(used, 0u);
    Result full = Parse(absl::string_view(line).substr(0, used));
    ASSERT_EQ(full.records.size(), 1u);
    EXPECT_EQ(fast.key, full.records[0].key);
    EXPECT_EQ(fast.timestamp, full.records[0].timestamp);
    EXPECT_EQ(std::signbit(fast.value), std::signbit(full.records[0].value));
    EXPECT_EQ(fast.value, full.records[0].value);
  }
  for (const char* line :
       {"a  1 2", "a\t1 2", " a 1 2", "a 1 2 ", "a 1  2", "a 1 -1", "a 1 1.5",
        "a 1 253402300800", "a 1 2 3", "a;t=v 1 2", "a 1e3 2", "a..b 1 2", "a",
        "a ", "a nan 2", "a:1|c", "é 1 2"}) {
    SCOPED_TRACE(line);
    GraphiteRecord fast;
    EXPECT_EQ(ParseSimpleGraphiteLine(line, &fast), 0u);
  }
}

}  // namespace
}  // namespace canopy
