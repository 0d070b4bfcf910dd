#include "canopy/statsd.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

struct Result {
  std::vector<StatsdRecord> records;
  std::vector<StatsdError> errors;
  StatsdCounts counts;
};

Result Parse(absl::string_view input, StatsdOptions options = {}) {
  Result r;
  r.counts = ParseStatsd(
      input, [&](const StatsdRecord& rec) { r.records.push_back(rec); },
      [&](const StatsdError& e) { r.errors.push_back(e); }, options);
  EXPECT_EQ(r.counts.records, r.records.size());
  EXPECT_EQ(r.counts.errors, r.errors.size());
  return r;
}

// Parses a single line that must be good.
StatsdRecord One(absl::string_view line) {
  Result r = Parse(line);
  EXPECT_EQ(r.records.size(), 1u) << line;
  for (const StatsdError& e : r.errors)
    ADD_FAILURE() << line << ": " << e.status;
  return r.records.empty() ? StatsdRecord() : r.records[0];
}

// Parses a single line that must be rejected.
StatsdError Bad(absl::string_view line) {
  Result r = Parse(line);
  EXPECT_TRUE(r.records.empty()) << line << " -> " << r.records[0].key;
  EXPECT_EQ(r.errors.size(), 1u) << line;
  if (r.errors.empty()) return StatsdError{StatsdReason::kNoValue, 0, 0, {}};
  EXPECT_EQ(r.errors[0].status.code(), absl::StatusCode::kInvalidArgument);
  return r.errors[0];
}

TEST(StatsdTest, EveryType) {
  StatsdRecord c = One("web.hits:1|c");
  EXPECT_EQ(c.key, "web,hits");
  EXPECT_EQ(c.value, 1);
  EXPECT_EQ(c.type, StatsdType::kCounter);
  EXPECT_FALSE(c.relative);
  EXPECT_EQ(c.sample_rate, 1);

  StatsdRecord g = One("mem.free:1024|g");
  EXPECT_EQ(g.type, StatsdType::kGauge);
  EXPECT_EQ(g.value, 1024);
  EXPECT_FALSE(g.relative);

  StatsdRecord ms = One("api.latency:12.5|ms");
  EXPECT_EQ(ms.type, StatsdType::kTimer);
  EXPECT_EQ(ms.value, 12.5);

  StatsdRecord h = One("api.size:300|h");
  EXPECT_EQ(h.type, StatsdType::kHistogram);
  EXPECT_EQ(h.value, 300);

  StatsdRecord s = One("site.visitors:alice@example.com|s");
  EXPECT_EQ(s.type, StatsdType::kSet);
  EXPECT_EQ(s.set_member, "alice@example.com");
  EXPECT_EQ(s.value, 0);
  EXPECT_EQ(StatsdTypeName(StatsdType::kTimer), "ms");
}

TEST(StatsdTest, NumberForms) {
  EXPECT_EQ(One("a:1e3|c").value, 1000);
  EXPECT_EQ(One("a:-5|c").value, -5);
  EXPECT_EQ(One("a:+5|c").value, 5);
  EXPECT_EQ(One("a:.5|ms").value, 0.5);
  EXPECT_EQ(One("a:5.|ms").value, 5);
  EXPECT_EQ(One("a:1.5E-2|ms").value, 0.015);
  EXPECT_EQ(One("a:-0|c").value, 0);
  EXPECT_EQ(One("a:1e-400|ms").value, 0);  // underflow is zero
  EXPECT_EQ(One("a:0.00|g").value, 0);
  EXPECT_DOUBLE_EQ(One("a:123456789.125|g").value, 123456789.125);
}

TEST(StatsdTest, RelativeGauges) {
  StatsdRecord plus = One("queue.depth:+3|g");
  EXPECT_TRUE(plus.relative);
  EXPECT_EQ(plus.value, 3);
  StatsdRecord minus = One("queue.depth:-4.5|g");
  EXPECT_TRUE(minus.relative);
  EXPECT_EQ(minus.value, -4.5);
  EXPECT_FALSE(One("queue.depth:4|g").relative);
  // Signs mean nothing special for other types.
  EXPECT_FALSE(One("a:-4|c").relative);
  EXPECT_FALSE(One("a:+4|ms").relative);
}

TEST(StatsdTest, SampleRates) {
  EXPECT_EQ(One("a:1|c|@0.1").sample_rate, 0.1);
  EXPECT_EQ(One("a:1|c|@1").sample_rate, 1);
  EXPECT_EQ(One("a:10|ms|@.25").sample_rate, 0.25);
  EXPECT_EQ(One("a:10|g|@0.5").sample_rate, 0.5);  // recorded, not applied
  for (const char* line :
       {"a:1|c|@0", "a:1|c|@1.5", "a:1|c|@-0.5", "a:1|c|@", "a:1|c|@x",
        "a:1|c|@nan", "a:1|c|@inf", "a:1|c|@0.1.2"}) {
    StatsdError e = Bad(line);
    EXPECT_EQ(e.reason, StatsdReason::kBadRate) << line;
    EXPECT_EQ(e.column, 7u) << line;
  }
}

TEST(StatsdTest, TagsBecomeSortedSegments) {
  EXPECT_EQ(One("http.requests:1|c|#region:eu,env:prod").key,
            "http,requests,env:prod,region:eu");
  EXPECT_EQ(One("http.requests:1|c|#env:prod,region:eu").key,
            "http,requests,env:prod,region:eu");
  // Rate and tags in either order.
  StatsdRecord r = One("t:5|ms|#env:prod|@0.5");
  EXPECT_EQ(r.key, "t,env:prod");
  EXPECT_EQ(r.sample_rate, 0.5);
  EXPECT_EQ(One("t:5|ms|@0.5|#env:prod").key, "t,env:prod");
  // Valueless tags, dots kept, empty tags skipped, duplicates once.
  EXPECT_EQ(One("t:1|c|#canary,version:1.4").key, "t,canary,version:1.4");
  EXPECT_EQ(One("t:1|c|#b:2,,a:1,").key, "t,a:1,b:2");
  EXPECT_EQ(One("t:1|c|#a:1,a:1").key, "t,a:1");
  EXPECT_EQ(One("t:1|c|#").key, "t");
  // Sorted by tag name, then value.
  EXPECT_EQ(One("t:1|c|#env2:x,env:y,env:a").key, "t,env:a,env:y,env2:x");
  // Container ids are accepted and ignored.
  EXPECT_EQ(One("t:1|c|#a:1|c:83c1e9").key, "t,a:1");
}

TEST(StatsdTest, BadTags) {
  EXPECT_EQ(Bad("t:1|c|#:x").reason, StatsdReason::kBadTags);
  StatsdError e = Bad("t:1|c|#a:1,b\x01:2");
  EXPECT_EQ(e.reason, StatsdReason::kBadTags);
  EXPECT_EQ(e.column, 12u);
  EXPECT_EQ(Bad(absl::StrCat("t:1|c|#a:", std::string(300, 'x'))).reason,
            StatsdReason::kBadTags);
  std::string many = "t:1|c|#";
  for (int i = 0; i < 32; ++i) absl::StrAppend(&many, "k", i, ":v,");
  EXPECT_EQ(Bad(many).reason, StatsdReason::kBadTags);
  EXPECT_EQ(Bad("t:1|c|#\xff\xfe").reason, StatsdReason::kBadTags);
}

TEST(StatsdTest, EveryRejectReason) {
  struct Case {
    const char* line;
    StatsdReason reason;
    size_t column;
  } cases[] = {
      {"web.hits", StatsdReason::kNoValue, 9},
      {"web.hits:|c", StatsdReason::kNoValue, 10},
      {"web.hits:", StatsdReason::kNoValue, 10},
      {"web.hits:abc|c", StatsdReason::kBadValue, 10},
      {"web.hits:1x|c", StatsdReason::kBadValue, 10},
      {"web.hits:0x10|c", StatsdReason::kBadValue, 10},
      {"web.hits: 1|c", StatsdReason::kBadValue, 10},
      {"web.hits:1e|c", StatsdReason::kBadValue, 10},
      {"web.hits:.|c", StatsdReason::kBadValue, 10},
      {"web.hits:--1|c", StatsdReason::kBadValue, 10},
      {"web.hits:NaN|c", StatsdReason::kNotFinite, 10},
      {"web.hits:-inf|ms", StatsdReason::kNotFinite, 10},
      {"web.hits:Infinity|g", StatsdReason::kNotFinite, 10},
      {"web.hits:1e999|g", StatsdReason::kNotFinite, 10},
      {"web.hits:1", StatsdReason::kBadType, 11},
      {"web.hits:1|", StatsdReason::kBadType, 12},
      {"web.hits:1|x", StatsdReason::kBadType, 12},
      {"web.hits:1|C", StatsdReason::kBadType, 12},
      {"web.hits:1|c:2|c", StatsdReason::kBadType, 12},
      {"web.hits:1|c|@2", StatsdReason::kBadRate, 14},
      {":1|c", StatsdReason::kBadName, 1},
      {"web..hits:1|c", StatsdReason::kBadName, 1},
      {".hits:1|c", StatsdReason::kBadName, 1},
      {"web.hits.:1|c", StatsdReason::kBadName, 1},
      {"web\x01.hits:1|c", StatsdReason::kBadName, 1},
      {"web\xc3.hits:1|c", StatsdReason::kBadName, 1},
      {"t:1|c|#:x", StatsdReason::kBadTags, 8},
      {"web.hits:1|c|x", StatsdReason::kBadField, 14},
      {"web.hits:1|c|", StatsdReason::kBadField, 14},
      {"web.hits:1|c|@0.5|@0.5", StatsdReason::kBadField, 19},
      {"web.hits:1|c|#a|#b", StatsdReason::kBadField, 17},
      {"web.hits:1|c|T1700000000", StatsdReason::kBadField, 14},
  };
  for (const Case& c : cases) {
    StatsdError e = Bad(c.line);
    EXPECT_EQ(e.reason, c.reason) << c.line << ": " << e.status;
    EXPECT_EQ(e.line, 1u) << c.line;
    EXPECT_EQ(e.column, c.column) << c.line << ": " << e.status;
    EXPECT_TRUE(absl::StartsWith(
        e.status.message(), absl::StrCat("line 1, column ", c.column, ": ")))
        << e.status;
  }
  std::string deep;
  for (int i = 0; i < 33; ++i) absl::StrAppend(&deep, i == 0 ? "" : ".", "s");
  EXPECT_EQ(Bad(absl::StrCat(deep, ":1|c")).reason, StatsdReason::kBadName);
  EXPECT_EQ(Bad(absl::StrCat(std::string(256, 'n'), ":1|c")).reason,
            StatsdReason::kBadName);
  EXPECT_EQ(StatsdReasonName(StatsdReason::kBadRate), "bad_rate");
  EXPECT_EQ(StatsdReasonName(StatsdReason::kTooLong), "too_long");
}

TEST(StatsdTest, GoodLinesNextToBadOnes) {
  Result r = Parse(
      "a:1|c\n"
      "broken\n"
      "\n"
      "b:2|g\r\n"
      "c:nan|ms\n"
      "  d.e:3|ms|@0.5  \n"
      "\r\n"
      "f:x|s");
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.records[0].key, "a");
  EXPECT_EQ(r.records[1].key, "b");
  EXPECT_EQ(r.records[1].value, 2);
  EXPECT_EQ(r.records[2].key, "d,e");
  EXPECT_EQ(r.records[3].set_member, "x");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[0].reason, StatsdReason::kNoValue);
  EXPECT_EQ(r.errors[1].line, 5u);
  EXPECT_EQ(r.errors[1].reason, StatsdReason::kNotFinite);
  EXPECT_EQ(r.errors[1].column, 3u);
  // Columns count the leading blanks that were trimmed.
  Result indented = Parse("\t  a:zz|c");
  ASSERT_EQ(indented.errors.size(), 1u);
  EXPECT_EQ(indented.errors[0].column, 6u);
}

TEST(StatsdTest, EmptyInputs) {
  for (const char* input : {"", "\n", "\n\n\r\n", "   \t  \n  "}) {
    Result r = Parse(input);
    EXPECT_TRUE(r.records.empty());
    EXPECT_TRUE(r.errors.empty());
  }
}

TEST(StatsdTest, BinaryGarbage) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) {
    garbage.push_back(static_cast<char>((i * 7919 + 13) % 256));
  }
  Result r = Parse(garbage);
  for (const StatsdRecord& rec : r.records) {
    EXPECT_FALSE(rec.key.empty());
  }
  EXPECT_GT(r.errors.size(), 0u);
  // NUL bytes inside a name or a value.
  const std::string nul("a\0b:1|c\na:1\0|c\nok:1|c", 21);
  Result n = Parse(nul);
  ASSERT_EQ(n.records.size(), 1u);
  EXPECT_EQ(n.records[0].key, "ok");
  ASSERT_EQ(n.errors.size(), 2u);
  EXPECT_EQ(n.errors[0].reason, StatsdReason::kBadName);
  EXPECT_EQ(n.errors[1].reason, StatsdReason::kBadValue);
  // Messages quote at most 80 bytes and escape control bytes.
  EXPECT_FALSE(
      absl::StrContains(n.errors[1].status.message(), std::string(1, '\0')));
}

TEST(StatsdTest, HundredKilobyteLine) {
  const std::string huge = absl::StrCat(std::string(100 * 1024, 'a'), ":1|c");
  Result r = Parse(absl::StrCat("before:1|c\n", huge, "\nafter:2|c\n"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, StatsdReason::kTooLong);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_LT(r.errors[0].status.message().size(), 200u);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1].key, "after");
  // A long but legal set member under a raised limit.
  StatsdOptions big;
  big.max_line_bytes = 200 * 1024;
  const std::string member(100 * 1024, 'm');
  Result ok = Parse(absl::StrCat("s:", member, "|s"), big);
  ASSERT_EQ(ok.records.size(), 1u);
  EXPECT_EQ(ok.records[0].set_member, member);
  // The long name is still refused by the key rules.
  Result name = Parse(huge, big);
  ASSERT_EQ(name.errors.size(), 1u);
  EXPECT_EQ(name.errors[0].reason, StatsdReason::kBadName);
  EXPECT_LT(name.errors[0].status.message().size(), 200u);
}

TEST(StatsdTest, RecordsDoNotLeakBetweenLines) {
  Result r = Parse("a:1|c|@0.5\nb:u|s\nc:+1|g\nd:2|c");
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.records[1].sample_rate, 1);
  EXPECT_EQ(r.records[2].set_member, "");
  EXPECT_TRUE(r.records[2].relative);
  EXPECT_FALSE(r.records[3].relative);
}

TEST(StatsdTest, CommasInNamesAreSeparators) {
  EXPECT_EQ(One("br,ie.7:1|c").key, "br,ie,7");
  EXPECT_EQ(One("caf\xc3\xa9.hits:1|c").key, "caf\xc3\xa9,hits");
  EXPECT_EQ(One("a b.c:1|c").key, "a b,c");
}

TEST(StatsdTest, LooksLikeStatsd) {
  EXPECT_TRUE(LooksLikeStatsd("a.b:1|c"));
  EXPECT_TRUE(LooksLikeStatsd("  a.b:1|c|#x:y"));
  EXPECT_FALSE(LooksLikeStatsd("a.b 1 1700000000"));
  EXPECT_FALSE(LooksLikeStatsd("a.b|x:1"));
  EXPECT_FALSE(LooksLikeStatsd(""));
}

// The fast path takes the common lines and gives what the full parser
// gives; everything else it leaves (0) to the full parser.
TEST(StatsdTest, SimpleLinesAgreeWithTheFullParser) {
  for (const char* line :
       {"a:1|c", "api.hits:1|c\n", "a.b.c:12.5|ms\r\n", "x_y-z.Q9:-3|g",
        "g:+4|g", "g:-0|g", "t:007|h", "n:123456789012345|c", "p:0.5|ms\nb:2|c",
        "d:-2.25|c", "a:1|c|@0.1", "t:12|ms|@0.25\n", "g:3|g|@0.5",
        "h:2|h|@1"}) {
    SCOPED_TRACE(line);
    StatsdRecord fast;
    const size_t used = ParseSimpleStatsdLine(line, &fast);
    ASSERT_GT(used, 0u);
    const absl::string_view taken = absl::string_view(line).substr(0, used);
    EXPECT_TRUE(taken.size() == strlen(line) || taken.back() == '\n');
    Result full = Parse(taken);
    ASSERT_EQ(full.records.size(), 1u);
    EXPECT_EQ(fast.key, full.records[0].key);
    EXPECT_EQ(fast.type, full.records[0].type);
    EXPECT_EQ(fast.relative, full.records[0].relative);
    EXPECT_EQ(fast.sample_rate, full.records[0].sample_rate);
    EXPECT_EQ(std::signbit(fast.value), std::signbit(full.records[0].value));
    EXPECT_EQ(fast.value, full.records[0].value);
  }
  // Rates, tags, blanks, sets, exponents, long numbers, odd names, bad
  // lines: all for the full parser.
  for (const char* line : {"a:1|c|@0",    "a:1|c|@1.5",
                           "a:1|c|@",     "a:1|c|@.5",
                           "a:1|c|@1e-1", "a:1|c|@0.1|#x:y",
                           "a:1|c|@-0.5", "a:1|c|#env:prod",
                           " a:1|c",      "a:1|c ",
                           "a:1 |c",      "s:u1|s",
                           "e:1e3|ms",    "n:1234567890123456|c",
                           "h:.5|ms",     "h:5.|ms",
                           "a..b:1|c",    ".a:1|c",
                           "a.:1|c",      "a,b:1|c",
                           "é:1|c",       "a:1|x",
                           "a:1|",        "a:|c",
                           ":1|c",        "a:1|mss",
                           "a:1|cc",      "a:nan|c",
                           "a:1|c\r\r\n", "{\"a\":1}",
                           "a.b 1 2"}) {
    SCOPED_TRACE(line);
    StatsdRecord fast;
    EXPECT_EQ(ParseSimpleStatsdLine(line, &fast), 0u);
  }
  // A name of too many or too long segments is not simple either.
  std::string deep;
  for (size_t i = 0; i <= kMaxSegments; ++i) absl::StrAppend(&deep, "s.");
  deep.back() = ':';
  StatsdRecord fast;
  EXPECT_EQ(ParseSimpleStatsdLine(deep + "1|c", &fast), 0u);
  EXPECT_EQ(ParseSimpleStatsdLine(
                std::string(kMaxSegmentBytes + 1, 'a') + ":1|c", &fast),
            0u);
  EXPECT_GT(
      ParseSimpleStatsdLine(std::string(kMaxSegmentBytes, 'a') + ":1|c", &fast),
      0u);
}

}  // namespace
}  // namespace canopy
