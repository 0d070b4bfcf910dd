// A hostile access log: garbage, binary, overlong lines, and 100 000
// distinct paths, user agents (some crafted so that ua-parser's regexes
// capture arbitrary text as the family), majors and hosts. The pipes must
// refuse what does not parse, write only valid keys, and keep the tree
// bounded by the top-K limits whatever the input.
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "canopy/key.h"
#include "canopy/pipe.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

size_t LeavesUnder(const Tree& tree, absl::string_view pattern) {
  size_t n = 0;
  tree.Collect(*Pattern::Parse(pattern), 0, [&](const LeafView& leaf) {
    EXPECT_TRUE(SplitKey(leaf.key).ok()) << leaf.key;
    ++n;
    return true;
  });
  return n;
}

TEST(HostileLogTest, TreeStaysBounded) {
  constexpr int kLines = 100000;
  std::mt19937_64 rng(42);
  std::string log;
  log.reserve(kLines * 260);
  for (int i = 0; i < kLines; ++i) {
    const uint64_t r = rng();
    std::string ua;
    switch (i % 4) {
      case 0:  // distinct major versions
        ua = absl::StrCat("Mozilla/5.0 (X11; Linux x86_64; rv:", r % 1000,
                          ") Gecko/20100101 Firefox/", r % 1000000);
        break;
      case 1:  // the family is whatever precedes "/<n> CFNetwork"
        ua = absl::StrCat("App", r, ",\x01x/", i, " CFNetwork/1 Darwin/2");
        break;
      case 2:
        ua = absl::StrCat("random agent ", r);
        break;
      default:
        ua = absl::StrCat("Mozilla/5.0 (Windows NT 10.0) Chrome/", i % 5000,
                          ".0 Safari/537.36");
    }
    absl::StrAppend(&log, "10.", (r >> 8) % 256, ".", (r >> 16) % 256, ".",
                    i % 256, " - - [14/Nov/2023:22:13:20 +0000] \"GET /p/", r,
                    "?q=", i, " HTTP/1.1\" ", 200 + i % 400, " ", r % 100000,
                    " \"-\" \"", ua, "\" 0.", i % 1000, " - host", r % 100000,
                    ".example\n");
    if (i % 1000 == 0) {
      log += "garbage\n";
      log += std::string("\x16\x03\x01\x00\xff\xfe,,\n", 10);
      log += std::string(LogParser::kMaxLineBytes + 10, 'A') + "\n";
      log += absl::StrCat("1.2.3.4 - - [14/Nov/2023:22:13:20 +0000] \"GET /",
                          std::string(5000, 'x'), " HTTP/1.1\" 200 1 \"-\" \"",
                          std::string(3000, ','), "\" - - ",
                          std::string(300, 'h'), "\n");
    }
  }

  constexpr char kFormat[] =
      R"L($remote_addr - $remote_user [$time_local] "$request" $status )L"
      R"L($body_bytes_sent "$http_referer" "$http_user_agent" $request_time )L"
      R"L($upstream_response_time $host)L";
  PipeOptions options;
  options.url_top_k = 50;
  options.ua_top_k = 40;
  options.traffic_top_k = 30;
  options.ua_cache_size = 1000;
  auto runner = PipeRunner::Create(kFormat, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  Tree tree(Tree::Options{});
  TreeSink sink(&tree, 1700000000);
  size_t errors = 0;
  const LogCounts counts = (*runner)->Run(log, &sink, [&](const LogError& e) {
    EXPECT_GT(e.line, 0u);
    EXPECT_GT(e.column, 0u);
    EXPECT_FALSE(e.status.ok());
    ++errors;
  });
  EXPECT_EQ(counts.records, kLines + 100u);
  EXPECT_EQ(counts.errors, 300u);
  EXPECT_EQ(errors, 300u);
  EXPECT_EQ(sink.refused(), 0u) << sink.first_error();

  // One-off paths never become keys; the long one neither.
  EXPECT_LE(LeavesUnder(tree, "web,url"), 51u);
  EXPECT_LE(LeavesUnder(tree, "web,browser"), 41u);
  EXPECT_LE(LeavesUnder(tree, "web,os"), 41u);
  EXPECT_LE(LeavesUnder(tree, "web,status"), 1000u);
  EXPECT_LE(LeavesUnder(tree, "traffic"), 31u * 3);
  EXPECT_LT(tree.node_count(), 1500u);
  const Node* hits = tree.Find(*SplitKey("web,hits"));
  ASSERT_NE(hits, nullptr);
  EXPECT_EQ(tree.ValueOf(hits, Action::kAdd, 1700000000).value, kLines + 100.0);
}

}  // namespace
}  // namespace canopy
