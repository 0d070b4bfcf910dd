// Black-box tests of the `canopy` command-line client: each test starts the
// real canopyd on loopback ports (tests/server/harness.h) and runs the real
// `canopy` binary against it, checking what it prints and how it exits.
#include "tests/tools/cli_util.h"

namespace canopy {
namespace {

using cli_testing::Cli;
using cli_testing::CliTest;
using cli_testing::KeyValues;
using cli_testing::Lines;
using cli_testing::Result;
using cli_testing::RunCanopy;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(CliTest, PushThenGet) {
  Result push = Canopy({"push", "br,ie,7=2328", "br,ie,8=1.5", "br,os=linux"});
  EXPECT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(push.out, "accepted 3\n");
  EXPECT_EQ(push.err, "");

  Result get = Canopy({"get", "br,ie", "br,os"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.err, "");
  std::map<std::string, std::string> values = KeyValues(get.out);
  EXPECT_EQ(values["br,ie,7"], "2328");
  EXPECT_EQ(values["br,ie,8"], "1.5");
  EXPECT_EQ(values["br,os"], "linux");
  EXPECT_EQ(values.size(), 3u) << get.out;
}

TEST_F(CliTest, GetPatternAndJson) {
  Push(R"({"host": {"web1": {"load": 1.5}, "web2": {"load": 2}}})");
  Result get = Canopy({"get", "host,*,load"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  std::map<std::string, std::string> values = KeyValues(get.out);
  EXPECT_EQ(values["host,web1,load"], "1.5");
  EXPECT_EQ(values["host,web2,load"], "2");

  Result json = Canopy({"get", "host,web1", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  ASSERT_TRUE(doc.IsObject()) << json.out;
  EXPECT_TRUE(doc.HasMember("seq"));
  ASSERT_TRUE(doc.HasMember("items") && doc["items"].IsArray());
  ASSERT_EQ(doc["items"].Size(), 1u);
  EXPECT_EQ(doc["items"][0]["host,web1,load"].GetDouble(), 1.5);
}

TEST_F(CliTest, GetNothingPrintsNothing) {
  Result get = Canopy({"get", "no,such,key"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "");
}

TEST_F(CliTest, PushFileAndStdin) {
  std::string dir = testing::MakeTempDir();
  std::string file = dir + "/push.json";
  std::ofstream(file) << R"([{"f": {"a": 1, "b": "x"}}])";
  Result from_file = Canopy({"push", "--file=" + file});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, "accepted 2\n");

  Result from_stdin = Canopy({"push", "-"}, R"({"f,c": 3})");
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "accepted 1\n");

  std::map<std::string, std::string> values =
      KeyValues(Canopy({"get", "f"}).out);
  EXPECT_EQ(values["f,a"], "1");
  EXPECT_EQ(values["f,b"], "x");
  EXPECT_EQ(values["f,c"], "3");
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

TEST_F(CliTest, PushWithActionAdds) {
  for (int i = 0; i < 3; ++i) {
    Result push = Canopy({"push", "web,hits=2", "--action=add"});
    ASSERT_EQ(push.exit_code, 0) << push.err;
  }
  EXPECT_EQ(KeyValues(Canopy({"get", "web,hits"}).out)["web,hits"], "6");
}

TEST_F(CliTest, MalformedPushIsOneLineFromTheServer) {
  Result push = Canopy({"push", "-"}, "{\"a\": \n  [1, }");
  EXPECT_EQ(push.exit_code, 1);
  EXPECT_EQ(push.out, "");
  ASSERT_EQ(Lines(push.err).size(), 1u) << push.err;
  EXPECT_THAT(push.err, AllOf(StartsWith("canopy: "), HasSubstr("line 2")));
}

TEST_F(CliTest, BadKeyIsRefusedBeforeSending) {
  Result push = Canopy({"push", "a,,b=1"});
  EXPECT_EQ(push.exit_code, 1);
  ASSERT_EQ(Lines(push.err).size(), 1u) << push.err;
  EXPECT_THAT(push.err, StartsWith("canopy: "));
  Result get = Canopy({"get"});
  EXPECT_EQ(get.exit_code, 2);
  EXPECT_EQ(Lines(get.err).size(), 1u) << get.err;
}

TEST_F(CliTest, Tree) {
  Push(R"({"br": {"ie": {"7": 2328, "8": 5}, "webkit": 12},
          "defaultaction": "add"})");
  Result tree = Canopy({"tree", "br", "--actions"});
  EXPECT_EQ(tree.exit_code, 0) << tree.err;
  std::vector<std::string> lines = Lines(tree.out);
  ASSERT_GE(lines.size(), 6u) << tree.out;
  EXPECT_THAT(lines[0], StartsWith("br"));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 ie"));
  EXPECT_THAT(tree.out, HasSubstr("\u2502   \u251c\u2500\u2500 7  2328"));
  EXPECT_THAT(tree.out, HasSubstr("\u2502   \u2514\u2500\u2500 8  5"));
  EXPECT_THAT(tree.out, HasSubstr("webkit  12"));
  EXPECT_THAT(tree.out, HasSubstr("[add]"));
  EXPECT_THAT(lines.back(), HasSubstr("3 leaves"));

  Result shallow = Canopy({"tree", "br", "--depth=1"});
  EXPECT_EQ(shallow.exit_code, 0) << shallow.err;
  EXPECT_THAT(shallow.out, HasSubstr("ie"));
  EXPECT_THAT(shallow.out, Not(HasSubstr("2328")));
}

TEST_F(CliTest, TreeOfTheRoot) {
  Push(R"({"a": {"b": 1, "t": "text"}})");
  Result tree = Canopy({"tree"});
  EXPECT_EQ(tree.exit_code, 0) << tree.err;
  std::vector<std::string> lines = Lines(tree.out);
  ASSERT_GE(lines.size(), 3u) << tree.out;
  EXPECT_THAT(lines[0], StartsWith("."));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 a"));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 b  1"));
  EXPECT_THAT(tree.out, HasSubstr("\u2500\u2500 t  text"));
}

TEST_F(CliTest, Diff) {
  Push(R"({"a": {"x": 1, "y": 2}, "b": {"y": 5, "z": "text"}})");
  Result diff = Canopy({"diff", "a", "b"});
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  std::vector<std::string> lines = Lines(diff.out);
  ASSERT_EQ(lines.size(), 4u) << diff.out;
  EXPECT_THAT(lines[0], AllOf(StartsWith("PATH"), HasSubstr("DELTA")));
  std::map<std::string, std::vector<std::string>> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells =
        absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    rows[cells[0]] = cells;
  }
  EXPECT_THAT(rows["y"], ElementsAre("y", "2", "5", "+3"));
  EXPECT_THAT(rows["x"], ElementsAre("x", "1", "-", "only", "in", "A"));
  EXPECT_THAT(rows["z"], ElementsAre("z", "-", "text", "only", "in", "B"));
}

TEST_F(CliTest, Remove) {
  Push(R"({"gone": {"a": 1, "b": 2}, "kept": 3})");
  Result rm = Canopy({"rm", "gone"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_THAT(rm.out, StartsWith("removed gone"));
  EXPECT_EQ(Canopy({"get", "gone"}).out, "");
  EXPECT_EQ(KeyValues(Canopy({"get", "kept"}).out)["kept"], "3");

  Result root = Canopy({"rm", ""});
  EXPECT_EQ(root.exit_code, 2);
  EXPECT_EQ(Lines(root.err).size(), 1u) << root.err;
}

TEST_F(CliTest, WatchFromASeqPrintsTheChangeAndStops) {
  Push(R"({"w": {"v": 1, "other": 1}})");
  int64_t since = Seq();
  Cli watch({ServerFlag(), "watch", "w,v", "--count=1",
             absl::StrCat("--since=", since)});
  Push(R"({"w": {"v": 42, "other": 2}})");
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out),
            (std::map<std::string, std::string>{{"w,v", "42"}}));
}

TEST_F(CliTest, WatchFromNowWaitsForTheNextChange) {
  Push(R"({"w": {"v": 1}})");
  Cli watch({ServerFlag(), "watch", "w", "--count=1"});
  ASSERT_TRUE(WaitForWaiters(1));
  Push(R"({"w": {"v": 7}})");
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out)["w,v"], "7");
}

TEST_F(CliTest, WatchShowsRemovedLeaves) {
  Push(R"({"w": {"v": 1}})");
  int64_t since = Seq();
  Cli watch({ServerFlag(), "watch", "w", "--count=1",
             absl::StrCat("--since=", since)});
  HttpClient http = server_->Client();
  auto reply = http.Request("DELETE", "/api/q/w,v");
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->status, 200) << reply->body;
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out)["w,v"], "(removed)") << r.out;
}

TEST_F(CliTest, WatchJsonPrintsOneReplyPerLine) {
  int64_t since = Seq();
  Cli watch({ServerFlag(), "watch", "j", "--count=2", "--json",
             absl::StrCat("--since=", since)});
  Push(R"({"j": 1})");
  ASSERT_TRUE(WaitForWaiters(1));
  Push(R"({"j": 2})");
  Result r = watch.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const std::string& line : lines) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    EXPECT_TRUE(doc.IsObject() && doc.HasMember("items")) << line;
  }
}

TEST_F(CliTest, TokenIsSent) {
  StartServer({"--write_token=sekrit"});
  Result denied = Canopy({"push", "t=1"});
  EXPECT_EQ(denied.exit_code, 1);
  ASSERT_EQ(Lines(denied.err).size(), 1u) << denied.err;
  EXPECT_THAT(denied.err, StartsWith("canopy: "));
  Result allowed = Canopy({"push", "t=1", "--token=sekrit"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(allowed.out, "accepted 1\n");
}

TEST_F(CliTest, ConfigFileSetsFlagsAndTheCommandLineWins) {
  std::string dir = testing::MakeTempDir();
  std::string file = dir + "/canopy.conf";
  std::ofstream(file) << "# test\n"
                      << ServerFlag().substr(2) << "\njson=true\n";
  Push(R"({"c": 1})");
  Result json = RunCanopy({"--config=" + file, "get", "c"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, StartsWith("{"));
  Result plain = RunCanopy({"--config=" + file, "--json=false", "get", "c"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(KeyValues(plain.out)["c"], "1");
  std::remove(file.c_str());
  rmdir(dir.c_str());
}

TEST_F(CliTest, EnvironmentGivesTheServerAndTokenTheFlagsWin) {
  StartServer({"--write_token=sekrit"});
  const std::string url =
      absl::StrCat("http://127.0.0.1:", server_->http_port());
  Result from_env = RunCanopy({"push", "e=1"}, "",
                              {"CANOPY_SERVER=" + url, "CANOPY_TOKEN=sekrit"});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_EQ(from_env.out, "accepted 1\n");

  // --server and --token win over the environment.
  Result flags =
      RunCanopy({"--server=" + url, "--token=sekrit", "push", "e=2"}, "",
                {"CANOPY_SERVER=http://127.0.0.1:1", "CANOPY_TOKEN=wrong"});
  EXPECT_EQ(flags.exit_code, 0) << flags.err;
  EXPECT_EQ(flags.out, "accepted 1\n");

  // The environment's token is sent, and refused when it is wrong.
  Result wrong =
      RunCanopy({"--server=" + url, "push", "e=3"}, "", {"CANOPY_TOKEN=wrong"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, StartsWith("canopy: "));
}

// ---------------------------------------------------------------- history

// Pushes k,a = i and k,b = 10 * i dated at `base + 60 * i` for i in [0, n)
// and waits until /trend returns every point (the server hands windows to
// history about once a second).
TEST(CliNoServerTest, HelpListsTheCommands) {
  Result r = RunCanopy({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("Usage: canopy [flags] COMMAND"));
  for (const char* command :
       {"get", "watch", "push", "tree", "diff", "rm", "trend", "export"}) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\n  ", command, " ")));
  }
}

TEST(CliNoServerTest, HelpCommandPrintsACommandsHelp) {
  Result all = RunCanopy({"help"});
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_EQ(all.out, RunCanopy({"--help"}).out);
  for (const char* command : {"get", "watch", "push", "tree", "diff", "rm",
                              "trend", "export", "pipe"}) {
    Result r = RunCanopy({"help", command});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_THAT(r.out,
                StartsWith(absl::StrCat("Usage: canopy [flags] ", command)));
  }
  // After flags too, and without a server to talk to.
  Result after_flags = RunCanopy(
      {"--server=http://127.0.0.1:1", "--timeout=5", "help", "trend"});
  EXPECT_EQ(after_flags.exit_code, 0) << after_flags.err;
  EXPECT_THAT(after_flags.out, HasSubstr("--spark"));

  Result unknown = RunCanopy({"help", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(Lines(unknown.err).size(), 1u) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("frobnicate"));
}

TEST(CliNoServerTest, BadFlagIsOneLine) {
  Result r = RunCanopy({"--no_such_flag=1", "get", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no_such_flag"));

  Result bad_value = RunCanopy({"--timeout=soon", "get", "x"});
  EXPECT_NE(bad_value.exit_code, 0);
  EXPECT_EQ(Lines(bad_value.err).size(), 1u) << bad_value.err;
}

TEST(CliNoServerTest, UnknownCommandIsOneLine) {
  Result r = RunCanopy({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("frobnicate"));
}

TEST(CliNoServerTest, ServerDownIsAClearError) {
  // A port that was just free: start a server, note its port, stop it.
  auto server = testing::ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->http_port();
  (*server)->Stop();
  Result r = RunCanopy({absl::StrCat("--server=127.0.0.1:", port), "get", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, AllOf(StartsWith("canopy: "), HasSubstr("cannot connect"),
                           HasSubstr(absl::StrCat(port))));
}

TEST(CliNoServerTest, WatchWaitsForTheServerToComeBack) {
  std::string dir = testing::MakeTempDir();
  auto first = testing::ServerProcess::Start({}, dir);
  ASSERT_TRUE(first.ok()) << first.status();
  int port = (*first)->http_port();
  (*first)->Stop();
  Cli watch({absl::StrCat("--server=127.0.0.1:", port), "watch", "back",
             "--count=1", "--since=0"});
  // The watch finds the server away (and backs off) before it comes back.
  ASSERT_TRUE(watch.WaitForStderr("retrying"));
  auto second = testing::ServerProcess::Start(
      {absl::StrCat("--http=127.0.0.1:", port)}, dir);
  ASSERT_TRUE(second.ok()) << second.status();
  HttpClient http = (*second)->Client();
  auto reply = http.Request("POST", "/push", R"({"back": 1})",
                            {{"Content-Type", "application/json"}});
  ASSERT_TRUE(reply.ok()) << reply.status();
  Result r = watch.Wait(40);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyValues(r.out)["back"], "1");
  EXPECT_THAT(r.err, HasSubstr("retrying"));
  (*second)->Stop();
  std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
}

}  // namespace
}  // namespace canopy
