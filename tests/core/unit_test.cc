// Units: validation, inference from canopy-agent's keys, formatting (the
// same text as web/assets/units.js: tests/web/units.test.mjs checks the
// same table against it).
#include "canopy/unit.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(ValidateUnitTest, ShortPrintableWordsOnly) {
  for (const char* ok : {"bytes", "bytes/s", "percent", "ms", "req/s", "°C",
                         "items per batch", "µs"}) {
    EXPECT_TRUE(ValidateUnit(ok).ok()) << ok;
  }
  EXPECT_FALSE(ValidateUnit("").ok());
  EXPECT_FALSE(ValidateUnit(std::string(33, 'a')).ok());
  EXPECT_TRUE(ValidateUnit(std::string(32, 'a')).ok());
  EXPECT_FALSE(ValidateUnit("a\tb").ok());
  EXPECT_FALSE(ValidateUnit("a\nb").ok());
  EXPECT_FALSE(ValidateUnit("a\x7f").ok());
  EXPECT_FALSE(ValidateUnit("a\xc2\x85").ok());  // NEL, a C1 control
  EXPECT_FALSE(ValidateUnit("\xff\xfe").ok());
  EXPECT_FALSE(ValidateUnit(" ms").ok());
  EXPECT_FALSE(ValidateUnit("ms ").ok());
  EXPECT_EQ(ValidateUnit(std::string(40, 'a')).message(),
            "a unit is 1 to 32 bytes");
}

TEST(InferUnitTest, TheAgentsKeys) {
  EXPECT_EQ(InferUnit("host,h,cpu,user"), "percent");
  EXPECT_EQ(InferUnit("host,h,cpu,idle"), "percent");
  EXPECT_EQ(InferUnit("host,h,cpu,percent"), "percent");
  EXPECT_EQ(InferUnit("host,h,cpu,core,3,iowait"), "percent");
  EXPECT_EQ(InferUnit("host,h,mem,total"), "bytes");
  EXPECT_EQ(InferUnit("host,h,mem,percent"), "percent");
  EXPECT_EQ(InferUnit("host,h,swap,used"), "bytes");
  EXPECT_EQ(InferUnit("host,h,disk,/var,free"), "bytes");
  EXPECT_EQ(InferUnit("host,h,diskio,sda,read_bytes"), "bytes/s");
  EXPECT_EQ(InferUnit("host,h,diskio,sda,reads"), "/s");
  EXPECT_EQ(InferUnit("host,h,net,eth0,tx_bytes"), "bytes/s");
  EXPECT_EQ(InferUnit("host,h,net,eth0,rx_packets"), "/s");
  EXPECT_EQ(InferUnit("host,h,proc,nginx-1,rss"), "bytes");
  EXPECT_EQ(InferUnit("host,h,proc,nginx-1,read_bytes"), "bytes/s");
  EXPECT_EQ(InferUnit("host,h,proc,nginx-1,cpu_percent"), "percent");
  EXPECT_EQ(InferUnit("host,h,proc,nginx-1,threads"), "");
  EXPECT_EQ(InferUnit("host,h,cgroup,memory_max"), "bytes");
  EXPECT_EQ(InferUnit("host,h,load,1"), "");
  EXPECT_EQ(InferUnit("host,h,uptime"), "s");
  EXPECT_EQ(InferUnit("host,h,url,x,ttfb_ms"), "ms");
  EXPECT_EQ(InferUnit("host,h,agent,spooled_bytes"), "bytes");
  EXPECT_EQ(InferUnit("host,h,nginx,requests"), "");
  // "total" and "user" name a size or a percent only where the agent puts
  // them.
  EXPECT_EQ(InferUnit("web,total"), "");
  EXPECT_EQ(InferUnit("web,user"), "");
  EXPECT_EQ(InferUnit("bytes"), "bytes");
}

TEST(LeafUnitTest, StatedThenTimerThenInferred) {
  EXPECT_EQ(LeafUnit("req/s", "host,h,mem,used", Action::kLast), "req/s");
  EXPECT_EQ(LeafUnit("", "web,latency", Action::kTimer), "ms");
  EXPECT_EQ(LeafUnit("s", "web,latency", Action::kTimer), "s");
  EXPECT_EQ(LeafUnit("", "host,h,mem,used", Action::kLast), "bytes");
  EXPECT_EQ(LeafUnit("", "web,hits", Action::kAdd), "");
}

TEST(TrendUnitTest, CountAndRateChangeTheUnit) {
  EXPECT_EQ(TrendUnit("bytes", "avg"), "bytes");
  EXPECT_EQ(TrendUnit("bytes", "count"), "count");
  EXPECT_EQ(TrendUnit("bytes", "rate"), "bytes/s");
  EXPECT_EQ(TrendUnit("", "rate"), "/s");
  EXPECT_EQ(TrendUnit("jobs", "rate"), "jobs/s");
  EXPECT_EQ(TrendUnit("ms", "p99"), "ms");
}

// The table tests/web/units.test.mjs holds too: one text in both languages.
struct Case {
  double v;
  const char* unit;
  const char* text;
};
constexpr Case kCases[] = {
    {25769803776.0, "bytes", "24 GiB"},
    {3456789012.0, "bytes", "3.22 GiB"},
    {512, "bytes", "512 B"},
    {1536.5, "bytes/s", "1.5 KiB/s"},
    {-2048, "bytes", "-2 KiB"},
    {13.6666, "percent", "13.7 %"},
    {0.02137, "percent", "0.0214 %"},
    {0.5, "percent", "0.5 %"},
    {7200, "s", "2 h"},
    {900, "s", "15 min"},
    {3 * 86400 + 43200, "s", "3.5 d"},
    {42, "s", "42 s"},
    {0, "s", "0 s"},
    {0.25, "s", "250 ms"},
    {12.345, "ms", "12.3 ms"},
    {1500, "ms", "1.5 s"},
    {0.5, "ms", "500 \u00b5s"},
    {250, "us", "250 \u00b5s"},
    {2500, "ns", "2.5 \u00b5s"},
    {12, "ns", "12 ns"},
    {45374, "/s", "45374/s"},
    {0.123456, "/s", "0.123/s"},
    {1234567, "", "1,234,567"},
    {-1234, "count", "-1,234"},
    {999, "", "999"},
    {1234.5678, "", "1235"},
    {0.123456, "", "0.123"},
    {0.00012345, "", "1.23e-4"},
    {999999999999999, "", "999,999,999,999,999"},
    {1.5e15, "", "1.5e+15"},
    {1.5e16, "", "1.5e+16"},
    {2.5e-8, "count", "2.5e-8"},
    {3.14159, "widgets", "3.14 widgets"},
    {100, "<b>", "100 <b>"},
    // Halves round up, as JavaScript's toFixed does (printf: to even).
    {21.25, "percent", "21.3 %"},
    {100.5, "/s", "101/s"},
    {-2.125, "percent", "-2.13 %"},
    {0.0625, "", "0.0625"},
    {0.00625, "", "0.00625"},
    {0.09995, "", "0.0999"},  // 0.0999499..., not a half
    {0.0995, "", "0.0995"},
    {9.995, "", "9.99"},
    {99.95, "", "100"},
    {1.125e15, "", "1.13e+15"},
    {9.995e15, "", "1e+16"},
    {9.9951e15, "", "1e+16"},
    {0.001, "", "0.001"},
};

TEST(FormatWithUnitTest, TheSameTextAsThePages) {
  for (const Case& c : kCases) {
    EXPECT_EQ(FormatWithUnit(c.v, c.unit), c.text) << c.v << " " << c.unit;
  }
}

}  // namespace
}  // namespace canopy
