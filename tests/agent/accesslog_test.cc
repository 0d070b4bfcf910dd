// The agent's access-log module in process: its flag syntax, the numbers
// set members travel as, and pieces bounded for UDP. The end-to-end test
// (canopy-agent against canopyd through rotation) is in
// tests/pipes/feed_test.cc.
#include "agent/accesslog.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/server/harness.h"

namespace canopy {
namespace agent {
namespace {

TEST(AccessLogSpecTest, Parses) {
  auto specs = ParseAccessLogSpecs(
      "/var/log/a.log;/b.log,format=$remote_addr, $status $host,prefix=web,eu"
      ",from=start");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].path, "/var/log/a.log");
  EXPECT_EQ((*specs)[0].format, "combined");
  EXPECT_EQ((*specs)[0].prefix, "web");
  EXPECT_FALSE((*specs)[0].from_start);
  EXPECT_EQ((*specs)[1].path, "/b.log");
  EXPECT_EQ((*specs)[1].format, "$remote_addr, $status $host");
  EXPECT_EQ((*specs)[1].prefix, "web,eu");
  EXPECT_TRUE((*specs)[1].from_start);
  EXPECT_FALSE(ParseAccessLogSpecs(",prefix=web").ok());
  EXPECT_FALSE(ParseAccessLogSpecs("/a,from=middle").ok());
  EXPECT_FALSE(ParseAccessLogSpecs("/a,prefix=").ok());
  EXPECT_TRUE(ParseAccessLogSpecs("")->empty());
}

TEST(AccessLogSpecTest, SetMembersAsDistinctNumbers) {
  std::set<std::string> texts;
  for (int i = 0; i < 100000; ++i) {
    const std::string n = SetMemberNumber(absl::StrCat("10.0.", i));
    // Six digits, 'e', an exponent a double holds.
    ASSERT_EQ(n.find('e'), 6u) << n;
    const double v = std::strtod(n.c_str(), nullptr);
    ASSERT_TRUE(v > 0 && v < 1e300) << n;
    // What the server's HLL sees: 6 significant digits of the double.
    texts.insert(absl::StrCat(v));
  }
  EXPECT_GE(texts.size(), 99990u);
  EXPECT_EQ(SetMemberNumber("x"), SetMemberNumber("x"));
}

TEST(AccessLogSetTest, PiecesAreBoundedAndParse) {
  const std::string dir = testing::MakeTempDir();
  const std::string log = dir + "/a.log";
  ErrorLog errors;
  auto set = AccessLogSet::Create(
      *ParseAccessLogSpecs(log + ",format=squid,prefix=proxy"), &errors);
  ASSERT_TRUE(set.ok()) << set.status();
  {
    std::ofstream f(log);
    for (int i = 0; i < 5000; ++i) {
      f << "1700000000.000 " << i << " 10.0." << i / 256 << "." << i % 256
        << " TCP_MISS/200 10 GET http://example.com/x - HIER_DIRECT/1.2.3.4 "
           "text/html\n";
    }
    f << "garbage\n";
  }
  EXPECT_TRUE(testing::WaitFor([&] {
    return (*set)->counts().lines >= 5000 && (*set)->counts().skipped >= 1;
  }));
  EXPECT_EQ((*set)->counts().lines, 5000u);
  EXPECT_EQ((*set)->counts().skipped, 1u);
  std::vector<std::string> pieces = (*set)->TakePieces(1700000000, 6000);
  ASSERT_GT(pieces.size(), 3u);
  size_t samples = 0, members = 0;
  double hits = 0;
  for (const std::string& p : pieces) {
    EXPECT_LE(p.size(), 6000u);
    rapidjson::Document d;
    d.Parse(p.c_str(), p.size());
    ASSERT_FALSE(d.HasParseError()) << p;
    const std::string action = d["defaultaction"].GetString();
    for (const auto& m : d.GetObject()) {
      const std::string key = m.name.GetString();
      if (key == "proxy,hits") hits += m.value.GetDouble();
      if (key == "proxy,request_time") samples += m.value.Size();
      if (key == "traffic,example.com,visitors") {
        EXPECT_EQ(action, "set");
        members += m.value.Size();
      }
    }
  }
  EXPECT_EQ(hits, 5000);
  EXPECT_EQ(samples, 5000u);
  EXPECT_EQ(members, 5000u);
  EXPECT_TRUE((*set)->TakePieces(1700000000, 6000).empty());
  set->reset();
  std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace
}  // namespace agent
}  // namespace canopy
