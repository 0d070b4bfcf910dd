// Tests for the built-in pipes, PipeRunner, the tree sink, SanitizeSegment
// and AccessLogRunners.
#include <map>
#include <string>
#include <vector>

#include "canopy/key.h"
#include "canopy/pipe.h"
#include "canopy/tree.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

// Collects updates: add values summed per key, timer samples listed, set
// members listed.
class VectorSink : public UpdateSink {
 public:
  void Update(absl::string_view key, const LineSample& s) override {
    EXPECT_TRUE(SplitKey(key).ok()) << key;
    const std::string k(key);
    switch (s.action) {
      case Action::kAdd:
        adds[k] += s.value;
        break;
      case Action::kTimer:
        timers[k].push_back(s.value);
        break;
      case Action::kSet:
        sets[k].push_back(std::string(s.member));
        break;
      default:
        ADD_FAILURE() << "unexpected action for " << key;
    }
  }
  void Remove(absl::string_view key) override {
    removed.push_back(std::string(key));
  }
  std::map<std::string, double> adds;
  std::map<std::string, std::vector<double>> timers;
  std::map<std::string, std::vector<std::string>> sets;
  std::vector<std::string> removed;
};

constexpr char kFormat[] =
    R"L($remote_addr - $remote_user [$time_local] "$request" $status )L"
    R"L($body_bytes_sent "$http_referer" "$http_user_agent" $request_time )L"
    R"L($upstream_response_time $host)L";

constexpr char kChrome[] =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/120.0.0.0 Safari/537.36";
constexpr char kFirefox[] =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 "
    "Firefox/121.0";

std::string Line(absl::string_view addr, absl::string_view path, int status,
                 int bytes, absl::string_view ua, absl::string_view host) {
  return absl::StrCat(addr, " - - [14/Nov/2023:22:13:20 +0000] \"GET ", path,
                      " HTTP/1.1\" ", status, " ", bytes, " \"-\" \"", ua,
                      "\" 0.250 0.200 ", host, "\n");
}

TEST(PipesTest, EveryBuiltinPipe) {
  PipeOptions options;
  options.url_min_hits = 1;
  auto runner = PipeRunner::Create(kFormat, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::string log =
      Line("10.0.0.1", "/a?x=1", 200, 100, kChrome, "Ex.com:443") +
      Line("10.0.0.2", "/a", 404, 10, kFirefox, "ex.com") +
      Line("10.0.0.1", "/b", 503, 1, kChrome, "other.org") + "not a log line\n";
  VectorSink sink;
  std::vector<LogError> errors;
  LogCounts c = (*runner)->Run(log, &sink,
                               [&](const LogError& e) { errors.push_back(e); });
  EXPECT_EQ(c.records, 3u);
  EXPECT_EQ(c.errors, 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 4u);

  EXPECT_EQ(sink.adds["web,hits"], 3);
  EXPECT_EQ(sink.adds["web,bytes"], 111);
  EXPECT_EQ(sink.adds["web,status,200"], 1);
  EXPECT_EQ(sink.adds["web,status,404"], 1);
  EXPECT_EQ(sink.adds["web,status,503"], 1);
  EXPECT_EQ(sink.adds["web,errors"], 1);
  EXPECT_EQ(sink.adds["web,client_errors"], 1);
  EXPECT_EQ(sink.adds["web,browser,Chrome,120"], 2);
  EXPECT_EQ(sink.adds["web,browser,Firefox,121"], 1);
  EXPECT_EQ(sink.adds["web,os,Windows"], 2);
  EXPECT_EQ(sink.adds["web,os,Mac OS X"], 1);
  EXPECT_EQ(sink.adds["web,url,/a"], 2);
  EXPECT_EQ(sink.adds["web,url,/b"], 1);
  EXPECT_EQ(sink.timers["web,request_time"],
            (std::vector<double>{250, 250, 250}));
  EXPECT_EQ(sink.timers["web,upstream_time"],
            (std::vector<double>{200, 200, 200}));
  EXPECT_EQ(sink.adds["traffic,ex.com,hits"], 2);
  EXPECT_EQ(sink.adds["traffic,ex.com,bytes"], 110);
  EXPECT_EQ(sink.sets["traffic,ex.com,visitors"],
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(sink.adds["traffic,other.org,hits"], 1);
}

TEST(PipesTest, ChosenPipesPrefixAndUnknownPipe) {
  PipeOptions options;
  options.prefix = "edge,eu";
  options.pipes = {"status"};
  auto runner = PipeRunner::Create("combined", options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  VectorSink sink;
  (*runner)->Run(Line("1.1.1.1", "/", 200, 5, kChrome, "x"), &sink);
  EXPECT_EQ(sink.adds["edge,eu,hits"], 1);
  EXPECT_EQ(sink.adds.count("edge,eu,browser,Chrome,120"), 0u);

  options.pipes = {"status", "nope"};
  EXPECT_FALSE(PipeRunner::Create("combined", options).ok());
  options.pipes = {};
  options.prefix = "bad,,prefix";
  EXPECT_FALSE(PipeRunner::Create("combined", options).ok());
  options.prefix = "web";
  options.regexes_path = "/nonexistent/regexes.yaml";
  absl::StatusOr<std::unique_ptr<PipeRunner>> missing =
      PipeRunner::Create("combined", options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("uap-core"), std::string::npos);
}

TEST(PipesTest, SanitizeSegment) {
  EXPECT_EQ(SanitizeSegment("plain"), "plain");
  EXPECT_EQ(SanitizeSegment(""), "other");
  EXPECT_EQ(SanitizeSegment("a,b\x01"
                            "c\x7f"),
            "a_b_c_");
  EXPECT_EQ(SanitizeSegment("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(SanitizeSegment("bad\xff\xc3"), "bad__");
  EXPECT_EQ(SanitizeSegment("\xed\xa0\x80"), "___");  // a surrogate
  const std::string long_ascii(300, 'x');
  EXPECT_EQ(SanitizeSegment(long_ascii).size(), 255u);
  std::string long_utf8;
  for (int i = 0; i < 100; ++i) long_utf8 += "\xe2\x82\xac";  // 300 bytes
  const std::string cut = SanitizeSegment(long_utf8);
  EXPECT_EQ(cut.size(), 255u);
  EXPECT_TRUE(ValidateSegment(cut).ok());
  for (absl::string_view s : {"a,b", "\n", "\xc0\x80", "x\xf4\x90\x80\x80"}) {
    EXPECT_TRUE(ValidateSegment(SanitizeSegment(s)).ok()) << s;
  }
}

TEST(PipesTest, UnknownAgentIsOther) {
  PipeOptions options;
  options.pipes = {"ua"};
  auto runner = PipeRunner::Create("combined", options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  VectorSink sink;
  (*runner)->Run(Line("1.1.1.1", "/", 200, 5, "zzz,\x01", "x") +
                     Line("1.1.1.1", "/", 200, 5, "-", "x"),
                 &sink);
  EXPECT_EQ(sink.adds["web,browser,other,other"], 1);
  EXPECT_EQ(sink.adds["web,os,other"], 1);
  EXPECT_EQ(sink.adds.size(), 2u);  // no agent ("-"): nothing
}

// The one call of the server's POST /push accesslog=: answers the leaves
// written.
absl::StatusOr<size_t> Apply(AccessLogRunners& runners, absl::string_view log,
                             absl::string_view format, absl::string_view prefix,
                             Tree* tree, int64_t now) {
  AccessLogOptions options;
  options.format = std::string(format);
  options.prefix = std::string(prefix);
  absl::StatusOr<AccessLogResult> r = runners.Apply(log, options, tree, now);
  if (!r.ok()) return r.status();
  return r->leaves;
}

TEST(PipesTest, TreeSinkAndAccessLogRunners) {
  Tree tree(Tree::Options{});
  AccessLogRunners runners;
  const std::string log = Line("10.0.0.1", "/a", 200, 100, kChrome, "ex.com") +
                          Line("10.0.0.2", "/a", 500, 100, kChrome, "ex.com");
  absl::StatusOr<size_t> n =
      Apply(runners, log, kFormat, "", &tree, 1700000000);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_GT(*n, 20u);
  auto value = [&](absl::string_view key) {
    const Node* node = tree.Find(*SplitKey(key));
    if (node == nullptr) return -1.0;
    return tree.ValueOf(node, node->EffectiveAction(), 1700000000).value;
  };
  EXPECT_EQ(value("web,hits"), 2);
  EXPECT_EQ(value("web,bytes"), 200);
  EXPECT_EQ(value("web,errors"), 1);
  EXPECT_EQ(value("web,browser,Chrome,120"), 2);
  EXPECT_EQ(value("web,url,/a"), 1);  // admitted at its second hit
  EXPECT_EQ(value("web,url,other"), 1);
  EXPECT_EQ(value("traffic,ex.com,hits"), 2);
  EXPECT_EQ(value("traffic,ex.com,visitors"), 2);
  const Node* rt = tree.Find(*SplitKey("web,request_time"));
  ASSERT_NE(rt, nullptr);
  EXPECT_EQ(rt->EffectiveAction(), Action::kTimer);

  // The runner (and its top-K) is kept: /a is admitted already.
  n = Apply(runners, log, kFormat, "", &tree, 1700000001);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(value("web,url,/a"), 3);

  // Errors: a bad format; a body none of whose lines parse.
  EXPECT_FALSE(Apply(runners, log, "nonsense", "web", &tree, 1).ok());
  absl::StatusOr<size_t> bad =
      Apply(runners, "junk\nmore junk\n", "combined", "web", &tree, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 1, column"), std::string::npos)
      << bad.status();
  // Empty input: nothing written, not an error.
  n = Apply(runners, "", "combined", "web", &tree, 1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST(PipesTest, TreeFullIsCountedNotFatal) {
  AccessLogRunners runners;
  Tree::Options o;
  o.max_nodes = 5;
  Tree tree(o);
  absl::StatusOr<size_t> n =
      Apply(runners, Line("10.0.0.1", "/a", 200, 100, kChrome, "ex.com"),
            kFormat, "web", &tree, 1700000000);
  EXPECT_LE(tree.node_count(), 5u);
  if (n.ok()) {
    EXPECT_GT(*n, 0u);
  } else {
    EXPECT_EQ(n.status().code(), absl::StatusCode::kResourceExhausted);
  }
}

}  // namespace
}  // namespace canopy
