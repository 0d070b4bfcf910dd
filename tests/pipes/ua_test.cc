// Tests for pipes/ua.cc: families of real user-agent strings with uap-core's
// regexes.yaml (pipes/node_modules, installed by scripts/deps.sh).
#include "pipes/ua.h"

#include <memory>
#include <string>
#include <utility>

#include "canopy/pipe.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

struct Case {
  const char* ua;
  const char* browser;
  const char* major;
  const char* os;
};

const Case kCases[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Windows"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) "
     "Gecko/20100101 Firefox/121.0",
     "Firefox", "121", "Mac OS X"},
    {"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)", "IE", "7",
     "Windows"},
    {"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
     "IE", "11", "Windows"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
     "Safari", "17", "Mac OS X"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "
     "Safari/604.1",
     "Mobile Safari", "17", "iOS"},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
     "Chrome Mobile", "120", "Android"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
     "Edge", "120", "Windows"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
     "Opera", "106", "Windows"},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 "
     "Firefox/115.0",
     "Firefox", "115", "Ubuntu"},
    {"Mozilla/5.0 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)",
     "Googlebot", "2", "Other"},
    {"curl/7.88.1", "curl", "7", "Other"},
    {"Wget/1.21.3", "Wget", "1", "Other"},
    {"completely unknown agent", "Other", "", "Other"},
};

class UaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto p = LoadUaParser(DefaultRegexesPath());
    ASSERT_TRUE(p.ok()) << p.status();
    loaded_ = *std::move(p);
    parser_ = loaded_.get();
  }
  static void TearDownTestSuite() {
    parser_ = nullptr;
    loaded_.reset();
  }
  static std::shared_ptr<const UaParser> loaded_;
  static const UaParser* parser_;
};
std::shared_ptr<const UaParser> UaTest::loaded_;
const UaParser* UaTest::parser_ = nullptr;

TEST_F(UaTest, RealAgents) {
  ASSERT_NE(parser_, nullptr);
  EXPECT_GT(parser_->browser_rules(), 300u);
  EXPECT_GT(parser_->os_rules(), 150u);
  EXPECT_EQ(parser_->skipped(), 0u);
  for (const Case& c : kCases) {
    const UaFamilies f = parser_->Parse(c.ua);
    EXPECT_EQ(f.browser, c.browser) << c.ua;
    EXPECT_EQ(f.major, c.major) << c.ua;
    EXPECT_EQ(f.os, c.os) << c.ua;
  }
}

TEST(UaParserTest, ReplacementsAndFlags) {
  constexpr char kYaml[] = R"Y(
user_agent_parsers:
  - regex: 'tool-(alpha|beta)/(\d+)'
    family_replacement: 'Tool $1'
  - regex: 'shout/(\d+)'
    regex_flag: 'i'
    family_replacement: 'Shout'
    v1_replacement: 'v$1'
  - regex: '(Plain)/(\d+)'
os_parsers:
  - regex: '(Windows) NT'
)Y";
  auto p = UaParser::FromYaml(kYaml, "test");
  ASSERT_TRUE(p.ok()) << p.status();
  UaFamilies f = (*p)->Parse("x tool-beta/3 Windows NT");
  EXPECT_EQ(f.browser, "Tool beta");
  EXPECT_EQ(f.major, "3");  // group 2
  EXPECT_EQ(f.os, "Windows");
  f = (*p)->Parse("SHOUT/9");
  EXPECT_EQ(f.browser, "Shout");
  EXPECT_EQ(f.major, "v9");
  f = (*p)->Parse("Plain/4");
  EXPECT_EQ(f.browser, "Plain");
  EXPECT_EQ(f.major, "4");
  EXPECT_FALSE(UaParser::FromYaml("[1, 2", "bad").ok());
  EXPECT_FALSE(UaParser::FromYaml("os_parsers: []", "bad").ok());
  EXPECT_FALSE(UaParser::Load("/nonexistent.yaml").ok());
}

}  // namespace
}  // namespace canopy
